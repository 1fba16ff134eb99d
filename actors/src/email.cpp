#include "kastor/actors/email.hpp"
#include "kastor/runtime/reject.hpp"

#include <stdexcept>

#include "json_text.hpp"
#include "kastor/actors/shop_metrics.hpp"

namespace kastor::actors {

namespace rt = kastor::runtime;

email_message render_email(const actors::notification_event& ev) {
  // A notification without an amount (seed 002's billing writes none) names
  // none: nothing is made up.
  const auto amount = detail::money_text(ev.total_cents);
  const auto of_amount = ev.amount_known ? " of " + amount : std::string{};
  email_message m;
  m.to = ev.customer_id;
  std::string body = "Hello " + ev.customer_id + ",\n\n";
  if (ev.type == actors::notify_payment_succeeded) {
    m.subject = "Order " + ev.order_id + " confirmed";
    body += "we received your payment" + of_amount + " for order " + ev.order_id +
            ". Your order is on its way.\n";
  } else if (ev.type == actors::notify_payment_failed) {
    m.subject = "Payment for order " + ev.order_id + " failed";
    body += "your payment" + of_amount + " for order " + ev.order_id +
            " could not be completed.\n";
    if (!ev.message.empty())
      body += ev.message + "\n";
  } else if (ev.type == actors::notify_order_cancelled
             || ev.type == actors::notify_payment_refunded) {
    m.subject = "Order " + ev.order_id + " cancelled";
    body += ev.type == actors::notify_payment_refunded
              ? "your order " + ev.order_id + " was cancelled and your payment" + of_amount
                  + " refunded.\n"
              : "your order " + ev.order_id + " was cancelled; nothing was charged.\n";
    if (!ev.message.empty())
      body += ev.message + "\n";
  } else {
    // A type this build does not know (e.g. sent by a newer service): still
    // tell the customer, with the event's own message.
    m.subject = "Update on order " + ev.order_id;
    body += "there is news about your order " + ev.order_id
            + (ev.amount_known ? " (" + amount + ")" : std::string{}) + ".\n";
    if (!ev.message.empty())
      body += ev.message + "\n";
  }
  body += "\n-- kastor shop\n";
  m.body = std::move(body);
  return m;
}

std::string email_key(const std::string& order_id, const std::string& kind) {
  return order_id + "/" + kind;
}

email_service::email_service(std::shared_ptr<jsonl_ledger> outbox)
    : outbox_(std::move(outbox)) {
  if (!outbox_)
    throw std::invalid_argument("email_service: outbox ledger is null");
}

namespace {

// The email_sent of a recorded email. The key fixes order id and kind; the
// customer and time are the recorded ones (the first send's).
actors::email_sent recorded_email(const actors::notification_event& msg, const std::string& key,
                              const std::string& line) {
  auto obj = detail::parse_object(line);
  auto at = obj ? detail::get_int(*obj, "sentAt") : std::nullopt;
  if (!at)
    throw std::runtime_error("email outbox: record " + key + " lacks sentAt");
  auto customer = detail::get_string(*obj, "customerId");
  return actors::email_sent{msg.order_id, customer.empty() ? msg.customer_id : customer,
                        msg.type, *at};
}

}  // namespace

std::vector<rt::message> email_service::handle(const rt::record_meta&,
                                                   const actors::notification_event& msg,
                                                   int64_t now_ms) {
  if (msg.order_id.empty())
    rt::reject("notification_event without orderId");
  if (msg.type.empty())
    rt::reject("notification_event for order " + msg.order_id + " without type");
  const auto key = email_key(msg.order_id, msg.type);
  std::optional<std::string> recorded = outbox_->find(key);
  if (!recorded) {
    auto mail = render_email(msg);
    auto line = detail::object_writer{}
                    .text("emailKey", key)
                    .text("orderId", msg.order_id)
                    .text("customerId", msg.customer_id)
                    .text("kind", msg.type)
                    .text("to", mail.to)
                    .text("subject", mail.subject)
                    .text("body", mail.body)
                    .integer("sentAt", now_ms)
                    .done();
    if (outbox_->append_if_absent(key, line)) {
      recorded = std::move(line);
      shop_metrics::email_sent(msg.type);
    } else
      recorded = outbox_->find(key);  // another node sent it first
    if (!recorded)
      throw std::runtime_error("email outbox: record " + key + " vanished");
  }
  std::vector<rt::message> out;
  out.emplace_back(recorded_email(msg, key, *recorded));
  return out;
}

size_t email_service::sent(const std::string& order_id, const std::string& kind) const {
  return outbox_->count(email_key(order_id, kind));
}

}  // namespace kastor::actors
