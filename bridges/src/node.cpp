#include "kastor/bridges/node.hpp"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>

#include <caf/all.hpp>

#include "kastor/bridges/changelog.hpp"
#include "kastor/bridges/codec.hpp"
#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/kafka_statistics.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/bridges/remote.hpp"
#include "kastor/bridges/responder.hpp"
#include "kastor/bridges/role.hpp"
#include "node_metrics.hpp"
#include "kastor/runtime/ask.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/http.hpp"
#include "kastor/runtime/json_text.hpp"
#include "kastor/runtime/logging.hpp"
#include "kastor/runtime/supervisor.hpp"
#include "kastor/runtime/shutdown.hpp"

namespace kastor::bridges {

namespace {

std::string random_suffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[9];
  std::snprintf(buf, sizeof(buf), "%08x", static_cast<unsigned>(rng()));
  return buf;
}

// The current incarnation of a role's actor (replaced on every restart).
class actor_slot {
public:
  void set(caf::actor a) {
    std::lock_guard<std::mutex> guard{mtx_};
    actor_ = std::move(a);
  }
  caf::actor get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return actor_;
  }

private:
  mutable std::mutex mtx_;
  caf::actor actor_;
};

}  // namespace

struct actor_node::impl {
  runtime::node_config cfg;
  std::shared_ptr<spdlog::logger> log = runtime::logger("kastor.node");
  std::unique_ptr<caf::actor_system_config> sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<kafka_publisher> producer;
  std::vector<std::shared_ptr<kafka_publisher>> stage_producers;  // raw stages', at-least-once
  std::vector<std::pair<std::string, std::shared_ptr<mailbox_slot>>> mailboxes;
  std::map<std::string, std::shared_ptr<actor_slot>> actors;
  std::vector<std::shared_ptr<request_responder>> responders;  // keyed roles'
  std::vector<runtime::child_spec> role_supervisors;
  std::shared_ptr<runtime::supervision_log> supervision = std::make_shared<runtime::supervision_log>();
  std::map<std::string, std::shared_ptr<runtime::chaos_injector>> chaos;
  caf::actor root;
  std::atomic<bool> root_failed{false};
  // Set once every role was added (start()): the roles' tables are read by
  // the ops listener's threads only from then on.
  std::atomic<bool> started{false};
  bool stopped = false;
  // Standby roles (roles.standby) and the thread that starts and stops them.
  struct standby_role {
    std::string role;
    std::shared_ptr<std::atomic<bool>> active;
    int empty_rounds = 0;  // checks in a row that found no other node in the group
  };
  std::vector<standby_role> standbys;
  std::thread standby_watch;
  std::atomic<bool> watch_stop{false};
  // Each role's consumer group and kind, for /api/status.
  std::map<std::string, std::pair<std::string, std::string>> role_groups;
  // The ops routes' backend and listener (ops.http).
  std::shared_ptr<runtime::ops_backend> ops;
  std::unique_ptr<runtime::http_server> ops_server;
  std::shared_ptr<runtime::metric_registry> metrics =
    std::make_shared<runtime::metric_registry>(true);
  std::map<std::string, std::shared_ptr<const runtime::turn_meters>> turns;  // by role
  std::atomic<bool> stopping{false};

  // The options of a producer of this node; a raw stage's output all goes
  // to copy.to.
  producer_options producer_for(const std::string& name, bool raw) const {
    producer_options po;
    po.brokers = cfg.brokers;
    po.client_id = cfg.node_id + (name.empty() ? "" : "-" + name);
    po.linger = cfg.linger;
    po.partitioner = cfg.partitioner;
    po.compression = cfg.compression;
    if (cfg.statistics_interval.count() > 0)
      po.extra.emplace_back("statistics.interval.ms", std::to_string(cfg.statistics_interval.count()));
    if (raw)
      po.topic = cfg.copy_to;
    return po;
  }

  runtime::supervisor_spec supervisor_for(std::string path) const {
    runtime::supervisor_spec spec;
    spec.path = std::move(path);
    spec.max_restarts = cfg.max_restarts;
    spec.period = cfg.restart_period;
    spec.log = supervision;
    spec.backoff = {cfg.backoff_min, cfg.backoff_max, 0.2, cfg.backoff_reset};
    return spec;
  }

