#include "bank/tools.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <kastor/bridges/kafka.hpp>
#include <kastor/bridges/node.hpp>
#include <kastor/bridges/producer.hpp>
#include <kastor/runtime/errors.hpp>

#include "bank/messages.hpp"
#include "bank/roles.hpp"

namespace bank {

namespace {

using kastor::runtime::describe;
using kastor::runtime::message;

std::string account_name(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "acct-%03d", i);
  return buf;
}

// Publishes `batch` and waits for every acknowledgement: 0, or 1 on an error.
int publish_all(const std::string& brokers, const std::vector<message>& batch) {
  auto producer = kastor::bridges::kafka_publisher::make({.brokers = brokers, .client_id = "bank-cli"});
  if (!producer) {
    std::fprintf(stderr, "bank: %s\n", describe(producer.error()).c_str());
    return 1;
  }
  std::atomic<size_t> acked{0}, failed{0};
  constexpr size_t chunk = 500;
  for (size_t i = 0; i < batch.size(); i += chunk) {
    std::vector<message> part(batch.begin() + i, batch.begin() + std::min(batch.size(), i + chunk));
    (*producer)->publish(std::move(part), nullptr, [&, n = std::min(chunk, batch.size() - i)](
                                                     const kastor::runtime::publish_outcome& o) {
      (o.ok() ? acked : failed) += n;
      if (!o.ok())
        std::fprintf(stderr, "bank: publish failed: %s\n", o.error.c_str());
    });
  }
  auto left = (*producer)->stop(std::chrono::seconds{60});
  std::printf("published %zu records (%zu failed, %zu undelivered)\n", acked.load(), failed.load(),
              left);
  return failed == 0 && left == 0 ? 0 : 1;
}

// Every record of `topic` that decodes as T, in offset order per partition.
template <class T>
caf::expected<std::vector<T>> every(const std::string& brokers, const std::string& topic) {
  auto records = kastor::bridges::read_topic(brokers, topic);
  if (!records)
    return records.error();
  std::map<int32_t, int64_t> epochs;
  std::vector<T> out;
  for (const auto& live : kastor::bridges::live_snapshots(*records, epochs))
    if (const auto* x = live.snapshot.get_if<T>())
      out.push_back(*x);
  return out;
}

// The last record of every key of `topic` that decodes as T (a changelog's
// state, the late writes of replaced owners left out).
template <class T>
caf::expected<std::map<std::string, T>> latest(const std::string& brokers, const std::string& topic) {
  auto records = kastor::bridges::read_topic(brokers, topic);
  if (!records)
    return records.error();
  std::map<int32_t, int64_t> epochs;
  std::map<std::string, T> out;
  for (const auto& live : kastor::bridges::live_snapshots(*records, epochs))
    if (const auto* x = live.snapshot.get_if<T>())
      out.insert_or_assign(live.snapshot.key(), *x);
  return out;
}

}  // namespace

bank_outcome judge(const std::map<std::string, int64_t>& opened,
                   const std::map<std::string, transfer>& requested,
                   const std::map<std::string, transfer_state>& sagas,
                   const std::map<std::string, account_state>& accounts) {
  bank_outcome out;
  auto& broken = out.broken;
  for (const auto& [id, cents] : opened) {
    out.opened += cents;
    if (!accounts.count(id))
      broken.push_back("account " + id + " was opened but has no state");
  }
  auto applied = [&](const std::string& acct, const std::string& kind, const std::string& ref) {
    auto it = accounts.find(acct);
    if (it == accounts.end())
      return std::optional<bool>{};
    auto op = it->second.ops.find(kind + ":" + ref);
    return op == it->second.ops.end() ? std::optional<bool>{} : std::optional<bool>{op->second};
  };
  for (const auto& [id, t] : requested) {
    auto saga = sagas.find(id);
    const std::string status = saga == sagas.end() ? "" : saga->second.status;
    ++out.outcomes[status.empty() ? "never started" : status];
    out.voided += saga != sagas.end() && !saga->second.voided.empty();
    auto debit = applied(t.from, "debit", id), credit = applied(t.to, "credit", id);
    auto refund = applied(t.from, "refund", id);
    bool ok = status == "completed"     ? debit == true && credit == true && !refund
              : status == "refused" || status == "expired" ? debit == false && !credit && !refund
              : status == "compensated" ? debit == true && credit == false && refund == true
                                        : true;  // still open: counted below
    if (!ok)
      broken.push_back("transfer " + id + " is " + status + " but its ops say otherwise");
    if (debit == true && credit != true && refund != true)
      out.in_flight += t.cents;  // debited, not yet credited nor refunded
  }
  for (const auto& [id, a] : accounts) {
    out.total += a.cents;
    if (auto o = opened.find(id); o == opened.end() || o->second != a.opened_with)
      broken.push_back("account " + id + " opened with " + std::to_string(a.opened_with)
                       + ", which nobody asked for");
    if (a.cents < 0)
      broken.push_back("account " + id + " is negative: " + std::to_string(a.cents));
    int64_t expected = a.opened_with;
    for (const auto& [op, done] : a.ops) {
      auto colon = op.find(':');
      auto kind = op.substr(0, colon), ref = op.substr(colon + 1);
      if (!done || kind == "open" || kind == "close")
        continue;
      auto t = requested.find(ref);
      if (t == requested.end()) {
        broken.push_back("account " + id + " applied " + op + ", a transfer nobody requested");
        continue;
      }
      if (id != (kind == "credit" ? t->second.to : t->second.from))
        broken.push_back("account " + id + " applied " + op + ", which is another account's");
      expected += kind == "debit" ? -t->second.cents : t->second.cents;
    }
    if (a.cents != expected)
      broken.push_back("account " + id + " holds " + std::to_string(a.cents) + " but its ops make "
                       + std::to_string(expected));
  }
  if (out.total + out.in_flight != out.opened)
    broken.push_back("the total is " + std::to_string(out.total) + " with "
                     + std::to_string(out.in_flight) + " in flight; the accounts were opened with "
                     + std::to_string(out.opened));
  return out;
}

