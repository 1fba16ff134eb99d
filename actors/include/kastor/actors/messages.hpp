// The shop's messages: every business message its actors exchange.
//
// Plain structs, declared to the runtime by declare_messages() with their
// topics, keys (the order id, which keeps an order in one partition), schemas
// and seed 002's wire format (wire.cpp): money is held in integer cents and
// the wire carries decimal numbers (99.98); timestamps are milliseconds since
// the Unix epoch. The `inspect` overloads let the shop's queries (an order's
// snapshot) travel between its actors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "kastor/runtime/message.hpp"

namespace kastor::actors {

using runtime::record_meta;

// Topic names (seed 002 for the first three; kastor's own after them).
inline constexpr std::string_view topic_order_created = "order-created";
inline constexpr std::string_view topic_payment_requests = "payment-requests";
inline constexpr std::string_view topic_payment_results = "payment-results";
inline constexpr std::string_view topic_notification_events = "notification-events";
inline constexpr std::string_view topic_email_sent = "email-sent";
inline constexpr std::string_view topic_order_state = "order-state";  // compacted
inline constexpr std::string_view topic_payment_timeouts = "order-payment-timeouts";
inline constexpr std::string_view topic_payment_cancels = "payment-cancels";

// On an order_snapshot whose email went out ("true"; absent otherwise).
inline constexpr std::string_view hdr_order_emailed = "kastor-order-emailed";
// The fingerprint of the request that made an order (an Idempotency-Key's
// body; see apps::order_fingerprint), on its order_created and every snapshot
// of it. Not in the JSON (seed 002's order has no such field).
inline constexpr std::string_view hdr_request_fingerprint = "kastor-request-fingerprint";

struct order_item {
  std::string product_id;
  std::string name;
  int64_t price_cents = 0;
  int64_t quantity = 0;
  int64_t subtotal_cents = 0;
  friend bool operator==(const order_item&, const order_item&) = default;
};

// Topic `order-created`: an order was accepted by a gateway. A seed 002
// order service writes "status":"CREATED"; it is read as PENDING.
struct order_created {
  std::string order_id;
  std::string customer_id;
  std::vector<order_item> items;
  int64_t total_cents = 0;
  std::string status = "PENDING";
  int64_t created_at_ms = 0;
  std::string request_fingerprint = {};  // header kastor-request-fingerprint; empty: none
  friend bool operator==(const order_created&, const order_created&) = default;
};

// Topic `payment-requests`: the order role asks payment to charge. The
// amount is read from `totalAmount` or, as seed 002's order service writes
// it, `amount`; both are written.
struct payment_request {
  std::string order_id;
  std::string customer_id;
  int64_t total_cents = 0;
  friend bool operator==(const payment_request&, const payment_request&) = default;
};

// Payment outcome values (wire strings).
inline constexpr const char* payment_succeeded = "SUCCEEDED";
inline constexpr const char* payment_declined = "DECLINED";

// Topic `payment-results`: payment's answer, read by order and analytics.
struct payment_result {
  std::string order_id;
  std::string customer_id;
  int64_t total_cents = 0;
  std::string status;  // payment_succeeded | payment_declined
  std::string reason;  // why it was declined; empty on success
  std::string transaction_id;
  int64_t processed_at_ms = 0;
  friend bool operator==(const payment_result&, const payment_result&) = default;
};

// Notification kinds (wire strings). The last two are kastor's own (an order
// whose payment did not answer in time, see payment_cancel).
inline constexpr const char* notify_payment_succeeded = "PAYMENT_SUCCEEDED";
inline constexpr const char* notify_payment_failed = "PAYMENT_FAILED";
inline constexpr const char* notify_order_cancelled = "ORDER_CANCELLED";
inline constexpr const char* notify_payment_refunded = "PAYMENT_REFUNDED";

// Topic `notification-events`: what the email role tells the customer. A
// seed 002 billing service writes only {orderId, customerId, type, at}: it is
// also how the order role learns the payment outcome when no payment_result
// comes (see order.hpp).
struct notification_event {
  std::string order_id;
  std::string customer_id;
  std::string type;  // notify_* above
  int64_t total_cents = 0;
  std::string message;
  bool amount_known = true;  // false: the record had no amount (total_cents is 0)
  int64_t at_ms = 0;         // `at`: when the payment was processed (0: not given)
  friend bool operator==(const notification_event&, const notification_event&) = default;
};

// Topic `email-sent`: the email role appended a notification to its outbox.
struct email_sent {
  std::string order_id;
  std::string customer_id;
  std::string kind;  // the notification type that was sent
  int64_t sent_at_ms = 0;
  friend bool operator==(const email_sent&, const email_sent&) = default;
};

// Topic `order-payment-timeouts`: the order role's timer (runtime timers.hpp)
// to itself, due order.payment-timeout-ms after its payment request. Handled
// while the order still waits for its payment outcome, it cancels the order.
struct payment_timeout {
  std::string order_id;
  int64_t timeout_ms = 0;  // how long the order waited (for the reason it gives)
  friend bool operator==(const payment_timeout&, const payment_timeout&) = default;
};

// Topic `payment-cancels`: the order role gave up on the payment of an order
// (it timed out). Payment seals the order so that a request arriving later
// charges nothing, or refunds the charge it made; either way it tells the
// customer (ORDER_CANCELLED / PAYMENT_REFUNDED).
struct payment_cancel {
  std::string order_id;
  std::string customer_id;
  int64_t total_cents = 0;
  std::string reason;
  friend bool operator==(const payment_cancel&, const payment_cancel&) = default;
};

// Order status values (wire strings).
inline constexpr const char* status_pending = "PENDING";
inline constexpr const char* status_paid = "PAID";
inline constexpr const char* status_payment_failed = "PAYMENT_FAILED";
inline constexpr const char* status_payment_timeout = "PAYMENT_TIMEOUT";
inline constexpr const char* status_notified = "NOTIFIED";
// payment_status of an order that timed out (payment's own are
// payment_succeeded and payment_declined).
inline constexpr const char* payment_timed_out = "TIMEOUT";

// Topic `order-state` (compacted): the order role's current view of an order,
// published on every transition; gateways answer GET /api/orders/{id} from it.
struct order_snapshot {
  std::string order_id;
  std::string customer_id;
  int64_t total_cents = 0;
  int64_t item_count = 0;
  std::string status;         // status_* above
  std::string payment_status; // empty until payment answered
  std::string reason;         // decline reason, if any
  std::string transaction_id;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  // The order's email went out (set before the payment outcome too). Not in
  // the JSON (seed 002's order has no such field): the bridge carries it in
  // the kastor-order-emailed header, so a restored order knows it.
  bool emailed = false;
  // The writer's ownership epoch of the order's partition (kastor-epoch
  // header; 0: none): a later owner writes with a higher one, so a reader
  // skips a late write of an earlier owner (a paused node's queued output).
  int64_t epoch = 0;
  // Its order_created's request_fingerprint (kastor-request-fingerprint
  // header); empty until that record is seen, or when it had none.
  std::string request_fingerprint = {};
  friend bool operator==(const order_snapshot&, const order_snapshot&) = default;
};


template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_item& x) {
  return f(caf::meta::type_name("order_item"), x.product_id, x.name, x.price_cents,
           x.quantity, x.subtotal_cents);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_created& x) {
  return f(caf::meta::type_name("order_created"), x.order_id, x.customer_id, x.items,
           x.total_cents, x.status, x.created_at_ms, x.request_fingerprint);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payment_request& x) {
  return f(caf::meta::type_name("payment_request"), x.order_id, x.customer_id,
           x.total_cents);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payment_result& x) {
  return f(caf::meta::type_name("payment_result"), x.order_id, x.customer_id,
           x.total_cents, x.status, x.reason, x.transaction_id, x.processed_at_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, notification_event& x) {
  return f(caf::meta::type_name("notification_event"), x.order_id, x.customer_id,
           x.type, x.total_cents, x.message, x.amount_known, x.at_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, email_sent& x) {
  return f(caf::meta::type_name("email_sent"), x.order_id, x.customer_id, x.kind,
           x.sent_at_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payment_timeout& x) {
  return f(caf::meta::type_name("payment_timeout"), x.order_id, x.timeout_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payment_cancel& x) {
  return f(caf::meta::type_name("payment_cancel"), x.order_id, x.customer_id, x.total_cents,
           x.reason);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_snapshot& x) {
  return f(caf::meta::type_name("order_snapshot"), x.order_id, x.customer_id,
           x.total_cents, x.item_count, x.status, x.payment_status, x.reason,
           x.transaction_id, x.created_at_ms, x.updated_at_ms, x.emailed, x.epoch,
           x.request_fingerprint);
}

// Declares the eight message types above to the runtime (runtime::declare):
// topics, keys, seed 002's JSON, schemas. Idempotent; every entry point of
// the shop (a node, the gateway, a test) calls it before the first message.
void declare_messages();
namespace detail {
// Every program that includes this header has the shop's types declared
// before main() (as an Envoy extension registers itself).
inline const bool messages_declared = (declare_messages(), true);
}  // namespace detail

}  // namespace kastor::actors
