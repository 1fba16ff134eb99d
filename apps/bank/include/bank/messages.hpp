// The bank's messages: plain structs, described for their JSON, declared once
// with their topic and key. Snapshots are the changelogs of its two entities.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <boost/describe/class.hpp>

namespace bank {

// A request to move money (the saga's input), keyed by its id.
struct transfer {
  std::string id;
  std::string from;
  std::string to;
  int64_t cents = 0;
};
BOOST_DESCRIBE_STRUCT(transfer, (), (id, from, to, cents))

// An order to one account, keyed by the account. kind: open (with its first
// deposit), close, debit, credit, refund, or void-debit / void-credit (seal
// that op of `ref`: it never applies from now on if it has not yet; answered
// ok when it did not apply, not ok when it had). `ref` names what it belongs
// to (a transfer id, or the account's own for open and close).
struct account_op {
  std::string account;
  std::string ref;
  std::string kind;
  int64_t cents = 0;
};
BOOST_DESCRIBE_STRUCT(account_op, (), (account, ref, kind, cents))

// An account's answer to one op, keyed by the transfer it belongs to.
struct op_result {
  std::string ref;
  std::string account;
  std::string kind;
  bool ok = false;
};
BOOST_DESCRIBE_STRUCT(op_result, (), (ref, account, kind, ok))

// A transfer's step deadline (a timer's message to its saga): the step it
// was set for ("debit" or "credit").
struct transfer_deadline {
  std::string id;
  std::string step;
};
BOOST_DESCRIBE_STRUCT(transfer_deadline, (), (id, step))

// An account's state. `ops`: "<kind>:<ref>" -> whether it applied, for every
// op it answered: an op delivered again is answered the same way, never
// applied twice.
struct account_state {
  std::string id;
  int64_t cents = 0;
  int64_t opened_with = 0;
  bool open = false;
  std::map<std::string, bool> ops;
};
BOOST_DESCRIBE_STRUCT(account_state, (), (id, cents, opened_with, open, ops))

// A transfer's saga: debiting -> crediting -> completed, or refused (the
// debit was), or refunding -> compensated (the credit was). A step with no
// answer past its deadline is voided: voiding-debit -> expired (the debit
// never applied) or on to crediting (it had); voiding-credit -> refunding
// (the credit never applied) or completed (it had).
struct transfer_state {
  std::string id;
  std::string from;
  std::string to;
  int64_t cents = 0;
  std::string status;
  std::string voided;  // the step its deadline voided (debit, credit), if any
};
BOOST_DESCRIBE_STRUCT(transfer_state, (), (id, from, to, cents, status, voided))

// Declares every type above (idempotent).
void declare_messages();
// The bank's own metrics (bank_transfers_total{outcome}, ...), at zero, so
// that /metrics names them before the first transfer.
void declare_metrics();

}  // namespace bank
