#include "kastor/apps/node.hpp"

#include <algorithm>
#include <filesystem>
#include <random>

#include <caf/all.hpp>

#include "kastor/actors/analytics.hpp"
#include "kastor/actors/email.hpp"
#include "kastor/actors/ledger.hpp"
#include "kastor/actors/messages.hpp"
#include "kastor/actors/order.hpp"
#include "kastor/actors/payment.hpp"
#include "kastor/actors/roles.hpp"
#include "kastor/actors/shop_metrics.hpp"
#include "kastor/apps/idempotency.hpp"
#include "kastor/apps/order_view.hpp"
#include "kastor/bridges/node.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/bridges/remote.hpp"
#include "kastor/runtime/ask.hpp"
#include "kastor/runtime/atoms.hpp"
#include "kastor/runtime/copy_stage.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/logging.hpp"
#include "kastor/runtime/role.hpp"
#include "kastor/runtime/role_actor.hpp"
#include "kastor/runtime/shutdown.hpp"
#include "kastor/runtime/trace.hpp"

namespace kastor::apps {

using runtime::wall_clock_ms;

namespace {

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

}  // namespace

struct node::impl {
  runtime::node_config cfg;
  std::shared_ptr<spdlog::logger> log = runtime::logger("kastor.node");
  std::unique_ptr<bridges::actor_node> core;  // the roles
  // Requests to the order actor that owns a key, wherever it runs (gateway).
  std::shared_ptr<bridges::remote_requester> requester;
  caf::actor order_owner;
  std::shared_ptr<actors::jsonl_ledger> payment_ledger;
  std::shared_ptr<actors::jsonl_ledger> payment_refunds;
  std::shared_ptr<actors::jsonl_ledger> email_outbox;
  std::shared_ptr<gateway::backend> backend;
  std::unique_ptr<gateway::http_server> http;
  bool stopped = false;

  ~impl() {  // (a start that failed after the retry began)
    requests_stop = true;
    if (requests_retry.joinable())
      requests_retry.join();
  }

  caf::actor_system& sys() { return core->system(); }
  caf::actor actor_of(const std::string& role) const { return core->actor_of(role); }

  // Request/reply: this node's reply topic (created if missing), its reader,
  // and the proxy of the order actors on every node. Until they work, GET
  // /api/orders answers from this node's view only and /readyz says why;
  // they are tried again (1 s doubling to 30 s) until they do.
  mutable std::mutex requests_mtx;
  std::thread requests_retry;
  std::atomic<bool> requests_stop{false};

  caf::actor owner_proxy() const {
    std::lock_guard<std::mutex> guard{requests_mtx};
    return order_owner;
  }

  // Empty when request/reply works now.
  std::string try_start_requests() {
    auto made = bridges::remote_requester::make(
      {cfg.brokers, cfg.node_id, core->producer(), cfg.group_prefix, cfg.replication});
    if (!made)
      return runtime::describe(made.error());
    std::lock_guard<std::mutex> guard{requests_mtx};
    requester = *made;
    order_owner = bridges::spawn_remote_proxy(sys(), requester, "order", std::chrono::seconds{2});
    return {};
  }

  void start_requests() {
    auto why = try_start_requests();
    if (why.empty())
      return;
    log->warn("node={} event=requests_off error={}: GET /api/orders answers from this node's "
              "view only, and the node is not ready, until it works (retrying)",
              cfg.node_id, why);
    core->set_unready("requests", why + " (retrying)");
    requests_retry = std::thread{[this] {
      auto backoff = std::chrono::milliseconds{1000};
      for (int tries = 2; !requests_stop.load(); ++tries) {
        for (auto until = std::chrono::steady_clock::now() + backoff;
             !requests_stop.load() && std::chrono::steady_clock::now() < until;)
          std::this_thread::sleep_for(std::chrono::milliseconds{50});
        if (requests_stop.load())
          return;
        auto why = try_start_requests();
        if (why.empty()) {
          log->warn("node={} event=requests_on tries={}: GET /api/orders asks the order's "
                    "owner again", cfg.node_id, tries);
          core->set_ready("requests");
          return;
        }
        core->set_unready("requests", why + " (retrying)");
        backoff = std::min(backoff * 2, std::chrono::milliseconds{30000});
      }
    }};
  }

