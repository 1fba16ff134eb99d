// kastor: parses the command line, builds the configuration, starts the
// subcommand. Nothing else lives here.
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <random>

#include <CLI/CLI.hpp>

#include "kastor/actors/roles.hpp"
#include "kastor/apps/commands.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/shutdown.hpp"

extern char** environ;

namespace {

std::atomic<bool> stop_requested{false};

// Config layers: defaults < --config file < KASTOR_* environment < flags.
struct config_flags {
  kastor::runtime::config_sources sources;

  void add_to(CLI::App* app, const std::vector<std::pair<std::string, std::string>>& flags) {
    app->add_option("--config", sources.file, "config file (key = value lines)")
      ->check(CLI::ExistingFile);
    for (const auto& [flag, key] : flags)
      app->add_option_function<std::string>(
        "--" + flag, [this, key = key](const std::string& v) { sources.flags[key] = v; },
        "sets " + key);
    app->add_option("--set", sources.sets, "KEY=VALUE for any configuration key (repeatable)");
  }

  // `fallback` fills keys no file, variable or flag set (e.g. demo --chaos).
  caf::expected<kastor::runtime::node_config> build(
    const std::function<void(kastor::runtime::config_layers&)>& fallback = {}) const {
    return kastor::runtime::load_config(sources, environ, kastor::actors::shop_app(), fallback);
  }
};

const std::vector<std::pair<std::string, std::string>> node_flags{
  {"roles", "roles"},         {"brokers", "brokers"},     {"http", "http"},
  {"node-id", "node.id"},     {"data-dir", "data.dir"},   {"log-level", "log.level"},
  {"partitions", "topic.partitions"}, {"chaos", "chaos"},     {"chaos-seed", "chaos.seed"},
};

// A chaos run crashes actors on purpose, many times a second: the demo then
// lets supervisors restart often and quickly, and retries a record longer
// before dead-lettering it, unless the configuration says otherwise.
void demo_defaults(kastor::runtime::config_layers& l) {
  // The demo is for trying things: its admin endpoint is on, with a token of
  // this run's own (printed, for `kastor ctl crash`) unless one is configured.
  // Its gateway serves the ops routes: no second listener on a port that may
  // be taken, unless asked for.
  l.emplace("ops.http", std::pair{std::string{"off"}, std::string{"demo default"}});
  if (!l.count("admin.token")) {
    std::random_device rd;
    char token[33];
    std::snprintf(token, sizeof token, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
    l.emplace("admin.token", std::pair{std::string{token}, std::string{"demo default"}});
    std::printf("admin token (kastor ctl crash): export KASTOR_ADMIN_TOKEN=%s\n", token);
  }
  auto chaos = l.find("chaos");
  if (chaos == l.end() || chaos->second.first.empty())
    return;
  const char* origin = "demo --chaos default";
  l.emplace("supervisor.max-restarts", std::pair{std::string{"10000"}, std::string{origin}});
  l.emplace("supervisor.backoff-min-ms", std::pair{std::string{"1"}, std::string{origin}});
  l.emplace("supervisor.backoff-max-ms", std::pair{std::string{"20"}, std::string{origin}});
  l.emplace("mailbox.max-attempts", std::pair{std::string{"10"}, std::string{origin}});
  l.emplace("mailbox.turn-deadline-ms", std::pair{std::string{"2000"}, std::string{origin}});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kastor: CAF actors whose mailboxes live in Kafka"};
  app.require_subcommand(1);

  config_flags node_cfg;
  auto* node = app.add_subcommand("node", "run roles against a Kafka cluster");
  node_cfg.add_to(node, node_flags);

  config_flags demo_cfg;
  kastor::apps::demo_options demo;
  auto* demo_cmd = app.add_subcommand("demo", "everything in one process on an embedded mock cluster");
  demo_cfg.add_to(demo_cmd, {{"http", "http"}, {"log-level", "log.level"},
                             {"data-dir", "data.dir"}, {"partitions", "topic.partitions"},
                             {"chaos", "chaos"}, {"chaos-seed", "chaos.seed"}});
  demo_cmd->add_option("--orders", demo.orders, "drive N sample orders, check them, exit")
    ->check(CLI::Range(0, 10'000'000));
  demo_cmd->add_option("--concurrency", demo.concurrency, "HTTP connections driving orders")
    ->check(CLI::Range(1, 1024));

  auto* topics = app.add_subcommand("topics", "manage the pipeline's topics");
  auto* topics_create = topics->add_subcommand("create", "create every pipeline topic and its .dlq");
  topics->require_subcommand(1);
  std::string topic_brokers, topic_group_prefix = "kastor";
  int topic_partitions = 6, topic_replication = 0;
  topics_create->add_option("--brokers", topic_brokers, "bootstrap servers")->required();
  topics_create->add_option("--partitions", topic_partitions)->check(CLI::Range(1, 1000));
  topics_create->add_option("--replication", topic_replication, "0: min(3, brokers)")
    ->check(CLI::Range(0, 7));
  topics_create->add_option("--group-prefix", topic_group_prefix,
                            "the nodes' group.prefix (names the order role's requests and "
                            "repartition topics)");

  kastor::apps::bench_options bench;
  auto* bench_cmd = app.add_subcommand("bench", "measure raw Kafka, the bridge and the pipeline");
  bench_cmd->add_option("--brokers", bench.brokers, "bootstrap servers (default: embedded mock)");
  bench_cmd->add_option("--records", bench.records, "records for (a) and (b)")
    ->check(CLI::Range(1000, 100'000'000));
  bench_cmd->add_option("--record-bytes", bench.record_bytes)->check(CLI::Range(16, 1'000'000));
  bench_cmd->add_option("--orders", bench.orders, "orders for the throughput run (c)")
    ->check(CLI::Range(100, 10'000'000));
  bench_cmd->add_option("--rate", bench.offered_rate, "offered orders/s for the latency run (c)")
    ->check(CLI::Range(1.0, 1e6));
  bench_cmd->add_option("--seconds", bench.latency_seconds, "length of the latency run")
    ->check(CLI::Range(1, 3600));
  bench_cmd->add_option("--concurrency", bench.concurrency)->check(CLI::Range(1, 1024));
  bench_cmd->add_option("--compression", bench.compression, "compression.type of every producer")
    ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));

