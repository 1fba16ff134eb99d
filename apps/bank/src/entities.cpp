#include "bank/entities.hpp"

#include <algorithm>
#include <chrono>
#include <initializer_list>

#include <kastor/runtime/metrics.hpp>
#include <kastor/runtime/reject.hpp>
#include <kastor/runtime/timers.hpp>

namespace bank {

namespace {

// Served on every bank node's /metrics with the runtime's own. Counted when
// a saga's state moves (a turn redone after a crash, before its snapshot was
// durable, may count its move again).
const kastor::runtime::counter_family& transfers_requested() {
  static const auto f = kastor::runtime::metrics::counter(
    "bank_transfers_requested_total", "Transfers the bank began (their first request seen).");
  return f;
}

const kastor::runtime::counter_family& transfers_ended() {
  static const auto f = kastor::runtime::metrics::counter(
    "bank_transfers_total",
    "Transfers that ended, by outcome: completed, refused (the debit was refused), expired (a "
    "step's deadline passed before any money moved) or compensated (the credit failed and the "
    "debit was refunded).",
    {"outcome"});
  return f;
}

bool ended(const std::string& status) {
  return status == "completed" || status == "refused" || status == "expired"
         || status == "compensated";
}

}  // namespace

void declare_metrics() {
  transfers_requested().with();
  for (const char* outcome : {"completed", "refused", "expired", "compensated"})
    transfers_ended().with({outcome});
}

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
  declare<transfer_deadline>({.name = "bank.transfer_deadline",
                              .topic = "bank-transfer-deadlines",
                              .key = &transfer_deadline::id});
  declare<account_state>({.name = "bank.account", .topic = "bank-accounts",
                          .key = &account_state::id, .compacted = true, .follows_cause = true});
  declare<transfer_state>({.name = "bank.transfer_state", .topic = "bank-transfer-states",
                           .key = &transfer_state::id, .compacted = true, .follows_cause = true});
}

outputs account::handle(const record_meta&, const account_op& op, int64_t) {
  if (op.cents < 0)
    kastor::runtime::reject("account_op.cents must not be negative");
  if (op.kind == "void-debit" || op.kind == "void-credit") {
    // Seals the op: answered the same from now on (a late one is refused).
    const auto sealed = op.kind.substr(5) + ":" + op.ref;
    const bool applied = s_.ops.try_emplace(sealed, false).first->second;
    return {op_result{op.ref, s_.id, op.kind, !applied}};
  }
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
    s_ = {t.id, t.from, t.to, t.cents, "debiting", {}};
    transfers_requested().with().inc();
    return moved("");
  }
  if (t.from != s_.from || t.to != s_.to || t.cents != s_.cents)
    kastor::runtime::reject("transfer " + t.id + " was requested before with other terms");
  return step();
}

outputs transfer_saga::handle(const record_meta&, const op_result& r, int64_t) {
  const auto before = s_.status;
  auto expect = [&](std::initializer_list<const char*> statuses, const char* kind) {
    return r.kind == kind
           && std::find(statuses.begin(), statuses.end(), s_.status) != statuses.end();
  };
  if (expect({"debiting", "voiding-debit"}, "debit"))
    s_.status = r.ok ? "crediting" : "refused";
  else if (expect({"voiding-debit"}, "void-debit"))
    s_.status = r.ok ? "expired" : "crediting";  // not ok: the debit had applied
  else if (expect({"crediting", "voiding-credit"}, "credit"))
    s_.status = r.ok ? "completed" : "refunding";
  else if (expect({"voiding-credit"}, "void-credit"))
    s_.status = r.ok ? "refunding" : "completed";  // not ok: the credit had applied
  else if (expect({"refunding"}, "refund"))
    s_.status = "compensated";
  // Else an answer to a step already past, delivered again: the current
  // step goes out again too (its op may be lost: after a crash the snapshot
  // can be durable while the op it was written with is not).
  return before == s_.status ? step() : moved(before);
}

outputs transfer_saga::handle(const record_meta&, const transfer_deadline& d, int64_t) {
  // A deadline of a step already past (its answer came first) is nothing.
  const auto before = s_.status;
  if (d.step == "debit" && s_.status == "debiting")
    s_.status = "voiding-debit";
  else if (d.step == "credit" && s_.status == "crediting")
    s_.status = "voiding-credit";
  else
    return {};
  s_.voided += (s_.voided.empty() ? "" : ",") + d.step;
  return moved(before);
}

outputs transfer_saga::moved(const std::string& before) const {
  if (ended(s_.status) && !ended(before))
    transfers_ended().with({s_.status}).inc();
  auto out = step();
  if (deadline_ms_ <= 0)
    return out;
  const bool timed = s_.status == "debiting" || s_.status == "crediting";
  if (timed)  // replaces the previous step's
    out.push_back(kastor::runtime::timer_after(
      "step-deadline", std::chrono::milliseconds{deadline_ms_},
      transfer_deadline{s_.id, s_.status == "debiting" ? "debit" : "credit"}));
  else if (before == "debiting" || before == "crediting")
    out.push_back(kastor::runtime::cancel_timer("step-deadline"));
  return out;
}

outputs transfer_saga::step() const {
  if (s_.status == "debiting")
    return {account_op{s_.from, s_.id, "debit", s_.cents}};
  if (s_.status == "voiding-debit")
    return {account_op{s_.from, s_.id, "void-debit", s_.cents}};
  if (s_.status == "crediting")
    return {account_op{s_.to, s_.id, "credit", s_.cents}};
  if (s_.status == "voiding-credit")
    return {account_op{s_.to, s_.id, "void-credit", s_.cents}};
  if (s_.status == "refunding")
    return {account_op{s_.from, s_.id, "refund", s_.cents}};
  return {};
}

}  // namespace bank
