#include "kastor/apps/node.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <caf/all.hpp>

#include "kastor/actors/analytics.hpp"
#include "kastor/actors/email.hpp"
#include "kastor/actors/ledger.hpp"
#include "kastor/actors/messages.hpp"
#include "kastor/actors/order.hpp"
#include "kastor/actors/payment.hpp"
#include "kastor/actors/roles.hpp"
#include "kastor/apps/idempotency.hpp"
#include "kastor/apps/order_view.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/bridges/remote.hpp"
#include "kastor/bridges/role.hpp"
#include "kastor/runtime/atoms.hpp"
#include "kastor/runtime/copy_stage.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/logging.hpp"
#include "kastor/runtime/role_actor.hpp"

namespace kastor::apps {

using runtime::wall_clock_ms;

namespace {

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

std::string new_order_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xffff),
                static_cast<unsigned>(a & 0xffff), static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

// Sends one request from a short-lived actor and hands the answer to a
// callback: the gateway's io threads never block on an actor.
template <class Result, class... Ts>
void ask(caf::actor_system& sys, caf::actor target, std::function<void(std::optional<Result>)> cb,
         Ts... xs) {
  if (!target) {
    cb(std::nullopt);
    return;
  }
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(target, std::chrono::seconds{5}, xs...)
      .then([=](const Result& r) { cb(r); }, [=](caf::error&) { cb(std::nullopt); });
  });
}

// (get, id) -> zero or one snapshot, for any state with find(id).
template <class State>
caf::message_handler snapshot_query(std::shared_ptr<State> state) {
  return {[state](runtime::get_atom, const std::string& id) {
    std::vector<actors::order_snapshot> out;
    if (auto s = state->find(id))
      out.push_back(*s);
    return out;
  }};
}

// The order role's keys follow its partitions. On each assignment the orders
// of every assigned partition are caught up from order-state (from its start,
// or from where this node read it last: what others wrote meanwhile is in the
// tail) before any of its records is taken; partitions no longer assigned are
// dropped, and so is everything of a lost assignment. Each assignment writes
// with a new epoch, higher than any before in the partition, and the restore
// skips a snapshot whose epoch is below one it has read: a paused node's
// queued writes that land after its successor's do not count. If order-state cannot
// be read (three tries), the assignment fails and the bridge restarts: the
// role never runs on a partition without its orders.
class order_changelog {
public:
  order_changelog(std::shared_ptr<actors::order_book> book, std::string brokers, std::string node)
      : book_(std::move(book)), brokers_(std::move(brokers)), node_(std::move(node)) {}

  // False when the partitions' orders could not be read (after retries).
  bool assigned(const void* mailbox, const std::vector<int32_t>& parts) {
    std::lock_guard<std::mutex> guard{mtx_};
    current_ = mailbox;
    std::vector<int32_t> gone;
    for (auto& [p, pos] : position_)
      if (std::find(parts.begin(), parts.end(), p) == parts.end())
        gone.push_back(p);
    forget(gone);
    std::map<int32_t, int64_t> from;
    for (auto p : parts)
      from[p] = position_.count(p) ? position_[p] : -1;
    if (from.empty())
      return true;
    auto began = std::chrono::steady_clock::now();
    std::map<int32_t, int64_t> ends;
    caf::expected<std::vector<bridges::stored_record>> records{std::vector<bridges::stored_record>{}};
    for (int attempt = 1; attempt <= 3; ++attempt) {
      ends.clear();
      records = bridges::read_topic(brokers_, std::string{actors::topic_order_state}, from,
                                    std::chrono::seconds{10}, &ends);
      if (records)
        break;
      log_->warn("node={} event=order_state_restore_failed attempt={} partitions={} error={}",
                 node_, attempt, parts.size(), runtime::describe(records.error()));
      if (attempt < 3)
        std::this_thread::sleep_for(std::chrono::milliseconds{500 * attempt});
    }
    if (!records) {
      forget(parts);  // nothing half-known stays behind
      return false;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - began).count();
    // A late write of an earlier owner (an older epoch) is skipped.
    std::map<int32_t, std::vector<actors::order_snapshot>> by_partition;
    std::vector<std::string> stale;
    for (auto& live : bridges::live_snapshots(*records, max_epoch_, &stale))
      if (const auto* snap = live.snapshot.get_if<actors::order_snapshot>())
        by_partition[live.record->partition].push_back(*snap);
    // This owner's epoch: above every epoch in the partition so far, and the
    // assignment's time (a later owner is assigned later).
    auto now = runtime::wall_clock_ms();
    for (auto p : parts)
      book_->adopt(p, by_partition[p], std::max(now, max_epoch_[p] + 1));
    for (auto [p, end] : ends)
      position_[p] = end;
    log_->info("node={} event=order_state_restored partitions={} records={} stale_skipped={} ms={}",
               node_, parts.size(), records->size(), stale.size(), ms);
    return true;
  }

