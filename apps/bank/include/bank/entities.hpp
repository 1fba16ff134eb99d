// The bank's two keyed entities, plain classes: kastor activates one per key
// where its partition is, restores it from its snapshot, and writes the
// snapshot after every record.
#pragma once

#include <string>

#include <kastor/runtime/message.hpp>

#include "bank/messages.hpp"

namespace bank {

using kastor::runtime::outputs;
using kastor::runtime::record_meta;

// One account. Answers every debit, credit and refund with an op_result; a
// debit that would make it negative and anything but a refund on a closed
// account are refused. Refunds always apply: the money came from here.
class account {
public:
  using snapshot_type = account_state;
  explicit account(const std::string& id) { s_.id = id; }
  explicit account(const account_state& restored) : s_(restored) {}
  account_state snapshot() const { return s_; }

  outputs handle(const record_meta&, const account_op& op, int64_t now_ms);

private:
  account_state s_;
};

// One transfer, a saga over two accounts: debit the source, credit the
// target, refund the source when the credit is refused. A request or result
// delivered again re-sends what the current step waits for (accounts answer
// an op they have seen the way they did the first time).
//
// With a step deadline (> 0 ms), the debit and the credit each get a durable
// timer: a step with no answer by then is voided at its account (an op whose
// answer was lost, dead-lettered, or whose account is gone for long), and the
// transfer ends by what the void finds (see transfer_state). Refunds always
// apply and have none.
class transfer_saga {
public:
  using snapshot_type = transfer_state;
  explicit transfer_saga(const std::string& id, int64_t step_deadline_ms = 0)
      : deadline_ms_(step_deadline_ms) {
    s_.id = id;
  }
  explicit transfer_saga(const transfer_state& restored, int64_t step_deadline_ms = 0)
      : s_(restored), deadline_ms_(step_deadline_ms) {}
  transfer_state snapshot() const { return s_; }

  outputs handle(const record_meta&, const transfer& t, int64_t now_ms);
  outputs handle(const record_meta&, const op_result& r, int64_t now_ms);
  outputs handle(const record_meta&, const transfer_deadline& d, int64_t now_ms);

private:
  outputs step() const;  // the op the current status waits for
  // step(), and the deadline timer the new status needs (set for a debit
  // or a credit, cancelled otherwise) when it moved from `before`.
  outputs moved(const std::string& before) const;
  transfer_state s_;
  int64_t deadline_ms_;
};

}  // namespace bank