  std::string data_file(const std::string& name) const {
    return (std::filesystem::path{cfg.data_dir} / name).string();
  }

  // The shop's roles this node runs.
  caf::error add_roles() {
    actors::shop_metrics::declare();
    auto& c = cfg;
    // An order's state lives with its key's partition (order-state).
    auto passivate = c.setting_integer("order.passivate-after-ms");
    auto order = actors::order_role(
                   std::chrono::milliseconds{passivate},
                   std::chrono::milliseconds{c.setting_integer("order.payment-timeout-ms")})
                   .queries([](std::shared_ptr<runtime::entity_book<actors::order>> book) {
                     return snapshot_query(book);
                   });
    if (auto err = core->add(order))
      return err;
    auto payment = runtime::role<actors::payment_service>("payment")
                     .consumes(actors::payment_handlers())
                     .make([this] {
                       payment_ledger = std::make_shared<actors::jsonl_ledger>(
                         data_file("payment-ledger.jsonl"), "orderId");
                       payment_refunds = std::make_shared<actors::jsonl_ledger>(
                         data_file("payment-refunds.jsonl"), "orderId");
                       actors::payment_rules rules;
                       rules.decline_over_cents = actors::decline_over_cents(cfg);
                       return std::make_shared<actors::payment_service>(rules, payment_ledger,
                                                                        payment_refunds);
                     })
                     .latency(std::chrono::milliseconds{c.setting_integer("payment.latency-ms")},
                              static_cast<int>(c.setting_integer("payment.concurrency")));
    if (auto err = core->add(payment))
      return err;
    auto email = runtime::role<actors::email_service>("email")
                   .consumes(actors::email_handlers())
                   .make([this] {
                     email_outbox = std::make_shared<actors::jsonl_ledger>(
                       data_file("email-outbox.jsonl"), "emailKey");
                     return std::make_shared<actors::email_service>(email_outbox);
                   });
    if (auto err = core->add(email))
      return err;
    auto analytics = runtime::role<actors::analytics_book>("analytics")
                       .consumes(actors::analytics_handlers())
                       .view()
                       .queries([](std::shared_ptr<actors::analytics_book> book) {
                         return caf::message_handler{[book](runtime::get_atom) {
                           return book->report_json(wall_clock_ms());
                         }};
                       });
    if (auto err = core->add(analytics))
      return err;
    auto copy = runtime::role<runtime::copy_stage>("copy").consumes_any();
    if (auto err = core->add(copy))
      return err;
    // The gateway's view reads order-state; an order this node's gateway
    // wrote comes straight from it as well (node_backend::write), not from
    // Kafka.
    auto gateway = runtime::role<order_view>("gateway")
                     .consumes<actors::order_snapshot>()
                     .view()
                     .queries([](std::shared_ptr<order_view> view) {
                       return snapshot_query(view).or_else(caf::message_handler{
                         [view](const runtime::record_meta& m, const actors::order_created& o) {
                           view->handle(m, o, wall_clock_ms());
                         }});
                     });
    return core->add(gateway);
  }
};

namespace {

class node_backend : public gateway::backend {
public:
  explicit node_backend(node::impl* n) : n_(n) {}

