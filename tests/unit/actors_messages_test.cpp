// The shop's declarations: which type lives in which topic, and what each
// role reads (the message registry and actors/roles.hpp).
#include "kastor/actors/messages.hpp"
#include "kastor/actors/roles.hpp"

#include <set>
#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kastor::actors {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const char* const shop_types[] = {"order_created",      "payment_request", "payment_result",
                                  "notification_event", "email_sent",      "order_snapshot",
                                  "payment_timeout",    "payment_cancel"};

TEST(ShopMessages, TypesMapToTheSeed002Topics) {
  // given each type name, when it is looked up, then its topic is seed 002's
  const std::pair<std::string_view, std::string_view> expected[] = {
    {"order_created", "order-created"},
    {"payment_request", "payment-requests"},
    {"payment_result", "payment-results"},
    {"notification_event", "notification-events"},
    {"email_sent", "email-sent"},
    {"order_snapshot", "order-state"},
    // kastor's own: the order's payment timeout and its cancellation
    {"payment_timeout", "order-payment-timeouts"},
    {"payment_cancel", "payment-cancels"},
  };
  for (const auto& [type, topic] : expected) {
    const auto* t = runtime::messages().by_name(type);
    ASSERT_NE(t, nullptr) << type;
    EXPECT_EQ(t->topic, topic);
    // and the topic's one type is it (a header-less record there is typed so)
    EXPECT_EQ(runtime::messages().by_topic(topic), t) << topic;
  }
}

TEST(ShopMessages, AMessageKnowsItsTypeAndKey) {
  runtime::message m{payment_result{"o-7", "c", 1, payment_succeeded, "", "tx", 1}};
  EXPECT_EQ(m.type()->name, "payment_result");
  EXPECT_EQ(m.type()->topic, topic_payment_results);
  EXPECT_EQ(m.key(), "o-7");  // the order id keeps an order in one partition
  EXPECT_EQ(runtime::message{order_snapshot{}}.type()->topic, topic_order_state);
}

TEST(ShopMessages, OnlyTheOrderStateTopicIsACompactedChangelog) {
  for (const auto* name : shop_types) {
    const auto* t = runtime::messages().by_name(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->compacted, t->topic == "order-state") << name;
    EXPECT_EQ(t->follows_cause, t->topic == "order-state") << name;
  }
}

TEST(ShopMessages, UnknownTypeOrTopicIsNotFound) {
  EXPECT_EQ(runtime::messages().by_name("order-created"), nullptr);  // a topic, not a type
  EXPECT_EQ(runtime::messages().by_name(""), nullptr);
  EXPECT_EQ(runtime::messages().by_topic("order_created"), nullptr);  // a type, not a topic
  EXPECT_EQ(runtime::messages().by_topic("order-created.dlq"), nullptr);
  EXPECT_EQ(runtime::messages().by_topic(""), nullptr);
}

TEST(ShopRoles, EachRoleReadsItsTopics) {
  EXPECT_THAT(topics_for_role("order"),
              ElementsAre("order-created", "payment-results", "notification-events", "email-sent",
                          "order-payment-timeouts"));
  EXPECT_THAT(topics_for_role("payment"), ElementsAre("payment-requests", "payment-cancels"));
  EXPECT_THAT(topics_for_role("email"), ElementsAre("notification-events"));
  EXPECT_THAT(topics_for_role("analytics"),
              ElementsAre("order-created", "payment-results", "email-sent"));
  EXPECT_THAT(topics_for_role("gateway"), ElementsAre("order-state"));
}

TEST(ShopRoles, UnknownRoleReadsNothing) {
  EXPECT_THAT(topics_for_role("billing"), IsEmpty());
  EXPECT_THAT(topics_for_role(""), IsEmpty());
  EXPECT_THAT(topics_for_role("Order"), IsEmpty());  // role names are case-sensitive
}

TEST(ShopRoles, EveryTopicARoleReadsCarriesADeclaredType) {
  for (auto role : {"order", "payment", "email", "analytics", "gateway"})
    for (const auto& topic : topics_for_role(role))
      EXPECT_NE(runtime::messages().by_topic(topic), nullptr) << role << " reads " << topic;
}

}  // namespace
}  // namespace kastor::actors
