// The bank's command-line tools beside `bank node`: plain Kafka clients of
// the bank's topics through kastor's bridges.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bank/messages.hpp"

namespace bank {

struct tool_options {
  std::string brokers;
  int partitions = 6;
  int replication = 0;  // min(3, brokers)
  std::string group_prefix = "kastor";
  int accounts = 50;
  int64_t cents = 10000;  // open: each account's first deposit; transfers: the largest amount
  int close = 0;
  int count = 1000;
  uint64_t seed = 1;
  std::string prefix = "t";
  int wait_s = 120;
};

// topics, open, transfers, balances, check: subcommands of `app` filling `o`.
void add_tool_commands(CLI::App& app, tool_options& o);
// Runs the one that was parsed (not `node`).
int run_tool_command(const CLI::App& app, const tool_options& o);

int create_topics(const tool_options& o);
int open_accounts(const tool_options& o);
int submit_transfers(const tool_options& o);
int print_balances(const tool_options& o);
// What `check` finds in the state it read: the accounts opened (account ->
// opening deposit, as requested), every transfer requested, the sagas'
// states and the accounts' (each by its key).
struct bank_outcome {
  std::vector<std::string> broken;    // every invariant violated, one line each
  std::map<std::string, int> outcomes;  // transfer status -> count ("never started" too)
  int64_t total = 0;      // the accounts' balances
  int64_t in_flight = 0;  // debited by transfers not yet credited nor refunded
  int64_t opened = 0;     // the opening deposits requested
  int voided = 0;         // transfers a step deadline voided a step of
};
bank_outcome judge(const std::map<std::string, int64_t>& opened,
                   const std::map<std::string, transfer>& requested,
                   const std::map<std::string, transfer_state>& sagas,
                   const std::map<std::string, account_state>& accounts);

// Jepsen's bank invariants, over the accounts opened and the transfers
// requested (read from their topics) and the latest state of every account
// and transfer, once every transfer ended (or --wait passed): every opened
// account has its state, the total (with what is in flight between two
// accounts) is what was opened with, no balance is negative, each transfer
// completed, was refused, expired or compensated and its ops applied exactly as that
// says, and each balance is its opening deposit plus exactly the ops it
// applied. 0 when they hold, 1 (listing what broke) when not, 2 when
// transfers were still open after --wait. (A read while transfers run may see
// an effect before its cause's snapshot: only a quiet state is judged.)
int check_invariants(const tool_options& o);

}  // namespace bank
