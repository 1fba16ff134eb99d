#include "kastor/runtime/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>

#include "kastor/runtime/errors.hpp"

namespace kastor::runtime {

bool node_config::has_role(const std::string& r) const {
  return std::find(roles.begin(), roles.end(), r) != roles.end();
}

bool node_config::is_standby(const std::string& r) const {
  return std::find(standby.begin(), standby.end(), r) != standby.end();
}

bool node_config::is_exactly_once(const std::string& role) const {
  return std::find(exactly_once.begin(), exactly_once.end(), role) != exactly_once.end();
}

int64_t node_config::setting_integer(const std::string& key) const {
  return std::stoll(setting(key));  // checked by config_key::integer
}

config_key config_key::integer(std::string name, int64_t default_value, int64_t lo,
                               int64_t hi) {
  config_key k{std::move(name), std::to_string(default_value), {}};
  k.check = [lo, hi](const std::string& v) -> std::optional<std::string> {
    int64_t x = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc{} || p != v.data() + v.size())
      return "not a whole number";
    if (x < lo || x > hi)
      return "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
    return std::nullopt;
  };
  return k;
}

config_key config_key::text(std::string name, std::string default_value) {
  return {std::move(name), std::move(default_value), {}};
}

namespace {

std::string join_roles(const std::vector<std::string>& roles) {
  std::string out;
  for (const auto& r : roles)
    out += (out.empty() ? "" : ",") + r;
  return out;
}

// The app's roles, then `copy`.
std::vector<std::string> known_roles(const app_spec& app) {
  auto out = app.roles;
  if (std::find(out.begin(), out.end(), "copy") == out.end())
    out.push_back("copy");
  return out;
}

std::vector<std::string> default_roles(const app_spec& app) {
  return app.default_roles.empty() ? app.roles : app.default_roles;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> config_defaults(const app_spec& app) {
  static const node_config d;
  std::vector<std::pair<std::string, std::string>> defaults{
    {"node.id", ""},
    {"roles", join_roles(default_roles(app))},
    {"brokers", ""},
    {"http", d.http_address()},
    {"http.threads", std::to_string(d.http_threads)},
    {"http.max-connections", std::to_string(d.http_max_connections)},
    {"http.rate-limit", std::to_string(d.http_rate_limit)},
    {"http.max-connections-per-client", std::to_string(d.http_max_client_connections)},
    {"ops.http", d.ops_address()},
    {"topic.partitions", std::to_string(d.partitions)},
    {"topic.replication", std::to_string(d.replication)},
    {"topics.create", d.create_topics ? "true" : "false"},
    {"group.prefix", d.group_prefix},
    {"data.dir", d.data_dir},
    {"mailbox.high-water", std::to_string(d.mailbox_high_water)},
    {"mailbox.low-water", std::to_string(d.mailbox_low_water)},
    {"supervisor.max-restarts", std::to_string(d.max_restarts)},
    {"supervisor.period-ms", std::to_string(d.restart_period.count())},
    {"supervisor.backoff-min-ms", std::to_string(d.backoff_min.count())},
    {"supervisor.backoff-max-ms", std::to_string(d.backoff_max.count())},
    {"supervisor.backoff-reset-ms", std::to_string(d.backoff_reset.count())},
    {"mailbox.max-attempts", std::to_string(d.max_attempts)},
    {"mailbox.retry-backoff-min-ms", std::to_string(d.retry_backoff_min.count())},
    {"mailbox.retry-backoff-max-ms", std::to_string(d.retry_backoff_max.count())},
    {"mailbox.turn-deadline-ms", std::to_string(d.turn_deadline.count())},
    {"mailbox.handoff-deadline-ms", std::to_string(d.handoff_deadline.count())},
    {"exactly-once", ""},
    {"roles.standby", ""},
    {"mailbox.commit-interval-ms", std::to_string(d.commit_interval.count())},
    {"copy.from", ""},
    {"copy.to", ""},
    {"chaos", ""},
    {"chaos.seed", std::to_string(d.chaos.seed)},
    {"admin.token", d.admin_token},
    {"kafka.linger-ms", std::to_string(d.linger.count())},
    {"kafka.statistics-interval-ms", std::to_string(d.statistics_interval.count())},
    {"kafka.session-timeout-ms", std::to_string(d.session_timeout_ms)},
    {"kafka.static-membership", d.static_membership ? "true" : "false"},
    {"group.leave-on-stop", d.leave_on_stop ? "true" : "false"},
    {"node.stop-timeout-ms", std::to_string(d.stop_timeout.count())},
    {"kafka.fetch-wait-max-ms", std::to_string(d.fetch_wait_max_ms)},
    {"kafka.transaction-timeout-ms", std::to_string(d.transaction_timeout.count())},
    {"kafka.partitioner", d.partitioner},
    {"kafka.compression", d.compression},
    {"log.level", d.log_level},
    {"log.format", d.log_format},
  };
  for (const auto& k : app.keys)
    defaults.emplace_back(k.name, k.default_value);
  return defaults;
}

namespace {

bool known_key(const std::string& key, const app_spec& app) {
  const auto d = config_defaults(app);
  return std::any_of(d.begin(), d.end(), [&](const auto& kv) { return kv.first == key; });
}

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

std::string env_name(const std::string& key) {
  std::string out = "KASTOR_";
  for (char c : key)
    out += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(c));
  return out;
}

caf::error bad(const std::string& key, const std::string& value, const std::string& origin,
               const std::string& why) {
  return make_error(runtime_errc::invalid_config,
                    key + " = '" + value + "' (" + origin + "): " + why);
}

template <class Int>
caf::error parse_int(const config_layers& l, const std::string& key, Int lo, Int hi,
                     Int& out) {
  auto i = l.find(key);
  if (i == l.end())
    return {};
  const auto& [value, origin] = i->second;
  Int v{};
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc{} || p != value.data() + value.size())
    return bad(key, value, origin, "not a whole number");
  if (v < lo || v > hi)
    return bad(key, value, origin,
               "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  out = v;
  return {};
}

caf::error parse_ms(const config_layers& l, const std::string& key, int64_t lo, int64_t hi,
                    std::chrono::milliseconds& out) {
  int64_t v = out.count();
  if (auto err = parse_int<int64_t>(l, key, lo, hi, v))
    return err;
  out = std::chrono::milliseconds{v};
  return {};
}

// A maximum must not be below its minimum.
caf::error not_below(const char* max_key, std::chrono::milliseconds max, const char* min_key,
                     std::chrono::milliseconds min) {
  if (max >= min)
    return {};
  return make_error(runtime_errc::invalid_config,
                    std::string{max_key} + " (" + std::to_string(max.count())
                      + ") must not be below " + min_key + " (" + std::to_string(min.count()) + ")");
}

std::string default_node_id() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0)
    std::snprintf(host, sizeof(host), "node");
  return std::string{host} + "-" + std::to_string(getpid());
}

}  // namespace

