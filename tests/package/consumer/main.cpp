// Uses each installed library once: runtime (a node's configuration), testkit
// (a mock cluster and a topic on it) and bridges (a librdkafka handle that
// reads the topic's metadata). Prints one line per check; exit 0 only if all
// passed.
#include <chrono>
#include <cstdio>
#include <string>

#include <kastor/bridges/kafka.hpp>
#include <kastor/runtime/config.hpp>
#include <kastor/runtime/errors.hpp>
#include <kastor/testkit/mock_cluster.hpp>

namespace {

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

  // bridges: a librdkafka producer handle sees it through the cluster's metadata.
  auto conf = bridges::make_conf({{"bootstrap.servers", mock->bootstrap()}});
  if (!conf) {
    check(false, "bridges: make_conf: " + runtime::describe(conf.error()));
    return 1;
  }
  char errstr[512];
  bridges::rk_ptr rk{rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof(errstr))};
  check(rk != nullptr, std::string{"bridges: a producer handle: "} + (rk ? "ok" : errstr));
  if (!rk)
    return 1;
  (void) conf->release();  // owned by the handle now
  auto partitions = bridges::partitions_of(rk.get(), "kastor.package", std::chrono::seconds{10});
  check(partitions && *partitions == 3, "bridges: partitions_of(kastor.package) is 3");

  std::printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