  void submit_order(actors::order_created order, std::string key, std::string traceparent,
                    std::function<void(gateway::submit_result)> done) override {
    if (key.empty()) {
      order.order_id = new_order_id();
      write(std::move(order), std::move(traceparent), std::move(done));
      return;
    }
    auto fingerprint = order_fingerprint(order);
    if (idempotency_.begin(key, fingerprint, std::move(done)) != idempotency_table::claim::first)
      return;
    // The first request with this key here. Another node may have made the
    // order already: the view (every order, from order-state) knows, with
    // the fingerprint of the request that made it.
    order.order_id = order_id_for_key(key);
    order.request_fingerprint = fingerprint;
    auto finish = [this, key](gateway::submit_result r) { idempotency_.finish(key, r); };
    auto id = order.order_id;
    runtime::ask<std::vector<actors::order_snapshot>>(
      n_->sys(), n_->actor_of("gateway"), std::chrono::seconds{5},
      [this, order = std::move(order), finish, traceparent = std::move(traceparent)](
        std::optional<std::vector<actors::order_snapshot>> seen) mutable {
        // Only an order record made by a request with this body answers
        // for it. An order known without one (from a payment result or an
        // email that came first, or one written before fingerprints) proves
        // nothing: the order is written, so that a 202 always means its
        // record exists (its actors take a second write of an id as one).
        if (seen && !seen->empty() && !seen->front().request_fingerprint.empty()) {
          const auto& s = seen->front();
          finish(s.request_fingerprint == order.request_fingerprint
                   ? gateway::submit_result{true, s.order_id, "", false}
                   : gateway::submit_result{false, "", "", true});
          return;
        }
        write(std::move(order), std::move(traceparent), finish);
      },
      runtime::get_atom::value, id);
  }

