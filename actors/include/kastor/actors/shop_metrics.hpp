// The shop's own metrics, served on every shop node's /metrics with the
// runtime's (runtime/metrics.hpp): what an operator of the shop watches.
//   shop_orders_total{status}   orders that entered a status (PENDING when
//                               the gateway's order is first seen, then PAID,
//                               PAYMENT_FAILED, PAYMENT_TIMEOUT, NOTIFIED)
//   shop_charges_total{outcome} charges decided and recorded (SUCCEEDED,
//                               DECLINED), once per order (the ledger's append)
//   shop_emails_total{kind}     emails sent (the outbox's append), by kind
// Order statuses are counted when the order's state moves: a turn redone
// after a crash, before its snapshot was durable, may count its move again.
#pragma once

#include <string>

namespace kastor::actors::shop_metrics {

// Declares them, each known label at zero (so /metrics names them at start).
void declare();
void order_entered(const std::string& status);
void charge_recorded(const std::string& outcome);
void email_sent(const std::string& kind);

}  // namespace kastor::actors::shop_metrics