  kastor::apps::ctl_options ctl;
  auto* ctl_cmd = app.add_subcommand("ctl", "talk to a running node's gateway");
  ctl_cmd->add_option("--node", ctl.node, "the node's HTTP address HOST:PORT")
    ->capture_default_str();
  ctl_cmd->require_subcommand(1);
  auto* ctl_sup = ctl_cmd->add_subcommand("supervision", "print the live supervision tree");
  auto* ctl_crash = ctl_cmd->add_subcommand("crash", "crash the actor at PATH (its supervisor reacts)");
  ctl_crash->add_option("path", ctl.path, "e.g. root/payment/worker")->required();

  kastor::apps::status_options status;
  auto* ctl_status = ctl_cmd->add_subcommand(
    "status", "the nodes of each role, the partitions each owns, and lag per partition");
  ctl_status->add_option("--brokers", status.brokers,
                         "bootstrap servers (without: the node's own view, from ctl --node)");
  ctl_status->add_option("--prefix", status.prefix, "the nodes' group.prefix")
    ->capture_default_str();
  ctl_status->add_flag("--json", status.json, "print JSON");

  kastor::apps::load_options load;
  auto* ctl_load = ctl_cmd->add_subcommand(
    "load", "offer sample orders through gateways, recording each request's outcome");
  ctl_load->add_option("--gateways", load.gateways, "HOST:PORT[,HOST:PORT...]")->required();
  ctl_load->add_option("--rate", load.rate, "orders/s offered")->check(CLI::Range(0.1, 100000.0));
  ctl_load->add_option("--duration", load.duration_s, "seconds")->check(CLI::Range(1, 86400));
  ctl_load->add_option("--concurrency", load.concurrency)->check(CLI::Range(1, 256));
  ctl_load->add_option("--history", load.history, "file the outcomes are appended to")->required();
  ctl_load->add_option("--key-prefix", load.key_prefix, "Idempotency-Key prefix (one per run)");
  ctl_load->add_option("--retries", load.retries,
                       "times a request whose outcome is unknown is sent again (same key)")
    ->check(CLI::Range(0, 10));
  ctl_load->add_option_function<int>(
    "--timeout-ms", [&load](int ms) { load.timeout = std::chrono::milliseconds{ms}; },
    "a request unanswered this long has an unknown outcome (default 5000)")
    ->check(CLI::Range(100, 600000));

