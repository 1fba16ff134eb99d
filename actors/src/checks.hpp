// Checks every state class applies to what it is handed. A failed check
// throws std::invalid_argument before any state changes; the adapter's retry
// and dead-letter path deals with the record.
#pragma once

#include <stdexcept>
#include <string>

#include "kastor/runtime/messages.hpp"

namespace kastor::actors::detail {

inline void require_id(const std::string& id, const char* what) {
  if (id.empty())
    throw std::invalid_argument(std::string(what) + " without orderId");
}

// Whether a payment result is a success; any status but SUCCEEDED or
// DECLINED is rejected.
inline bool payment_ok(const runtime::payment_result& msg) {
  require_id(msg.order_id, "payment_result");
  const bool ok = msg.status == runtime::payment_succeeded;
  if (!ok && msg.status != runtime::payment_declined)
    throw std::invalid_argument("payment_result for order " + msg.order_id
                                + " has unknown status '" + msg.status + "'");
  return ok;
}

}  // namespace kastor::actors::detail
