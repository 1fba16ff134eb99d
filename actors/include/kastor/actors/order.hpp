// order_book: the order role's state machine, one entry per order id.
//
//   PENDING ──payment SUCCEEDED──► PAID ───────────┐
//      │                                           ├──email sent──► NOTIFIED
//      └─────payment DECLINED───► PAYMENT_FAILED ──┘
//
// Status never goes backwards. Records of different topics arrive in any
// order: an email_sent seen before the payment_result marks the order
// "emailed" and it becomes NOTIFIED as soon as the payment outcome is known.
// A payment_result or email_sent for an order never seen creates it from the
// message's own fields (a request injected with kcat has no order_created).
//
// Delivery is at-least-once, so every handle() is idempotent: handling a
// record again changes nothing and re-emits what a lost publish may have
// lost (the snapshot; the payment request while the order is still PENDING).
// Every emitted order_snapshot carries updated_at_ms = now_ms; the stored one
// keeps the time of its last real change. item_count is the sum of the items'
// quantities; an order_created without created_at_ms (0) is created at now_ms.
// An order first seen through a later record gets item_count 0 and
// created_at = now until its order_created arrives and fills them in.
//
// Thread-safety: none; one actor owns an order_book.
// Exceptions: std::invalid_argument for a message without order id, or a
// payment_result whose status is neither SUCCEEDED nor DECLINED (the adapter
// dead-letters it). A handle() that throws has changed nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kastor/runtime/messages.hpp"

namespace kastor::actors {

class order_book {
public:
  // From the gateway. New id: store as PENDING, emit payment_request and the
  // snapshot. Known id still PENDING: emit both again. Past PENDING: emit
  // only the snapshot (never a second payment request).
  std::vector<runtime::any_message> handle(const runtime::record_meta& meta,
                                           const runtime::order_created& msg,
                                           int64_t now_ms);

  // From payment. SUCCEEDED -> PAID, DECLINED -> PAYMENT_FAILED (NOTIFIED
  // directly when the email already went out). The first outcome of an order
  // wins; a duplicate changes nothing. Emits the snapshot.
  std::vector<runtime::any_message> handle(const runtime::record_meta& meta,
                                           const runtime::payment_result& msg,
                                           int64_t now_ms);

  // From email. With the payment outcome known -> NOTIFIED (terminal);
  // before it, the order is marked emailed. Emits the snapshot.
  std::vector<runtime::any_message> handle(const runtime::record_meta& meta,
                                           const runtime::email_sent& msg,
                                           int64_t now_ms);

  std::optional<runtime::order_snapshot> find(const std::string& order_id) const;
  // Only an order whose order_created this book handled: the others are
  // guesses built from a later event (e.g. after the key moved here).
  std::optional<runtime::order_snapshot> find_created(const std::string& order_id) const;
  size_t size() const { return orders_.size(); }

  // Whether the email of an order went out (also before its payment outcome).
  bool emailed(const std::string& order_id) const;

private:
  struct entry {
    runtime::order_snapshot snap;
    bool created_seen = false;  // fields came from order_created, not guessed
    bool emailed = false;
  };

  std::unordered_map<std::string, entry> orders_;
};

// Units in an order: the sum of its items' quantities.
int64_t item_count_of(const runtime::order_created& msg);

}  // namespace kastor::actors
