#include "kastor/runtime/metrics.hpp"

#include <map>
#include <mutex>
#include <stdexcept>
#include <type_traits>

#include <prometheus/check_names.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace kastor::runtime {

void counter::inc(double by) const {
  if (c_ != nullptr && by >= 0)
    c_->Increment(by);
}

double counter::value() const { return c_ != nullptr ? c_->Value() : 0; }

void gauge::set(double v) const {
  if (g_ != nullptr)
    g_->Set(v);
}

void gauge::inc(double by) const {
  if (g_ != nullptr)
    g_->Increment(by);
}

void gauge::dec(double by) const {
  if (g_ != nullptr)
    g_->Decrement(by);
}

double gauge::value() const { return g_ != nullptr ? g_->Value() : 0; }

void histogram::observe(double v) const {
  if (h_ != nullptr)
    h_->Observe(v);
}

uint64_t histogram::count() const {
  return h_ != nullptr ? h_->Collect().histogram.sample_count : 0;
}

double histogram::sum() const { return h_ != nullptr ? h_->Collect().histogram.sample_sum : 0; }

std::vector<double> default_seconds_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

namespace detail {

enum class metric_kind { counter, gauge, histogram };

struct family_core {
  std::string name;
  std::string help;
  metric_kind kind;
  std::vector<std::string> labels;
  size_t max_series;
  std::vector<double> buckets;
  void* family;  // prometheus::Family<counter|gauge|histogram>*
  counter overflow;  // kastor_metric_series_overflow_total{metric=name}

  mutable std::mutex mtx;
  std::map<std::vector<std::string>, void*> series;  // label values -> the metric
};

}  // namespace detail

