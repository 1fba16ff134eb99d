#include "kastor/bridges/routes.hpp"

#include <array>
#include <type_traits>
#include <variant>

namespace kastor::bridges {

namespace {

using runtime::any_message;

// The table is indexed by any_message alternative; a new alternative without
// a route must not compile.
constexpr size_t route_count = std::variant_size_v<any_message>;
static_assert(route_count == 6, "every any_message alternative needs a route below");

// Route type names must match the alternatives, in order.
template <size_t I>
using alternative = std::variant_alternative_t<I, any_message>;
static_assert(std::is_same_v<alternative<0>, runtime::order_created>);
static_assert(std::is_same_v<alternative<1>, runtime::payment_request>);
static_assert(std::is_same_v<alternative<2>, runtime::payment_result>);
static_assert(std::is_same_v<alternative<3>, runtime::notification_event>);
static_assert(std::is_same_v<alternative<4>, runtime::email_sent>);
static_assert(std::is_same_v<alternative<5>, runtime::order_snapshot>);

constexpr std::array<route, route_count> route_table{{
  {"order_created", topic_order_created, 0, false},
  {"payment_request", topic_payment_requests, 1, false},
  {"payment_result", topic_payment_results, 2, false},
  {"notification_event", topic_notification_events, 3, false},
  {"email_sent", topic_email_sent, 4, false},
  // Only the latest state of an order matters to a gateway.
  {"order_snapshot", topic_order_state, 5, true, true},
}};

struct role_topics {
  std::string_view role;
  std::array<std::string_view, 4> topics;  // empty entries are unused
};

// What each role consumes. Order and analytics follow the whole life of an
// order (order also reads notification-events: a seed 002 billing service
// tells the outcome only there); payment and email only react to the one
// event addressed to them.
constexpr std::array<role_topics, 5> role_table{{
  {"order", {topic_order_created, topic_payment_results, topic_notification_events,
             topic_email_sent}},
  {"payment", {topic_payment_requests, {}, {}, {}}},
  {"email", {topic_notification_events, {}, {}, {}}},
  {"analytics", {topic_order_created, topic_payment_results, topic_email_sent, {}}},
  {"gateway", {topic_order_state, {}, {}, {}}},
}};

}  // namespace

const std::vector<route>& routes() {
  static const std::vector<route> all(route_table.begin(), route_table.end());
  return all;
}

const route& route_of(const runtime::any_message& m) {
  return routes()[m.index()];
}

std::optional<route> route_for_type(std::string_view type) {
  for (const auto& r : route_table)
    if (r.type == type)
      return r;
  return std::nullopt;
}

std::optional<route> route_for_topic(std::string_view topic) {
  for (const auto& r : route_table)
    if (r.topic == topic)
      return r;
  return std::nullopt;
}

std::vector<std::string> all_topics() {
  std::vector<std::string> result;
  result.reserve(route_table.size());
  for (const auto& r : route_table)
    result.emplace_back(r.topic);
  return result;
}

std::vector<std::string> topics_for_role(std::string_view role) {
  std::vector<std::string> result;
  for (const auto& entry : role_table) {
    if (entry.role != role)
      continue;
    for (auto topic : entry.topics)
      if (!topic.empty())
        result.emplace_back(topic);
  }
  return result;
}

}  // namespace kastor::bridges
