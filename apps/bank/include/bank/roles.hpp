// The whole declaration of the bank's actors: what a node runs and what the
// `topics` tool creates topics for (kastor derives them from these).
#pragma once

#include <kastor/kastor.hpp>

#include "bank/entities.hpp"

namespace bank {

inline auto accounts_role() {
  return kastor::runtime::entity<account>("accounts").consumes<account_op>().produces<op_result>();
}

// step_deadline_ms: how long a debit or a credit may go unanswered before
// it is voided (transfers.step-deadline-ms; 0: never).
inline auto transfers_role(int64_t step_deadline_ms = 0) {
  return kastor::runtime::entity<transfer_saga>("transfers")
    .consumes<transfer, op_result, transfer_deadline>()
    .produces<account_op>()
    .make([step_deadline_ms](const std::string& id, const transfer_state* restored) {
      return restored ? transfer_saga{*restored, step_deadline_ms}
                      : transfer_saga{id, step_deadline_ms};
    });
}

}  // namespace bank
