#include "kastor/actors/order.hpp"

#include "checks.hpp"
#include "kastor/runtime/reject.hpp"

namespace kastor::actors {

namespace rt = kastor::runtime;

namespace {

void advance(order_snapshot& snap, const char* to) {
  if (status_rank(to) > status_rank(snap.status))
    snap.status = to;
}

}  // namespace

int status_rank(const std::string& status) {
  if (status == status_notified)
    return 2;
  if (status == status_paid || status == status_payment_failed)
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

order::order(const std::string& id) {
  snap_.order_id = id;
  snap_.status = status_pending;
}

order::order(const order_snapshot& restored)
    : snap_(restored), seen_(true), created_seen_(restored.item_count > 0) {
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

std::vector<rt::message> order::handle(const rt::record_meta&, const order_created& msg,
                                       int64_t now_ms) {
  detail::require_id(msg.order_id, "order_created");
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
  }
  if (snap_.status != status_pending)
    return {};
  return {payment_request{snap_.order_id, snap_.customer_id, snap_.total_cents}};
}

std::vector<rt::message> order::handle(const rt::record_meta&, const payment_result& msg,
                                       int64_t now_ms) {
  const bool ok = detail::payment_ok(msg);
  first_seen(msg.customer_id, msg.total_cents, now_ms);
  if (snap_.payment_status.empty()) {
    set_outcome(ok, now_ms);
    snap_.reason = msg.reason;
    snap_.transaction_id = msg.transaction_id;
  } else if (snap_.payment_status == msg.status && snap_.transaction_id.empty()
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
  const bool ok = msg.type == notify_payment_succeeded;
  if (!ok && msg.type != notify_payment_failed)
    rt::reject("notification_event for order " + msg.order_id + " has unknown type '" + msg.type
               + "'");
  if (!snap_.payment_status.empty())
    return {};  // the outcome is known (kastor's payment writes a payment_result too)
  first_seen(msg.customer_id, msg.amount_known ? msg.total_cents : 0, now_ms);
  set_outcome(ok, now_ms);
  return {};
}

std::vector<rt::message> order::handle(const rt::record_meta&, const email_sent& msg,
                                       int64_t now_ms) {
  detail::require_id(msg.order_id, "email_sent");
  first_seen(msg.customer_id, 0, now_ms);
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

}  // namespace kastor::actors
