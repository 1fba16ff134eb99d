#include "kastor/actors/order.hpp"

#include <algorithm>
#include <chrono>

#include "checks.hpp"
#include "kastor/actors/shop_metrics.hpp"
#include "kastor/runtime/reject.hpp"
#include "kastor/runtime/timers.hpp"

namespace kastor::actors {

namespace rt = kastor::runtime;

namespace {

void advance(order_snapshot& snap, const char* to) {
  if (status_rank(to) > status_rank(snap.status)) {
    snap.status = to;
    shop_metrics::order_entered(to);
  }
}

// The order's one timer: the payment timeout, then (once timed out) the
// retry of its cancellation until the cancellation's email is seen.
constexpr const char* timeout_timer = "payment-timeout";

// How long a timed-out order waits for its cancellation's email before it
// sends the cancellation again (its first copy may be lost in a crash).
constexpr int64_t cancel_retry_floor_ms = 30'000;

bool is_cancellation(const std::string& kind) {
  return kind == notify_order_cancelled || kind == notify_payment_refunded;
}

}  // namespace

int status_rank(const std::string& status) {
  if (status == status_notified)
    return 2;
  if (status == status_paid || status == status_payment_failed
      || status == status_payment_timeout)
    return 1;
  return 0;  // PENDING
}

bool further_along(const order_snapshot& a, const order_snapshot& b) {
  if (status_rank(a.status) != status_rank(b.status))
    return status_rank(a.status) > status_rank(b.status);
  return a.updated_at_ms > b.updated_at_ms;
}

int64_t item_count_of(const order_created& msg) {
  int64_t n = 0;
  for (const auto& item : msg.items)
    n += item.quantity;
  return n;
}

order::order(const std::string& id, int64_t payment_timeout_ms)
    : payment_timeout_ms_(payment_timeout_ms) {
  snap_.order_id = id;
  snap_.status = status_pending;
}

order::order(const order_snapshot& restored, int64_t payment_timeout_ms)
    : snap_(restored),
      payment_timeout_ms_(payment_timeout_ms),
      seen_(true),
      created_seen_(restored.item_count > 0) {
  snap_.epoch = 0;  // the book stamps its own when it writes
}

bool order::supersedes(const order_snapshot& restored, const order_snapshot& held) {
  return further_along(restored, held);
}

bool order::may_passivate() const { return snap_.status == status_notified; }

void order::first_seen(const std::string& customer_id, int64_t total_cents, int64_t now_ms) {
  if (seen_)
    return;
  snap_.customer_id = customer_id;
  snap_.total_cents = total_cents;
  snap_.created_at_ms = now_ms;
  snap_.updated_at_ms = now_ms;
  seen_ = true;
}

void order::set_outcome(bool ok, int64_t now_ms) {
  snap_.payment_status = ok ? payment_succeeded : payment_declined;
  advance(snap_, ok ? status_paid : status_payment_failed);
  if (snap_.emailed)
    advance(snap_, status_notified);
  snap_.updated_at_ms = now_ms;
}

bool order::timed_out() const { return snap_.payment_status == payment_timed_out; }

rt::message order::cancellation() const {
  return payment_cancel{snap_.order_id, snap_.customer_id, snap_.total_cents, snap_.reason};
}

std::vector<rt::message> order::cancellation_again() const {
  if (timed_out() && snap_.status != status_notified)
    return {cancellation()};
  return {};
}

std::vector<rt::message> order::handle(const rt::record_meta&, const order_created& msg,
                                       int64_t now_ms) {
  detail::require_id(msg.order_id, "order_created");
  const bool first_request = !created_seen_ && snap_.status == status_pending;
  if (!created_seen_) {
    // New, or known from a payment result / email that only guessed these
    // fields: the gateway's order is the source of truth for them.
    snap_.customer_id = msg.customer_id;
    snap_.total_cents = msg.total_cents;
    snap_.item_count = item_count_of(msg);
    snap_.created_at_ms = msg.created_at_ms != 0 ? msg.created_at_ms : now_ms;
    snap_.updated_at_ms = now_ms;
    snap_.request_fingerprint = msg.request_fingerprint;
    created_seen_ = seen_ = true;
    shop_metrics::order_entered(status_pending);
  }
  if (snap_.status != status_pending)
    return cancellation_again();
  std::vector<rt::message> out{
    payment_request{snap_.order_id, snap_.customer_id, snap_.total_cents}};
  if (first_request && payment_timeout_ms_ > 0)  // (a copy keeps the first deadline)
    out.push_back(rt::timer_after(timeout_timer, std::chrono::milliseconds{payment_timeout_ms_},
                                  payment_timeout{snap_.order_id, payment_timeout_ms_}));
  return out;
}

std::vector<rt::message> order::handle(const rt::record_meta&, const payment_result& msg,
                                       int64_t now_ms) {
  const bool ok = detail::payment_ok(msg);
  first_seen(msg.customer_id, msg.total_cents, now_ms);
  if (snap_.payment_status.empty()) {
    set_outcome(ok, now_ms);
    snap_.reason = msg.reason;
    snap_.transaction_id = msg.transaction_id;
    return {rt::cancel_timer(timeout_timer)};
  }
  if (timed_out())  // too late: payment compensates it (payment_cancel)
    return cancellation_again();
  if (snap_.payment_status == msg.status && snap_.transaction_id.empty()
             && snap_.reason.empty() && !(msg.transaction_id.empty() && msg.reason.empty())) {
    // The outcome came first from a notification, which has no details.
    snap_.reason = msg.reason;
    snap_.transaction_id = msg.transaction_id;
    snap_.updated_at_ms = now_ms;
  }
  // else: a duplicate (or a conflicting late result): the first outcome stands.
  return {};
}

std::vector<rt::message> order::handle(const rt::record_meta&, const notification_event& msg,
                                       int64_t now_ms) {
  detail::require_id(msg.order_id, "notification_event");
  if (is_cancellation(msg.type)) {
    // Payment's answer to a cancel of this order: its ledger's verdict, even
    // where this order's own timeout was lost (a snapshot lost in a crash).
    first_seen(msg.customer_id, msg.amount_known ? msg.total_cents : 0, now_ms);
    return cancelled_by_payment(now_ms);
  }
  const bool ok = msg.type == notify_payment_succeeded;
  if (!ok && msg.type != notify_payment_failed)
    rt::reject("notification_event for order " + msg.order_id + " has unknown type '" + msg.type
               + "'");
  if (timed_out())
    return cancellation_again();
  if (!snap_.payment_status.empty())
    return {};  // the outcome is known (kastor's payment writes a payment_result too)
  first_seen(msg.customer_id, msg.amount_known ? msg.total_cents : 0, now_ms);
  set_outcome(ok, now_ms);
  return {rt::cancel_timer(timeout_timer)};
}

std::vector<rt::message> order::handle(const rt::record_meta&, const email_sent& msg,
                                       int64_t now_ms) {
  detail::require_id(msg.order_id, "email_sent");
  first_seen(msg.customer_id, 0, now_ms);
  if (is_cancellation(msg.kind) && !timed_out())
    cancelled_by_payment(now_ms);  // (its timeout's snapshot was lost: see above)
  if (timed_out()) {
    // Only the cancellation's email tells the customer what happened.
    if (snap_.emailed)
      return {};
    if (!is_cancellation(msg.kind))
      return cancellation_again();
    snap_.emailed = true;
    advance(snap_, status_notified);
    snap_.updated_at_ms = now_ms;
    return {rt::cancel_timer(timeout_timer)};  // no more cancellations to retry
  }
  if (!snap_.emailed) {
    snap_.emailed = true;
    // Before the payment outcome the order stays where it is; the outcome
    // moves it straight to NOTIFIED (see set_outcome).
    if (!snap_.payment_status.empty())
      advance(snap_, status_notified);
    snap_.updated_at_ms = now_ms;
  }
  return {};
}

std::vector<rt::message> order::handle(const rt::record_meta&, const payment_timeout& msg,
                                       int64_t now_ms) {
  detail::require_id(msg.order_id, "payment_timeout");
  if (timed_out()) {
    // The retry: the cancellation's email has not been seen yet.
    if (snap_.status == status_notified)
      return {};
    return {cancellation(), cancel_retry()};
  }
  if (!snap_.payment_status.empty() || snap_.status != status_pending)
    return {};  // the outcome came first (its turn cancelled the timer)
  snap_.status = status_payment_timeout;
  shop_metrics::order_entered(status_payment_timeout);
  snap_.payment_status = payment_timed_out;
  snap_.reason = "no payment answer within " + std::to_string(msg.timeout_ms) + " ms";
  // An email seen before was about a payment that is now undone: the order
  // waits for its cancellation's.
  snap_.emailed = false;
  snap_.updated_at_ms = now_ms;
  return {cancellation(), cancel_retry()};
}

std::vector<rt::message> order::cancelled_by_payment(int64_t now_ms) {
  if (timed_out())
    return {};
  // Whatever the order knew: payment sealed or refunded it.
  snap_.payment_status = payment_timed_out;
  snap_.reason = "cancelled by payment after a payment timeout";
  snap_.transaction_id.clear();
  if (snap_.status != status_notified && snap_.status != status_payment_timeout) {
    snap_.status = status_payment_timeout;
    shop_metrics::order_entered(status_payment_timeout);
  }
  snap_.emailed = false;
  snap_.updated_at_ms = now_ms;
  return {rt::cancel_timer(timeout_timer)};
}

rt::message order::cancel_retry() const {
  const int64_t after = std::max(payment_timeout_ms_, cancel_retry_floor_ms);
  return rt::timer_after(timeout_timer, std::chrono::milliseconds{after},
                         payment_timeout{snap_.order_id, payment_timeout_ms_});
}

}  // namespace kastor::actors