  void revoked(const void* mailbox, const std::vector<int32_t>& parts, bool lost) {
    if (!lost)
      return;  // kept: if they come back, only the changelog's tail is read
    std::lock_guard<std::mutex> guard{mtx_};
    if (mailbox != current_)
      return;  // a replaced mailbox's late word: its successor owns what it adopted
    forget(parts);
  }

private:
  void forget(const std::vector<int32_t>& parts) {
    if (parts.empty())
      return;
    book_->release(parts);
    for (auto p : parts) {
      position_.erase(p);
      max_epoch_.erase(p);
    }
  }

  std::shared_ptr<actors::order_book> book_;
  std::string brokers_;
  std::string node_;
  std::shared_ptr<spdlog::logger> log_ = runtime::logger("kastor.node");
  std::mutex mtx_;  // a replaced mailbox's last callback may overlap the next one's first
  const void* current_ = nullptr;        // the mailbox that was assigned last
  std::map<int32_t, int64_t> position_;  // partition -> next order-state offset to read
  std::map<int32_t, int64_t> max_epoch_;  // partition -> highest writer epoch read so far
};

}  // namespace

struct node::impl {
  runtime::node_config cfg;
  std::shared_ptr<spdlog::logger> log = runtime::logger("kastor.node");
  std::unique_ptr<caf::actor_system_config> sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<bridges::kafka_publisher> producer;
  std::shared_ptr<bridges::kafka_publisher> copy_producer;  // the copy role's, at-least-once
  std::vector<std::pair<std::string, std::shared_ptr<bridges::mailbox_slot>>> mailboxes;
  std::vector<runtime::child_spec> role_supervisors;
  std::shared_ptr<runtime::supervision_log> supervision = std::make_shared<runtime::supervision_log>();
  std::map<std::string, std::shared_ptr<runtime::chaos_injector>> chaos;
  caf::actor root;
  std::atomic<bool> root_failed{false};
  std::shared_ptr<actor_slot> view = std::make_shared<actor_slot>();
  std::shared_ptr<actor_slot> analytics = std::make_shared<actor_slot>();
  std::shared_ptr<actor_slot> orders = std::make_shared<actor_slot>();
  // Requests to the order actor that owns a key, wherever it runs (gateway).
  std::shared_ptr<bridges::remote_requester> requester;
  caf::actor order_owner;
  std::shared_ptr<order_changelog> order_state;  // the order role's, while it runs here
  std::shared_ptr<actors::jsonl_ledger> payment_ledger;
  std::shared_ptr<actors::jsonl_ledger> email_outbox;
  std::shared_ptr<gateway::backend> backend;
  std::unique_ptr<gateway::http_server> http;
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

