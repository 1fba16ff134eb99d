#include "bank/entities.hpp"

#include <kastor/runtime/reject.hpp>

namespace bank {

void declare_messages() {
  using kastor::runtime::declare;
  declare<transfer>({.name = "bank.transfer", .topic = "bank-transfers", .key = &transfer::id,
                     .validate = [](const transfer& t) -> std::optional<std::string> {
                       if (t.cents <= 0 || t.from.empty() || t.to.empty() || t.from == t.to)
                         return "a transfer needs two accounts and a positive amount";
                       return std::nullopt;
                     }});
  declare<account_op>({.name = "bank.account_op", .topic = "bank-account-ops",
                       .key = &account_op::account});
  declare<op_result>({.name = "bank.op_result", .topic = "bank-op-results",
                      .key = &op_result::ref});
  declare<account_state>({.name = "bank.account", .topic = "bank-accounts",
                          .key = &account_state::id, .compacted = true, .follows_cause = true});
  declare<transfer_state>({.name = "bank.transfer_state", .topic = "bank-transfer-states",
                           .key = &transfer_state::id, .compacted = true, .follows_cause = true});
}

outputs account::handle(const record_meta&, const account_op& op, int64_t) {
  if (op.cents < 0)
    kastor::runtime::reject("account_op.cents must not be negative");
  const auto id = op.kind + ":" + op.ref;
  if (auto done = s_.ops.find(id); done != s_.ops.end())  // delivered again: same answer
    return {op_result{op.ref, s_.id, op.kind, done->second}};
  bool ok = true;
  if (op.kind == "open") {
    ok = !s_.open && s_.opened_with == 0;
    if (ok) {
      s_.open = true;
      s_.cents += op.cents;
      s_.opened_with = op.cents;
    }
  } else if (op.kind == "close") {
    s_.open = false;
  } else if (op.kind == "debit") {
    ok = s_.open && s_.cents >= op.cents;
    if (ok)
      s_.cents -= op.cents;
  } else if (op.kind == "credit") {
    ok = s_.open;
    if (ok)
      s_.cents += op.cents;
  } else if (op.kind == "refund") {
    s_.cents += op.cents;
  } else {
    kastor::runtime::reject("unknown account_op kind '" + op.kind + "'");
  }
  s_.ops[id] = ok;
  if (op.kind == "open" || op.kind == "close")
    return {};  // nobody waits for these
  return {op_result{op.ref, s_.id, op.kind, ok}};
}

outputs transfer_saga::handle(const record_meta&, const transfer& t, int64_t) {
  if (s_.status.empty()) {
    s_ = {t.id, t.from, t.to, t.cents, "debiting"};
  } else if (t.from != s_.from || t.to != s_.to || t.cents != s_.cents) {
    kastor::runtime::reject("transfer " + t.id + " was requested before with other terms");
  }
  return step();
}

outputs transfer_saga::handle(const record_meta&, const op_result& r, int64_t) {
  auto expect = [&](const char* status, const char* kind) {
    return s_.status == status && r.kind == kind;
  };
  if (expect("debiting", "debit"))
    s_.status = r.ok ? "crediting" : "refused";
  else if (expect("crediting", "credit"))
    s_.status = r.ok ? "completed" : "refunding";
  else if (expect("refunding", "refund"))
    s_.status = "compensated";
  // Else an answer to a step already past, delivered again: the current
  // step goes out again too (its op may be lost: after a crash the snapshot
  // can be durable while the op it was written with is not).
  return step();
}

outputs transfer_saga::step() const {
  if (s_.status == "debiting")
    return {account_op{s_.from, s_.id, "debit", s_.cents}};
  if (s_.status == "crediting")
    return {account_op{s_.to, s_.id, "credit", s_.cents}};
  if (s_.status == "refunding")
    return {account_op{s_.from, s_.id, "refund", s_.cents}};
  return {};
}

}  // namespace bank
