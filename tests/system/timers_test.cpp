// Durable timers on a real Apache Kafka (issue 21): a small application of
// its own (tests/apps/reminders.cpp: one entity per reminder, a timer per
// reminder) on two nodes; while 200 reminders come due over 20 s, one node is
// killed (kill -9: its partitions and their timers move to the other after
// the session timeout) and started again (a rebalance moves them back). Every
// reminder fires, none before its time, none lost; with exactly-once none
// fires twice.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <future>
#include <map>

#include "kastor/apps/process.hpp"
#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/runtime/role_actor.hpp"
#include "support/kafka.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

using test::system_brokers;

struct firing {
  int64_t due_at_ms = 0;
  int64_t fired_at_ms = 0;
  int count = 0;  // records written for it
  int times = 0;  // the highest `times` written (how often its timer was handled)
};

class DurableTimers : public ::testing::TestWithParam<bool> {
protected:
  void SetUp() override {
    if (system_brokers().empty())
      GTEST_SKIP() << "needs a real Kafka: run through `make test` (KASTOR_BROKERS)";
    prefix_ = "tm" + std::to_string(getpid()) + (GetParam() ? "eos" : "alo") + ".";
    dir_ = std::filesystem::temp_directory_path() / ("kastor-" + prefix_ + "d");
    std::filesystem::create_directories(dir_);
    ASSERT_FALSE(bridges::ensure_topics(system_brokers(),
                                        {{prefix_ + "reminders", 4, 1, false},
                                         {prefix_ + "reminders.dlq", 4, 1, false},
                                         {prefix_ + "reminders-fired", 4, 1, false},
                                         {prefix_ + "reminders-state", 4, 1, true}},
                                        60s));
  }

  void TearDown() override {
    for (auto* n : {&a_, &b_})
      if (*n)
        (*n)->stop(30s);
    if (!HasFailure() && !dir_.empty())
      std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<apps::child_process> start(const std::string& id) {
    std::vector<std::string> argv{KASTOR_REMINDERS_BIN, "--brokers", system_brokers(),
                                  "--prefix", prefix_, "--node-id", id,
                                  "--data-dir", (dir_ / id).string(),
                                  "--set", "group.prefix=" + prefix_ + "g",
                                  "--set", "kafka.session-timeout-ms=6000",
                                  "--set", "log.level=info"};
    if (GetParam()) {
      argv.push_back("--set");
      argv.push_back("exactly-once=reminders");
    }
    return std::make_unique<apps::child_process>(argv, (dir_ / (id + ".log")).string());
  }

  // What reminders-fired holds (committed records only), by reminder id.
  std::map<std::string, firing> fired() {
    std::map<std::string, firing> out;
    auto records = bridges::read_topic(system_brokers(), prefix_ + "reminders-fired", {}, 20s);
    if (!records)
      return out;
    for (const auto& r : *records) {
      auto v = boost::json::parse(r.value).as_object();
      auto& f = out[std::string{v.at("id").as_string()}];
      f.due_at_ms = v.at("due_at_ms").to_number<int64_t>();
      f.fired_at_ms = std::max(f.fired_at_ms, v.at("fired_at_ms").to_number<int64_t>());
      f.times = std::max(f.times, static_cast<int>(v.at("times").to_number<int64_t>()));
      ++f.count;
    }
    return out;
  }

  std::string prefix_;
  std::filesystem::path dir_;
  std::unique_ptr<apps::child_process> a_, b_;
};

TEST_P(DurableTimers, EveryTimerFiresAcrossAKillAndARebalanceNoneEarlyNoneLost) {
  a_ = start("a");
  b_ = start("b");
  // Given 200 reminders coming due 3 to 20 s from now
  bridges::producer_options po;
  po.brokers = system_brokers();
  auto producer = bridges::kafka_publisher::make(po);
  ASSERT_TRUE(producer);
  // (written as any client would: the type's name in kastor-type)
  const auto now = runtime::wall_clock_ms();
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    auto id = "r" + std::to_string(i);
    ids.push_back(id);
    const auto body = R"({"id":")" + id + R"(","due_at_ms":)" + std::to_string(now + 3000 + i * 85)
                      + "}";
    std::promise<runtime::publish_outcome> sent;
    (*producer)->produce(prefix_ + "reminders", id, body, {{"kastor-type", "reminders.set"}},
                         [&](const runtime::publish_outcome& o) { sent.set_value(o); });
    ASSERT_TRUE(sent.get_future().get().ok());
  }
  // When node a is killed once some have fired
  ASSERT_TRUE(test::eventually([&] { return fired().size() >= 20; }, 90s))
    << fired().size() << " fired";
  a_->kill_now();
  // and started again once b has taken over and fired more
  ASSERT_TRUE(test::eventually([&] { return fired().size() >= 100; }, 90s))
    << fired().size() << " fired";
  a_ = start("a");
  // Then every reminder fires, none before it was due
  std::map<std::string, firing> f;
  ASSERT_TRUE(test::eventually([&] {
    f = fired();
    return f.size() >= ids.size();
  }, 120s)) << f.size() << " of " << ids.size() << " fired";
  int twice = 0, late = 0;  // late: waited for their partition's new owner
  for (const auto& id : ids) {
    ASSERT_TRUE(f.count(id)) << id << " never fired";
    EXPECT_GE(f[id].fired_at_ms, f[id].due_at_ms) << id << " fired early";
    twice += f[id].count > 1;
    late += f[id].fired_at_ms - f[id].due_at_ms > 2000;
  }
  std::printf("%s: %zu reminders fired, %d of them more than once, %d more than 2 s late\n",
              GetParam() ? "exactly-once" : "at-least-once", f.size(), twice, late);
  EXPECT_GT(late, 0) << "no timer waited for a partition to move: the kill came too late";
  if (GetParam()) {  // And with exactly-once, each exactly once
    for (const auto& id : ids) {
      EXPECT_EQ(f[id].count, 1) << id << " fired " << f[id].count << " times";
      EXPECT_EQ(f[id].times, 1) << id << "'s timer was handled " << f[id].times << " times";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, DurableTimers, ::testing::Values(false, true),
                         [](const auto& info) {
                           return info.param ? "ExactlyOnce" : "AtLeastOnce";
                         });

}  // namespace
