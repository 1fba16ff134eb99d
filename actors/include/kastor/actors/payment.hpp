// payment_service: charges each order at most once, with a built-in fake
// provider whose rules are deterministic (so tests and demos know the outcome).
//
// The charge ledger (key field "orderId") is the idempotency record: one JSON
// line per charge attempt
//   {"orderId":..,"customerId":..,"amount":99.98,"amountCents":9998,
//    "status":"SUCCEEDED"|"DECLINED","reason":..,"transactionId":..,"at":<ms>}
// written with append_if_absent before anything is published. A request for
// an order already in the ledger (a redelivery, or another node that shares
// the file) charges nothing and re-emits the recorded outcome, so a result
// whose publish was lost gets repaired. Latency is not simulated here.
//
// A payment_cancel (the order timed out) is recorded in the same ledger with
// status CANCELLED when the order has no line yet: a request arriving later
// charges nothing and publishes nothing. When the order was charged, the
// refund is recorded once in the refund ledger (the charge's line with
// status REFUNDED, the cancellation's reason and the refund's time). Either way the customer is told (ORDER_CANCELLED or
// PAYMENT_REFUNDED); a redelivered cancel tells the same again.
//
// Thread-safety: none of its own; one actor owns it (the ledger is shared
// safely). Exceptions: std::invalid_argument for a request without order id
// (dead-lettered by the adapter); std::runtime_error for a ledger I/O error or
// an unreadable recorded line. Either way nothing was charged twice: a retry
// finds the ledger as the failure left it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kastor/actors/ledger.hpp"
#include "kastor/actors/messages.hpp"

namespace kastor::actors {

struct payment_rules {
  // Amounts over this (1,000.00) are declined; exactly this much is accepted.
  int64_t decline_over_cents = 100000;
};

// The status of a charge-ledger line that seals a cancelled order (never
// published in a payment_result).
inline constexpr const char* payment_sealed = "CANCELLED";
// The status of a refund-ledger line.
inline constexpr const char* payment_refunded = "REFUNDED";

// Decline reasons of the fake provider (wire strings, in the order checked).
inline constexpr const char* reason_invalid_amount = "invalid amount";
inline constexpr const char* reason_over_limit = "amount over limit";
inline constexpr const char* reason_customer_blocked = "customer blocked";

// Customers whose id starts with this are declined.
inline constexpr const char* blocked_customer_prefix = "blocked-";

// The fake provider's verdict for a request: status, reason, transaction id.
struct payment_decision {
  std::string status;  // actors::payment_succeeded | payment_declined
  std::string reason;  // empty on success
  std::string transaction_id;  // "tx-<orderId>" on success, empty on decline
};
payment_decision decide_payment(const payment_rules& rules,
                                const actors::payment_request& req);

class payment_service {
public:
  // Neither ledger may be null.
  payment_service(payment_rules rules, std::shared_ptr<jsonl_ledger> charges,
                  std::shared_ptr<jsonl_ledger> refunds);

  // Charges (or re-reads the recorded charge) and emits payment_result and
  // notification_event (PAYMENT_SUCCEEDED / PAYMENT_FAILED).
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                           const actors::payment_request& msg,
                                           int64_t now_ms);

  // Seals or refunds the order (see above) and emits its notification_event
  // (ORDER_CANCELLED / PAYMENT_REFUNDED).
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                       const actors::payment_cancel& msg, int64_t now_ms);

  // Charge attempts recorded for an order (1 once charged or sealed, never more).
  size_t charges(const std::string& order_id) const;
  // Refunds recorded for an order (1 once refunded, never more).
  size_t refunds(const std::string& order_id) const;

  const payment_rules& rules() const { return rules_; }

private:
  payment_rules rules_;
  std::shared_ptr<jsonl_ledger> ledger_;
  std::shared_ptr<jsonl_ledger> refunds_;
};

}  // namespace kastor::actors