namespace {

const char* kind_name(detail::metric_kind k) {
  switch (k) {
    case detail::metric_kind::counter: return "counter";
    case detail::metric_kind::gauge: return "gauge";
    case detail::metric_kind::histogram: return "histogram";
  }
  return "?";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

[[noreturn]] void refuse(const std::string& name, const std::string& why) {
  throw std::invalid_argument("kastor: metric '" + name + "': " + why);
}

void check_declaration(const std::string& name, detail::metric_kind kind,
                       const std::vector<std::string>& labels, bool runtime, size_t max_series) {
  if (name.empty() || !prometheus::CheckMetricName(name))
    refuse(name, "not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
  if (!runtime && name.rfind("kastor_", 0) == 0)
    refuse(name, "the kastor_ prefix is the runtime's; name it after your application");
  if (kind == detail::metric_kind::counter && !ends_with(name, "_total"))
    refuse(name, "a counter's name ends in _total");
  if (kind != detail::metric_kind::counter && ends_with(name, "_total"))
    refuse(name, "only a counter's name ends in _total");
  for (const char* s : {"_count", "_sum", "_bucket"})
    if (ends_with(name, s))
      refuse(name, std::string{"a name ending in "} + s + " clashes with a histogram's series");
  if (max_series == 0)
    refuse(name, "max_series is 0: it could hold no series at all");
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto& l = labels[i];
    if (l.empty() || !prometheus::CheckLabelName(l) || l.rfind("__", 0) == 0)
      refuse(name, "label '" + l + "' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not __-prefixed)");
    if (l == "le" || l == "quantile")
      refuse(name, "label '" + l + "' is reserved by Prometheus");
    for (size_t j = 0; j < i; ++j)
      if (labels[j] == l)
        refuse(name, "label '" + l + "' is declared twice");
  }
}

// `s` with every byte that is not part of valid UTF-8 replaced by '?': one
// invalid label value would make a scraper refuse the whole scrape.
std::string valid_utf8(const std::string& s) {
  std::string out = s;
  for (size_t i = 0; i < out.size();) {
    const auto c = static_cast<unsigned char>(out[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= out.size() && !(n == 2 && c < 0xC2);
    for (size_t k = 1; ok && k < n; ++k)
      ok = (static_cast<unsigned char>(out[i + k]) & 0xC0) == 0x80;
    if (!ok) {
      out[i++] = '?';
      continue;
    }
    i += n;
  }
  return out;
}

prometheus::Labels to_labels(const std::vector<std::string>& names,
                             const std::vector<std::string>& values) {
  prometheus::Labels out;
  for (size_t i = 0; i < names.size(); ++i)
    out.emplace(names[i], valid_utf8(values[i]));
  return out;
}

// prometheus-cpp writes HELP as it is: a line break would end it.
std::string one_line(std::string help) {
  for (auto& c : help)
    if (c == '\n' || c == '\r' || c == '\\')
      c = ' ';
  return help;
}

}  // namespace

struct metric_registry::impl {
  explicit impl(bool rt) : runtime(rt) {}
  bool runtime;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::mutex mtx;
  std::map<std::string, std::shared_ptr<detail::family_core>> families;
  prometheus::Family<prometheus::Counter>* overflow = nullptr;

  std::shared_ptr<detail::family_core> declare(const std::string& name, const std::string& help,
                                               detail::metric_kind kind,
                                               const std::vector<std::string>& labels,
                                               std::vector<double> buckets, size_t max_series) {
    check_declaration(name, kind, labels, runtime, max_series);
    if (kind == detail::metric_kind::histogram) {
      if (buckets.empty())
        refuse(name, "a histogram needs at least one bucket");
      for (size_t i = 1; i < buckets.size(); ++i)
        if (!(buckets[i - 1] < buckets[i]))
          refuse(name, "its buckets are not in increasing order");
    }
    std::lock_guard<std::mutex> guard{mtx};
    if (auto it = families.find(name); it != families.end()) {
      const auto& f = *it->second;
      if (f.kind != kind || f.labels != labels || f.buckets != buckets)
        refuse(name, std::string{"declared before as another "} + kind_name(f.kind)
                       + " (a name has one kind, one set of labels and one set of buckets)");
      return it->second;
    }
    if (overflow == nullptr)
      overflow = &prometheus::BuildCounter()
                    .Name("kastor_metric_series_overflow_total")
                    .Help("Updates of a metric whose label sets were past its max_series, "
                          "counted in its shared \"other\" series instead.")
                    .Register(*registry);
    auto core = std::make_shared<detail::family_core>();
    core->name = name;
    core->help = one_line(help);
    core->kind = kind;
    core->labels = labels;
    core->max_series = max_series;
    core->buckets = std::move(buckets);
    switch (kind) {
      case detail::metric_kind::counter:
        core->family = &prometheus::BuildCounter().Name(name).Help(core->help).Register(*registry);
        break;
      case detail::metric_kind::gauge:
        core->family = &prometheus::BuildGauge().Name(name).Help(core->help).Register(*registry);
        break;
      case detail::metric_kind::histogram:
        core->family = &prometheus::BuildHistogram().Name(name).Help(core->help).Register(*registry);
        break;
    }
    core->overflow = counter_of(overflow->Add({{"metric", name}}));
    families.emplace(name, core);
    return core;
  }

  static runtime::counter counter_of(prometheus::Counter& c);
};

template <class M>
M metric_family<M>::with(const std::vector<std::string>& values) const {
  if (!core_)
    return M{};
  auto& c = *core_;
  if (values.size() != c.labels.size())
    throw std::invalid_argument("kastor: metric '" + c.name + "' has "
                                + std::to_string(c.labels.size()) + " label(s), given "
                                + std::to_string(values.size()) + " value(s)");
  using prom = std::conditional_t<
    std::is_same_v<M, counter>, prometheus::Counter,
    std::conditional_t<std::is_same_v<M, gauge>, prometheus::Gauge, prometheus::Histogram>>;
  auto& family = *static_cast<prometheus::Family<prom>*>(c.family);
  auto add = [&](const std::vector<std::string>& v) -> prom& {
    if constexpr (std::is_same_v<prom, prometheus::Histogram>)
      return family.Add(to_labels(c.labels, v), c.buckets);
    else
      return family.Add(to_labels(c.labels, v));
  };
  bool overflowed = false;
  prom* metric = nullptr;
  {
    std::lock_guard<std::mutex> guard{c.mtx};
    if (auto it = c.series.find(values); it != c.series.end()) {
      metric = static_cast<prom*>(it->second);
    } else if (c.series.size() < c.max_series) {
      metric = &add(values);
      c.series.emplace(values, metric);
    } else {
      overflowed = true;
      std::vector<std::string> other(values.size(), "other");
      auto o = c.series.find(other);
      if (o == c.series.end())
        o = c.series.emplace(other, &add(other)).first;
      metric = static_cast<prom*>(o->second);
    }
  }
  if (overflowed)
    c.overflow.inc();
  return M{metric};
}

template <class M>
const std::string& metric_family<M>::name() const {
  static const std::string none;
  return core_ ? core_->name : none;
}

template <class M>
size_t metric_family<M>::series() const {
  if (!core_)
    return 0;
  std::lock_guard<std::mutex> guard{core_->mtx};
  return core_->series.size();
}

template class metric_family<counter>;
template class metric_family<gauge>;
template class metric_family<histogram>;

runtime::counter metric_registry::impl::counter_of(prometheus::Counter& c) {
  runtime::counter out;
  out.c_ = &c;
  return out;
}

metric_registry::metric_registry(bool runtime) : impl_(std::make_unique<impl>(runtime)) {}

metric_registry::~metric_registry() = default;

counter_family metric_registry::counter(const std::string& name, const std::string& help,
                                        const std::vector<std::string>& labels,
                                        size_t max_series) {
  return counter_family{
    impl_->declare(name, help, detail::metric_kind::counter, labels, {}, max_series)};
}

gauge_family metric_registry::gauge(const std::string& name, const std::string& help,
                                    const std::vector<std::string>& labels, size_t max_series) {
  return gauge_family{impl_->declare(name, help, detail::metric_kind::gauge, labels, {}, max_series)};
}

histogram_family metric_registry::histogram(const std::string& name, const std::string& help,
                                            const std::vector<std::string>& labels,
                                            std::vector<double> buckets, size_t max_series) {
  return histogram_family{impl_->declare(name, help, detail::metric_kind::histogram, labels,
                                         std::move(buckets), max_series)};
}

std::vector<prometheus::MetricFamily> metric_registry::collect() const {
  // prometheus-cpp leaves out a family with no series: declared ones first.
  std::vector<prometheus::MetricFamily> out;
  std::map<std::string, size_t> at;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    for (const auto& [name, core] : impl_->families) {
      auto type = core->kind == detail::metric_kind::counter ? prometheus::MetricType::Counter
                  : core->kind == detail::metric_kind::gauge ? prometheus::MetricType::Gauge
                                                             : prometheus::MetricType::Histogram;
      at.emplace(name, out.size());
      out.push_back(prometheus::MetricFamily{name, core->help, type, {}});
    }
  }
  for (auto& f : impl_->registry->Collect()) {
    if (auto it = at.find(f.name); it != at.end())
      out[it->second].metric = std::move(f.metric);
    else
      out.push_back(std::move(f));  // the overflow counter
  }
  return out;
}

std::string metric_registry::text() const { return prometheus::TextSerializer{}.Serialize(collect()); }

metric_registry& application_metrics() {
  static metric_registry r;
  return r;
}

namespace metrics {

counter_family counter(const std::string& name, const std::string& help,
                       const std::vector<std::string>& labels, size_t max_series) {
  return application_metrics().counter(name, help, labels, max_series);
}

gauge_family gauge(const std::string& name, const std::string& help,
                   const std::vector<std::string>& labels, size_t max_series) {
  return application_metrics().gauge(name, help, labels, max_series);
}

histogram_family histogram(const std::string& name, const std::string& help,
                           const std::vector<std::string>& labels, std::vector<double> buckets,
                           size_t max_series) {
  return application_metrics().histogram(name, help, labels, std::move(buckets), max_series);
}

}  // namespace metrics

}  // namespace kastor::runtime
