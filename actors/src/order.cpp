#include "kastor/actors/order.hpp"

#include "checks.hpp"

#include <stdexcept>

namespace kastor::actors {

namespace rt = kastor::runtime;

namespace {

// Position in the state machine; a status only ever moves to a higher rank.
int rank(const std::string& status) {
  if (status == rt::status_notified)
    return 2;
  if (status == rt::status_paid || status == rt::status_payment_failed)
    return 1;
  return 0;  // PENDING
}

void advance(rt::order_snapshot& snap, const char* to) {
  if (rank(to) > rank(snap.status))
    snap.status = to;
}

rt::any_message snapshot_at(const rt::order_snapshot& snap, int64_t now_ms) {
  auto out = snap;
  out.updated_at_ms = now_ms;
  return out;
}

}  // namespace

int64_t item_count_of(const rt::order_created& msg) {
  int64_t n = 0;
  for (const auto& item : msg.items)
    n += item.quantity;
  return n;
}

// Each handler works on a copy of the entry and stores it only after the
// reply is built, so a throw (e.g. bad_alloc) leaves the book as it was.

std::vector<rt::any_message> order_book::handle(const rt::record_meta&,
                                                const rt::order_created& msg,
                                                int64_t now_ms) {
  detail::require_id(msg.order_id, "order_created");
  entry e;
  if (auto it = orders_.find(msg.order_id); it != orders_.end())
    e = it->second;
  else
    e.snap.status = rt::status_pending;
  if (!e.created_seen) {
    // New, or created earlier from a payment result / email that only guessed
    // these fields: the gateway's order is the source of truth for them.
    e.snap.order_id = msg.order_id;
    e.snap.customer_id = msg.customer_id;
    e.snap.total_cents = msg.total_cents;
    e.snap.item_count = item_count_of(msg);
    e.snap.created_at_ms = msg.created_at_ms != 0 ? msg.created_at_ms : now_ms;
    e.snap.updated_at_ms = now_ms;
    e.created_seen = true;
  }
  std::vector<rt::any_message> out;
  if (e.snap.status == rt::status_pending)
    out.emplace_back(rt::payment_request{e.snap.order_id, e.snap.customer_id,
                                         e.snap.total_cents});
  out.push_back(snapshot_at(e.snap, now_ms));
  orders_[msg.order_id] = std::move(e);
  return out;
}

std::vector<rt::any_message> order_book::handle(const rt::record_meta&,
                                                const rt::payment_result& msg,
                                                int64_t now_ms) {
  const bool ok = detail::payment_ok(msg);
  entry e;
  if (auto it = orders_.find(msg.order_id); it != orders_.end()) {
    e = it->second;
  } else {
    // Unknown order (e.g. a request injected without order_created).
    e.snap.order_id = msg.order_id;
    e.snap.customer_id = msg.customer_id;
    e.snap.total_cents = msg.total_cents;
    e.snap.status = rt::status_pending;
    e.snap.created_at_ms = now_ms;
  }
  if (e.snap.payment_status.empty()) {
    e.snap.payment_status = msg.status;
    e.snap.reason = msg.reason;
    e.snap.transaction_id = msg.transaction_id;
    advance(e.snap, ok ? rt::status_paid : rt::status_payment_failed);
    if (e.emailed)
      advance(e.snap, rt::status_notified);
    e.snap.updated_at_ms = now_ms;
  }
  // else: a duplicate (or a conflicting late result): the first outcome stands.
  std::vector<rt::any_message> out;
  out.push_back(snapshot_at(e.snap, now_ms));
  orders_[msg.order_id] = std::move(e);
  return out;
}

std::vector<rt::any_message> order_book::handle(const rt::record_meta&,
                                                const rt::email_sent& msg,
                                                int64_t now_ms) {
  detail::require_id(msg.order_id, "email_sent");
  entry e;
  if (auto it = orders_.find(msg.order_id); it != orders_.end()) {
    e = it->second;
  } else {
    e.snap.order_id = msg.order_id;
    e.snap.customer_id = msg.customer_id;
    e.snap.status = rt::status_pending;
    e.snap.created_at_ms = now_ms;
  }
  if (!e.emailed) {
    e.emailed = true;
    // Before the payment outcome the order stays where it is; the outcome
    // moves it straight to NOTIFIED (see the payment_result handler).
    if (!e.snap.payment_status.empty())
      advance(e.snap, rt::status_notified);
    e.snap.updated_at_ms = now_ms;
  }
  std::vector<rt::any_message> out;
  out.push_back(snapshot_at(e.snap, now_ms));
  orders_[msg.order_id] = std::move(e);
  return out;
}

std::optional<rt::order_snapshot> order_book::find(const std::string& order_id) const {
  auto it = orders_.find(order_id);
  if (it == orders_.end())
    return std::nullopt;
  return it->second.snap;
}

std::optional<rt::order_snapshot> order_book::find_created(const std::string& order_id) const {
  auto it = orders_.find(order_id);
  if (it == orders_.end() || !it->second.created_seen)
    return std::nullopt;
  return it->second.snap;
}

bool order_book::emailed(const std::string& order_id) const {
  auto it = orders_.find(order_id);
  return it != orders_.end() && it->second.emailed;
}

}  // namespace kastor::actors
