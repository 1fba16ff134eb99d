// The shop's roles: which messages each state class takes. A node starts a
// role's mailbox on exactly these types' topics; a record of another type
// that reaches it is dead-lettered (runtime::handlers).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kastor/actors/analytics.hpp"
#include "kastor/actors/email.hpp"
#include "kastor/actors/messages.hpp"
#include "kastor/actors/order.hpp"
#include "kastor/actors/payment.hpp"
#include "kastor/runtime/config.hpp"
#include "kastor/runtime/role.hpp"

namespace kastor::actors {

// Order and analytics follow the whole life of an order (order also reads
// notification-events: a seed 002 billing service tells the outcome only
// there); payment and email only react to the one event addressed to them.
//
// The order role: one entity per order id (order.hpp), restored from
// order-state with its key's partition; a finished order idle for
// `passivate_after` is passivated; an order whose payment has no outcome
// after `pay_within` is cancelled (0: never).
runtime::entity<order> order_role(
  std::chrono::milliseconds passivate_after = std::chrono::minutes{1},
  std::chrono::milliseconds pay_within = std::chrono::milliseconds{0});
inline runtime::handlers<payment_service> payment_handlers() {
  return runtime::consumes<payment_service, payment_request, payment_cancel>();
}
inline runtime::handlers<email_service> email_handlers() {
  return runtime::consumes<email_service, notification_event>();
}
inline runtime::handlers<analytics_book> analytics_handlers() {
  return runtime::consumes<analytics_book, order_created, payment_result, email_sent>();
}

// The shop as the runtime's configuration knows it: its roles (analytics and
// gateway are per-node views), its keys (payment.decline-over,
// payment.latency-ms, payment.concurrency, order.passivate-after-ms,
// order.payment-timeout-ms) and its
// fault names (crash-after-charge for payment, crash-after-send for email).
const runtime::app_spec& shop_app();

// payment.decline-over as cents ("1000.00" -> 100000).
int64_t decline_over_cents(const runtime::node_config& c);

// What each shop role reads: order, payment, email, analytics, and gateway
// (the order snapshots). Empty for an unknown role.
std::vector<std::string> topics_for_role(std::string_view role);

}  // namespace kastor::actors