  // `topics`: what the role reads; `accepts`: the type names its handlers
  // take (empty: every type).
  bridges::mailbox_options mailbox_for(const std::string& role, bool broadcast,
                                       std::vector<std::string> topics,
                                       std::vector<std::string> accepts) const {
    bridges::mailbox_options o;
    o.brokers = cfg.brokers;
    o.topics = std::move(topics);
    o.accepts = std::move(accepts);
    o.commit = !broadcast;
    o.group_id = cfg.group_prefix + "." + role;
    if (broadcast)  // every node reads everything, afresh on every start
      o.group_id += "." + cfg.node_id + "." + new_order_id().substr(0, 8);
    o.client_id = bridges::role_client_id(cfg.node_id, role, cfg.is_standby(role));
    if (cfg.is_standby(role))
      o.standby = std::make_shared<std::atomic<bool>>(false);
    o.high_water = static_cast<size_t>(cfg.mailbox_high_water);
    o.low_water = static_cast<size_t>(cfg.mailbox_low_water);
    o.session_timeout_ms = cfg.session_timeout_ms;
    o.fetch_wait_max_ms = cfg.fetch_wait_max_ms;
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
    if (role == "order") {
      // An order's state lives with its key's partition: a record a foreign
      // producer put elsewhere is sent on there.
      o.forward_topic = bridges::forward_topic_of(o.group_id);
      o.topics.push_back(o.forward_topic);
      o.partitioner = cfg.partitioner;
      // Requests for an order go to the node owning its key's partitions.
      o.requests_topic = bridges::request_topic("order");
      o.topics.push_back(o.requests_topic);
      o.replies = producer;
      if (auto state = order_state) {
        o.on_assign = [state](const void* mb, const std::vector<int32_t>& parts) {
          return state->assigned(mb, parts);
        };
        o.on_revoke = [state](const void* mb, const std::vector<int32_t>& parts, bool lost) {
          state->revoked(mb, parts, lost);
        };
      }
      o.on_request = [sys = sys.get(), orders = orders](const bridges::inbound_request& req,
                                                        bridges::reply_fn reply) {
        if (req.kind != "get") {
          reply("error", "unknown request '" + req.kind + "' (known: get)");
          return;
        }
        // Only what the actor knows first-hand (it handled the order's
        // order_created), not a guess made after the key moved here.
        ask<std::vector<actors::order_snapshot>>(
          *sys, orders->get(),
          [reply](std::optional<std::vector<actors::order_snapshot>> r) {
            if (!r)
              reply("error", "the order actor did not answer (restarting?)");
            else if (r->empty())
              reply("not_found", "");
            else
              reply("ok", bridges::encode_value(runtime::message{r->front()}));
          },
          runtime::owned_atom::value, req.key);
      };
    }
    if (cfg.is_exactly_once(role)) {
      o.exactly_once = true;
      o.commit_interval = cfg.commit_interval;
      o.transactional = producer_for(role + "-txn");
      o.transactional.transaction_timeout = cfg.transaction_timeout;
    }
    return o;
  }

