// Checks every state class applies to what it is handed. A failed check
// rejects the record (runtime::reject: a std::invalid_argument) before any
// state changes: such a record can never succeed, so it is dead-lettered at
// once instead of being retried.
#pragma once

#include <stdexcept>
#include <string>

#include "kastor/actors/messages.hpp"
#include "kastor/runtime/reject.hpp"

namespace kastor::actors::detail {

inline void require_id(const std::string& id, const char* what) {
  if (id.empty())
    runtime::reject(std::string(what) + " without orderId");
}

// Whether a payment result is a success; any status but SUCCEEDED or
// DECLINED is rejected.
inline bool payment_ok(const actors::payment_result& msg) {
  require_id(msg.order_id, "payment_result");
  const bool ok = msg.status == actors::payment_succeeded;
  if (!ok && msg.status != actors::payment_declined)
    runtime::reject("payment_result for order " + msg.order_id + " has unknown status '"
                    + msg.status + "'");
  return ok;
}

}  // namespace kastor::actors::detail
