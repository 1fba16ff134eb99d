// A node's configuration: parsed and validated once into an immutable struct,
// then passed down. Sources, later ones win: built-in defaults, a config file
// (`key = value` lines, `#` comments), environment variables (KASTOR_ + the key
// upper-cased with '.' and '-' as '_', e.g. KASTOR_MAILBOX_HIGH_WATER), flags.
// The runtime's keys are below; an application declares its own roles, keys
// and fault names in an app_spec, validated by the same parser with the same
// errors. `deploy/kastor.conf.sample` lists every key of the flagship app with its
// default.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "kastor/runtime/chaos.hpp"

namespace kastor::runtime {

// A configuration key an application declares beside the runtime's own.
struct config_key {
  std::string name;           // "ledger.flush-ms"
  std::string default_value;  // as text
  // nullopt when `value` is acceptable, else why not; the error then names
  // the key, the value and where it came from, as for the runtime's keys.
  std::function<std::optional<std::string>(const std::string& value)> check = {};

  // A whole number in [lo, hi].
  static config_key integer(std::string name, int64_t default_value, int64_t lo, int64_t hi);
  // Any text.
  static config_key text(std::string name, std::string default_value);
};

// What an application tells the runtime about itself.
struct app_spec {
  // Every role its nodes can run (`copy`, the runtime's own Kafka->Kafka
  // stage, is always known besides).
  std::vector<std::string> roles = {};
  // What a node runs when `roles` is not set (empty: every role above).
  std::vector<std::string> default_roles = {};
  // Per-node views (broadcast readers): every node reads every record and
  // commits nothing, so they are never standby nor exactly-once.
  std::vector<std::string> views = {};
  std::vector<config_key> keys = {};
  std::vector<chaos_alias> chaos_aliases = {};  // role-specific names of faults
};

struct node_config {
  std::string node_id;                 // node.id: default "<hostname>-<pid>"
  bool node_id_given = false;          // node.id was set (stable across restarts)
  // roles: default the app's default roles (make_config); empty (a config made
  // by hand): every role the application adds.
  std::vector<std::string> roles;
  // roles.standby: roles this node starts only while no node runs them (their
  // consumer group has had no member but standbys for 5 s), and stops again as
  // soon as a node that runs them is back. Not in `roles`; not a view.
  std::vector<std::string> standby;
  std::string brokers;                 // brokers: bootstrap servers "host:port,..."
  std::string http_host = "127.0.0.1"; // http: "host:port" the node's HTTP server listens on
  uint16_t http_port = 8080;
  int http_threads = 1;                // http.threads
  int http_max_connections = 512;      // http.max-connections: more are answered 503
  int http_rate_limit = 10000;         // http.rate-limit: requests/s per client (0: none)
  int http_max_client_connections = 256;  // http.max-connections-per-client: more are 429 (0: none)
  // ops.http: "host:port" of the node's ops listener (/healthz, /readyz,
  // /api/supervision, /api/status, POST /api/admin/crash: runtime/ops.hpp),
  // for every application; "off": none. Port 0: an ephemeral one.
  bool ops_enabled = true;
  std::string ops_host = "127.0.0.1";
  uint16_t ops_port = 9464;
  int partitions = 6;                  // topic.partitions (when kastor creates topics)
  // topic.replication: of topics kastor creates; 0: min(3, the brokers in
  // the cluster).
  int replication = 0;
  // topics.create: a node creates the topics its roles need (inputs, their
  // dead-letter topics, declared outputs, changelogs, requests, repartition)
  // when they are missing. false (topics are managed elsewhere, e.g. as
  // Strimzi KafkaTopic resources): a missing one is a start error naming it.
  bool create_topics = true;
  std::string group_prefix = "kastor"; // group.prefix: consumer group = prefix + "." + role
  std::string data_dir = "kastor-data";  // data.dir: where the node's roles keep files
  int mailbox_high_water = 2000;       // mailbox.high-water: pause partitions above
  int mailbox_low_water = 1000;        // mailbox.low-water: resume below
  // Every supervisor (root and roles): at most supervisor.max-restarts within
  // supervisor.period-ms, then it gives up and escalates.
  int max_restarts = 10;
  std::chrono::milliseconds restart_period{10000};
  // Restart backoff: supervisor.backoff-min-ms doubling up to
  // supervisor.backoff-max-ms (jitter: up to 20% less), back to the minimum
  // after supervisor.backoff-reset-ms without a failure.
  std::chrono::milliseconds backoff_min{10};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds backoff_reset{30000};
  int max_attempts = 5;                // mailbox.max-attempts: failed tries, then the DLQ
  // A failing record's key waits (quarantine) mailbox.retry-backoff-min-ms,
  // doubling up to mailbox.retry-backoff-max-ms, between tries.
  std::chrono::milliseconds retry_backoff_min{100};
  std::chrono::milliseconds retry_backoff_max{10000};
  std::chrono::milliseconds turn_deadline{10000};  // mailbox.turn-deadline-ms (0: none)
  // A revoked partition's started turns may take this long to finish before
  // it is released anyway (mailbox.handoff-deadline-ms).
  std::chrono::milliseconds handoff_deadline{2000};
  // exactly-once: roles whose consume -> handle -> produce turns run in Kafka
  // transactions (read_committed input, outputs and offsets committed
  // together every mailbox.commit-interval-ms). Others are at-least-once.
  std::vector<std::string> exactly_once;
  std::chrono::milliseconds commit_interval{100};         // mailbox.commit-interval-ms
  std::chrono::milliseconds transaction_timeout{10000};   // kafka.transaction-timeout-ms
  std::string copy_from;               // copy.from: the copy role's input topic
  std::string copy_to;                 // copy.to: its output topic
  chaos_spec chaos;                    // chaos (SPEC) and chaos.seed
  // admin.token: the secret POST /api/admin/* requires as `Authorization:
  // Bearer <token>` (at least 16 visible ASCII characters); empty: admin
  // routes are off (403). Best given as KASTOR_ADMIN_TOKEN or in a file.
  std::string admin_token;
  std::chrono::milliseconds linger{1};               // kafka.linger-ms
  // kafka.statistics-interval-ms: librdkafka's statistics of every client, as
  // /metrics gauges (broker round-trip times, queues); 0: off.
  std::chrono::milliseconds statistics_interval{15000};
  int session_timeout_ms = 10000;      // kafka.session-timeout-ms
  // kafka.static-membership: a node with a node.id of its own is a static
  // member of its roles' groups (KIP-345, group.instance.id = node.id):
  // restarted within the session timeout, it gets its partitions back and no
  // other member is revoked. Without node.id (a new id every start) never.
  bool static_membership = true;
  // group.leave-on-stop: a static member leaves its groups when it stops, so
  // that the others take its partitions at once (a scale-down) instead of
  // after the session timeout. Dynamic members always leave.
  bool leave_on_stop = false;
  // node.stop-timeout-ms: a stopping node exits within this long whatever the
  // brokers do (drain, commit, flush and leave each under a share of it).
  std::chrono::milliseconds stop_timeout{20000};
  // Whether this node's consumers join as static members.
  bool is_static_member() const { return static_membership && node_id_given; }
  // kafka.fetch-wait-max-ms: a real broker answers a waiting fetch as soon as
  // data arrives, so this bounds idle polling, not latency (10 ms cost the
  // broker a third of a core per idle node). The mock is not woken: 5 there.
  int fetch_wait_max_ms = 100;
  // kafka.partitioner: librdkafka's partitioner for keyed records;
  // murmur2_random places a key where the Java client, KafkaJS and
  // kafka-python do (consistent_random: librdkafka's CRC32, kastor's placement
  // before it partitioned like Java).
  std::string partitioner = "murmur2_random";
  // kafka.compression: what producers compress with. none and gzip are read
  // by every common client as installed; lz4, snappy and zstd are not.
  std::string compression = "none";
  std::string log_level = "info";      // log.level: trace|debug|info|warn|error|off
  std::string log_format = "auto";     // log.format: json|text|auto (json unless stderr is a terminal)
  // The app's keys (app_spec::keys), each checked, with its default if unset.
  std::map<std::string, std::string> settings;