  // Writes a new order (its id set) to order-created, with its trace;
  // answers after the ack.
  void write(actors::order_created order, std::string traceparent,
             std::function<void(gateway::submit_result)> done) {
    order.created_at_ms = wall_clock_ms();
    order.status = actors::status_pending;
    auto n = n_;
    n_->core->producer()->publish(
      {runtime::message{order}.with_note(std::string{runtime::traceparent_header}, traceparent)},
      nullptr, [order, n, done](const runtime::publish_outcome& o) {
      if (o.ok()) {
        if (auto v = n->actor_of("gateway")) {
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
    auto owner = n_->owner_proxy();
    if (!owner) {
      local();
      return;
    }
    runtime::ask<std::vector<actors::order_snapshot>>(
      n_->sys(), n_->actor_of("gateway"), std::chrono::seconds{5},
      [this, id, done, owner, local](std::optional<std::vector<actors::order_snapshot>> seen) {
        std::optional<actors::order_snapshot> here;
        if (seen && !seen->empty())
          here = seen->front();
        if (here && here->status == actors::status_notified) {
          done(here);
          return;
        }
        n_->sys().spawn([=](caf::event_based_actor* self) {
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
    auto sys = &n_->sys();
    auto orders = n_->actor_of("order");
    runtime::ask<std::vector<actors::order_snapshot>>(
      *sys, n_->actor_of("gateway"), std::chrono::seconds{5},
      [sys, orders, id, done](std::optional<std::vector<actors::order_snapshot>> r) {
        if (r && !r->empty()) {
          done(r->front());
          return;
        }
        runtime::ask<std::vector<actors::order_snapshot>>(
          *sys, orders, std::chrono::seconds{5},
          [done](std::optional<std::vector<actors::order_snapshot>> o) {
            done(o && !o->empty() ? std::optional{o->front()} : std::nullopt);
          },
          runtime::get_atom::value, id);
      },
      runtime::get_atom::value, id);
  }

  void get_analytics(std::function<void(std::optional<std::string>)> done) override {
    runtime::ask<std::string>(n_->sys(), n_->actor_of("analytics"), std::chrono::seconds{5}, done,
                             runtime::get_atom::value);
  }

  // The ops routes on the gateway's listener: the node's own answers.
  std::vector<std::string> not_ready() const override { return n_->core->not_ready(); }
  std::optional<std::string> supervision_json() const override {
    return n_->core->ops()->supervision_json();
  }
  std::optional<std::string> status_json() const override {
    return n_->core->ops()->status_json();
  }
  std::optional<std::string> metrics_text() const override {
    return n_->core->ops()->metrics_text();
  }
  std::string admin_token() const override { return n_->core->ops()->admin_token(); }
  crash_outcome crash(const std::string& path) override { return n_->core->ops()->crash(path); }

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
  // A config built in code rather than by make_config: the shop's keys at
  // their defaults.
  for (const auto& k : actors::shop_app().keys) {
    const auto& v = cfg.settings.try_emplace(k.name, k.default_value).first->second;
    if (k.check)
      if (auto why = k.check(v))
        return runtime::make_error(runtime::runtime_errc::invalid_config,
                                   k.name + " = '" + v + "': " + *why);
  }
  // The gateway's listener serves the ops routes too: with ops.http on the
  // same address, it is the only one.
  auto core_cfg = cfg;
  if (cfg.has_role("gateway") && cfg.ops_enabled && cfg.ops_host == cfg.http_host
      && cfg.ops_port == cfg.http_port)
    core_cfg.ops_enabled = false;
  auto core = bridges::actor_node::make(core_cfg, [](caf::actor_system_config& sc) {
    sc.add_message_type<std::vector<actors::order_snapshot>>("order_snapshots");
  });
  if (!core)
    return core.error();
  auto p = std::make_unique<impl>();
  p->cfg = std::move(cfg);
  p->core = std::move(*core);
  auto& c = p->cfg;
  p->core->producer()->warm_up(std::chrono::seconds{10}, {bridges::request_topic("order")});
  if (c.has_role("gateway"))
    p->start_requests();
  try {
    if (auto err = p->add_roles())
      return err;
  } catch (const std::exception& e) {  // ledger files are opened at start-up
    return runtime::make_error(runtime::runtime_errc::invalid_config, e.what());
  }
  p->core->start();

  if (c.has_role("gateway")) {
    p->backend = std::make_shared<node_backend>(p.get());
    gateway::server_options so;
    so.address = c.http_host;
    so.port = c.http_port;
    so.threads = c.http_threads;
    so.max_connections = static_cast<size_t>(c.http_max_connections);
    so.rate_limit = static_cast<uint32_t>(c.http_rate_limit);
    so.max_client_connections = static_cast<size_t>(c.http_max_client_connections);
    so.metrics = p->core->metrics();
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
  p->log->info("node started node={} roles={} brokers={} http={} ops.http={}", c.node_id, roles,
               c.brokers,
               p->http ? c.http_host + ":" + std::to_string(p->http->port()) : "off",
               p->core->ops_port() != 0 ? c.ops_host + ":" + std::to_string(p->core->ops_port())
               : p->http && !p->core->config().ops_enabled ? "(the gateway's)"
                                                           : "off");
  return std::unique_ptr<node>{new node{std::move(p)}};
}

int node::run(const std::atomic<bool>& stop_requested) {
  auto rc = impl_->core->run(stop_requested);
  return rc;
}

void node::stop() {
  auto& p = *impl_;
  if (p.stopped)
    return;
  p.stopped = true;
  // The whole stop within node.stop-timeout-ms: the roles' share is what
  // these first steps leave of it.
  const auto began = std::chrono::steady_clock::now();
  {
    runtime::stop_deadline deadline{p.cfg.stop_timeout, [] {
      return std::string{"still stopping the gateway and request/reply"};
    }};
    // 1. No new orders, no more questions to other nodes.
    if (p.http)
      p.http->stop();
    p.requests_stop = true;
    if (p.requests_retry.joinable())
      p.requests_retry.join();
    if (p.requester)
      p.requester->stop();
  }
  // 2. The roles: mailboxes, actors, producers.
  p.order_owner = nullptr;
  p.core->stop(began);
}

bool node::ready() const {
  return impl_->core->ready();
}

uint16_t node::http_port() const {
  return impl_->http ? impl_->http->port() : 0;
}

uint16_t node::ops_port() const {
  return impl_->core->ops_port();
}

std::shared_ptr<gateway::backend> node::api() const {
  return impl_->backend;
}

const runtime::node_config& node::config() const {
  return impl_->cfg;
}

std::shared_ptr<runtime::supervision_log> node::supervision() const {
  return impl_->core->supervision();
}

std::vector<std::pair<std::string, bridges::mailbox_stats>> node::mailboxes() const {
  return impl_->core->mailboxes();
}

std::map<std::string, std::map<std::string, int64_t>> node::chaos_fired() const {
  return impl_->core->chaos_fired();
}

std::shared_ptr<actors::jsonl_ledger> node::payment_ledger() const {
  return impl_->payment_ledger;
}

std::shared_ptr<actors::jsonl_ledger> node::payment_refunds() const {
  return impl_->payment_refunds;
}

std::shared_ptr<actors::jsonl_ledger> node::email_outbox() const {
  return impl_->email_outbox;
}

}  // namespace kastor::apps
