// email_service: turns notification events into emails, at most one per
// (order id, notification type).
//
// "Sending" is appending the rendered email to the outbox ledger (key field
// "emailKey" = orderId + "/" + type), one JSON line
//   {"emailKey":..,"orderId":..,"customerId":..,"kind":..,"to":..,
//    "subject":..,"body":..,"sentAt":<ms>}
// A notification already in the outbox (a redelivery, or another node that
// shares the file) sends nothing and re-emits email_sent with the originally
// recorded sent time, so a lost email_sent publish gets repaired.
//
// Thread-safety: none of its own; one actor owns it (the ledger is shared
// safely). Exceptions: std::invalid_argument for an event without order id or
// type (dead-lettered by the adapter); std::runtime_error for a ledger I/O
// error or an unreadable recorded line. Nothing is ever sent twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kastor/actors/ledger.hpp"
#include "kastor/actors/messages.hpp"

namespace kastor::actors {

struct email_message {
  std::string to;  // the customer id (the demo has no address book)
  std::string subject;
  std::string body;
  friend bool operator==(const email_message&, const email_message&) = default;
};

// The email for a notification: wording depends on its type; the subject and
// body name the order, the body the amount ("99.98"). Pure.
email_message render_email(const actors::notification_event& ev);

// The outbox key of a notification: "<orderId>/<type>".
std::string email_key(const std::string& order_id, const std::string& kind);

class email_service {
public:
  // `outbox` must not be null; its key field should be "emailKey".
  explicit email_service(std::shared_ptr<jsonl_ledger> outbox);

  // Sends (or finds the sent) email and emits email_sent.
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                           const actors::notification_event& msg,
                                           int64_t now_ms);

  // Emails in the outbox for (order, kind) (1 once sent, never more).
  size_t sent(const std::string& order_id, const std::string& kind) const;

private:
  std::shared_ptr<jsonl_ledger> outbox_;
};

}  // namespace kastor::actors
