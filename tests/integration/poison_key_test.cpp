// A poison key costs one key (issue 21, item 4): a handler that throws for
// some keys has those keys retried and dead-lettered, each record once,
// while the role's actor goes on and every other key flows; nothing counts
// against the role's restart intensity. A role of a user's own, declared
// through the public API, on the mock cluster.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

#include <boost/describe/class.hpp>

#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/node.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/runtime/role.hpp"
#include "kastor/runtime/supervisor.hpp"
#include "support/wait.hpp"

namespace jobs {

struct job {
  std::string id;
  std::string key;
  bool poison = false;
};
BOOST_DESCRIBE_STRUCT(job, (), (id, key, poison))

struct job_done {
  std::string id;
  std::string key;
};
BOOST_DESCRIBE_STRUCT(job_done, (), (id, key))

void declare() {
  kastor::runtime::declare<job>({.name = "test.job", .topic = "poison-jobs", .key = &job::key});
  kastor::runtime::declare<job_done>(
    {.name = "test.job_done", .topic = "poison-jobs-done", .key = &job_done::key});
}

// Throws for a poison job, as a user's bug would.
struct worker {
  kastor::runtime::outputs handle(const kastor::runtime::record_meta&, const job& j, int64_t) {
    if (j.poison)
      throw std::runtime_error("cannot parse the job of key " + j.key);
    return {job_done{j.id, j.key}};
  }
};

}  // namespace jobs

namespace kastor {
namespace {

using namespace std::chrono_literals;

TEST(PoisonKey, FourPoisonKeysCostFourKeysAndNoRestart) {
  jobs::declare();
  auto m = bridges::mock_cluster::start(1);
  ASSERT_TRUE(m);
  auto& mock = *m;
  for (const auto* topic : {"poison-jobs", "poison-jobs.dlq", "poison-jobs-done"})
    ASSERT_FALSE(mock->create_topic({topic, 3, 1, false}));
  runtime::config_layers layers;
  for (auto [k, v] : std::map<std::string, std::string>{
         {"brokers", mock->bootstrap()},
         {"data.dir", (std::filesystem::temp_directory_path()
                       / ("kastor-poison-" + std::to_string(getpid()))).string()},
         {"kafka.session-timeout-ms", "6000"},
         {"kafka.fetch-wait-max-ms", "5"},
         {"log.level", "warn"},
         {"ops.http", "127.0.0.1:0"},
         // Four keys failing three times each is twelve failures: past this
         // restart intensity, had they been crashes.
         {"supervisor.max-restarts", "5"},
         {"mailbox.max-attempts", "3"},
         {"mailbox.retry-backoff-min-ms", "20"},
         {"mailbox.retry-backoff-max-ms", "40"}})
    layers[k] = {v, "test"};
  auto cfg = runtime::make_config(layers, {.roles = {"workers"}});
  ASSERT_TRUE(cfg) << runtime::describe(cfg.error());
  auto node = bridges::actor_node::make(*cfg);
  ASSERT_TRUE(node) << runtime::describe(node.error());
  ASSERT_FALSE((*node)->add(runtime::role<jobs::worker>("workers").consumes<jobs::job>()));
  (*node)->start();
  ASSERT_TRUE(test::eventually([&] { return (*node)->ready(); }, 60s));

  // Given 4 poison keys, each with a poison job and a good one behind it,
  // and 40 good jobs of 20 other keys
  runtime::outputs batch;
  for (int k = 0; k < 4; ++k) {
    batch.push_back(jobs::job{"p" + std::to_string(k) + "-1", "poison-" + std::to_string(k), true});
    batch.push_back(jobs::job{"p" + std::to_string(k) + "-2", "poison-" + std::to_string(k), false});
  }
  for (int i = 0; i < 40; ++i)
    batch.push_back(jobs::job{"g" + std::to_string(i), "good-" + std::to_string(i % 20), false});
  std::promise<runtime::publish_outcome> sent;
  (*node)->producer()->publish(batch, nullptr,
                               [&](const runtime::publish_outcome& o) { sent.set_value(o); });
  ASSERT_TRUE(sent.get_future().get().ok());

  // Then every good job of a good key is done, each poison key's two jobs
  // are in the DLQ once each, and the role's actor never restarted
  std::map<std::string, std::string> dead;  // job id -> attempts header
  std::set<std::string> done;
  ASSERT_TRUE(test::eventually([&] {
    auto d = bridges::read_topic(mock->bootstrap(), "poison-jobs-done", {}, 10s);
    auto q = bridges::read_topic(mock->bootstrap(), "poison-jobs.dlq", {}, 10s);
    if (!d || !q)
      return false;
    done.clear();
    for (const auto& r : *d)
      done.insert(r.value);
    dead.clear();
    for (const auto& r : *q)
      dead[r.value] = r.header("kastor-dlq-attempts");
    return done.size() >= 40 && q->size() >= 8;
  }, 60s)) << done.size() << " done, " << dead.size() << " dead-lettered";
  EXPECT_EQ(done.size(), 40u);
  auto q = bridges::read_topic(mock->bootstrap(), "poison-jobs.dlq", {}, 10s);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->size(), 8u);  // each once
  for (int k = 0; k < 4; ++k) {
    const auto head = R"({"id":"p)" + std::to_string(k) + R"(-1","key":"poison-)"
                      + std::to_string(k) + R"(","poison":true})";
    ASSERT_TRUE(dead.count(head)) << head;
    EXPECT_EQ(dead[head], "3");
  }
  for (const auto& r : *q) {
    if (r.value.find(R"("poison":true)") == std::string::npos)
      continue;
    EXPECT_NE(r.header("kastor-dlq-reason").find("its handler failed 3 times on it (last: "
                                                 "cannot parse the job of key poison-"),
              std::string::npos)
      << r.header("kastor-dlq-reason");
  }
  EXPECT_EQ((*node)->supervision()->total_restarts(), 0);
  (*node)->stop();
}

}  // namespace
}  // namespace kastor
