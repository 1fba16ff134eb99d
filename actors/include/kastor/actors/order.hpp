// order: the order role's state machine, one entity per order id
// (runtime::entity<order>, entity.hpp: restored, fenced, released and
// passivated with its key like any application's entity).
//
//   PENDING ──payment SUCCEEDED──► PAID ────────────┐
//      │──────payment DECLINED───► PAYMENT_FAILED ──┼──email sent──► NOTIFIED
//      └──no answer in time──────► PAYMENT_TIMEOUT ─┘
//
// The payment timeout (order.payment-timeout-ms; 0: none) is a durable timer
// (runtime timers.hpp) the order sets with its payment request and cancels
// with the outcome. When it fires first, the order is PAYMENT_TIMEOUT and
// tells payment (payment_cancel): payment seals the order so a request
// arriving later charges nothing, or refunds the charge it made, and emails
// the customer (ORDER_CANCELLED / PAYMENT_REFUNDED). A payment outcome
// arriving after the timeout changes nothing here (payment compensates it);
// only that cancellation's email makes a timed-out order NOTIFIED (a success
// email sent before the timeout does not). Payment's ledger is the verdict:
// its cancellation notice or email times the order out even if the order
// had not (its timeout's snapshot lost in a crash after the cancel went out,
// and a late outcome taken meanwhile). Until then the order sends its
// cancellation again with any record of it and every max(timeout, 30 s)
// (the same timer, re-armed): a cancellation lost in a crash is repaired.
//
// Status never goes backwards. Records of different topics arrive in any
// order: an email_sent seen before the payment_result marks the order
// "emailed" and it becomes NOTIFIED as soon as the payment outcome is known.
// A payment_result or email_sent for an order never seen creates it from the
// message's own fields (a request injected with kcat has no order_created);
// an order first seen so gets item_count 0 and created_at = now until its
// order_created arrives and fills them in. item_count is the sum of the
// items' quantities; an order_created without created_at_ms (0) is created
// at now.
//
// Delivery is at-least-once, so every handle() is idempotent: a record
// handled again changes nothing and re-sends what a lost write may have lost
// (the payment request while the order is still PENDING; the book writes the
// snapshot again for every record handed out again). updated_at_ms is the
// time of the order's last real change.
//
// Hooks for the entity book: of two snapshots of an order the furthest along
// wins on a restore (supersedes: a zombie's stale write never moves an order
// back), and only a NOTIFIED order is passivated (may_passivate).
//
// Exceptions: runtime::rejection for a message without order id, a
// payment_result whose status is neither SUCCEEDED nor DECLINED, or a
// notification_event of an unknown type (the record is dead-lettered). A
// handle() that throws leaves the order as its last snapshot was.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kastor/actors/messages.hpp"

namespace kastor::actors {

class order {
public:
  using snapshot_type = order_snapshot;

  // An order never seen: its fields come with its first record. A new order
  // waits `payment_timeout_ms` for its payment outcome (0: for ever).
  explicit order(const std::string& id, int64_t payment_timeout_ms = 0);
  explicit order(const order_snapshot& restored, int64_t payment_timeout_ms = 0);

  order_snapshot snapshot() const { return snap_; }

  // From the gateway. New: PENDING, and a payment_request (with the payment
  // timeout's timer). Known and still PENDING: the payment request again.
  // Past PENDING: nothing (never a second payment request).
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                       const order_created& msg, int64_t now_ms);

  // From payment. SUCCEEDED -> PAID, DECLINED -> PAYMENT_FAILED (NOTIFIED
  // directly when the email already went out), and the timeout is cancelled.
  // The first outcome of an order wins (a timeout counts); a duplicate
  // changes nothing.
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                       const payment_result& msg, int64_t now_ms);

  // From a billing service that writes no payment_result (seed 002's, in
  // front of kastor): PAYMENT_SUCCEEDED / PAYMENT_FAILED is the payment
  // outcome of an order that has none yet, as a payment_result would be (a
  // payment_result arriving later fills in its reason and transaction id).
  // Once the outcome is known it changes nothing: kastor's own payment
  // writes both. Another type is rejected.
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                       const notification_event& msg, int64_t now_ms);

  // From email. With the payment outcome known -> NOTIFIED (terminal);
  // before it, the order is marked emailed. A timed-out order counts only
  // the email of its cancellation.
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                       const email_sent& msg, int64_t now_ms);

  // The payment timeout's timer: a PENDING order is PAYMENT_TIMEOUT and a
  // payment_cancel goes out; later (the outcome came first) nothing.
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                       const payment_timeout& msg, int64_t now_ms);

  static bool supersedes(const order_snapshot& restored, const order_snapshot& held);
  bool may_passivate() const;

private:
  // An order known only by its id takes what its first record tells.
  void first_seen(const std::string& customer_id, int64_t total_cents, int64_t now_ms);
  // The payment outcome (SUCCEEDED / DECLINED) reached; NOTIFIED if emailed.
  void set_outcome(bool ok, int64_t now_ms);
  // Whether the payment timed out (PAYMENT_TIMEOUT, or NOTIFIED after it).
  bool timed_out() const;
  // The payment_cancel of a timed-out order; it again while its email has
  // not been seen (a lost copy is repaired by any record of the order); the
  // timer that sends it again if no email comes.
  runtime::message cancellation() const;
  std::vector<runtime::message> cancellation_again() const;
  runtime::message cancel_retry() const;
  // Payment's word (a cancellation notification or email) that it sealed or
  // refunded the order: the order is timed out whatever it knew (its own
  // timeout's snapshot may have been lost while the cancel went out).
  std::vector<runtime::message> cancelled_by_payment(int64_t now_ms);

  order_snapshot snap_;
  int64_t payment_timeout_ms_ = 0;
  bool seen_ = false;          // some record of it was handled (or restored)
  bool created_seen_ = false;  // its fields came from order_created, not guessed
};

// An order status's place in the state machine: PENDING 0, PAID,
// PAYMENT_FAILED and PAYMENT_TIMEOUT 1, NOTIFIED 2 (a status only ever moves
// to a higher one).
int status_rank(const std::string& status);

// Whether `a` is further along than `b`: a later status (the state machine
// only moves forward), or the same one updated later.
bool further_along(const order_snapshot& a, const order_snapshot& b);

// Units in an order: the sum of its items' quantities.
int64_t item_count_of(const order_created& msg);

}  // namespace kastor::actors
