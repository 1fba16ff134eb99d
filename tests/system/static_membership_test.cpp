// Static membership (KIP-345) on the real broker: a member restarted within
// the session timeout gets its own partitions back and no other member is
// revoked; one that leaves on stop hands its partitions over at once.
#include <gtest/gtest.h>
#include <unistd.h>

#include "kastor/bridges/mailbox.hpp"
#include "support/kafka.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

class StaticMembership : public ::testing::Test {
protected:
  void SetUp() override {
    if (test::system_brokers().empty())
      GTEST_SKIP() << "needs a real Kafka: run through `make test` (KASTOR_BROKERS)";
    suffix_ = ".sm" + std::to_string(getpid());
    topic_ = "static-membership" + suffix_;
    ASSERT_FALSE(bridges::ensure_topics(test::system_brokers(), {{topic_, 4, 1, false}}, 60s));
  }

  std::shared_ptr<bridges::kafka_mailbox> member(const std::string& id, bool leave_on_stop) {
    bridges::mailbox_options o;
    o.brokers = test::system_brokers();
    o.group_id = "static" + suffix_;
    o.topics = {topic_};
    o.client_id = "member-" + id;
    o.session_timeout_ms = 30000;  // far longer than any wait below
    o.group_instance_id = id;
    o.leave_on_stop = leave_on_stop;
    auto mb = bridges::kafka_mailbox::make(o);
    EXPECT_TRUE(mb) << runtime::describe(mb.error());
    (*mb)->start();
    return *mb;
  }

  std::string suffix_, topic_;
};

TEST_F(StaticMembership, AMemberBackWithinTheSessionTimeoutGetsItsPartitionsAndNoOneIsRevoked) {
  // Given two static members sharing 4 partitions
  auto a = member("a", false);
  auto b = member("b", false);
  ASSERT_TRUE(test::eventually([&] {
    return a->stats().assigned_partitions == 2 && b->stats().assigned_partitions == 2;
  }, 60s)) << a->stats().assigned_partitions << " + " << b->stats().assigned_partitions;
  const auto b_handoffs = b->stats().handoffs;
  // When a stops (as a node does on SIGTERM) and starts again at once
  ASSERT_TRUE(a->stop(0ms, 10s));
  auto began = std::chrono::steady_clock::now();
  auto again = member("a", false);
  // Then it has its 2 partitions back well within the session timeout (30 s)
  ASSERT_TRUE(test::eventually([&] { return again->stats().assigned_partitions == 2; }, 25s));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - began);
  std::printf("a static member restarted had its partitions back after %lld ms\n",
              static_cast<long long>(took.count()));
  // And b was never revoked: no rebalance for anyone else
  EXPECT_EQ(b->stats().handoffs, b_handoffs);
  EXPECT_EQ(b->stats().assigned_partitions, 2u);
  // When a leaves on stop (a scale-down)
  again->stop(0ms, 10s);  // not leaving: its partitions wait for it
  auto leaving = member("a", true);
  ASSERT_TRUE(test::eventually([&] { return leaving->stats().assigned_partitions == 2; }, 25s));
  ASSERT_TRUE(leaving->stop(0ms, 10s));
  began = std::chrono::steady_clock::now();
  // Then b takes all 4 at once, not after the session timeout
  ASSERT_TRUE(test::eventually([&] { return b->stats().assigned_partitions == 4; }, 20s))
    << b->stats().assigned_partitions;
  took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - began);
  std::printf("a static member leaving on stop: the other took its partitions after %lld ms\n",
              static_cast<long long>(took.count()));
  b->stop(0ms, 10s);
}

}  // namespace