// What a node of the bank's would create (kastor's role_topics of its two
// entities), made up front: inputs, outputs, dead-letter topics, changelogs,
// requests and repartition topics.
int create_topics(const tool_options& o) {
  kastor::runtime::node_config cfg;
  cfg.brokers = o.brokers;
  cfg.partitions = o.partitions;
  cfg.replication = o.replication;
  cfg.group_prefix = o.group_prefix;
  size_t n = 0;
  for (const auto& spec : {accounts_role().spec(), transfers_role().spec()}) {
    std::vector<kastor::bridges::topic_spec> created;
    if (auto err = kastor::bridges::ensure_role_topics(spec, cfg, &created)) {
      std::fprintf(stderr, "bank: %s\n", describe(err).c_str());
      return 1;
    }
    for (const auto& t : created)
      std::printf("topic %s created\n", t.name.c_str());
    n += kastor::bridges::role_topics(spec, cfg).size();
  }
  std::printf("%zu topics ready\n", n);
  return 0;
}

int open_accounts(const tool_options& o) {
  std::vector<message> ops;
  for (int i = 0; i < o.accounts; ++i)
    ops.push_back(account_op{account_name(i), account_name(i), "open", o.cents});
  for (int i = o.accounts - std::min(o.close, o.accounts); i < o.accounts; ++i)
    ops.push_back(account_op{account_name(i), account_name(i), "close", 0});
  return publish_all(o.brokers, ops);
}

int submit_transfers(const tool_options& o) {
  std::mt19937_64 rng{o.seed};
  std::uniform_int_distribution<int> pick(0, o.accounts - 1);
  std::uniform_int_distribution<int64_t> amount(1, o.cents);
  std::vector<message> batch;
  for (int n = 0; n < o.count; ++n) {
    int from = pick(rng), to = pick(rng);
    while (to == from)
      to = pick(rng);
    batch.push_back(transfer{o.prefix + "-" + std::to_string(n), account_name(from),
                             account_name(to), amount(rng)});
  }
  return publish_all(o.brokers, batch);
}

int print_balances(const tool_options& o) {
  auto accounts = latest<account_state>(o.brokers, "bank-accounts");
  if (!accounts) {
    std::fprintf(stderr, "bank: %s\n", describe(accounts.error()).c_str());
    return 1;
  }
  int64_t total = 0;
  for (const auto& [id, a] : *accounts) {
    std::printf("%-12s %12.2f%s\n", id.c_str(), a.cents / 100.0, a.open ? "" : "  (closed)");
    total += a.cents;
  }
  std::printf("%zu accounts, total %.2f\n", accounts->size(), total / 100.0);
  return 0;
}

