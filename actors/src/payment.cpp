#include "kastor/actors/payment.hpp"
#include "kastor/runtime/reject.hpp"

#include <stdexcept>

#include "json_text.hpp"
#include "kastor/actors/shop_metrics.hpp"

namespace kastor::actors {

namespace rt = kastor::runtime;

payment_decision decide_payment(const payment_rules& rules, const actors::payment_request& req) {
  if (req.total_cents <= 0)
    return {actors::payment_declined, reason_invalid_amount, ""};
  if (req.total_cents > rules.decline_over_cents)
    return {actors::payment_declined, reason_over_limit, ""};
  if (req.customer_id.starts_with(blocked_customer_prefix))
    return {actors::payment_declined, reason_customer_blocked, ""};
  return {actors::payment_succeeded, "", "tx-" + req.order_id};
}

namespace {

std::string charge_line(const actors::payment_result& r) {
  return detail::object_writer{}
      .text("orderId", r.order_id)
      .text("customerId", r.customer_id)
      .money("amount", r.total_cents)
      .integer("amountCents", r.total_cents)
      .text("status", r.status)
      .text("reason", r.reason)
      .text("transactionId", r.transaction_id)
      .integer("at", r.processed_at_ms)
      .done();
}

// A ledger line as the payment_result it recorded (status SUCCEEDED,
// DECLINED, or payment_sealed: the order was cancelled before any charge).
actors::payment_result recorded_result(const std::string& order_id, const std::string& line) {
  auto obj = detail::parse_object(line);
  auto bad = [&](const char* why) {
    return std::runtime_error("payment ledger: record of order " + order_id + " " + why);
  };
  if (!obj)
    throw bad("is not a JSON object");
  actors::payment_result r;
  r.order_id = order_id;
  r.customer_id = detail::get_string(*obj, "customerId");
  r.status = detail::get_string(*obj, "status");
  if (r.status != actors::payment_succeeded && r.status != actors::payment_declined
      && r.status != payment_sealed)
    throw bad("has no valid status");
  r.reason = detail::get_string(*obj, "reason");
  r.transaction_id = detail::get_string(*obj, "transactionId");
  auto cents = detail::get_int(*obj, "amountCents");
  auto at = detail::get_int(*obj, "at");
  if (!cents || !at)
    throw bad("lacks amountCents or at");
  r.total_cents = *cents;
  r.processed_at_ms = *at;
  return r;
}

actors::notification_event notification_for(const actors::payment_result& r) {
  actors::notification_event ev;
  ev.order_id = r.order_id;
  ev.customer_id = r.customer_id;
  ev.total_cents = r.total_cents;
  ev.at_ms = r.processed_at_ms;
  auto amount = detail::money_text(r.total_cents);
  if (r.status == actors::payment_succeeded) {
    ev.type = actors::notify_payment_succeeded;
    ev.message = "Payment of " + amount + " for order " + r.order_id + " succeeded.";
  } else {
    ev.type = actors::notify_payment_failed;
    ev.message = "Payment of " + amount + " for order " + r.order_id +
                 " was declined: " + r.reason + ".";
  }
  return ev;
}

// What the customer of a cancelled order is told: nothing was charged, or
// the charge was refunded.
actors::notification_event cancellation_for(const actors::payment_cancel& c,
                                            const actors::payment_result* refunded,
                                            int64_t at_ms) {
  actors::notification_event ev;
  ev.order_id = c.order_id;
  ev.customer_id = refunded ? refunded->customer_id : c.customer_id;
  ev.total_cents = refunded ? refunded->total_cents : c.total_cents;
  ev.at_ms = at_ms;
  const auto why = c.reason.empty() ? std::string{"its payment did not complete"} : c.reason;
  if (refunded) {
    ev.type = actors::notify_payment_refunded;
    ev.message = "Order " + c.order_id + " was cancelled (" + why + "); the payment of "
                 + detail::money_text(refunded->total_cents) + " was refunded.";
  } else {
    ev.type = actors::notify_order_cancelled;
    ev.message = "Order " + c.order_id + " was cancelled (" + why + "); nothing was charged.";
  }
  return ev;
}

// A refund's record: the charge's line with status REFUNDED, the
// cancellation's reason and the time of the refund.
std::string refund_line(const actors::payment_result& charged, const std::string& reason,
                        int64_t now_ms) {
  auto refund = charged;
  refund.status = payment_refunded;
  refund.reason = reason;
  refund.processed_at_ms = now_ms;
  return charge_line(refund);
}

}  // namespace

payment_service::payment_service(payment_rules rules, std::shared_ptr<jsonl_ledger> charges,
                                 std::shared_ptr<jsonl_ledger> refunds)
    : rules_(rules), ledger_(std::move(charges)), refunds_(std::move(refunds)) {
  if (!ledger_)
    throw std::invalid_argument("payment_service: charge ledger is null");
  if (!refunds_)
    throw std::invalid_argument("payment_service: refund ledger is null");
}

std::vector<rt::message> payment_service::handle(const rt::record_meta&,
                                                     const actors::payment_request& msg,
                                                     int64_t now_ms) {
  if (msg.order_id.empty())
    runtime::reject("payment_request without orderId");
  actors::payment_result result;
  if (auto line = ledger_->find(msg.order_id)) {
    // Charged before (redelivery, or another node): publish what was recorded.
    result = recorded_result(msg.order_id, *line);
  } else {
    auto d = decide_payment(rules_, msg);
    result = actors::payment_result{msg.order_id, msg.customer_id, msg.total_cents, d.status,
                                d.reason,     d.transaction_id, now_ms};
    // The append is the charge. Losing the race to another node means it
    // charged: its record is the outcome.
    if (ledger_->append_if_absent(msg.order_id, charge_line(result))) {
      shop_metrics::charge_recorded(result.status);
    } else {
      auto theirs = ledger_->find(msg.order_id);
      if (!theirs)
        throw std::runtime_error("payment ledger: record of order " + msg.order_id +
                                 " vanished");
      result = recorded_result(msg.order_id, *theirs);
    }
  }
  if (result.status == payment_sealed)
    return {};  // the order was cancelled first: never charged (its customer was told)
  std::vector<rt::message> out;
  auto note = notification_for(result);
  out.emplace_back(std::move(result));
  out.emplace_back(std::move(note));
  return out;
}

std::vector<rt::message> payment_service::handle(const rt::record_meta&,
                                                 const actors::payment_cancel& msg,
                                                 int64_t now_ms) {
  if (msg.order_id.empty())
    runtime::reject("payment_cancel without orderId");
  // Sealing is recording the order as cancelled in place of a charge: a
  // request handled later (here or on another node) finds it and charges
  // nothing. Losing that race means the order was charged or declined.
  const actors::payment_result sealed{msg.order_id, msg.customer_id, msg.total_cents,
                                      payment_sealed, msg.reason, "", now_ms};
  actors::payment_result recorded = sealed;
  if (!ledger_->append_if_absent(msg.order_id, charge_line(sealed))) {
    auto line = ledger_->find(msg.order_id);
    if (!line)
      throw std::runtime_error("payment ledger: record of order " + msg.order_id + " vanished");
    recorded = recorded_result(msg.order_id, *line);
  }
  if (recorded.status != actors::payment_succeeded)
    return {cancellation_for(msg, nullptr, now_ms)};
  // Charged: the refund, at most once (a redelivered cancel finds it).
  refunds_->append_if_absent(msg.order_id, refund_line(recorded, msg.reason, now_ms));
  return {cancellation_for(msg, &recorded, now_ms)};
}

size_t payment_service::refunds(const std::string& order_id) const {
  return refunds_->count(order_id);
}

size_t payment_service::charges(const std::string& order_id) const {
  return ledger_->count(order_id);
}

}  // namespace kastor::actors
