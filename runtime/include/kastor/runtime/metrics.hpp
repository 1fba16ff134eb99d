// Metrics: counters, gauges and histograms an application declares once and
// updates from anywhere (a state class, a handler, an HTTP route). Every node
// serves them on GET /metrics (ops.http), in Prometheus' text format, with
// the runtime's own (kastor_*). Backed by prometheus-cpp's core registry.
//
//   // declared once (a static, or a member of the state made once per node)
//   static const auto transfers = kastor::runtime::metrics::counter(
//     "bank_transfers_total", "Transfers, by how they ended.", {"outcome"});
//   ...
//   transfers.with({"applied"}).inc();
//
// Names follow Prometheus' conventions and are checked when declared (a bad
// one throws std::invalid_argument): [a-zA-Z_:][a-zA-Z0-9_:]*, a counter's
// ends in _total and no other's, none in _count/_sum/_bucket (name a
// duration or a size in its base unit: _seconds, _bytes); label names [a-zA-Z_][a-zA-Z0-9_]*, not
// __-prefixed, not "le". The kastor_ prefix is the runtime's. Declaring a
// name again with the same kind and labels gives the same metric; with
// another kind or other labels it throws.
//
// Bounded cardinality: a family holds at most `max_series` label sets.
// Past that, every new label set shares one series whose labels are all
// "other", and kastor_metric_series_overflow_total{metric} counts those
// updates: a label fed from data (a key, a user id) cannot grow a node's
// memory or its scrape without bound. Labels are for a few known values (an
// outcome, a status, a role), never for keys.
//
// Thread-safety: everything, from any thread. A metric handle (counter,
// gauge, histogram) is a pointer: keep it (with() looks the labels up under a
// lock, inc() is one atomic add).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
struct MetricFamily;
}  // namespace prometheus

namespace kastor::runtime {

class counter {
public:
  counter() = default;  // a no-op until assigned one from a family
  void inc(double by = 1) const;  // by >= 0 (a negative step is ignored)
  double value() const;

private:
  template <class M>
  friend class metric_family;
  friend class metric_registry;
  explicit counter(prometheus::Counter* c) : c_(c) {}
  prometheus::Counter* c_ = nullptr;
};

class gauge {
public:
  gauge() = default;
  void set(double v) const;
  void inc(double by = 1) const;
  void dec(double by = 1) const;
  double value() const;

private:
  template <class M>
  friend class metric_family;
  explicit gauge(prometheus::Gauge* g) : g_(g) {}
  prometheus::Gauge* g_ = nullptr;
};

class histogram {
public:
  histogram() = default;
  void observe(double v) const;
  // How many observations so far, and their sum (for tests and reports).
  uint64_t count() const;
  double sum() const;

private:
  template <class M>
  friend class metric_family;
  explicit histogram(prometheus::Histogram* h) : h_(h) {}
  prometheus::Histogram* h_ = nullptr;
};

namespace detail {
struct family_core;  // metrics.cpp
}

// One metric's label sets (a Prometheus family).
template <class M>
class metric_family {
public:
  metric_family() = default;
  // The series of these label values, one per declared label name, in
  // order (none for a metric without labels). A wrong count throws
  // std::invalid_argument. Past max_series: the shared "other" series.
  M with(const std::vector<std::string>& values = {}) const;
  const std::string& name() const;
  // Label sets held so far (the "other" one included), at most max_series + 1.
  size_t series() const;

private:
  friend class metric_registry;
  explicit metric_family(std::shared_ptr<detail::family_core> core) : core_(std::move(core)) {}
  std::shared_ptr<detail::family_core> core_;
};

using counter_family = metric_family<counter>;
using gauge_family = metric_family<gauge>;
using histogram_family = metric_family<histogram>;

// Most label sets one family holds unless its declaration says otherwise.
inline constexpr size_t default_max_series = 200;

// Buckets for durations in seconds: 0.5 ms to 10 s.
std::vector<double> default_seconds_buckets();

// A set of metrics served together. Each node has one for the runtime's own
// (actor_node::metrics()); application_metrics() is the process's one for the
// application's, which every node of the process serves too.
class metric_registry {
public:
  // `runtime`: the kastor_ prefix is allowed (the runtime's own registry).
  explicit metric_registry(bool runtime = false);
  ~metric_registry();
  metric_registry(const metric_registry&) = delete;
  metric_registry& operator=(const metric_registry&) = delete;

  counter_family counter(const std::string& name, const std::string& help,
                         const std::vector<std::string>& labels = {},
                         size_t max_series = default_max_series);
  gauge_family gauge(const std::string& name, const std::string& help,
                     const std::vector<std::string>& labels = {},
                     size_t max_series = default_max_series);
  histogram_family histogram(const std::string& name, const std::string& help,
                             const std::vector<std::string>& labels = {},
                             std::vector<double> buckets = default_seconds_buckets(),
                             size_t max_series = default_max_series);

  // Every metric in Prometheus' text exposition format (version 0.0.4).
  std::string text() const;

  // Every declared metric with its series, those with none yet too (so a
  // scrape names them before their first update): what text() writes, for
  // the runtime to serialize several registries into one scrape
  // (<prometheus/metric_family.h>).
  std::vector<prometheus::MetricFamily> collect() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// The process's registry of application metrics; metrics::counter, gauge and
// histogram declare in it.
metric_registry& application_metrics();

namespace metrics {

counter_family counter(const std::string& name, const std::string& help,
                       const std::vector<std::string>& labels = {},
                       size_t max_series = default_max_series);
gauge_family gauge(const std::string& name, const std::string& help,
                   const std::vector<std::string>& labels = {},
                   size_t max_series = default_max_series);
histogram_family histogram(const std::string& name, const std::string& help,
                           const std::vector<std::string>& labels = {},
                           std::vector<double> buckets = default_seconds_buckets(),
                           size_t max_series = default_max_series);

}  // namespace metrics

}  // namespace kastor::runtime