  mailbox_options mailbox_for(const runtime::role_spec& spec) const {
    const auto& role = spec.name;
    const bool broadcast = spec.kind == runtime::role_kind::view;
    mailbox_options o;
    o.brokers = cfg.brokers;
    if (spec.raw) {
      o.topics = {cfg.copy_from};
      o.raw = true;  // passed on byte for byte
    } else {
      o.topics = spec.topics();
      for (const auto* t : spec.takes)
        o.accepts.push_back(t->name);
    }
    o.commit = !broadcast;
    o.group_id = cfg.group_prefix + "." + role;
    if (broadcast)  // every node reads everything, afresh on every start
      o.group_id += "." + cfg.node_id + "." + random_suffix();
    o.client_id = role_client_id(cfg.node_id, role, cfg.is_standby(role));
    if (cfg.is_standby(role))
      o.standby = std::make_shared<std::atomic<bool>>(false);
    o.high_water = static_cast<size_t>(cfg.mailbox_high_water);
    o.low_water = static_cast<size_t>(cfg.mailbox_low_water);
    o.session_timeout_ms = cfg.session_timeout_ms;
    // A view's group is this start's own: nothing to come back to.
    if (cfg.is_static_member() && !broadcast) {
      o.group_instance_id = cfg.node_id;
      o.leave_on_stop = cfg.leave_on_stop;
    }
    o.fetch_wait_max_ms = cfg.fetch_wait_max_ms;
    if (cfg.statistics_interval.count() > 0)
      o.extra.emplace_back("statistics.interval.ms", std::to_string(cfg.statistics_interval.count()));
    o.max_attempts = cfg.max_attempts;
    o.retry_backoff_min = cfg.retry_backoff_min;
    o.retry_backoff_max = cfg.retry_backoff_max;
    o.turn_deadline = cfg.turn_deadline;
    o.handoff_deadline = cfg.handoff_deadline;
    o.supervisor_path = "root/" + role;
    o.node_id = cfg.node_id;
    o.last_exit_reason = [log = supervision, path = "root/" + role + "/worker"] {
      return log->last_exit_reason(path);
    };
    // A broadcast view is read afresh by every node on every start: dead
    // letters from it would be written again and again, so it only logs.
    o.dead_letters = broadcast ? nullptr : producer;
    if (cfg.is_exactly_once(role)) {
      o.exactly_once = true;
      o.commit_interval = cfg.commit_interval;
      o.transactional = producer_for(role + "-txn", spec.raw);
      o.transactional.transaction_timeout = cfg.transaction_timeout;
    }
    return o;
  }

  // An entity's keys live with their partitions: records a foreign producer
  // put elsewhere are sent on, its changelog is restored on every
  // assignment, and its owner answers requests for a key.
  caf::error keyed(const runtime::role_spec& spec, mailbox_options& o) {
    const auto& role = spec.name;
    if (o.topics.empty())
      return runtime::make_error(runtime::runtime_errc::invalid_config,
                                 "entity role '" + role + "' consumes nothing");
    o.forward_topic = forward_topic_of(o.group_id);
    o.topics.push_back(o.forward_topic);
    o.partitioner = cfg.partitioner;
    request_responder::options ro;
    ro.brokers = cfg.brokers;
    ro.topic = request_topic(o.group_id);
    ro.group_id = o.group_id;
    ro.node_id = cfg.node_id;
    ro.replies = producer;
    ro.fetch_wait_max_ms = cfg.fetch_wait_max_ms;
    ro.on_request = [sys = sys.get(), slot = actors[role]](const inbound_request& req,
                                                           reply_fn reply) {
      if (req.kind != "get") {
        reply("error", "unknown request '" + req.kind + "' (known: get)");
        return;
      }
      // Only what the owner knows first-hand.
      runtime::ask<runtime::message>(
        *sys, slot->get(), std::chrono::seconds{5},
        [reply](std::optional<runtime::message> r) {
          if (!r)
            reply("error", "the role's actor did not answer (restarting?)");
          else if (!*r)
            reply("not_found", "");
          else
            reply("ok", encode_value(*r));
        },
        runtime::lookup_atom::value, req.key);
    };
    auto responder = request_responder::make(std::move(ro));
    if (!responder)
      return responder.error();
    responders.push_back(*responder);
    // Keys first (restored before any record of theirs is taken), then
    // their requests.
    // (a restore may wait for a transaction a killed owner of another
    // partition set left open: its coordinator aborts it within its timeout
    // and the broker's abort check, 10 s by default. At most 60 s a try, so
    // that three stay well inside max.poll.interval.ms.)
    auto changelog = std::make_shared<entity_changelog>(
      spec.store, cfg.brokers, spec.changelog->topic, cfg.node_id, producer,
      std::clamp<std::chrono::milliseconds>(cfg.transaction_timeout + std::chrono::seconds{20},
                                            std::chrono::seconds{30}, std::chrono::seconds{60}));
    o.on_assign = [changelog, r = *responder](const void* mb, const std::vector<int32_t>& parts) {
      if (!changelog->assigned(mb, parts))
        return false;
      r->follow(mb, parts);
      return true;
    };
    o.on_revoke = [changelog, r = *responder](const void* mb, const std::vector<int32_t>& parts,
                                              bool lost) {
      r->drop(mb);
      changelog->revoked(mb, parts, lost);
    };
    return {};
  }

