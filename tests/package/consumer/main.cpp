// Uses each installed library once: runtime (a node's configuration), testkit
// (a mock cluster and a topic on it) and bridges (a declared message written
// to the topic and read back), through public headers only. Prints one line per check; exit 0 only if all
// passed.
#include <chrono>
#include <cstdio>
#include <future>
#include <string>

#include <boost/describe/class.hpp>
#include <kastor/bridges/kafka.hpp>
#include <kastor/bridges/producer.hpp>
#include <kastor/runtime/config.hpp>
#include <kastor/runtime/errors.hpp>
#include <kastor/runtime/message.hpp>
#include <kastor/runtime/metrics.hpp>
#include <kastor/testkit/mock_cluster.hpp>

namespace {

struct note {
  std::string id;
  std::string text;
};
BOOST_DESCRIBE_STRUCT(note, (), (id, text))

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok)
    ++failures;
}

}  // namespace

int main() {
  using namespace kastor;

  // runtime: a configuration from the defaults and one flag...
  runtime::config_layers layers;
  layers["brokers"] = {"127.0.0.1:9092", "flag"};
  auto cfg = runtime::make_config(layers);
  check(cfg && cfg->brokers == "127.0.0.1:9092", "runtime: make_config takes brokers from a flag");
  // ...and an unknown key is an error naming it.
  layers["no.such-key"] = {"1", "flag"};
  auto bad = runtime::make_config(layers);
  check(!bad && runtime::describe(bad.error()).find("no.such-key") != std::string::npos,
        "runtime: an unknown key is an error naming it");

  // testkit: an embedded cluster with a 3-partition topic.
  auto mock = testkit::mock_cluster::start(1);
  if (!mock) {
    check(false, "testkit: mock cluster starts: " + runtime::describe(mock.error()));
    return 1;
  }
  check(!mock->bootstrap().empty(), "testkit: bootstrap() is " + mock->bootstrap());
  auto err = mock->create_topic("kastor.package", 3);
  check(!err, "testkit: create_topic: " + (err ? runtime::describe(err) : "ok"));
  check(static_cast<bool>(mock->create_topic("kastor.package", 3)),
        "testkit: creating it again is an error");

  // bridges, through public headers only (none of them includes librdkafka):
  // the topic is there, and a declared message written to it reads back.
  check(bridges::topic_exists(mock->bootstrap(), "kastor.package", std::chrono::seconds{10}),
        "bridges: topic_exists(kastor.package)");
  runtime::declare<note>({.name = "package.note", .topic = "kastor.package", .key = &note::id});
  auto producer = bridges::kafka_publisher::make({.brokers = mock->bootstrap()});
  check(static_cast<bool>(producer), "bridges: a producer");
  if (!producer)
    return 1;
  std::promise<bool> acked;
  (*producer)->publish({note{"n-1", "hello"}}, nullptr,
                       [&](const runtime::publish_outcome& o) { acked.set_value(o.ok()); });
  check(acked.get_future().get(), "bridges: publish is acknowledged");
  (*producer)->stop(std::chrono::seconds{10});
  auto records = bridges::read_topic(mock->bootstrap(), "kastor.package", {},
                                     std::chrono::seconds{10});
  check(records && records->size() == 1 && records->front().key == "n-1"
          && records->front().value == R"({"id":"n-1","text":"hello"})",
        "bridges: read_topic reads it back as described JSON");

  // runtime: an application's own metric (prometheus-cpp, found by the package).
  auto notes = runtime::metrics::counter("package_notes_total", "Notes written.", {"kind"});
  notes.with({"hello"}).inc();
  check(runtime::application_metrics().text().find(R"(package_notes_total{kind="hello"} 1)")
          != std::string::npos,
        "runtime: an application's counter is in the metrics text");

  std::printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
