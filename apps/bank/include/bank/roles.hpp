// The whole declaration of the bank's actors: what a node runs and what the
// `topics` tool creates topics for (kastor derives them from these).
#pragma once

#include <kastor/runtime/role.hpp>

#include "bank/entities.hpp"

namespace bank {

inline auto accounts_role() {
  return kastor::runtime::entity<account>("accounts").consumes<account_op>().produces<op_result>();
}

inline auto transfers_role() {
  return kastor::runtime::entity<transfer_saga>("transfers")
    .consumes<transfer, op_result>()
    .produces<account_op>();
}

}  // namespace bank