  bool has_role(const std::string& r) const;
  bool is_standby(const std::string& r) const;
  bool is_exactly_once(const std::string& role) const;
  std::string http_address() const { return http_host + ":" + std::to_string(http_port); }
  std::string ops_address() const {
    return ops_enabled ? ops_host + ":" + std::to_string(ops_port) : "off";
  }
  // An app key's value; throws std::out_of_range for a key the app did not
  // declare (a programming error, not bad input).
  const std::string& setting(const std::string& key) const { return settings.at(key); }
  // An app key declared with config_key::integer.
  int64_t setting_integer(const std::string& key) const;
};

// key -> (value, where it came from: "default", "file:PATH:LINE", "env:NAME", "flag")
using config_layers = std::map<std::string, std::pair<std::string, std::string>>;

// Every key with its default value as text, in documentation order: the
// runtime's, then the app's.
std::vector<std::pair<std::string, std::string>> config_defaults(const app_spec& app = {});

// Reads a config file into `out`. Errors: unreadable file, a line without '='.
caf::error load_config_file(const std::string& path, config_layers& out);

// Adds every KASTOR_* variable of `envp` that names a known key.
void load_config_env(char** envp, config_layers& out, const app_spec& app = {});

// Validates everything at once. An unknown key, a bad number or a bad role is
// an error naming the key, the value and where it came from.
caf::expected<node_config> make_config(const config_layers& layers, const app_spec& app = {});

// What a program's command line gives, layered as above: a config file
// (--config), KEY=VALUE settings (--set, repeatable) and dedicated flags
// (key -> value, e.g. --brokers for `brokers`); flags win over --set.
struct config_sources {
  std::string file = {};
  std::vector<std::string> sets = {};
  std::map<std::string, std::string> flags = {};
};

// Defaults < file < KASTOR_* variables of `envp` < --set < flags, then
// `fallback` fills keys none of them set; validated by make_config. Errors:
// an unreadable file, a --set without '=', and make_config's.
caf::expected<node_config> load_config(const config_sources& sources, char** envp,
                                       const app_spec& app = {},
                                       const std::function<void(config_layers&)>& fallback = {});

}  // namespace kastor::runtime
