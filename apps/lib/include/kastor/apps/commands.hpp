// The `kastor` subcommands. apps/kastor/main.cpp only parses arguments into
// these option structs and calls them; each returns the process exit code.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kastor/runtime/config.hpp"

namespace kastor::apps {

// kastor node: runs the configured roles until stopped (0) or until the root
// supervisor gives up (1).
int run_node(const runtime::node_config& cfg, const std::atomic<bool>& stop);

struct demo_options {
  runtime::node_config node;  // brokers are replaced by the embedded mock cluster's
  int orders = 0;             // 0: serve until stopped, printing live progress
  int concurrency = 16;
  int brokers = 3;
};
// kastor demo: mock cluster + every role + gateway; with orders > 0, drives
// them and exits 0 only if every order is terminal with one charge and one email.
int run_demo(demo_options opts, const std::atomic<bool>& stop);

// kastor topics create: creates every pipeline topic (and its .dlq) on a real
// cluster; existing topics are left as they are.
int create_topics(const std::string& brokers, int partitions, int replication,
                  const std::string& group_prefix);

struct bench_options {
  std::string brokers;  // empty: embedded mock cluster
  int records = 200000; // (a) and (b)
  int record_bytes = 200;
  int orders = 20000;   // (c) throughput run
  double offered_rate = 1000;  // (c) latency run, orders/s
  int latency_seconds = 10;
  int concurrency = 64;
  std::string http = "127.0.0.1:0";
  std::string compression = "none";  // every producer's compression.type, (a) to (c)
};
int run_bench(const bench_options& opts, const std::atomic<bool>& stop);

struct ctl_options {
  std::string node = "127.0.0.1:8080";  // a node's gateway, HOST:PORT
  std::string verb;                     // "supervision", "status" or "crash"
  std::string path;                     // crash: the actor's path
};
// kastor ctl: prints the node's answer (JSON); 0 on a 2xx, 1 on any other
// answer (its body goes to stderr), 2 when the node cannot be reached.
int run_ctl(const ctl_options& opts);

struct dlq_options {
  std::string brokers;
  std::string verb;                  // list, show, replay, purge
  std::string topic;                 // a *.dlq topic (list: optional, default all)
  int limit = 20;                    // show: at most this many records
  std::vector<std::string> offsets;  // replay: "PARTITION@OFFSET" of each record
  bool all = false;                  // replay: every record of the topic
  bool yes = false;                  // purge: really
  int replication = 1;               // of the replay log topic, when replay creates it
};
// kastor ctl dlq: list (per topic: count, replayed, oldest, reasons), show
// (records, readable), replay (back to their origin topic with attempt + 1, in
// one transaction with a mark in `kastor.dlq-replays`, so each record is
// replayed at most once however often the command runs), purge (delete every
// record). 0 on success, 1 on a Kafka error, 2 on bad arguments.
int run_dlq(const dlq_options& opts);

struct status_options {
  std::string brokers;
  std::string prefix = "kastor";  // the nodes' group.prefix
  bool json = false;
};
// kastor ctl status: per role's consumer group (order, payment, email, and
// copy when one runs): its state, the nodes in it and the partitions each
// owns, and the lag of every partition. 0, 1 on a Kafka error, 2 on bad
// arguments.
int run_status(const status_options& opts);

struct role_lag {
  int64_t records = 0;   // in the role's input, not yet committed by its group
  int64_t unknown = 0;   // partitions whose lag could not be read (leader down)
};
// The lag of the pipeline roles' groups (order, payment, email) under
// `prefix`, as `kastor ctl status` computes it; nullopt and `error` on a
// Kafka error. Watermark queries share a 20 s deadline (a partition whose
// leader does not answer in it is counted in `unknown`); describing each
// group and reading its committed offsets may take up to 10 s more each
// while a broker is down. A role whose input is read exactly-once shows
// lag 1 per partition after a transaction: the commit marker is counted.
std::optional<std::map<std::string, role_lag>> pipeline_lag(const std::string& brokers,
                                                            const std::string& prefix,
                                                            std::string& error);

struct load_options {
  std::string gateways;        // HOST:PORT,HOST:PORT,... tried round robin
  double rate = 20;            // orders/s offered
  int duration_s = 60;
  int concurrency = 8;
  std::string history;         // appended: one line per request with its outcome
  std::string key_prefix = "chaos";  // Idempotency-Key = prefix-N (the order id follows from it)
  // A request whose outcome is unknown (a timeout, a broken connection, a
  // 5xx) is sent again with the same key and body up to this many times, on
  // the next gateway, as a careful client does; each try is a history line.
  int retries = 2;
  // A request not answered within this long has an unknown outcome; its
  // gateway is then left out for a few seconds, as a load balancer takes an
  // unhealthy backend out of rotation (while every gateway is, all are tried).
  std::chrono::milliseconds timeout{5000};
  const std::atomic<bool>* stop = nullptr;
};
// kastor ctl load: offers sample orders at `rate` for `duration_s` through
// the gateways and records each request's outcome (ok / failed / unknown).
// 0, 1 when writing the history failed, 2 on bad arguments (or a history
// file that cannot be opened).
int run_load(const load_options& opts);

struct check_options {
  std::string brokers;
  std::string history;         // what ctl load recorded
  // a folder searched for payment-ledger.jsonl, payment-refunds.jsonl, email-outbox.jsonl
  std::string ledgers;
  std::chrono::seconds wait{120};  // for every acknowledged order to be terminal
  std::string faults;          // optional: the faults injected, one per line (for the report)
  std::string rss_samples;     // optional: "pid rss_kb" lines sampled during the run
  int max_rss_mb = 1024;
  std::string lag_samples;     // optional: "epoch_ms role lag" lines sampled during the run
  int64_t max_lag = 0;         // bound on every sampled lag (0: none)
  std::string prefix = "kastor";  // the nodes' group.prefix (for the final lag)
};
// kastor ctl check: waits until every acknowledged order is terminal (or the
// wait ends), then checks the fault suite's invariants over the history, every
// pipeline topic and the ledgers, and prints the report naming the order ids
// that broke one. 0 when all hold, 1 when one does not (or nothing was
// acknowledged), 2 on bad arguments (no or a malformed history, no ledger
// folder, an unreadable faults or samples file).
int run_check(const check_options& opts);

}  // namespace kastor::apps