  // The options of a producer of this node; the copy role's output all goes
  // to copy.to.
  bridges::producer_options producer_for(const std::string& name) const {
    bridges::producer_options po;
    po.brokers = cfg.brokers;
    po.client_id = cfg.node_id + (name.empty() ? "" : "-" + name);
    po.linger = cfg.linger;
    po.partitioner = cfg.partitioner;
    po.compression = cfg.compression;
    if (name.rfind("copy", 0) == 0)
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

  // Wires one role: root/<role> supervises, rest_for_one, its mailbox bridge
  // and its worker (the role actor, bound to the bridge's current mailbox).
  // A role whose handlers take every type (copy) reads copy.from.
  template <class State>
  caf::error add_role(const std::string& role, std::shared_ptr<State> state,
                      runtime::handlers<State> handlers, bool broadcast,
                      std::chrono::milliseconds delay, caf::message_handler extra,
                      std::shared_ptr<actor_slot> slot) {
    auto mailboxes_slot = std::make_shared<bridges::mailbox_slot>();
    std::vector<std::string> accepts;
    for (const auto* t : handlers.types())
      accepts.push_back(t->name);
    auto opts = mailbox_for(role, broadcast,
                            handlers.takes_any() ? std::vector<std::string>{cfg.copy_from}
                                                 : handlers.topics(),
                            handlers.takes_any() ? std::vector<std::string>{} : accepts);
    opts.raw = handlers.takes_any();  // a copy stage passes records on byte for byte
    opts.failures = mailboxes_slot->failures();
    auto mb = bridges::kafka_mailbox::make(opts);
    if (!mb)
      return mb.error();
    mailboxes.emplace_back(role, mailboxes_slot);
    if (opts.standby)
      standbys.push_back({role, opts.standby, 0});
    const int max_concurrent =
      role == "payment" ? static_cast<int>(cfg.setting_integer("payment.concurrency")) : 0;
    runtime::role_io io{producer, nullptr, &wall_clock_ms, delay, nullptr, max_concurrent};
    if (role == "copy" && !opts.exactly_once) {
      auto made = bridges::kafka_publisher::make(producer_for("copy"));
      if (!made)
        return made.error();
      copy_producer = *made;
      io.out = copy_producer;
    }
    if (cfg.chaos.rate(role, runtime::chaos_fault::crash) > 0
        || cfg.chaos.rate(role, runtime::chaos_fault::crash_after) > 0
        || cfg.chaos.rate(role, runtime::chaos_fault::hang) > 0) {
      io.chaos = std::make_shared<runtime::chaos_injector>(cfg.chaos, role);
      chaos[role] = io.chaos;
    }
    auto worker = bridges::mailbox_worker_child(
      "worker", state, std::move(handlers), io, mailboxes_slot, extra, [slot](const caf::actor& a) {
        if (slot)
          slot->set(a);
      });
    auto spec = supervisor_for("root/" + role);
    spec.strat = runtime::strategy::rest_for_one;
    spec.children = {bridges::mailbox_bridge_child(*mb, mailboxes_slot), worker};
    role_supervisors.push_back(runtime::supervisor_child(spec, std::chrono::seconds{8}));
    return {};
  }

  // A keyed role's forward topic (mailbox_options::forward_topic), created
  // if missing with as many partitions as `input`, the role's first input.
  caf::error ensure_forward_topic(const std::string& role, const std::string& input) {
    const auto topic = bridges::forward_topic_of(cfg.group_prefix + "." + role);
    if (bridges::topic_exists(cfg.brokers, topic, std::chrono::seconds{10}))
      return {};
    auto conf = bridges::make_conf({{"bootstrap.servers", cfg.brokers},
                                    {"client.id", cfg.node_id + "-admin"}});
    if (!conf)
      return conf.error();
    char errstr[512];
    bridges::rk_ptr rk{rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), errstr, sizeof(errstr))};
    if (!rk)
      return runtime::make_error(runtime::bridge_errc::kafka_fatal, errstr);
    auto n = bridges::partitions_of(rk.get(), input);
    if (!n)
      return n.error();
    if (*n == 0)
      return runtime::make_error(runtime::runtime_errc::invalid_config,
                                 "topic '" + input + "' does not exist (kastor topics create)");
    if (auto err = bridges::ensure_topics(cfg.brokers, {{topic, *n, cfg.replication, false}},
                                          std::chrono::seconds{15}))
      return runtime::make_error(runtime::runtime_errc::invalid_config,
                                 "the " + role + " role's forward topic " + topic
                                   + " cannot be created: " + runtime::describe(err));
    log->info("node={} event=forward_topic_created topic={} partitions={}", cfg.node_id, topic, *n);
    return {};
  }

  // This node's reply topic (created if missing) and the proxy of the order
  // actors on every node. Without them GET answers from this node only.
  void start_requests() {
    auto topic = bridges::reply_topic(cfg.node_id);
    if (!bridges::topic_exists(cfg.brokers, topic, std::chrono::seconds{10}))
      if (auto err = bridges::ensure_topics(cfg.brokers, {{topic, 1, cfg.replication, false}},
                                            std::chrono::seconds{15}))
        log->warn("node={} reply topic {}: {}", cfg.node_id, topic, runtime::describe(err));
    auto made = bridges::remote_requester::make({cfg.brokers, cfg.node_id, producer});
    if (!made) {
      log->warn("node={} event=requests_off error={}: GET /api/orders answers from this node's "
                "view only", cfg.node_id, runtime::describe(made.error()));
      return;
    }
    requester = *made;
    order_owner = bridges::spawn_remote_proxy(*sys, requester, "order", std::chrono::seconds{2});
  }

  // Every second: a standby role whose group has no member of another node
  // (five times in a row; a check that fails counts for nothing) is started here; one started here is stopped as soon as
  // a node that runs it (not a standby) is in the group again.
  void watch_standbys() {
    auto conf = bridges::make_conf({{"bootstrap.servers", cfg.brokers},
                                    {"client.id", cfg.node_id + "-standby-watch"},
                                    {"log_level", "2"}});
    char errstr[512];
    bridges::rk_ptr rk{conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), errstr, sizeof(errstr))
                            : nullptr};
    if (!rk) {
      log->error("node={} event=standby_watch_failed: standby roles stay stopped", cfg.node_id);
      return;
    }
    while (!watch_stop.load()) {
      for (auto& s : standbys) {
        auto desc = bridges::describe_group(rk.get(), cfg.group_prefix + "." + s.role,
                                            std::chrono::seconds{5});
        if (!desc)
          continue;  // unknown: nothing changes
        bool other = false, dedicated = false;
        std::string who_runs;
        for (const auto& m : desc->members) {
          auto who = bridges::parse_role_client_id(m.client_id, s.role);
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

  std::string data_file(const std::string& name) const {
    return (std::filesystem::path{cfg.data_dir} / name).string();
  }

  // Not ready once the root gave up; else when every mailbox joined its group.
  bool all_joined() const {
    if (root_failed.load())
      return false;
    for (const auto& [role, slot] : mailboxes) {
      auto mb = slot->get();
      if (!mb)
        return false;
      auto s = mb->stats();
      if (!s.joined && !s.standing_by)
        return false;
    }
    return true;
  }
};

namespace {

class node_backend : public gateway::backend {
public:
  explicit node_backend(node::impl* n) : n_(n) {}

  void submit_order(actors::order_created order, std::string key,
                    std::function<void(gateway::submit_result)> done) override {
    if (key.empty()) {
      order.order_id = new_order_id();
      write(std::move(order), std::move(done));
      return;
    }
    auto fingerprint = order_fingerprint(order);
    if (idempotency_.begin(key, fingerprint, std::move(done)) != idempotency_table::claim::first)
      return;
    // The first request with this key here. Another node may have made the
    // order already: the view (every order, from order-state) knows.
    order.order_id = order_id_for_key(key);
    auto finish = [this, key](gateway::submit_result r) { idempotency_.finish(key, r); };
    auto id = order.order_id;
    ask<std::vector<actors::order_snapshot>>(
      *n_->sys, n_->view->get(),
      [this, order = std::move(order), finish](
        std::optional<std::vector<actors::order_snapshot>> seen) mutable {
        if (seen && !seen->empty()) {
          const auto& s = seen->front();
          bool same = s.customer_id == order.customer_id && s.total_cents == order.total_cents;
          finish(same ? gateway::submit_result{true, s.order_id, "", false}
                      : gateway::submit_result{false, "", "", true});
          return;
        }
        write(std::move(order), finish);
      },
      runtime::get_atom::value, id);
  }

  // Writes a new order (its id set) to order-created; answers after the ack.
  void write(actors::order_created order, std::function<void(gateway::submit_result)> done) {
    order.created_at_ms = wall_clock_ms();
    order.status = actors::status_pending;
    auto view = n_->view;
    n_->producer->publish({order}, nullptr, [order, view, done](const runtime::publish_outcome& o) {
      if (o.ok()) {
        if (auto v = view->get()) {
          runtime::record_meta local;  // not from Kafka: the mailbox ignores its completion
          local.type = "order_created";
          caf::anon_send(v, local, order);
        }
        done({true, order.order_id, "", false});
      } else {
        done({false, order.order_id,
              o.possibly_persisted ? "write outcome unknown: " + o.error : o.error, false});
      }
    });
  }

  // A terminal order (NOTIFIED never changes) straight from this node's view;
  // any other from the order actor that owns it, on whichever node (request
  // and reply through Kafka); if that fails (its node is down, its partition
  // moving), from what this node knows.
  void get_order(std::string id,
                 std::function<void(std::optional<actors::order_snapshot>)> done) override {
    auto local = [this, id, done] { get_order_here(id, done); };
    auto owner = n_->order_owner;
    if (!owner) {
      local();
      return;
    }
    ask<std::vector<actors::order_snapshot>>(
      *n_->sys, n_->view->get(),
      [this, id, done, owner, local](std::optional<std::vector<actors::order_snapshot>> seen) {
        std::optional<actors::order_snapshot> here;
        if (seen && !seen->empty())
          here = seen->front();
        if (here && here->status == actors::status_notified) {
          done(here);
          return;
        }
        n_->sys->spawn([=](caf::event_based_actor* self) {
          self->request(owner, std::chrono::seconds{3}, runtime::get_atom::value, id)
            .then(
              [=](const std::string& status, const std::string& body, const std::string&) {
                if (status == "ok")
                  if (auto v = bridges::decode_value("order_snapshot", body))
                    if (auto* s = v->get_if<actors::order_snapshot>()) {
                      // The view can be ahead of an owner that just took
                      // the key over: the further along of the two.
                      done(here && actors::further_along(*here, *s) ? *here : *s);
                      return;
                    }
                local();
              },
              [=](caf::error&) { local(); });
        });
      },
      runtime::get_atom::value, id);
  }

  // The view (every order, from order-state) first; an order it has not seen
  // yet may still be known to this node's order actor.
  void get_order_here(std::string id,
                      std::function<void(std::optional<actors::order_snapshot>)> done) {
    auto sys = n_->sys.get();
    auto orders = n_->orders->get();
    ask<std::vector<actors::order_snapshot>>(
      *sys, n_->view->get(),
      [sys, orders, id, done](std::optional<std::vector<actors::order_snapshot>> r) {
        if (r && !r->empty()) {
          done(r->front());
          return;
        }
        ask<std::vector<actors::order_snapshot>>(
          *sys, orders,
          [done](std::optional<std::vector<actors::order_snapshot>> o) {
            done(o && !o->empty() ? std::optional{o->front()} : std::nullopt);
          },
          runtime::get_atom::value, id);
      },
      runtime::get_atom::value, id);
  }

  void get_analytics(std::function<void(std::optional<std::string>)> done) override {
    ask<std::string>(*n_->sys, n_->analytics->get(), done, runtime::get_atom::value);
  }

  bool ready() const override { return n_->all_joined(); }

  std::optional<std::string> supervision_json() const override {
    return n_->supervision->tree_json();
  }

  crash_outcome crash(const std::string& path) override {
    if (!n_->cfg.admin_enabled)
      return crash_outcome::disabled;
    auto target = n_->supervision->find(path);
    if (!target)
      return crash_outcome::not_found;
    n_->log->warn("node={} event=crash_requested path={}", n_->cfg.node_id, path);
    runtime::crash_actor(target, runtime::make_error(runtime::runtime_errc::crashed,
                                                    "crash of " + path
                                                      + " requested through the admin API"));
    return crash_outcome::sent;
  }

private:
  node::impl* n_;
  idempotency_table idempotency_;
};

}  // namespace

node::node(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

node::~node() {
  stop();
}

caf::expected<std::unique_ptr<node>> node::start(runtime::node_config cfg) {
  runtime::set_log_level(cfg.log_level);
  if (cfg.brokers.empty())
    return runtime::make_error(runtime::runtime_errc::invalid_config,
                               "brokers: no bootstrap servers given (--brokers HOST:PORT)");
  // A config built in code rather than by make_config: the shop's keys at
  // their defaults.
  for (const auto& k : actors::shop_app().keys) {
    const auto& v = cfg.settings.try_emplace(k.name, k.default_value).first->second;
    if (k.check)
      if (auto why = k.check(v))
        return runtime::make_error(runtime::runtime_errc::invalid_config,
                                   k.name + " = '" + v + "': " + *why);
  }
  auto p = std::make_unique<impl>();
  p->cfg = std::move(cfg);
  auto& c = p->cfg;
  std::error_code ec;
  std::filesystem::create_directories(c.data_dir, ec);
  if (ec)
    return runtime::make_error(runtime::runtime_errc::invalid_config,
                               "data.dir '" + c.data_dir + "': " + ec.message());
  p->sys_cfg = std::make_unique<caf::actor_system_config>();
  runtime::register_message_types(*p->sys_cfg);
  p->sys_cfg->add_message_type<std::vector<actors::order_snapshot>>("order_snapshots");
  p->sys_cfg->set("logger.verbosity", caf::atom("quiet"));
  // Work sharing: idle workers wait on a condition variable. CAF 0.17's
  // default work stealing polls (50 us sleeps), which on a small machine
  // running several nodes and brokers cost more CPU than the work itself.
  p->sys_cfg->set("scheduler.policy", caf::atom("sharing"));
  p->sys = std::make_unique<caf::actor_system>(*p->sys_cfg);

  auto producer = bridges::kafka_publisher::make(p->producer_for(""));
  if (!producer)
    return producer.error();
  p->producer = *producer;
  p->producer->warm_up(std::chrono::seconds{10}, {bridges::request_topic("order")});
  if (c.has_role("gateway"))
    p->start_requests();

  auto runs = [&c](const std::string& role) { return c.has_role(role) || c.is_standby(role); };
  try {
    caf::error err;
    if (runs("order"))
      err = p->ensure_forward_topic("order", std::string{actors::topic_order_created});
    if (!err && runs("order")) {
      auto book = std::make_shared<actors::order_book>(c.setting_integer("order.passivate-after-ms"));
      p->order_state = std::make_shared<order_changelog>(book, c.brokers, c.node_id);
      caf::message_handler owned{[book](runtime::owned_atom, const std::string& id) {
        std::vector<actors::order_snapshot> out;
        if (auto s = book->find_created(id))
          out.push_back(*s);
        return out;
      }};
      err = p->add_role("order", book, actors::order_handlers(), false, std::chrono::milliseconds{0},
                        snapshot_query(book).or_else(owned), p->orders);
    }
    if (!err && runs("payment")) {
      p->payment_ledger = std::make_shared<actors::jsonl_ledger>(
        p->data_file("payment-ledger.jsonl"), "orderId");
      actors::payment_rules rules;
      rules.decline_over_cents = actors::decline_over_cents(c);
      err = p->add_role("payment", std::make_shared<actors::payment_service>(rules, p->payment_ledger),
                        actors::payment_handlers(), false,
                        std::chrono::milliseconds{c.setting_integer("payment.latency-ms")}, {},
                        nullptr);
    }
    if (!err && runs("email")) {
      p->email_outbox = std::make_shared<actors::jsonl_ledger>(p->data_file("email-outbox.jsonl"),
                                                               "emailKey");
      err = p->add_role("email", std::make_shared<actors::email_service>(p->email_outbox),
                        actors::email_handlers(), false, std::chrono::milliseconds{0}, {}, nullptr);
    }
    if (!err && c.has_role("analytics")) {
      auto book = std::make_shared<actors::analytics_book>();
      caf::message_handler query{
        [book](runtime::get_atom) { return book->report_json(wall_clock_ms()); }};
      err = p->add_role("analytics", book, actors::analytics_handlers(), true,
                        std::chrono::milliseconds{0}, query, p->analytics);
    }
    if (!err && runs("copy"))
      err = p->add_role("copy", std::make_shared<runtime::copy_stage>(),
                        runtime::handlers<runtime::copy_stage>{}.any(), false,
                        std::chrono::milliseconds{0}, {}, nullptr);
    if (!err && c.has_role("gateway")) {
      auto view = std::make_shared<order_view>();
      // It reads order-state; an order this node's gateway wrote comes
      // straight from it as well (node_backend::write), not from Kafka.
      caf::message_handler written{
        [view](const runtime::record_meta& m, const actors::order_created& o) {
          view->handle(m, o, wall_clock_ms());
        }};
      err = p->add_role("gateway", view, runtime::consumes<order_view, actors::order_snapshot>(),
                        true, std::chrono::milliseconds{0},
                        snapshot_query(view).or_else(written), p->view);
    }
    if (err)
      return err;
  } catch (const std::exception& e) {  // ledger files are opened at start-up
    return runtime::make_error(runtime::runtime_errc::invalid_config, e.what());
  }

  if (auto why = bridges::compression_not_portable(c.compression))
    p->log->warn("node={} event=compression_not_portable kafka.compression={}: {}; foreign "
                 "clients of this node's topics need those codecs (none and gzip need nothing)",
                 c.node_id, c.compression, *why);
  if (c.max_restarts < c.max_attempts)
    p->log->warn("node={} supervisor.max-restarts={} is below mailbox.max-attempts={}: one poison "
                 "record can make a role give up before it reaches the dead-letter topic",
                 c.node_id, c.max_restarts, c.max_attempts);
  auto root = p->supervisor_for("root");
  root.children = p->role_supervisors;
  p->root = runtime::spawn_supervisor(*p->sys, root);
  if (!p->standbys.empty())
    p->standby_watch = std::thread{[raw = p.get()] { raw->watch_standbys(); }};

  if (c.has_role("gateway")) {
    p->backend = std::make_shared<node_backend>(p.get());
    gateway::server_options so;
    so.address = c.http_host;
    so.port = c.http_port;
    so.threads = c.http_threads;
    p->http = std::make_unique<gateway::http_server>(so, p->backend);
    if (auto started = p->http->start(); !started) {
      auto n = std::unique_ptr<node>{new node{std::move(p)}};
      auto err = started.error();
      n->stop();
      return err;
    }
  }
  std::string roles;
  for (const auto& r : c.roles)
    roles += (roles.empty() ? "" : ",") + r;
  p->log->info("node started node={} roles={} brokers={} http={}", c.node_id, roles, c.brokers,
               p->http ? c.http_host + ":" + std::to_string(p->http->port()) : "off");
  return std::unique_ptr<node>{new node{std::move(p)}};
}

int node::run(const std::atomic<bool>& stop_requested) {
  caf::scoped_actor self{*impl_->sys};
  self->monitor(impl_->root);
  int rc = 0;
  bool done = false;
  while (!done) {
    self->receive(
      [&](caf::down_msg& dm) {
        // Not ready from now on; an orchestrator restarts the process.
        impl_->root_failed = true;
        impl_->log->error("node={} event=root_supervisor_exited reason={}: not ready, exiting "
                          "non-zero so that the node is restarted",
                          impl_->cfg.node_id, runtime::describe(dm.reason));
        rc = 1;
        done = true;
      },
      caf::after(std::chrono::milliseconds{100}) >> [&] {
        if (impl_->producer->fatal()) {
          impl_->log->error("node={} event=producer_fatal: exiting so that it is restarted",
                            impl_->cfg.node_id);
          rc = 1;
          done = true;
          return;
        }
        done = stop_requested.load();
      });
  }
  if (impl_->root_failed.load()) {
    // Stay up a moment answering /readyz with 503, so that probes and load
    // balancers see the node go unready before it disappears.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds{1};
    while (!stop_requested.load() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return rc;
}

void node::stop() {
  auto& p = *impl_;
  if (p.stopped)
    return;
  p.stopped = true;
  // 1. No new orders, no more questions to other nodes, no standby changes.
  p.watch_stop = true;
  if (p.standby_watch.joinable())
    p.standby_watch.join();
  if (p.http)
    p.http->stop();
  if (p.requester)
    p.requester->stop();
  // 2. Mailboxes take no new records and wait for those in flight (the actors
  //    and the producer are still running), then commit and leave the groups.
  std::vector<std::shared_ptr<bridges::kafka_mailbox>> current;
  for (auto& [role, slot] : p.mailboxes)
    if (auto mb = slot->get())
      current.push_back(mb);
  for (auto& mb : current)
    mb->begin_drain();  // all at once, so they drain in parallel
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  for (auto i = current.rbegin(); i != current.rend(); ++i) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    (*i)->stop(std::max(left, std::chrono::milliseconds{1}));
  }
  // 3. The supervision tree, children in reverse start order; awaited.
  if (p.root) {
    caf::scoped_actor self{*p.sys};
    self->monitor(p.root);
    self->send_exit(p.root, caf::exit_reason::user_shutdown);
    self->receive([](caf::down_msg&) {},
                  caf::after(std::chrono::seconds{15}) >> [&] {
                    p.log->warn("node={} event=shutdown_timeout: supervision tree still running",
                                p.cfg.node_id);
                  });
  }
  for (auto& [role, slot] : p.mailboxes)
    slot->join();  // mailboxes retired by their bridges
  // 4. Flush what is left, with a deadline, and report it.
  if (p.copy_producer)
    p.copy_producer->stop(std::chrono::milliseconds{10000});
  if (p.producer) {
    auto left = p.producer->stop(std::chrono::milliseconds{10000});
    p.log->info("node stopped node={} producer_undelivered={}", p.cfg.node_id, left);
  }
  p.order_owner = nullptr;
  p.root = nullptr;
  p.view->set(nullptr);
  p.analytics->set(nullptr);
  p.orders->set(nullptr);
  p.sys.reset();
}

bool node::ready() const {
  return impl_->all_joined();
}

uint16_t node::http_port() const {
  return impl_->http ? impl_->http->port() : 0;
}

std::shared_ptr<gateway::backend> node::api() const {
  return impl_->backend;
}

const runtime::node_config& node::config() const {
  return impl_->cfg;
}

std::shared_ptr<runtime::supervision_log> node::supervision() const {
  return impl_->supervision;
}

std::vector<std::pair<std::string, bridges::mailbox_stats>> node::mailboxes() const {
  std::vector<std::pair<std::string, bridges::mailbox_stats>> out;
  for (const auto& [role, slot] : impl_->mailboxes)
    out.emplace_back(role, slot->stats());
  return out;
}

std::map<std::string, std::map<std::string, int64_t>> node::chaos_fired() const {
  std::map<std::string, std::map<std::string, int64_t>> out;
  for (const auto& [role, c] : impl_->chaos)
    for (auto f : {runtime::chaos_fault::crash, runtime::chaos_fault::crash_after,
                   runtime::chaos_fault::hang})
      if (c->rate(f) > 0)
        out[role][std::string{runtime::to_string(f)}] = c->fired(f);
  return out;
}

std::shared_ptr<actors::jsonl_ledger> node::payment_ledger() const {
  return impl_->payment_ledger;
}

std::shared_ptr<actors::jsonl_ledger> node::email_outbox() const {
  return impl_->email_outbox;
}

}  // namespace kastor::apps
