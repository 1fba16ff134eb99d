// Issue 22: the metric registry an application declares its metrics in —
// Prometheus' naming rules checked when declared, bounded label sets, and
// the text a scrape reads.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "kastor/runtime/http.hpp"
#include "kastor/runtime/metrics.hpp"
#include "kastor/runtime/ops.hpp"

namespace kastor::runtime {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(Metrics, ACounterCountsPerLabelSetAndIsServedInTheTextFormat) {
  metric_registry r;
  auto transfers = r.counter("test_transfers_total", "Transfers by outcome.", {"outcome"});
  transfers.with({"completed"}).inc();
  transfers.with({"completed"}).inc(2);
  transfers.with({"refused"}).inc();
  transfers.with({"refused"}).inc(-5);  // a counter never goes down
  EXPECT_EQ(transfers.with({"completed"}).value(), 3);
  EXPECT_EQ(transfers.with({"refused"}).value(), 1);
  const auto text = r.text();
  EXPECT_TRUE(has_line(text, "# TYPE test_transfers_total counter")) << text;
  EXPECT_TRUE(has_line(text, "# HELP test_transfers_total Transfers by outcome.")) << text;
  EXPECT_TRUE(has_line(text, R"(test_transfers_total{outcome="completed"} 3)")) << text;
  EXPECT_TRUE(has_line(text, R"(test_transfers_total{outcome="refused"} 1)")) << text;
}

TEST(Metrics, GaugesAndHistogramsKeepTheirValues) {
  metric_registry r;
  auto depth = r.gauge("test_depth", "A depth.");
  depth.with().set(5);
  depth.with().inc();
  depth.with().dec(2);
  EXPECT_EQ(depth.with().value(), 4);
  auto turns = r.histogram("test_turn_seconds", "Turns.", {"type"}, {0.1, 1});
  turns.with({"a"}).observe(0.05);
  turns.with({"a"}).observe(0.5);
  turns.with({"a"}).observe(5);
  EXPECT_EQ(turns.with({"a"}).count(), 3u);
  EXPECT_DOUBLE_EQ(turns.with({"a"}).sum(), 5.55);
  const auto text = r.text();
  EXPECT_TRUE(has_line(text, R"(test_turn_seconds_bucket{type="a",le="0.1"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(test_turn_seconds_bucket{type="a",le="1"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(test_turn_seconds_bucket{type="a",le="+Inf"} 3)")) << text;
  EXPECT_TRUE(has_line(text, R"(test_turn_seconds_count{type="a"} 3)")) << text;
}

TEST(Metrics, AMetricWithNoSeriesYetIsNamedInTheText) {
  metric_registry r;
  r.counter("test_unused_total", "Never counted yet.", {"x"});
  const auto text = r.text();
  EXPECT_TRUE(has_line(text, "# TYPE test_unused_total counter")) << text;
  EXPECT_TRUE(has_line(text, "# HELP test_unused_total Never counted yet.")) << text;
}

TEST(Metrics, LabelSetsPastMaxSeriesShareOneOtherSeriesAndAreCounted) {
  metric_registry r;
  auto by_key = r.counter("test_by_key_total", "Keyed, wrongly.", {"key"}, 3);
  for (int i = 0; i < 1000; ++i)
    by_key.with({"key-" + std::to_string(i)}).inc();
  // Given 1,000 label values and max_series 3: 3 series and the shared one
  EXPECT_EQ(by_key.series(), 4u);
  EXPECT_EQ(by_key.with({"key-0"}).value(), 1);
  EXPECT_EQ(by_key.with({"other"}).value(), 997);
  const auto text = r.text();
  EXPECT_TRUE(has_line(text, R"(test_by_key_total{key="other"} 997)")) << text;
  EXPECT_TRUE(has_line(text,
                       R"(kastor_metric_series_overflow_total{metric="test_by_key_total"} 997)"))
    << text;
  EXPECT_EQ(text.find("key-500"), std::string::npos);
  // A label set held before the cap keeps its own series
  by_key.with({"key-1"}).inc();
  EXPECT_EQ(by_key.with({"key-1"}).value(), 2);
}

TEST(Metrics, ALabelValueOrHelpThatWouldBreakTheScrapeIsMadeSafe) {
  metric_registry r;
  auto f = r.counter("test_safe_total", "Two\nlines.", {"v"});
  f.with({"bad \xff\xfe byte"}).inc();
  f.with({"caf\xc3\xa9"}).inc();  // valid UTF-8 stays
  const auto text = r.text();
  EXPECT_TRUE(has_line(text, R"(test_safe_total{v="bad ?? byte"} 1)")) << text;
  EXPECT_TRUE(has_line(text, "test_safe_total{v=\"caf\xc3\xa9\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "# HELP test_safe_total Two lines.")) << text;
}

TEST(Metrics, BadNamesAndLabelsAreRefusedWhenDeclared) {
  metric_registry r;
  EXPECT_THROW(r.counter("test_transfers", "no _total"), std::invalid_argument);
  EXPECT_THROW(r.gauge("test_depth_total", "a gauge named like a counter"),
               std::invalid_argument);
  EXPECT_THROW(r.counter("1bad_total", "starts with a digit"), std::invalid_argument);
  EXPECT_THROW(r.counter("bad-name_total", "a dash"), std::invalid_argument);
  EXPECT_THROW(r.counter("", "empty"), std::invalid_argument);
  EXPECT_THROW(r.histogram("test_latency_count", "clashes with a histogram's series"),
               std::invalid_argument);
  EXPECT_THROW(r.counter("test_a_total", "bad label", {"bad-label"}), std::invalid_argument);
  EXPECT_THROW(r.counter("test_b_total", "reserved label", {"__name"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("test_c_seconds", "le is the buckets'", {"le"}), std::invalid_argument);
  EXPECT_THROW(r.counter("test_d_total", "twice", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(r.counter("test_e_total", "no series", {}, 0), std::invalid_argument);
  EXPECT_THROW(r.histogram("test_f_seconds", "unordered", {}, {1, 0.5}), std::invalid_argument);
  EXPECT_THROW(r.histogram("test_g_seconds", "no bucket", {}, {}), std::invalid_argument);
  // The runtime's prefix is the runtime's
  EXPECT_THROW(r.counter("kastor_mine_total", "an application's"), std::invalid_argument);
  metric_registry runtime_registry{true};
  EXPECT_NO_THROW(runtime_registry.counter("kastor_mine_total", "the runtime's"));
}

TEST(Metrics, DeclaringAgainGivesTheSameMetricOrRefusesAnotherShape) {
  metric_registry r;
  auto a = r.counter("test_again_total", "Help.", {"x"});
  auto b = r.counter("test_again_total", "Help.", {"x"});
  a.with({"1"}).inc();
  EXPECT_EQ(b.with({"1"}).value(), 1);
  EXPECT_THROW(r.counter("test_again_total", "Help.", {"y"}), std::invalid_argument);
  r.gauge("test_kind", "Help.");
  EXPECT_THROW(r.histogram("test_kind", "Help."), std::invalid_argument);
  EXPECT_THROW(a.with({}), std::invalid_argument);          // one label, no value
  EXPECT_THROW(a.with({"1", "2"}), std::invalid_argument);  // one label, two values
}

TEST(Metrics, ApplicationMetricsAreOneRegistryForTheProcess) {
  auto f = metrics::counter("test_app_events_total", "Events.");
  f.with().inc();
  EXPECT_NE(application_metrics().text().find("test_app_events_total 1"), std::string::npos);
  EXPECT_EQ(metrics::counter("test_app_events_total", "Events.").with().value(), 1);
}

TEST(Metrics, ADefaultHandleDoesNothing) {
  counter c;
  c.inc();
  EXPECT_EQ(c.value(), 0);
  histogram h;
  h.observe(1);
  EXPECT_EQ(h.count(), 0u);
  counter_family none;
  EXPECT_EQ(none.with().value(), 0);
}

// The route: GET /metrics answers the backend's text; 503 without one.
class metrics_backend : public ops_backend {
public:
  std::optional<std::string> text;
  std::vector<std::string> not_ready() const override { return {}; }
  std::optional<std::string> metrics_text() const override { return text; }
};

TEST(Metrics, TheOpsRouteServesTheBackendsTextOr503) {
  auto be = std::make_shared<metrics_backend>();
  auto routes = ops_routes(be);
  const http_route* route = nullptr;
  for (const auto& r : routes)
    if (r.path == "/metrics")
      route = &r;
  ASSERT_NE(route, nullptr);
  EXPECT_FALSE(route->limited);  // scrapes are never rate limited
  http_request req;
  req.method = "GET";
  req.path = "/metrics";
  http_response got;
  route->handle(req, [&](http_response r) { got = std::move(r); });
  EXPECT_EQ(got.status, 503);
  be->text = "test_x_total 1\n";
  route->handle(req, [&](http_response r) { got = std::move(r); });
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "test_x_total 1\n");
  EXPECT_EQ(got.content_type, "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace
}  // namespace kastor::runtime