  kastor::apps::check_options check;
  int check_wait = 120;
  auto* ctl_check = ctl_cmd->add_subcommand(
    "check", "check the fault suite's invariants over a load history, Kafka and the ledgers");
  ctl_check->add_option("--brokers", check.brokers, "bootstrap servers")->required();
  ctl_check->add_option("--history", check.history, "what ctl load recorded")->required();
  ctl_check->add_option("--ledgers", check.ledgers, "folder with the nodes' ledgers")->required();
  ctl_check->add_option("--wait", check_wait, "seconds to wait for acknowledged orders")
    ->check(CLI::Range(0, 86400));
  ctl_check->add_option("--faults", check.faults, "file listing the faults injected");
  ctl_check->add_option("--rss-samples", check.rss_samples, "file of 'pid rss_kb' samples");
  ctl_check->add_option("--max-rss-mb", check.max_rss_mb)->check(CLI::Range(1, 1000000));
  ctl_check->add_option("--lag-samples", check.lag_samples, "file of 'epoch_ms role lag' samples");
  ctl_check->add_option("--max-lag", check.max_lag, "bound on every sampled lag (0: none)")
    ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000'000}));
  ctl_check->add_option("--prefix", check.prefix, "the nodes' group.prefix");

  kastor::apps::dlq_options dlq;
  auto* ctl_dlq = ctl_cmd->add_subcommand("dlq", "dead-letter topics, straight on Kafka");
  ctl_dlq->require_subcommand(1);
  std::map<std::string, CLI::App*> dlq_verbs;
  for (auto [verb, what] : {std::pair{"list", "per dead-letter topic: count, replayed, oldest, reasons"},
                            std::pair{"show", "the records of a dead-letter topic, readable"},
                            std::pair{"replay", "send records back to their origin topic, at most once each"},
                            std::pair{"purge", "delete every record of a dead-letter topic"}}) {
    auto* v = ctl_dlq->add_subcommand(verb, what);
    v->add_option("--brokers", dlq.brokers, "bootstrap servers")->required();
    v->add_option("--topic", dlq.topic, "a dead-letter topic, e.g. payment-requests.dlq");
    dlq_verbs[verb] = v;
  }
  dlq_verbs["show"]->add_option("--limit", dlq.limit, "records to show")->check(CLI::Range(1, 1000000));
  dlq_verbs["replay"]->add_option("--offset", dlq.offsets, "PARTITION@OFFSET of a record (repeatable)");
  dlq_verbs["replay"]->add_flag("--all", dlq.all, "every record of the topic");
  dlq_verbs["replay"]->add_option("--replication", dlq.replication,
                                  "replication of kastor.dlq-replays if it is created")
    ->check(CLI::Range(1, 7));
  dlq_verbs["purge"]->add_flag("--yes", dlq.yes, "really delete");

  CLI11_PARSE(app, argc, argv);

  // A second SIGINT or SIGTERM exits at once.
  kastor::runtime::install_stop_signals(stop_requested);

  auto config_or_exit = [](const config_flags& f,
                           std::function<void(kastor::runtime::config_layers&)> fallback = {})
    -> std::optional<kastor::runtime::node_config> {
    auto cfg = f.build(fallback);
    if (!cfg) {
      std::fprintf(stderr, "kastor: %s\n", kastor::runtime::describe(cfg.error()).c_str());
      return std::nullopt;
    }
    return *cfg;
  };

  if (node->parsed()) {
    auto cfg = config_or_exit(node_cfg);
    if (!cfg)
      return 2;
    return kastor::apps::run_node(*cfg, stop_requested);
  }
  if (demo_cmd->parsed()) {
    auto cfg = config_or_exit(demo_cfg, demo_defaults);
    if (!cfg)
      return 2;
    demo.node = *cfg;
    return kastor::apps::run_demo(demo, stop_requested);
  }
  if (topics_create->parsed())
    return kastor::apps::create_topics(topic_brokers, topic_partitions, topic_replication,
                                       topic_group_prefix);
  if (bench_cmd->parsed())
    return kastor::apps::run_bench(bench, stop_requested);
  for (const auto& [verb, cmd] : dlq_verbs)
    if (cmd->parsed()) {
      dlq.verb = verb;
      return kastor::apps::run_dlq(dlq);
    }
  if (ctl_status->parsed()) {
    if (status.brokers.empty()) {  // as the node sees itself: GET /api/status
      ctl.verb = "status";
      return kastor::apps::run_ctl(ctl);
    }
    return kastor::apps::run_status(status);
  }
  if (ctl_load->parsed()) {
    load.stop = &stop_requested;
    return kastor::apps::run_load(load);
  }
  if (ctl_check->parsed()) {
    check.wait = std::chrono::seconds{check_wait};
    return kastor::apps::run_check(check);
  }
  if (ctl_sup->parsed()) {
    ctl.verb = "supervision";
    return kastor::apps::run_ctl(ctl);
  }
  if (ctl_crash->parsed()) {
    ctl.verb = "crash";
    return kastor::apps::run_ctl(ctl);
  }
  return 2;
}