int check_invariants(const tool_options& o) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{o.wait_s};
  std::map<std::string, int64_t> opened;  // account -> its opening deposit, as requested
  std::map<std::string, transfer> requested;
  std::map<std::string, transfer_state> sagas;
  std::map<std::string, account_state> accounts;
  const std::set<std::string> final_states{"completed", "refused", "expired", "compensated"};
  size_t open_transfers = 0;
  for (;;) {
    auto opens = every<account_op>(o.brokers, "bank-account-ops");
    auto r = latest<transfer>(o.brokers, "bank-transfers");
    auto s = latest<transfer_state>(o.brokers, "bank-transfer-states");
    auto a = latest<account_state>(o.brokers, "bank-accounts");
    for (const auto* e : {opens ? nullptr : &opens.error(), r ? nullptr : &r.error(),
                          s ? nullptr : &s.error(), a ? nullptr : &a.error()})
      if (e != nullptr) {
        std::fprintf(stderr, "bank: %s\n", describe(*e).c_str());
        return 1;
      }
    opened.clear();
    for (const auto& op : *opens)  // the first opening deposit of each account counts
      if (op.kind == "open")
        opened.try_emplace(op.account, op.cents);
    requested = std::move(*r);
    sagas = std::move(*s);
    accounts = std::move(*a);
    open_transfers = 0;
    for (const auto& [id, t] : requested)
      open_transfers += !sagas.count(id) || !final_states.count(sagas[id].status);
    if (open_transfers == 0 || std::chrono::steady_clock::now() >= until)
      break;
    std::printf("waiting: %zu of %zu transfers still open\n", open_transfers, requested.size());
    std::this_thread::sleep_for(std::chrono::seconds{2});
  }
  bank_outcome out = judge(opened, requested, sagas, accounts);
  const auto& broken = out.broken;
  std::printf("accounts=%zu total=%lld in_flight=%lld opened=%lld transfers=%zu",
              accounts.size(), static_cast<long long>(out.total),
              static_cast<long long>(out.in_flight), static_cast<long long>(out.opened),
              requested.size());
  for (const auto& [status, n] : out.outcomes)
    std::printf(" %s=%d", status.c_str(), n);
  std::printf(" voided=%d\n", out.voided);
  for (size_t i = 0; i < broken.size() && i < 20; ++i)
    std::printf("BROKEN: %s\n", broken[i].c_str());
  if (!broken.empty())
    return 1;
  if (open_transfers > 0) {
    std::printf("OPEN: %zu transfers did not end within %d s\n", open_transfers, o.wait_s);
    return 2;
  }
  std::printf("invariants hold\n");
  return 0;
}

void add_tool_commands(CLI::App& app, tool_options& o) {
  auto brokers = [&o](CLI::App* c) { c->add_option("--brokers", o.brokers)->required(); };
  auto* topics = app.add_subcommand("topics", "create the bank's topics");
  brokers(topics);
  topics->add_option("--partitions", o.partitions)->check(CLI::Range(1, 1000));
  topics->add_option("--replication", o.replication, "0: min(3, brokers)")
    ->check(CLI::Range(0, 10));
  topics->add_option("--group-prefix", o.group_prefix, "the nodes' group.prefix");
  auto* open = app.add_subcommand("open", "open accounts acct-0..N-1, each with --cents");
  brokers(open);
  open->add_option("--accounts", o.accounts)->check(CLI::Range(2, 100000));
  open->add_option("--cents", o.cents)->check(CLI::Range(1, 1'000'000'000));
  open->add_option("--close", o.close, "then close the last N accounts")->check(CLI::Range(0, 100000));
  auto* submit = app.add_subcommand("transfers", "submit random transfers between the accounts");
  brokers(submit);
  submit->add_option("--accounts", o.accounts)->check(CLI::Range(2, 100000));
  submit->add_option("--count", o.count)->check(CLI::Range(1, 10'000'000));
  submit->add_option("--max-cents", o.cents)->check(CLI::Range(1, 1'000'000'000));
  submit->add_option("--seed", o.seed);
  submit->add_option("--prefix", o.prefix, "transfer ids are <prefix>-<n>");
  auto* balances = app.add_subcommand("balances", "print every account's balance and the total");
  brokers(balances);
  auto* check = app.add_subcommand("check", "wait for every transfer to end, check the invariants");
  brokers(check);
  check->add_option("--wait", o.wait_s, "seconds to wait for open transfers")->check(CLI::Range(0, 3600));
}

int run_tool_command(const CLI::App& app, const tool_options& o) {
  const auto* used = app.get_subcommands().at(0);
  const auto& name = used->get_name();
  if (name == "topics")
    return create_topics(o);
  if (name == "open")
    return open_accounts(o);
  if (name == "transfers")
    return submit_transfers(o);
  if (name == "balances")
    return print_balances(o);
  return check_invariants(o);
}

}  // namespace bank