  caf::error add(runtime::role_spec spec) {
    const auto& role = spec.name;
    if (started)
      return runtime::make_error(runtime::runtime_errc::invalid_config,
                                 "role '" + role + "' added after the node started");
    if (actors.count(role))
      return runtime::make_error(runtime::runtime_errc::invalid_config,
                                 "role '" + role + "' added twice");
    if (spec.takes.empty() && !spec.raw)
      return runtime::make_error(runtime::runtime_errc::invalid_config,
                                 "role '" + role + "' consumes nothing");
    if (spec.kind == runtime::role_kind::entity) {  // before any topic is made for it
      if (spec.changelog == nullptr || !spec.store)
        return runtime::make_error(runtime::runtime_errc::invalid_config,
                                   "entity role '" + role + "' has no changelog type");
      if (!spec.changelog->compacted || !spec.changelog->follows_cause)
        return runtime::make_error(
          runtime::runtime_errc::invalid_config,
          "entity role '" + role + "': its snapshot type '" + spec.changelog->name
            + "' must be declared with compacted = true and follows_cause = true (its topic '"
            + spec.changelog->topic + "' is where the role's keys are restored from)");
    }
    std::vector<topic_spec> created;
    if (auto err = ensure_role_topics(spec, cfg, &created))
      return err;
    for (const auto& t : created)
      log->info("node={} event=topic_created role={} topic={} partitions={} replication={}{}",
                cfg.node_id, role, t.name, t.partitions,
                t.replication > 0 ? std::to_string(t.replication) : "auto",
                t.compacted ? " compacted" : "");
    auto slot = std::make_shared<actor_slot>();
    actors[role] = slot;
    auto mailboxes_slot = std::make_shared<mailbox_slot>();
    auto opts = mailbox_for(spec);
    if (spec.kind == runtime::role_kind::entity)
      if (auto err = keyed(spec, opts))
        return err;
    opts.failures = mailboxes_slot->failures();
    auto mb = kafka_mailbox::make(opts);
    if (!mb)
      return mb.error();
    mailboxes.emplace_back(role, mailboxes_slot);
    role_groups[role] = {opts.group_id,
                         spec.kind == runtime::role_kind::entity ? "entity"
                         : spec.kind == runtime::role_kind::view ? "view"
                                                                  : "service"};
    if (opts.standby)
      standbys.push_back({role, opts.standby, 0});
    runtime::role_io io{producer, nullptr, &runtime::wall_clock_ms, spec.latency, nullptr,
                        spec.max_concurrent, producer, turn_meters_of(spec), spec.name};
    if (spec.raw && !opts.exactly_once) {
      auto made = kafka_publisher::make(producer_for(role, true));
      if (!made)
        return made.error();
      stage_producers.push_back(*made);
      io.out = *made;
    }
    if (cfg.chaos.rate(role, runtime::chaos_fault::crash) > 0
        || cfg.chaos.rate(role, runtime::chaos_fault::crash_after) > 0
        || cfg.chaos.rate(role, runtime::chaos_fault::hang) > 0) {
      io.chaos = std::make_shared<runtime::chaos_injector>(cfg.chaos, role);
      chaos[role] = io.chaos;
    }
    auto worker = mailbox_worker_child("worker",
                                       [spec](caf::actor_system& sys, runtime::role_io io) {
                                         return spec.spawn(sys, std::move(io));
                                       },
                                       io, mailboxes_slot,
                                       [slot](const caf::actor& a) { slot->set(a); });
    auto sup = supervisor_for("root/" + role);
    sup.strat = runtime::strategy::rest_for_one;
    sup.children = {mailbox_bridge_child(*mb, mailboxes_slot), worker};
    role_supervisors.push_back(runtime::supervisor_child(sup, std::chrono::seconds{8}));
    return {};
  }

  std::shared_ptr<const runtime::turn_meters> turn_meters_of(const runtime::role_spec& spec) {
    auto family = metrics->histogram("kastor_turn_duration_seconds",
                                     "How long a role's actor took to handle a record (its "
                                     "handler, until its outputs were handed to the producer), "
                                     "by role and message type.",
                                     {"role", "type"});
    auto m = std::make_shared<runtime::turn_meters>();
    for (const auto* t : spec.takes)
      m->by_type.emplace_back(t, family.with({spec.name, t->name}));
    m->other = family.with({spec.name, spec.raw ? "raw" : "other"});
    turns[spec.name] = m;
    return m;
  }