caf::error load_config_file(const std::string& path, config_layers& out) {
  std::ifstream in{path};
  if (!in)
    return make_error(runtime_errc::invalid_config, "cannot read config file '" + path + "'");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto hash = line.find('#');
    if (hash != std::string::npos)
      line.erase(hash);
    line = trim(line);
    if (line.empty())
      continue;
    auto eq = line.find('=');
    if (eq == std::string::npos)
      return make_error(runtime_errc::invalid_config,
                        path + ":" + std::to_string(n) + ": expected 'key = value', got '" +
                          line + "'");
    out[trim(line.substr(0, eq))] = {trim(line.substr(eq + 1)),
                                     "file " + path + ":" + std::to_string(n)};
  }
  return {};
}

void load_config_env(char** envp, config_layers& out, const app_spec& app) {
  if (envp == nullptr)
    return;
  auto keys = config_defaults(app);
  keys.emplace_back("admin.enabled", "");  // replaced: make_config says by what
  for (const auto& [key, def] : keys) {
    auto name = env_name(key);
    for (char** e = envp; *e != nullptr; ++e) {
      std::string_view kv{*e};
      if (kv.size() > name.size() && kv.substr(0, name.size()) == name
          && kv[name.size()] == '=')
        out[key] = {std::string{kv.substr(name.size() + 1)}, "env " + name};
    }
  }
}

