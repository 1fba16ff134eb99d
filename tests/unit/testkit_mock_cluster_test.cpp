// testkit::mock_cluster: the embedded Kafka a kastor application's tests get
// from the installed package.
#include "kastor/testkit/mock_cluster.hpp"

#include <chrono>
#include <future>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/runtime/errors.hpp"

namespace kastor::testkit {
namespace {

// Partition count of `topic` as the cluster's metadata gives it (0: no such topic).
int partitions(const std::string& bootstrap, const std::string& topic) {
  auto conf = bridges::make_conf({{"bootstrap.servers", bootstrap}});
  if (!conf)
    return -1;
  char err[512];
  bridges::rk_ptr rk{rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof(err))};
  if (!rk)
    return -1;
  (void) conf->release();  // owned by the handle now
  auto n = bridges::partitions_of(rk.get(), topic, std::chrono::seconds{10});
  return n ? *n : -1;
}

TEST(MockCluster, ServesTheTopicsItCreates) {
  // given a one-broker cluster
  auto mock = mock_cluster::start(1);
  ASSERT_TRUE(mock) << runtime::describe(mock.error());
  EXPECT_NE(mock->bootstrap().find("127.0.0.1:"), std::string::npos) << mock->bootstrap();
  // when a topic with 3 partitions is created
  auto err = mock->create_topic("testkit.orders", 3);
  ASSERT_FALSE(err) << runtime::describe(err);
  // then a client sees exactly 3 partitions
  EXPECT_EQ(partitions(mock->bootstrap(), "testkit.orders"), 3);
}

TEST(MockCluster, CreatingAnExistingTopicIsAnError) {
  auto mock = mock_cluster::start(1);
  ASSERT_TRUE(mock) << runtime::describe(mock.error());
  ASSERT_FALSE(mock->create_topic("testkit.twice", 2));
  // when the same topic is created again
  auto err = mock->create_topic("testkit.twice", 2);
  // then it is an error and the topic keeps its partitions
  EXPECT_TRUE(err);
  EXPECT_EQ(partitions(mock->bootstrap(), "testkit.twice"), 2);
}

TEST(MockCluster, AMovedClusterKeepsRunning) {
  auto started = mock_cluster::start(3);
  ASSERT_TRUE(started) << runtime::describe(started.error());
  const std::string bootstrap = started->bootstrap();
  // when the cluster is moved into another object
  mock_cluster moved{std::move(*started)};
  // then it is the same cluster, still serving requests
  EXPECT_EQ(moved.bootstrap(), bootstrap);
  ASSERT_FALSE(moved.create_topic("testkit.moved", 1));
  EXPECT_EQ(partitions(bootstrap, "testkit.moved"), 1);
}

TEST(MockCluster, RequestsOfAnApiFailAsPushed) {
  auto mock = mock_cluster::start(1);
  ASSERT_TRUE(mock) << runtime::describe(mock.error());
  ASSERT_FALSE(mock->create_topic("testkit.faults", 1));
  // when the next Produce request (API key 0) fails with MESSAGE_TOO_LARGE (10)
  mock->push_request_errors(0, {10});
  auto producer = bridges::kafka_publisher::make({.brokers = mock->bootstrap()});
  ASSERT_TRUE(producer);
  std::promise<runtime::publish_outcome> done;
  (*producer)->produce("testkit.faults", "k", "v", {},
                       [&](const runtime::publish_outcome& o) { done.set_value(o); });
  auto outcome = done.get_future().get();
  // then the write fails with it, and the next one goes through
  EXPECT_FALSE(outcome.ok());
  EXPECT_NE(outcome.error.find("too large"), std::string::npos) << outcome.error;
  std::promise<runtime::publish_outcome> again;
  (*producer)->produce("testkit.faults", "k", "v", {},
                       [&](const runtime::publish_outcome& o) { again.set_value(o); });
  EXPECT_TRUE(again.get_future().get().ok());
  (*producer)->stop(std::chrono::seconds{5});
}

}  // namespace
}  // namespace kastor::testkit