  // Every second: a standby role whose group has no member of another node
  // (five times in a row; a check that fails counts for nothing) is started
  // here; one started here is stopped as soon as a node that runs it (not a
  // standby) is in the group again.
  // Its client, tried again (1 s doubling to 30 s) until it can be made:
  // meanwhile the node is not ready, since its standby roles cannot start.
  rk_ptr standby_client() {
    auto backoff = std::chrono::milliseconds{1000};
    for (int tries = 1; !watch_stop.load(); ++tries) {
      std::string why;
      auto conf = make_conf({{"bootstrap.servers", cfg.brokers},
                             {"client.id", cfg.node_id + "-standby-watch"},
                             {"log_level", "2"}});
      if (conf) {
        char errstr[512];
        rk_ptr rk{rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), errstr, sizeof(errstr))};
        if (rk) {
          if (tries > 1) {
            log->warn("node={} event=standby_watch_on tries={}", cfg.node_id, tries);
            set_ready("standby watch");
          }
          return rk;
        }
        why = errstr;
      } else {
        why = runtime::describe(conf.error());
      }
      if (tries == 1)
        log->error("node={} event=standby_watch_off error={}: standby roles cannot start; "
                   "retrying until it works", cfg.node_id, why);
      set_unready("standby watch", why + " (retrying)");
      for (auto until = std::chrono::steady_clock::now() + backoff;
           !watch_stop.load() && std::chrono::steady_clock::now() < until;)
        std::this_thread::sleep_for(std::chrono::milliseconds{50});
      backoff = std::min(backoff * 2, std::chrono::milliseconds{30000});
    }
    return nullptr;
  }

  void watch_standbys() {
    auto rk = standby_client();
    while (rk && !watch_stop.load()) {
      for (auto& s : standbys) {
        auto desc = describe_group(rk.get(), cfg.group_prefix + "." + s.role,
                                   std::chrono::seconds{5});
        if (!desc)
          continue;  // unknown: nothing changes
        bool other = false, dedicated = false;
        std::string who_runs;
        for (const auto& m : desc->members) {
          auto who = parse_role_client_id(m.client_id, s.role);
          if (who.node == cfg.node_id)
            continue;
          other = true;
          if (!who.standby) {
            dedicated = true;
            who_runs = who.node;
          }
        }
        if (!s.active->load()) {
          // Five checks in a row (5 s): a group briefly empty (its node's
          // bridge restarting, its coordinator moving) is not a dead role.
          s.empty_rounds = other ? 0 : s.empty_rounds + 1;
          if (s.empty_rounds >= 5) {
            log->warn("node={} event=standby_started role={}: no node runs it", cfg.node_id,
                      s.role);
            s.active->store(true);
          }
        } else if (dedicated) {
          log->warn("node={} event=standby_stopped role={}: node {} runs it again", cfg.node_id,
                    s.role, who_runs);
          s.active->store(false);
          s.empty_rounds = 0;
        }
      }
      for (int i = 0; i < 10 && !watch_stop.load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
  }

  // Features down (actor_node::set_unready): feature -> reason.
  mutable std::mutex unready_mtx;
  std::map<std::string, std::string> unready;

  std::vector<std::string> not_ready() const {
    std::vector<std::string> out;
    if (stopping.load())
      out.push_back("node stopping");
    if (root_failed.load())
      out.push_back("the root supervisor gave up (the node is exiting)");
    if (!started) {
      out.push_back("node starting: its roles are being added");
      return out;
    }
    for (const auto& r : cfg.roles)
      if (!actors.count(r))
        out.push_back("role " + r + ": configured (roles) but the application added no such "
                      "role");
    for (const auto& [role, slot] : mailboxes) {
      auto mb = slot->get();
      if (!mb) {
        out.push_back("role " + role + ": its mailbox is (re)starting");
        continue;
      }
      auto s = mb->stats();
      if (!s.joined && !s.standing_by)
        out.push_back("role " + role + ": not in its consumer group yet");
      if (s.dead_letters_failing > 0)
        out.push_back("role " + role + ": its dead letters cannot be written ("
                      + std::to_string(s.dead_letters_failing)
                      + " failed in a row, retrying; see event=dead_letter_failed)");
    }
    std::lock_guard<std::mutex> guard{unready_mtx};
    for (const auto& [feature, reason] : unready)
      out.push_back(feature + ": " + reason);
    return out;
  }

  void set_unready(const std::string& feature, const std::string& reason) {
    std::lock_guard<std::mutex> guard{unready_mtx};
    unready[feature] = reason;
  }

  void set_ready(const std::string& feature) {
    std::lock_guard<std::mutex> guard{unready_mtx};
    unready.erase(feature);
  }
};

std::vector<topic_spec> role_topics(const runtime::role_spec& role,
                                    const runtime::node_config& cfg) {
  std::vector<topic_spec> out;
  auto add = [&](const std::string& name, bool compacted = false) {
    if (name.empty())
      return;
    for (const auto& t : out)
      if (t.name == name)
        return;
    out.push_back({name, cfg.partitions, cfg.replication, compacted});
  };
  const bool view = role.kind == runtime::role_kind::view;
  const auto inputs = role.raw ? std::vector<std::string>{cfg.copy_from} : role.topics();
  for (const auto& t : inputs) {
    add(t);
    if (!view)
      add(t + ".dlq");
  }
  if (role.raw)
    add(cfg.copy_to);
  for (const auto* t : role.produces)
    add(t->topic, t->compacted);
  if (role.kind == runtime::role_kind::entity && role.changelog != nullptr) {
    add(role.changelog->topic, true);
    add(role.changelog->topic + ".dlq");
    add(request_topic(cfg.group_prefix + "." + role.name));
    add(forward_topic_of(cfg.group_prefix + "." + role.name));
  }
  return out;
}

caf::error ensure_role_topics(const runtime::role_spec& role, const runtime::node_config& cfg,
                              std::vector<topic_spec>* created) {
  auto wanted = role_topics(role, cfg);
  auto view = describe_cluster(cfg.brokers, std::chrono::seconds{10});
  if (!view)
    return runtime::make_error(runtime::runtime_errc::invalid_config,
                               "the " + role.name + " role's topics cannot be checked: "
                                 + runtime::describe(view.error()));
  // A keyed role's topics are co-partitioned with its first input (as it
  // is, or as it is about to be made): its other inputs, its changelog (the
  // snapshots of partition p are restored by p's owner), its requests and
  // repartition topics, and so its outputs and dead-letter topics too.
  if (role.kind == runtime::role_kind::entity && !role.takes.empty()) {
    const auto& input = role.takes.front()->topic;
    const int n = view->topics.count(input) ? view->topics.at(input) : cfg.partitions;
    for (auto& t : wanted)
      t.partitions = n;
  }
  std::vector<topic_spec> missing;
  std::string names;
  for (const auto& t : wanted)
    if (!view->topics.count(t.name)) {
      missing.push_back(t);
      names += (names.empty() ? "" : ", ") + t.name;
    }
  if (missing.empty())
    return {};
  if (!cfg.create_topics)
    return runtime::make_error(runtime::runtime_errc::invalid_config,
                               "the " + role.name + " role's topics " + names
                                 + " do not exist (topics.create = false: create them, e.g. as "
                                   "KafkaTopic resources, or let the node: topics.create = true)");
  if (auto err = ensure_topics(cfg.brokers, missing, std::chrono::seconds{30}))
    return runtime::make_error(runtime::runtime_errc::invalid_config,
                               "the " + role.name + " role's topics " + names
                                 + " cannot be created: " + runtime::describe(err));
  if (created)
    *created = std::move(missing);
  return {};
}

actor_node::actor_node(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

namespace {

// The ops routes' answers, from the node's own state (never by asking actors).
// It may outlive the node (a listener of the application's own holds it):
// the node detaches it when it goes, and from then on it answers "stopped".
class node_ops final : public runtime::ops_backend {
public:
  explicit node_ops(actor_node::impl* node) : n_(node) {}

  void detach() {
    std::unique_lock<std::shared_mutex> guard{mtx_};
    n_ = nullptr;
  }

  std::vector<std::string> not_ready() const override {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    return n_ ? n_->not_ready() : std::vector<std::string>{"node stopped"};
  }

  std::optional<std::string> supervision_json() const override {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    return n_ ? std::optional{n_->supervision->tree_json()} : std::nullopt;
  }

  std::string admin_token() const override {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    return n_ ? n_->cfg.admin_token : std::string{};
  }

  std::optional<std::string> status_json() const override {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    if (!n_)
      return std::nullopt;
    namespace json = boost::json;
    const auto& c = n_->cfg;
    json::object out;
    out["node"] = c.node_id;
    auto why = n_->not_ready();
    out["ready"] = why.empty();
    json::array reasons;
    for (auto& r : why)
      reasons.emplace_back(r);
    out["reasons"] = std::move(reasons);
    json::array roles;
    for (const auto& [role, slot] : n_->started ? n_->mailboxes : decltype(n_->mailboxes){}) {
      const auto s = slot->stats();
      json::object r;
      r["role"] = role;
      if (auto g = n_->role_groups.find(role); g != n_->role_groups.end()) {
        r["kind"] = g->second.second;
        r["group"] = g->second.first;
      }
      r["standby"] = c.is_standby(role);
      r["exactlyOnce"] = c.is_exactly_once(role);
      r["joined"] = s.joined;
      r["standingBy"] = s.standing_by;
      r["assignedPartitions"] = s.assigned_partitions;
      r["inFlight"] = s.in_flight;
      r["maxInFlight"] = s.max_in_flight;
      r["paused"] = s.paused;
      r["received"] = s.received;
      r["finished"] = s.finished;
      r["redelivered"] = s.redelivered;
      r["deadLettered"] = s.dead_lettered;
      r["deadLettersFailing"] = s.dead_letters_failing;
      r["forwarded"] = s.forwarded;
      r["pauses"] = s.pauses;
      r["handoffs"] = s.handoffs;
      r["lostAssignments"] = s.lost_assignments;
      r["longestHandoffMs"] = s.longest_handoff_ms;
      r["transactions"] = s.transactions;
      r["aborts"] = s.aborts;
      r["stalls"] = s.stalls;
      json::object reasons_by;
      for (const auto& [why, n] : s.dead_letter_reasons)
        reasons_by[why] = n;
      r["deadLetterReasons"] = std::move(reasons_by);
      json::array parts;
      if (auto mb = slot->get())
        for (const auto& p : mb->partitions()) {
          json::object o;
          o["topic"] = p.topic;
          o["partition"] = p.partition;
          o["inFlight"] = p.in_flight;
          o["quarantined"] = p.quarantined;
          // -1: not known yet (nothing committed, or nothing fetched)
          o["committed"] = p.committed;
          o["position"] = p.position;
          o["highWatermark"] = p.high_watermark;
          o["lag"] = p.lag();
          parts.emplace_back(std::move(o));
        }
      r["partitions"] = std::move(parts);
      roles.emplace_back(std::move(r));
    }
    out["roles"] = std::move(roles);
    return runtime::to_json_text(out);
  }

  std::optional<std::string> metrics_text() const override {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    if (!n_)
      return std::nullopt;
    std::vector<role_reading> roles;
    if (n_->started)
      for (const auto& [role, slot] : n_->mailboxes) {
        role_reading r{role, {}, slot->stats(), {}};
        if (auto g = n_->role_groups.find(role); g != n_->role_groups.end())
          r.group = g->second.first;
        if (auto mb = slot->get())
          r.partitions = mb->partitions();
        roles.push_back(std::move(r));
      }
    const auto every = n_->cfg.statistics_interval;
    return scrape_text(n_->not_ready().empty(), roles,
                       every.count() > 0 ? recent_statistics(3 * every) : std::vector<client_statistics>{},
                       {n_->metrics.get(), &runtime::application_metrics()});
  }

  crash_outcome crash(const std::string& path) override {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    if (!n_)
      return crash_outcome::not_found;
    const auto& c = n_->cfg;
    auto target = n_->supervision->find(path);
    if (!target)
      return crash_outcome::not_found;
    if (path == "root")  // the node's top: its crash would end the node
      return crash_outcome::refused;
    n_->log->warn("node={} event=crash_requested path={}", c.node_id, path);
    runtime::crash_actor(target, runtime::make_error(runtime::runtime_errc::crashed,
                                                    "crash of " + path
                                                      + " requested through the admin API"));
    return crash_outcome::sent;
  }

private:
  mutable std::shared_mutex mtx_;
  actor_node::impl* n_;  // null once the node is gone
};

}  // namespace

actor_node::~actor_node() {
  stop();
  // Whatever stop() got to: no ops answer reads the node from here on.
  if (impl_->ops_server)
    impl_->ops_server->stop();
  if (auto ops = std::dynamic_pointer_cast<node_ops>(impl_->ops))
    ops->detach();
}

caf::expected<std::unique_ptr<actor_node>> actor_node::make(
  runtime::node_config cfg, const std::function<void(caf::actor_system_config&)>& configure) {
  runtime::set_log_level(cfg.log_level);
  try {
    runtime::set_log_format(cfg.log_format);
  } catch (const std::invalid_argument& e) {  // (make_config checks it; a hand-made config may not)
    return runtime::make_error(runtime::runtime_errc::invalid_config, e.what());
  }
  runtime::set_log_node(cfg.node_id);
  if (cfg.brokers.empty())
    return runtime::make_error(runtime::runtime_errc::invalid_config,
                               "brokers: no bootstrap servers given (--brokers HOST:PORT)");
  auto p = std::make_unique<impl>();
  p->cfg = std::move(cfg);
  std::error_code ec;
  std::filesystem::create_directories(p->cfg.data_dir, ec);
  if (ec)
    return runtime::make_error(runtime::runtime_errc::invalid_config,
                               "data.dir '" + p->cfg.data_dir + "': " + ec.message());
  p->sys_cfg = std::make_unique<caf::actor_system_config>();
  runtime::register_message_types(*p->sys_cfg);
  if (configure)
    configure(*p->sys_cfg);
  p->sys_cfg->set("logger.verbosity", caf::atom("quiet"));
  // Work sharing: idle workers wait on a condition variable. CAF 0.17's
  // default work stealing polls (50 us sleeps), which on a small machine
  // running several nodes and brokers cost more CPU than the work itself.
  p->sys_cfg->set("scheduler.policy", caf::atom("sharing"));
  p->sys = std::make_unique<caf::actor_system>(*p->sys_cfg);
  auto producer = kafka_publisher::make(p->producer_for("", false));
  if (!producer)
    return producer.error();
  p->producer = *producer;
  p->supervision->count_into(*p->metrics);
  p->ops = std::make_shared<node_ops>(p.get());
  if (p->cfg.ops_enabled) {
    runtime::http_options o;
    o.metrics = p->metrics;
    o.address = p->cfg.ops_host;
    o.port = p->cfg.ops_port;
    o.threads = 1;
    o.max_connections = 64;
    o.max_client_connections = 32;
    o.logger = "kastor.ops";
    p->ops_server = std::make_unique<runtime::http_server>(o, runtime::ops_routes(p->ops));
    if (auto started = p->ops_server->start(); !started)
      return runtime::make_error(runtime::runtime_errc::invalid_config,
                                 "ops.http " + runtime::describe(started.error())
                                   + " (another node on this host? give each its own port, or "
                                     "ops.http=off)");
    p->log->info("node={} event=ops_listening ops.http={}", p->cfg.node_id,
                 runtime::endpoint_text(o.address, p->ops_server->port()));
  }
  return std::unique_ptr<actor_node>{new actor_node{std::move(p)}};
}

bool actor_node::runs(const std::string& role) const {
  const auto& c = impl_->cfg;
  return c.roles.empty() || c.has_role(role) || c.is_standby(role);
}

caf::error actor_node::not_run(const std::string& role) {
  std::string roles;
  for (const auto& r : impl_->cfg.roles)
    roles += (roles.empty() ? "" : ",") + r;
  impl_->log->info("node={} event=role_not_run role={} roles={}: declared, not run by this node",
                   impl_->cfg.node_id, role, roles);
  return {};
}

caf::error actor_node::add_spec(runtime::role_spec spec) {
  return impl_->add(std::move(spec));
}

void actor_node::start() {
  auto& p = *impl_;
  if (p.started)
    return;
  p.started = true;
  const auto& c = p.cfg;
  if (auto why = compression_not_portable(c.compression))
    p.log->warn("node={} event=compression_not_portable kafka.compression={}: {}; foreign "
                "clients of this node's topics need those codecs (none and gzip need nothing)",
                c.node_id, c.compression, *why);
  if (c.max_restarts < c.max_attempts)
    p.log->warn("node={} supervisor.max-restarts={} is below mailbox.max-attempts={}: one poison "
                "record can make a role give up before it reaches the dead-letter topic",
                c.node_id, c.max_restarts, c.max_attempts);
  auto root = p.supervisor_for("root");
  root.children = p.role_supervisors;
  p.root = runtime::spawn_supervisor(*p.sys, root);
  if (!p.standbys.empty())
    p.standby_watch = std::thread{[raw = impl_.get()] { raw->watch_standbys(); }};
}

int actor_node::run(const std::atomic<bool>& stop_requested) {
  auto& p = *impl_;
  caf::scoped_actor self{*p.sys};
  self->monitor(p.root);
  int rc = 0;
  bool done = false;
  while (!done) {
    self->receive(
      [&](caf::down_msg& dm) {
        // Not ready from now on; an orchestrator restarts the process.
        p.root_failed = true;
        p.log->error("node={} event=root_supervisor_exited reason={}: not ready, exiting "
                     "non-zero so that the node is restarted",
                     p.cfg.node_id, runtime::describe(dm.reason));
        rc = 1;
        done = true;
      },
      caf::after(std::chrono::milliseconds{100}) >> [&] {
        if (p.producer->fatal()) {
          p.log->error("node={} event=producer_fatal: exiting so that it is restarted",
                       p.cfg.node_id);
          rc = 1;
          done = true;
          return;
        }
        done = stop_requested.load();
      });
  }
  if (p.root_failed.load()) {
    // Stay up a moment answering not ready, so that probes and load
    // balancers see the node go unready before it disappears.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds{1};
    while (!stop_requested.load() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return rc;
}

void actor_node::stop() {
  stop(std::chrono::steady_clock::now());
}

void actor_node::stop(std::chrono::steady_clock::time_point began) {
  auto& p = *impl_;
  if (p.stopped)
    return;
  p.stopped = true;
  p.stopping = true;  // not ready from now on (the ops listener says so)
  // Whatever the brokers do, the node is gone within stop_timeout: each step
  // below has a share of it, and past it the process ends (no step may hang
  // the stop for good: librdkafka's close and flush wait for brokers that may
  // never answer).
  using clock = std::chrono::steady_clock;
  const auto budget = p.cfg.stop_timeout;
  auto until = [&](double share) -> clock::time_point {
    return began + std::chrono::duration_cast<clock::duration>(budget * share);
  };
  auto left_until = [](clock::time_point t) {
    return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(t - clock::now()),
                    std::chrono::milliseconds{1});
  };
  auto step = std::make_shared<std::pair<std::mutex, std::string>>();
  auto at = [&step](std::string what) {
    std::lock_guard<std::mutex> guard{step->first};
    step->second = std::move(what);
  };
  runtime::stop_deadline deadline{left_until(began + budget), [step] {
    std::lock_guard<std::mutex> guard{step->first};
    return "still " + step->second;
  }};
  // 1. No standby changes, no more answers to other nodes' requests.
  at("stopping the standby watch and the request responders");
  p.watch_stop = true;
  if (p.standby_watch.joinable())
    p.standby_watch.join();
  for (auto& r : p.responders)
    r->stop();
  // 2. Mailboxes take no new records and wait for those in flight (the actors
  //    and the producer are still running), then commit and leave the groups.
  std::vector<std::pair<std::string, std::shared_ptr<kafka_mailbox>>> current;
  for (auto& [role, slot] : p.mailboxes)
    if (auto mb = slot->get())
      current.emplace_back(role, mb);
  for (auto& [role, mb] : current)
    mb->begin_drain();  // all at once, so they drain in parallel
  const auto drained = std::min<clock::time_point>(until(0.25),
                                                   clock::now() + std::chrono::seconds{10});
  const auto closed = until(0.5);
  size_t uncommitted = 0;
  std::vector<std::string> not_left;
  for (auto i = current.rbegin(); i != current.rend(); ++i) {
    at("draining and committing role " + i->first);
    auto drain = std::min(left_until(drained), left_until(closed));
    bool ok = i->second->stop(drain, left_until(closed));
    auto s = i->second->stats();
    uncommitted += s.unfinished_at_stop;
    if (!ok)
      not_left.push_back(i->first);
  }
  // 3. The supervision tree, children in reverse start order; awaited.
  if (p.root) {
    at("stopping the supervision tree");
    caf::scoped_actor self{*p.sys};
    self->monitor(p.root);
    self->send_exit(p.root, caf::exit_reason::user_shutdown);
    self->receive([](caf::down_msg&) {},
                  caf::after(left_until(until(0.7))) >> [&] {
                    p.log->warn("node={} event=shutdown_timeout: supervision tree still running",
                                p.cfg.node_id);
                  });
  }
  at("waiting for the roles' bridges to retire their mailboxes");
  for (auto& [role, slot] : p.mailboxes)
    slot->join();  // mailboxes retired by their bridges
  // 4. Flush what is left, with a deadline, and report it.
  at("flushing the producers");
  for (auto& sp : p.stage_producers)
    sp->stop(left_until(until(0.8)));
  size_t undelivered = 0;
  if (p.producer)
    undelivered = p.producer->stop(left_until(until(0.9)));
  std::string groups;
  for (const auto& r : not_left)
    groups += (groups.empty() ? "" : ",") + r;
  if (uncommitted == 0 && undelivered == 0 && not_left.empty())
    p.log->info("node stopped node={} producer_undelivered=0 uncommitted=0", p.cfg.node_id);
  else
    p.log->warn("node stopped node={} producer_undelivered={} uncommitted={} groups_not_left={}: "
                "records taken but not committed are delivered again to the next owner; "
                "outputs not delivered were not acknowledged (their inputs are not committed)",
                p.cfg.node_id, undelivered, uncommitted, groups.empty() ? "-" : groups);
  at("stopping the ops listener");
  if (p.ops_server)
    p.ops_server->stop();
  at("stopping the actor system");
  p.root = nullptr;
  for (auto& [role, slot] : p.actors)
    slot->set(nullptr);
  p.sys.reset();
}

bool actor_node::ready() const {
  return impl_->not_ready().empty();
}

std::vector<std::string> actor_node::not_ready() const {
  return impl_->not_ready();
}

void actor_node::set_unready(const std::string& feature, const std::string& reason) {
  impl_->set_unready(feature, reason);
}

void actor_node::set_ready(const std::string& feature) {
  impl_->set_ready(feature);
}

caf::actor actor_node::actor_of(const std::string& role) const {
  auto it = impl_->actors.find(role);
  return it == impl_->actors.end() ? caf::actor{} : it->second->get();
}

caf::actor_system& actor_node::system() {
  return *impl_->sys;
}

const runtime::node_config& actor_node::config() const {
  return impl_->cfg;
}

std::shared_ptr<kafka_publisher> actor_node::producer() const {
  return impl_->producer;
}

std::shared_ptr<runtime::supervision_log> actor_node::supervision() const {
  return impl_->supervision;
}

std::vector<std::pair<std::string, mailbox_stats>> actor_node::mailboxes() const {
  std::vector<std::pair<std::string, mailbox_stats>> out;
  for (const auto& [role, slot] : impl_->mailboxes)
    out.emplace_back(role, slot->stats());
  return out;
}

std::shared_ptr<runtime::ops_backend> actor_node::ops() const {
  return impl_->ops;
}

uint16_t actor_node::ops_port() const {
  return impl_->ops_server ? impl_->ops_server->port() : 0;
}

std::shared_ptr<runtime::metric_registry> actor_node::metrics() const { return impl_->metrics; }

std::map<std::string, std::map<std::string, int64_t>> actor_node::chaos_fired() const {
  std::map<std::string, std::map<std::string, int64_t>> out;
  for (const auto& [role, c] : impl_->chaos)
    for (auto f : {runtime::chaos_fault::crash, runtime::chaos_fault::crash_after,
                   runtime::chaos_fault::hang})
      if (c->rate(f) > 0)
        out[role][std::string{runtime::to_string(f)}] = c->fired(f);
  return out;
}

}  // namespace kastor::bridges
