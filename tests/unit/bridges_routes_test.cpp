// Routes: the one table where message types, topics and roles meet.
#include "kastor/bridges/routes.hpp"
#include "kastor/bridges/kafka.hpp"

#include <set>
#include <string>
#include <utility>
#include <variant>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kastor::bridges {
namespace {

using runtime::any_message;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// One default message of every any_message alternative, in variant order.
template <size_t... I>
std::vector<any_message> one_of_each(std::index_sequence<I...>) {
  return {any_message{std::in_place_index<I>}...};
}
std::vector<any_message> one_of_each() {
  return one_of_each(std::make_index_sequence<std::variant_size_v<any_message>>{});
}

TEST(Routes, EveryMessageTypeHasARouteInAnyMessageOrder) {
  // given the routes table
  const auto& all = routes();
  // then it has one route per alternative, each at its own index
  ASSERT_EQ(all.size(), std::variant_size_v<any_message>);
  for (size_t i = 0; i < all.size(); ++i)
    EXPECT_EQ(all[i].index, i) << all[i].type;
}

TEST(Routes, EveryTypeHasADistinctTopic) {
  std::set<std::string_view> types;
  std::set<std::string_view> topics;
  for (const auto& r : routes()) {
    types.insert(r.type);
    topics.insert(r.topic);
  }
  EXPECT_EQ(types.size(), routes().size());
  EXPECT_EQ(topics.size(), routes().size());
}

TEST(Routes, TypesMapToTheSeed002Topics) {
  // given each type name, when its route is looked up, then the topic is seed 002's
  const std::pair<std::string_view, std::string_view> expected[] = {
    {"order_created", "order-created"},
    {"payment_request", "payment-requests"},
    {"payment_result", "payment-results"},
    {"notification_event", "notification-events"},
    {"email_sent", "email-sent"},
    {"order_snapshot", "order-state"},
  };
  ASSERT_EQ(routes().size(), std::size(expected));
  for (size_t i = 0; i < std::size(expected); ++i) {
    EXPECT_EQ(routes()[i].type, expected[i].first);
    EXPECT_EQ(routes()[i].topic, expected[i].second);
  }
}

TEST(Routes, RouteOfAMessageIsTheRouteOfItsType) {
  // given one message of each type
  for (const auto& m : one_of_each()) {
    // when its route is looked up by message, by type name and by topic
    const auto& by_message = route_of(m);
    const auto by_type = route_for_type(by_message.type);
    const auto by_topic = route_for_topic(by_message.topic);
    // then all three agree
    EXPECT_EQ(by_message.index, m.index());
    ASSERT_TRUE(by_type.has_value()) << by_message.type;
    ASSERT_TRUE(by_topic.has_value()) << by_message.topic;
    EXPECT_EQ(by_type->index, m.index());
    EXPECT_EQ(by_topic->index, m.index());
    EXPECT_EQ(by_type->topic, by_message.topic);
    EXPECT_EQ(by_topic->type, by_message.type);
  }
}

TEST(Routes, RouteOfNamesTheConcreteType) {
  EXPECT_EQ(route_of(runtime::order_created{}).type, "order_created");
  EXPECT_EQ(route_of(runtime::payment_result{}).topic, topic_payment_results);
  EXPECT_EQ(route_of(runtime::order_snapshot{}).topic, topic_order_state);
}

TEST(Routes, OnlyTheOrderStateTopicIsCompacted) {
  for (const auto& r : routes())
    EXPECT_EQ(r.compacted, r.topic == "order-state") << r.topic;
}

TEST(Routes, UnknownTypeOrTopicHasNoRoute) {
  EXPECT_FALSE(route_for_type("order-created").has_value());  // a topic, not a type
  EXPECT_FALSE(route_for_type("").has_value());
  EXPECT_FALSE(route_for_topic("order_created").has_value());  // a type, not a topic
  EXPECT_FALSE(route_for_topic("order-created.dlq").has_value());
  EXPECT_FALSE(route_for_topic("").has_value());
}

TEST(Routes, AllTopicsListsTheSixTopicsInRouteOrder) {
  EXPECT_THAT(all_topics(),
              ElementsAre("order-created", "payment-requests", "payment-results",
                          "notification-events", "email-sent", "order-state"));
}

TEST(Routes, EachRoleReadsItsTopics) {
  EXPECT_THAT(topics_for_role("order"), ElementsAre("order-created", "payment-results",
                                                    "notification-events", "email-sent"));
  EXPECT_THAT(topics_for_role("payment"), ElementsAre("payment-requests"));
  EXPECT_THAT(topics_for_role("email"), ElementsAre("notification-events"));
  EXPECT_THAT(topics_for_role("analytics"),
              ElementsAre("order-created", "payment-results", "email-sent"));
  EXPECT_THAT(topics_for_role("gateway"), ElementsAre("order-state"));
}

TEST(Routes, UnknownRoleReadsNothing) {
  EXPECT_THAT(topics_for_role("billing"), IsEmpty());
  EXPECT_THAT(topics_for_role(""), IsEmpty());
  EXPECT_THAT(topics_for_role("Order"), IsEmpty());  // role names are case-sensitive
}

TEST(Routes, EveryTopicARoleReadsHasARoute) {
  for (auto role : {"order", "payment", "email", "analytics", "gateway"})
    for (const auto& topic : topics_for_role(role))
      EXPECT_TRUE(route_for_topic(topic).has_value()) << role << " reads " << topic;
}

}  // namespace
}  // namespace kastor::bridges

// -- Where a key goes: as the Java client, KafkaJS and kafka-python put it ------

TEST(KeyPartition, Murmur2PlacesKeysWhereTheJavaClientDoes) {
  // Utils.toPositive(Utils.murmur2(key.getBytes())) % 6, from kafka-clients 3.9.1:
  // murmur2("21") = -973932308, ("foobar") = -790332482, ("abc") = 479470107.
  EXPECT_EQ(kastor::bridges::key_partition("murmur2_random", "21", 6), 0);
  EXPECT_EQ(kastor::bridges::key_partition("murmur2_random", "foobar", 6), 0);
  EXPECT_EQ(kastor::bridges::key_partition("murmur2_random", "a-little-bit-long-string", 6), 2);
  EXPECT_EQ(kastor::bridges::key_partition("murmur2_random", "order-1", 6), 4);
  EXPECT_EQ(kastor::bridges::key_partition("murmur2", "abc", 6), 3);
  EXPECT_EQ(kastor::bridges::key_partition("murmur2", "abc", 1000), 479470107 % 1000);
}

TEST(KeyPartition, NoPlacementWithoutAKeyOrAPartitionCount) {
  EXPECT_EQ(kastor::bridges::key_partition("murmur2_random", "", 6), std::nullopt);
  EXPECT_EQ(kastor::bridges::key_partition("murmur2_random", "k", 0), std::nullopt);
  EXPECT_EQ(kastor::bridges::key_partition("random", "k", 6), std::nullopt);
}

TEST(KeyPartition, TheOtherPartitionersArePlacementsToo) {
  // consistent is librdkafka's CRC32 (kastor's placement before murmur2).
  for (auto p : {"consistent_random", "consistent", "fnv1a_random", "fnv1a"}) {
    auto a = kastor::bridges::key_partition(p, "order-1", 6);
    ASSERT_TRUE(a) << p;
    EXPECT_EQ(a, kastor::bridges::key_partition(p, "order-1", 6)) << p;
    EXPECT_GE(*a, 0);
    EXPECT_LT(*a, 6);
  }
}
