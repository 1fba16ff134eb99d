// A role's topics are the runtime's business (issue 21, item 2), on a real
// Apache Kafka: a node of a user's own application, on a cluster where none
// of its topics exists, creates them all (inputs, dead-letter topics,
// outputs, the changelog, requests and repartition topics, co-partitioned),
// and its first dead letter is written at once; with topics.create = false
// it refuses to start, naming what is missing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/describe/class.hpp>
#include <filesystem>
#include <future>

#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/mailbox.hpp"
#include "kastor/bridges/node.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/bridges/remote.hpp"
#include "kastor/runtime/reject.hpp"
#include "kastor/runtime/role.hpp"
#include "support/kafka.hpp"
#include "support/wait.hpp"

namespace lockers {

struct rent {
  std::string locker;
  int64_t hours = 0;
};
BOOST_DESCRIBE_STRUCT(rent, (), (locker, hours))

struct rented {
  std::string locker;
};
BOOST_DESCRIBE_STRUCT(rented, (), (locker))

struct locker_state {
  std::string locker;
  int64_t hours = 0;
};
BOOST_DESCRIBE_STRUCT(locker_state, (), (locker, hours))

struct locker {
  using snapshot_type = locker_state;
  explicit locker(const std::string& id) { s.locker = id; }
  explicit locker(const locker_state& restored) : s(restored) {}
  locker_state snapshot() const { return s; }
  kastor::runtime::outputs handle(const kastor::runtime::record_meta&, const rent& r, int64_t) {
    if (r.hours <= 0)
      kastor::runtime::reject("a rent needs hours");
    s.hours += r.hours;
    return {rented{s.locker}};
  }
  locker_state s;
};

// (once per process: a type has one topic)
void declare(const std::string& p) {
  using kastor::runtime::declare;
  declare<rent>({.name = "lockers.rent", .topic = p + "rents", .key = &rent::locker});
  declare<rented>({.name = "lockers.rented", .topic = p + "rented", .key = &rented::locker});
  declare<locker_state>({.name = "lockers.state", .topic = p + "lockers",
                         .key = &locker_state::locker, .compacted = true, .follows_cause = true});
}

const std::string& prefix() {
  static const std::string p = [] {
    auto p = "rt" + std::to_string(getpid()) + ".";
    declare(p);
    return p;
  }();
  return p;
}

}  // namespace lockers

namespace kastor {
namespace {

using namespace std::chrono_literals;

auto lockers_role() {
  return runtime::entity<lockers::locker>("lockers")
    .consumes<lockers::rent>()
    .produces<lockers::rented>();
}

runtime::node_config config(const std::string& prefix, bool create) {
  runtime::node_config cfg;
  cfg.brokers = test::system_brokers();
  cfg.node_id = prefix + "node";
  cfg.group_prefix = prefix + "g";
  cfg.partitions = 3;
  cfg.create_topics = create;
  cfg.session_timeout_ms = 6000;
  cfg.data_dir = (std::filesystem::temp_directory_path() / (prefix + "data")).string();
  cfg.log_level = "warn";
  cfg.ops_port = 0;
  return cfg;
}

// (first: the next test makes the topics)
TEST(RoleTopics, WithTopicsCreateFalseANodeRefusesToStartNamingWhatIsMissing) {
  if (test::system_brokers().empty())
    GTEST_SKIP() << "needs a real Kafka: run through `make test` (KASTOR_BROKERS)";
  // Given a cluster where none of the role's topics exists
  const auto prefix = lockers::prefix();
  auto view = bridges::describe_cluster(test::system_brokers(), 10s);
  ASSERT_TRUE(view);
  ASSERT_FALSE(view->topics.count(prefix + "rents"));
  // When a node that must not create topics starts
  auto node = bridges::actor_node::make(config(prefix, false));
  ASSERT_TRUE(node);
  auto err = (*node)->add(lockers_role());
  ASSERT_TRUE(err);
  const auto what = runtime::describe(err);
  EXPECT_NE(what.find(prefix + "rents, " + prefix + "rents.dlq, " + prefix + "rented"),
            std::string::npos) << what;
  EXPECT_NE(what.find("topics.create = false"), std::string::npos) << what;
  view = bridges::describe_cluster(test::system_brokers(), 10s);
  ASSERT_TRUE(view);
  EXPECT_FALSE(view->topics.count(prefix + "rents"));  // nothing half-made
}

TEST(RoleTopics, ANodeCreatesEveryTopicItsRolesNeedAndItsFirstDeadLetterIsWritten) {
  if (test::system_brokers().empty())
    GTEST_SKIP() << "needs a real Kafka: run through `make test` (KASTOR_BROKERS)";
  const auto prefix = lockers::prefix();
  auto cfg = config(prefix, true);
  auto wanted = bridges::role_topics(lockers_role().spec(), cfg);
  // Given a cluster where the input alone exists, with 4 partitions
  ASSERT_FALSE(bridges::ensure_topics(cfg.brokers, {{prefix + "rents", 4, 1, false}}, 60s));
  // When a node of the application starts
  auto node = bridges::actor_node::make(cfg);
  ASSERT_TRUE(node) << runtime::describe(node.error());
  ASSERT_FALSE((*node)->add(lockers_role()));
  (*node)->start();
  // Then every topic the role needs exists, co-partitioned with its input
  // (4 partitions, not topic.partitions' 3)
  auto view = bridges::describe_cluster(cfg.brokers, 10s);
  ASSERT_TRUE(view);
  for (const auto& t : wanted) {
    ASSERT_TRUE(view->topics.count(t.name)) << t.name << " was not created";
    EXPECT_EQ(view->topics[t.name], 4) << t.name;
  }
  ASSERT_TRUE(test::eventually([&] { return (*node)->ready(); }, 60s));
  // And a record it rejects is in its dead-letter topic, and its output in
  // the output topic
  std::promise<runtime::publish_outcome> sent;
  (*node)->producer()->publish({lockers::rent{"L1", 0}, lockers::rent{"L2", 3}}, nullptr,
                               [&](const runtime::publish_outcome& o) { sent.set_value(o); });
  ASSERT_TRUE(sent.get_future().get().ok());
  ASSERT_TRUE(test::eventually([&] {
    auto dlq = bridges::read_topic(cfg.brokers, prefix + "rents.dlq", {}, 10s);
    auto out = bridges::read_topic(cfg.brokers, prefix + "rented", {}, 10s);
    return dlq && dlq->size() == 1 && out && out->size() == 1;
  }, 30s));
  EXPECT_TRUE((*node)->ready());
  (*node)->stop();
}

}  // namespace
}  // namespace kastor
