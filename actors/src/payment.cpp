#include "kastor/actors/payment.hpp"
#include "kastor/runtime/reject.hpp"

#include <stdexcept>

#include "json_text.hpp"

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

// The outcome recorded in a ledger line (ours, or another node's).
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
  if (r.status != actors::payment_succeeded && r.status != actors::payment_declined)
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

}  // namespace

payment_service::payment_service(payment_rules rules, std::shared_ptr<jsonl_ledger> charges)
    : rules_(rules), ledger_(std::move(charges)) {
  if (!ledger_)
    throw std::invalid_argument("payment_service: charge ledger is null");
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
    if (!ledger_->append_if_absent(msg.order_id, charge_line(result))) {
      auto theirs = ledger_->find(msg.order_id);
      if (!theirs)
        throw std::runtime_error("payment ledger: record of order " + msg.order_id +
                                 " vanished");
      result = recorded_result(msg.order_id, *theirs);
    }
  }
  std::vector<rt::message> out;
  auto note = notification_for(result);
  out.emplace_back(std::move(result));
  out.emplace_back(std::move(note));
  return out;
}

size_t payment_service::charges(const std::string& order_id) const {
  return ledger_->count(order_id);
}

}  // namespace kastor::actors
