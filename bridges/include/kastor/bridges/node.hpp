// A node of an application: one CAF actor system running the declared roles
// this node is configured to run, under a root supervisor (one_for_one) ->
// one supervisor per role (rest_for_one) -> the role's mailbox bridge (its
// Kafka consumer group) and its worker (the role's actor), publishing through
// the node's producer. A role that is down (restarting, backing off) leaves
// its records waiting in Kafka; the others go on. When the root gives up,
// the node turns not ready and run() returns 1.
//
//   auto node = bridges::actor_node::make(cfg);            // config errors here
//   (*node)->add(runtime::entity<account>("accounts").consumes<debit, credit>());
//   (*node)->start();
//   return (*node)->run(stop_requested);                   // stop() on return
//
// What each role gets from its declaration (runtime/role.hpp) and the config:
// - every role: the topics it needs, created when missing (role_topics,
//   topics.create), its group `<group.prefix>.<role>`, supervision and restarts,
//   per-key quarantine and `<topic>.dlq` dead letters (mailbox.*),
//   backpressure, the hand-off of revoked partitions, `--chaos` faults by its
//   name, exactly-once when listed in `exactly-once`, standby when listed in
//   `roles.standby`;
// - an entity: its keys restored from its changelog on every assignment (with
//   the epoch rule), records of its input topics sent on to their key's
//   partition when a foreign producer put them elsewhere, and request/reply
//   by key on `<group.prefix>.<role>-requests` (kind `get`: the key's snapshot);
// - a view: a group of its own per node and start, reading from the start,
//   committing and dead-lettering nothing.
//
// Every node serves its ops routes (runtime/ops.hpp: /healthz, /readyz,
// /api/supervision, /api/status, POST /api/admin/crash) on ops.http (default
// 127.0.0.1:9464; "off": none), bound by make() (a taken port is its error)
// and answering until stop() stops the actor system: an application gets
// health, readiness and status with no HTTP code of its own. A stopping node
// is not ready ("node stopping").
//
// stop() takes everything down in reverse: mailboxes (finish, commit, leave
// the groups), actors, producers (flush with a deadline, report what was
// left), within node_config::stop_timeout whatever the brokers do: each step
// has a share of it, and past it the process ends (std::_Exit, code 1),
// naming the step that hung. A node with a node.id of its own is a static
// group member (node_config::is_static_member): it leaves its groups on stop
// only with group.leave-on-stop.
//
// Thread-safety: add() and start() from one thread before run(); the
// accessors from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/mailbox_stats.hpp"
#include "kastor/runtime/config.hpp"
#include "kastor/runtime/ops.hpp"
#include "kastor/runtime/role.hpp"

namespace kastor::runtime {
class supervision_log;  // runtime/internal: runtime/supervisor.hpp
}  // namespace kastor::runtime

namespace kastor::bridges {

class kafka_publisher;  // producer.hpp

// Every topic `role` needs on a node configured by `cfg`: its inputs and
// their dead-letter topics (`<topic>.dlq`; none for a view), the outputs it
// declares (role::produces), and for an entity its changelog (compacted)
// with its dead-letter topic, its requests topic and its repartition topic.
// Each with cfg.partitions (a keyed role's topics are co-partitioned with
// its first input: ensure_role_topics gives them that input's count) and
// cfg.replication (0: min(3, brokers)). A copy stage: copy.from with its
// dead-letter topic, and copy.to.
std::vector<topic_spec> role_topics(const runtime::role_spec& role,
                                    const runtime::node_config& cfg);

// Creates what is missing of role_topics(role, cfg), or with topics.create
// false says which are missing. What `created` receives: the topics made.
// Errors: the cluster cannot be described, a topic cannot be created, or
// (topics.create false) topics are missing: runtime_errc::invalid_config
// naming them.
caf::error ensure_role_topics(const runtime::role_spec& role, const runtime::node_config& cfg,
                              std::vector<topic_spec>* created = nullptr);

class actor_node {
public:
  // The actor system and the node's producer. `configure` may register the
  // application's own CAF message types (queries' answers) beforehand.
  static caf::expected<std::unique_ptr<actor_node>> make(
    runtime::node_config cfg,
    const std::function<void(caf::actor_system_config&)>& configure = {});
  ~actor_node();
  actor_node(const actor_node&) = delete;
  actor_node& operator=(const actor_node&) = delete;

  // Whether this node runs `role`: listed in `roles` (or, when that is
  // empty, any role the application adds), or as a standby.
  bool runs(const std::string& role) const;

  // Adds a declared role (runtime::role<S>, runtime::entity<E>) if this node
  // runs it; its state is made only then. One it does not run is logged
  // (event=role_not_run) and left out; a role `roles` lists that the
  // application never adds keeps the node not ready, saying so. Errors: a
  // configuration the role cannot start with (its topics missing with
  // topics.create false, a changelog type that is not compacted), or the
  // mailbox's own.
  template <class Decl>
  caf::error add(const Decl& decl) {
    if (!runs(decl.name()))
      return not_run(decl.name());
    return add_spec(decl.spec());
  }
  caf::error add_spec(runtime::role_spec spec);

  // Starts the supervision tree (and the standby watch). Once.
  void start();
  // Blocks until `stop_requested` turns true (returns 0), the root supervisor
  // gave up (logs why, stays up not ready for a second, returns 1) or the
  // producer failed for good (returns 1).
  int run(const std::atomic<bool>& stop_requested);
  void stop();
  // The same, for a stop that began at `began` (an application's own steps
  // first): its parts of stop_timeout count from then.
  void stop(std::chrono::steady_clock::time_point began);

  // Not ready once the root gave up; else when every mailbox joined its group
  // and no feature is reported down (set_unready).
  bool ready() const;
  // Why not: one line per cause ("role order: not in its consumer group yet",
  // "requests: reply topic ... does not exist (retrying)"); empty when ready.
  std::vector<std::string> not_ready() const;
  // A feature of the node or of its application that does not work yet
  // (e.g. request/reply without its reply topic): the node is not ready, with
  // `reason`, until set_ready(feature). Whoever reports it retries it.
  void set_unready(const std::string& feature, const std::string& reason);
  void set_ready(const std::string& feature);
  // The current incarnation of a role's actor (null when not running here).
  caf::actor actor_of(const std::string& role) const;
  caf::actor_system& system();
  const runtime::node_config& config() const;
  std::shared_ptr<kafka_publisher> producer() const;
  std::shared_ptr<runtime::supervision_log> supervision() const;
  std::vector<std::pair<std::string, mailbox_stats>> mailboxes() const;
  // Injected faults so far: role -> fault ("crash", "crash-after", "hang") -> count.
  std::map<std::string, std::map<std::string, int64_t>> chaos_fired() const;
  // What the ops routes answer, for a listener of the application's own to
  // serve too (runtime::ops_routes); valid while the node lives.
  std::shared_ptr<runtime::ops_backend> ops() const;
  // The ops listener's port (the bound one for ops.http port 0); 0 when off.
  uint16_t ops_port() const;
  // The node's own metrics (kastor_*), served on GET /metrics with the
  // application's (runtime::application_metrics()); an application's own
  // listener counts its requests here (runtime::http_options::metrics).
  std::shared_ptr<runtime::metric_registry> metrics() const;

  struct impl;

private:
  caf::error not_run(const std::string& role);
  explicit actor_node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace kastor::bridges
