// The one place where message types, topics and keys meet.
// Actors never see a topic string; everything Kafka-side asks these tables.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kastor/runtime/messages.hpp"

namespace kastor::bridges {

// Topic names (seed 002 for the first three; kastor's own after them).
inline constexpr std::string_view topic_order_created = "order-created";
inline constexpr std::string_view topic_payment_requests = "payment-requests";
inline constexpr std::string_view topic_payment_results = "payment-results";
inline constexpr std::string_view topic_notification_events = "notification-events";
inline constexpr std::string_view topic_email_sent = "email-sent";
inline constexpr std::string_view topic_order_state = "order-state";  // compacted

struct route {
  std::string_view type;   // message type name, as in the kastor-type header
  std::string_view topic;  // the topic its records live in
  size_t index;            // its alternative in runtime::any_message
  bool compacted;          // the topic keeps only the latest record per key
  // An entity's changelog: a record published while handling an input record
  // goes to that record's partition number (the topics are co-partitioned),
  // not where the partitioner would put its key, so that what a partition's
  // owner writes (and the epoch it writes with) is where the next owner of
  // that partition restores from.
  bool follows_cause = false;
};

// Every route, in any_message order.
const std::vector<route>& routes();

const route& route_of(const runtime::any_message& m);
std::optional<route> route_for_type(std::string_view type);
std::optional<route> route_for_topic(std::string_view topic);

// Every topic the pipeline uses.
std::vector<std::string> all_topics();

// What each role reads. Roles: order, payment, email, analytics, gateway.
// Empty for an unknown role.
std::vector<std::string> topics_for_role(std::string_view role);

}  // namespace kastor::bridges