// A comma-separated list of known roles (duplicates dropped); absent: unchanged.
static caf::error parse_roles(const config_layers& l, const std::string& key,
                              const std::vector<std::string>& known,
                              std::vector<std::string>& out) {
  auto i = l.find(key);
  if (i == l.end())
    return {};
  out.clear();
  const auto& [s, origin] = i->second;
  size_t start = 0;
  while (start <= s.size()) {
    auto comma = s.find(',', start);
    auto r = trim(s.substr(start, comma == std::string::npos ? std::string::npos
                                                              : comma - start));
    if (!r.empty()) {
      if (std::find(known.begin(), known.end(), r) == known.end()) {
        std::string names;
        for (const auto& n : known)
          names += (names.empty() ? "" : ", ") + n;
        return bad(key, s, origin, "unknown role '" + r + "' (known: " + names + ")");
      }
      if (std::find(out.begin(), out.end(), r) == out.end())
        out.push_back(r);
    }
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return {};
}

caf::expected<node_config> make_config(const config_layers& l, const app_spec& app) {
  for (const auto& [key, v] : l) {
    if (key == "admin.enabled")  // before admin.token
      return bad(key, v.first, v.second,
                 "replaced by admin.token: admin routes need Authorization: Bearer <admin.token>");
    if (!known_key(key, app))  // (its value not repeated: it may be a misspelt secret's)
      return bad(key, "***", v.second, "unknown configuration key");
  }
  const auto known = known_roles(app);
  auto is_view = [&app](const std::string& r) {
    return std::find(app.views.begin(), app.views.end(), r) != app.views.end();
  };
  std::string shared;  // "a, b and copy": the roles that may be standby or exactly-once
  for (const auto& r : known)
    if (!is_view(r))
      shared += (shared.empty() ? "" : r == known.back() ? " and " : ", ") + r;
  node_config c;
  auto text = [&](const std::string& key, std::string& out) {
    if (auto i = l.find(key); i != l.end())
      out = i->second.first;
  };
  text("node.id", c.node_id);
  c.node_id_given = !c.node_id.empty();
  if (c.node_id.empty())
    c.node_id = default_node_id();
  if (auto i = l.find("roles"); i != l.end()) {
    if (auto err = parse_roles(l, "roles", known, c.roles))
      return err;
    if (c.roles.empty())
      return bad("roles", i->second.first, i->second.second, "names no role");
  } else {
    c.roles = default_roles(app);
  }
  if (auto err = parse_roles(l, "exactly-once", known, c.exactly_once))
    return err;
  for (const auto& r : c.exactly_once)
    if (is_view(r))
      return bad("exactly-once", l.at("exactly-once").first, l.at("exactly-once").second,
                 "'" + r + "' is a view of every record (it commits nothing): exactly-once is "
                 "for " + shared);
  if (auto err = parse_roles(l, "roles.standby", known, c.standby))
    return err;
  for (const auto& r : c.standby) {
    const auto& [v, origin] = l.at("roles.standby");
    if (is_view(r))
      return bad("roles.standby", v, origin,
                 "'" + r + "' is a per-node view, not a shared role: standby is for " + shared);
    if (c.has_role(r))
      return bad("roles.standby", v, origin, "'" + r + "' is in roles already (this node runs it)");
  }
  text("copy.from", c.copy_from);
  text("copy.to", c.copy_to);
  if (c.has_role("copy") || c.is_standby("copy")) {
    if (c.copy_from.empty() || c.copy_to.empty())
      return make_error(runtime_errc::invalid_config,
                        "the copy role needs copy.from and copy.to (its input and output topics)");
    if (c.copy_from == c.copy_to)
      return bad("copy.to", c.copy_to, l.at("copy.to").second,
                 "must differ from copy.from (a stage copying a topic onto itself never ends)");
  }
  text("brokers", c.brokers);
  // A "host:port" key (http, ops.http).
  auto address = [&](const std::string& key, std::string& host, uint16_t& port) -> caf::error {
    const auto& [v, origin] = l.at(key);
    auto colon = v.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return bad(key, v, origin, "expected HOST:PORT");
    int n = 0;
    config_layers one{{key, {v.substr(colon + 1), origin}}};
    if (auto err = parse_int<int>(one, key, 0, 65535, n))
      return bad(key, v, origin, "port must be a number from 0 to 65535");
    host = v.substr(0, colon);
    port = static_cast<uint16_t>(n);
    return {};
  };
  if (l.count("http"))
    if (auto err = address("http", c.http_host, c.http_port))
      return err;
  if (auto i = l.find("ops.http"); i != l.end()) {
    c.ops_enabled = i->second.first != "off";
    if (c.ops_enabled)
      if (auto err = address("ops.http", c.ops_host, c.ops_port))
        return err;
  }
  if (auto err = parse_int<int>(l, "http.threads", 1, 64, c.http_threads))
    return err;
  if (auto err = parse_int<int>(l, "http.max-connections", 1, 1000000, c.http_max_connections))
    return err;
  if (auto err = parse_int<int>(l, "http.rate-limit", 0, 10000000, c.http_rate_limit))
    return err;
  if (auto err = parse_int<int>(l, "http.max-connections-per-client", 0, 1000000,
                                c.http_max_client_connections))
    return err;
  if (auto err = parse_int<int>(l, "topic.partitions", 1, 1000, c.partitions))
    return err;
  if (auto err = parse_int<int>(l, "topic.replication", 0, 7, c.replication))
    return err;
  text("group.prefix", c.group_prefix);
  if (c.group_prefix.empty())
    return bad("group.prefix", "", l.at("group.prefix").second, "must not be empty");
  text("data.dir", c.data_dir);
  if (c.data_dir.empty())
    return bad("data.dir", "", l.at("data.dir").second, "must not be empty");
  if (auto err = parse_int<int>(l, "mailbox.high-water", 1, 10'000'000, c.mailbox_high_water))
    return err;
  if (auto err = parse_int<int>(l, "mailbox.low-water", 0, 10'000'000, c.mailbox_low_water))
    return err;
  if (c.mailbox_low_water >= c.mailbox_high_water)
    return make_error(runtime_errc::invalid_config,
                      "mailbox.low-water (" + std::to_string(c.mailbox_low_water)
                        + ") must be below mailbox.high-water ("
                        + std::to_string(c.mailbox_high_water) + ")");
  if (auto err = parse_int<int>(l, "supervisor.max-restarts", 0, 1'000'000, c.max_restarts))
    return err;
  if (auto err = parse_ms(l, "supervisor.period-ms", 1, 3'600'000, c.restart_period))
    return err;
  if (auto err = parse_ms(l, "supervisor.backoff-min-ms", 0, 600'000, c.backoff_min))
    return err;
  if (auto err = parse_ms(l, "supervisor.backoff-max-ms", 0, 3'600'000, c.backoff_max))
    return err;
  if (auto err = not_below("supervisor.backoff-max-ms", c.backoff_max, "supervisor.backoff-min-ms",
                           c.backoff_min))
    return err;
  if (auto err = parse_ms(l, "supervisor.backoff-reset-ms", 0, 3'600'000, c.backoff_reset))
    return err;
  if (auto err = parse_int<int>(l, "mailbox.max-attempts", 1, 1000, c.max_attempts))
    return err;
  if (auto err = parse_ms(l, "mailbox.turn-deadline-ms", 0, 3'600'000, c.turn_deadline))
    return err;
  if (auto err = parse_ms(l, "mailbox.handoff-deadline-ms", 0, 600'000, c.handoff_deadline))
    return err;
  if (auto err = parse_ms(l, "mailbox.commit-interval-ms", 1, 60'000, c.commit_interval))
    return err;
  if (auto err = parse_ms(l, "mailbox.retry-backoff-min-ms", 1, 600'000, c.retry_backoff_min))
    return err;
  if (auto err = parse_ms(l, "mailbox.retry-backoff-max-ms", 1, 3'600'000, c.retry_backoff_max))
    return err;
  if (auto err = not_below("mailbox.retry-backoff-max-ms", c.retry_backoff_max,
                           "mailbox.retry-backoff-min-ms", c.retry_backoff_min))
    return err;
  uint64_t seed = c.chaos.seed;
  if (auto err = parse_int<uint64_t>(l, "chaos.seed", 0, UINT64_MAX, seed))
    return err;
  if (auto i = l.find("chaos"); i != l.end()) {
    auto spec = parse_chaos(i->second.first, seed, known, app.chaos_aliases);
    if (!spec) {
      auto why = describe(spec.error());  // without its "runtime.invalid_config: "
      if (auto colon = why.find(": "); colon != std::string::npos)
        why.erase(0, colon + 2);
      return bad("chaos", i->second.first, i->second.second, why);
    }
    c.chaos = *spec;
  }
  c.chaos.seed = seed;
  auto flag = [&](const std::string& key, bool& out) -> caf::error {
    if (auto i = l.find(key); i != l.end()) {
      const auto& [v, origin] = i->second;
      if (v != "true" && v != "false")
        return bad(key, v, origin, "expected true or false");
      out = v == "true";
    }
    return {};
  };
  if (auto i = l.find("admin.token"); i != l.end()) {
    const auto& [v, origin] = i->second;
    // (the value itself is never repeated in an error: it is a secret)
    const bool visible = std::all_of(v.begin(), v.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; });
    if (!v.empty() && (v.size() < 16 || !visible))
      return bad("admin.token", "***", origin,
                 "must be empty (admin routes off) or at least 16 visible ASCII characters");
    c.admin_token = v;
  }
  if (auto err = flag("topics.create", c.create_topics))
    return err;
  if (auto err = flag("kafka.static-membership", c.static_membership))
    return err;
  if (auto err = flag("group.leave-on-stop", c.leave_on_stop))
    return err;
  if (auto err = parse_ms(l, "node.stop-timeout-ms", 1000, 600'000, c.stop_timeout))
    return err;
  if (auto err = parse_ms(l, "kafka.statistics-interval-ms", 0, 3600000, c.statistics_interval))
    return err;
  if (auto err = parse_ms(l, "kafka.linger-ms", 0, 1000, c.linger))
    return err;
  if (auto err = parse_int<int>(l, "kafka.session-timeout-ms", 1000, 300000,
                                c.session_timeout_ms))
    return err;
  if (auto err = parse_int<int>(l, "kafka.fetch-wait-max-ms", 1, 10000, c.fetch_wait_max_ms))
    return err;
  // The broker's transaction.max.timeout.ms is 15 minutes by default.
  if (auto err = parse_ms(l, "kafka.transaction-timeout-ms", 1000, 900'000, c.transaction_timeout))
    return err;
  static const std::vector<std::string> partitioners{
    "murmur2_random", "murmur2", "consistent_random", "consistent", "fnv1a_random", "fnv1a"};
  text("kafka.partitioner", c.partitioner);
  if (std::find(partitioners.begin(), partitioners.end(), c.partitioner) == partitioners.end())
    return bad("kafka.partitioner", c.partitioner, l.at("kafka.partitioner").second,
               "expected murmur2_random (Java's placement), murmur2, consistent_random, "
               "consistent, fnv1a_random or fnv1a");
  static const std::vector<std::string> codecs{"none", "gzip", "snappy", "lz4", "zstd"};
  text("kafka.compression", c.compression);
  if (std::find(codecs.begin(), codecs.end(), c.compression) == codecs.end())
    return bad("kafka.compression", c.compression, l.at("kafka.compression").second,
               "expected none, gzip, snappy, lz4 or zstd");
  text("log.format", c.log_format);
  if (c.log_format != "json" && c.log_format != "text" && c.log_format != "auto")
    return bad("log.format", c.log_format, l.at("log.format").second,
               "expected json, text or auto (json when standard error is not a terminal)");
  text("log.level", c.log_level);
  static const std::vector<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
  if (std::find(levels.begin(), levels.end(), c.log_level) == levels.end())
    return bad("log.level", c.log_level, l.at("log.level").second,
               "expected trace, debug, info, warn, error or off");
  for (const auto& k : app.keys) {
    auto i = l.find(k.name);
    const auto& value = i == l.end() ? k.default_value : i->second.first;
    if (k.check)
      if (auto why = k.check(value))
        return bad(k.name, value, i == l.end() ? "default" : i->second.second, *why);
    c.settings[k.name] = value;
  }
  return c;
}

caf::expected<node_config> load_config(const config_sources& sources, char** envp,
                                       const app_spec& app,
                                       const std::function<void(config_layers&)>& fallback) {
  config_layers layers;
  if (!sources.file.empty())
    if (auto err = load_config_file(sources.file, layers))
      return err;
  load_config_env(envp, layers, app);
  for (const auto& kv : sources.sets) {
    auto eq = kv.find('=');
    if (eq == std::string::npos)
      return make_error(runtime_errc::invalid_config, "--set '" + kv + "': expected KEY=VALUE");
    layers[kv.substr(0, eq)] = {kv.substr(eq + 1), "flag --set"};
  }
  for (const auto& [key, value] : sources.flags)
    layers[key] = {value, "flag"};
  if (fallback)
    fallback(layers);
  return make_config(layers, app);
}

}  // namespace kastor::runtime
