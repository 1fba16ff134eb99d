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
// Ownership (keys move with their partitions): the book holds the orders of
// the partitions its node owns. adopt() installs a partition's orders as the
// compacted changelog (order-state) holds them (merged with what is held),
// release() drops a partition's
// orders; both may be called from any thread (the mailbox's rebalance) and
// take effect before the next handle() or find(). An order is tagged with the
// partition of the record that touched it (every input topic is
// co-partitioned with order-state). A NOTIFIED order idle for passivate_after
// is passivated: only its id is kept (a terminal order never changes again,
// its final snapshot is in the changelog), and a later duplicate for it
// emits nothing.
//
// Thread-safety: one actor owns an order_book; adopt() and release() may be
// called from any thread.
// Exceptions: std::invalid_argument for a message without order id, or a
// payment_result whose status is neither SUCCEEDED nor DECLINED (the adapter
// dead-letters it). A handle() that throws has changed nothing.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <mutex>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kastor/actors/messages.hpp"

namespace kastor::actors {

class order_book {
public:
  explicit order_book(int64_t passivate_after_ms = 60000)
      : passivate_after_ms_(passivate_after_ms) {}

  // From the gateway. New id: store as PENDING, emit payment_request and the
  // snapshot. Known id still PENDING: emit both again. Past PENDING: emit
  // only the snapshot (never a second payment request).
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                           const actors::order_created& msg,
                                           int64_t now_ms);

  // From payment. SUCCEEDED -> PAID, DECLINED -> PAYMENT_FAILED (NOTIFIED
  // directly when the email already went out). The first outcome of an order
  // wins; a duplicate changes nothing. Emits the snapshot.
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                           const actors::payment_result& msg,
                                           int64_t now_ms);

  // From a billing service that writes no payment_result (seed 002's, in
  // front of kastor): PAYMENT_SUCCEEDED / PAYMENT_FAILED is the payment
  // outcome of an order that has none yet, as a payment_result would be (a
  // payment_result arriving later fills in its reason and transaction id).
  // Once the outcome is known it emits nothing: kastor's own payment writes
  // both. Another type is rejected.
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                           const actors::notification_event& msg,
                                           int64_t now_ms);

  // From email. With the payment outcome known -> NOTIFIED (terminal);
  // before it, the order is marked emailed. Emits the snapshot.
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                           const actors::email_sent& msg,
                                           int64_t now_ms);

  std::optional<actors::order_snapshot> find(const std::string& order_id) const;
  // Only an order whose order_created this book handled: the others are
  // guesses built from a later event (e.g. after the key moved here).
  std::optional<actors::order_snapshot> find_created(const std::string& order_id) const;
  // Orders known: held in full or passivated.
  size_t size() const { return active() + passivated(); }

  // Whether the email of an order went out (also before its payment outcome).
  bool emailed(const std::string& order_id) const;

  // Any thread: `partition` is this book's now, its orders as `restored`
  // holds them (snapshots of the partition's changelog, in any order, merged
  // with what the book holds: per order the furthest along counts, so a
  // stale write by a zombie owner never moves an order back, and a node that
  // held the partition before only needs the changelog's tail).
  // Snapshots of the partition are written with `epoch` from then on (see
  // order_snapshot::epoch).
  void adopt(int32_t partition, const std::vector<actors::order_snapshot>& restored,
             int64_t epoch = 0);
  // Any thread: these partitions are someone else's now; their orders go.
  void release(const std::vector<int32_t>& partitions);

  // Orders held in full, and passivated ones (ids only).
  size_t active() const;
  size_t passivated() const;
  bool is_passivated(const std::string& order_id) const;

private:
  struct entry {
    actors::order_snapshot snap;
    bool created_seen = false;  // fields came from order_created, not guessed
    int32_t partition = -1;
  };
  struct change {
    bool adopt = false;
    std::vector<int32_t> partitions;
    std::vector<actors::order_snapshot> restored;
    int64_t epoch = 0;
  };

  // The held entry of `id`, or a PENDING one guessed from a later message.
  entry held_or_guessed(const std::string& id, const std::string& customer_id,
                        int64_t total_cents, int64_t now_ms) const;
  // The payment outcome (SUCCEEDED / DECLINED) reached; NOTIFIED if emailed.
  static void set_outcome(entry& e, bool ok, int64_t now_ms);
  // Stores `e` (tagged with the record's partition) and emits its snapshot.
  std::vector<runtime::message> emit_snapshot(const runtime::record_meta& meta, entry e,
                                                  int64_t now_ms);
  void apply_changes() const;
  int64_t epoch_of(int32_t partition) const;
  void stored(const std::string& id, entry e, int64_t now_ms);
  void passivate(int64_t now_ms);

  int64_t passivate_after_ms_;
  mutable std::unordered_map<std::string, entry> orders_;
  mutable std::unordered_map<std::string, int32_t> passivated_;  // id -> partition
  mutable std::unordered_map<int32_t, int64_t> epochs_;  // partition -> epoch its snapshots carry
  // NOTIFIED orders by when they became so (passivation candidates).
  std::deque<std::pair<int64_t, std::string>> finished_;
  mutable std::mutex changes_mtx_;
  mutable std::vector<change> changes_;
  mutable std::atomic<bool> has_changes_{false};
};

// An order status's place in the state machine: PENDING 0, PAID and
// PAYMENT_FAILED 1, NOTIFIED 2 (a status only ever moves to a higher one).
int status_rank(const std::string& status);

// Whether `a` is further along than `b`: a later status (the state machine
// only moves forward), or the same one updated later.
bool further_along(const actors::order_snapshot& a, const actors::order_snapshot& b);

// Units in an order: the sum of its items' quantities.
int64_t item_count_of(const actors::order_created& msg);

}  // namespace kastor::actors
