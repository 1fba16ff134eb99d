#include "kastor/actors/shop_metrics.hpp"

#include "kastor/actors/messages.hpp"
#include "kastor/runtime/metrics.hpp"

namespace kastor::actors::shop_metrics {

namespace {

namespace rt = kastor::runtime;

const rt::counter_family& orders() {
  static const auto f = rt::metrics::counter(
    "shop_orders_total", "Orders that entered a status (PENDING: first seen).", {"status"});
  return f;
}

const rt::counter_family& charges() {
  static const auto f = rt::metrics::counter(
    "shop_charges_total", "Charges decided and recorded, by outcome (SUCCEEDED, DECLINED).",
    {"outcome"});
  return f;
}

const rt::counter_family& emails() {
  static const auto f =
    rt::metrics::counter("shop_emails_total", "Emails sent, by kind.", {"kind"});
  return f;
}

}  // namespace

void declare() {
  for (const char* s : {status_pending, status_paid, status_payment_failed,
                        status_payment_timeout, status_notified})
    orders().with({s});
  for (const char* o : {payment_succeeded, payment_declined})
    charges().with({o});
  for (const char* k : {notify_payment_succeeded, notify_payment_failed, notify_order_cancelled,
                        notify_payment_refunded})
    emails().with({k});
}

void order_entered(const std::string& status) { orders().with({status}).inc(); }
void charge_recorded(const std::string& outcome) { charges().with({outcome}).inc(); }
void email_sent(const std::string& kind) { emails().with({kind}).inc(); }

}  // namespace kastor::actors::shop_metrics
