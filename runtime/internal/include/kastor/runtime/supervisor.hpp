// OTP-style supervisors on CAF 0.17 monitors.
//
// A supervisor starts its children in order and monitors them. What happens
// when a child exits follows Erlang/OTP's supervisor:
//   - restart type: `permanent` children are always restarted, `transient` ones
//     only after an abnormal exit (not normal, not shutdown), `temporary` ones
//     never (a dynamic or temporary child that is not restarted is removed);
//   - strategy: `one_for_one` restarts the child alone; `one_for_all` stops
//     every other child (reverse start order) and restarts all of them in start
//     order; `rest_for_one` does that for the child and those started after it;
//     `simple_one_for_one` has one child spec and children started on demand
//     by key (start_child_atom), each restarted on its own;
//   - intensity: more than `max_restarts` restarts within `period` make the
//     supervisor stop all its children (reverse start order) and exit with
//     runtime_errc::restart_limit_exceeded, which its parent sees as a crash
//     (escalation);
//   - shutdown: an exit request stops the children in reverse start order,
//     each given its own `shutdown` deadline before it is killed (0 kills at
//     once: OTP's brutal_kill); then the supervisor exits with that reason.
// Beyond OTP, a restart waits for a backoff delay: exponential from `min` to
// `max`, with jitter, reset when the child has not failed for `reset_after`.
// Time is CAF's actor clock (self->clock()), so tests can run in simulated time
// with CAF's test_coordinator.
//
// Every supervision event is logged on "kastor.supervisor" with its path and
// reason, counted, and visible in the `supervision_log` tree (GET
// /api/supervision).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/local_actor.hpp>

#include "kastor/runtime/metrics.hpp"

namespace kastor::runtime {

enum class strategy { one_for_one, one_for_all, rest_for_one, simple_one_for_one };
enum class restart_type { permanent, transient, temporary };
enum class child_kind { worker, supervisor };

std::string_view to_string(strategy);
std::string_view to_string(restart_type);

// (start_child, key) -> caf::actor: a simple_one_for_one supervisor starts a
// child for `key`, or answers the running one.
using start_child_atom = caf::atom_constant<caf::atom("startchild")>;
// (terminate_child, name) -> void: stops a child, which is not restarted (a
// dynamic one is removed).
using terminate_child_atom = caf::atom_constant<caf::atom("termchild")>;

// Live view of the supervision tree plus every event, counted.
// Thread-safe: supervisors write it, the HTTP admin and summaries read it.
class supervision_log {
public:
  struct event {
    std::string path;    // "root/accounts/worker"
    std::string what;    // started, exited, restarted, restart_failed, escalated, killed, stopped
    std::string reason;  // the exit reason that caused it
  };
  struct child_view {
    std::string name;
    child_kind kind = child_kind::worker;
    restart_type restart = restart_type::permanent;
    std::string state;  // running, restarting, stopping, stopped
    int64_t restarts = 0;
    std::string last_exit_reason;
    caf::actor_addr addr;
  };
  struct supervisor_view {
    std::string path;
    strategy strat = strategy::one_for_one;
    int max_restarts = 0;
    std::chrono::milliseconds period{0};
    std::string state;  // running, stopping, exited
    caf::actor_addr addr;
    std::vector<child_view> children;
  };

  void record(event e);
  void update(supervisor_view v);

  // From now on also counts, in `r`: kastor_supervisor_restarts_total{path,
  // reason} (reason: the exit reason's code, e.g. runtime.crashed) and
  // kastor_supervisor_gave_up_total{path} (a supervisor past its restart
  // limit, which escalates to its parent).
  void count_into(metric_registry& r);
  // An exit reason's class: its code ("runtime.hung", "bridge.kafka_fatal")
  // without the text that follows it.
  static std::string reason_class(const std::string& reason);

  // Restarts per child path.
  std::map<std::string, int64_t> restarts() const;
  int64_t total_restarts() const;
  // Events per kind ("restarted" -> 12, ...).
  std::map<std::string, int64_t> counts() const;
  // The most recent events (at most `kept_events`).
  std::vector<event> events() const;
  static constexpr size_t kept_events = 1000;

  // The live actor at `path` ("root", "root/accounts", "root/accounts/worker"),
  // or a null handle.
  caf::actor find(const std::string& path) const;
  // The last exit reason of the child at `path` ("" if none is known).
  std::string last_exit_reason(const std::string& path) const;

  // The tree as JSON: {"path":"root","kind":"supervisor","strategy":…,
  // "state":…,"restarts":…,"lastExitReason":…,"children":[…]} (an array of
  // such objects when there are several roots), with "counts" of events.
  std::string tree_json() const;

private:
  mutable std::mutex mtx_;
  std::deque<event> events_;
  std::map<std::string, int64_t> restarts_;
  std::map<std::string, int64_t> counts_;
  std::map<std::string, supervisor_view> supervisors_;
  counter_family restarts_counter_;
  counter_family gave_up_counter_;
};

struct child_spec {
  std::string name;
  // Spawns the child; called again on every restart. The returned actor is
  // monitored by the supervisor (`parent`). A null actor or an exception is a
  // failed start: at start-up it fails the supervisor, on a restart it counts
  // as a crash of the child.
  std::function<caf::actor(caf::local_actor* parent)> start;
  restart_type restart = restart_type::permanent;
  // How long the child may take to stop after an exit request before it is
  // killed; 0 kills it at once.
  std::chrono::milliseconds shutdown{5000};
  child_kind kind = child_kind::worker;
};

struct backoff_policy {
  std::chrono::milliseconds min{0};  // delay of the first restart
  std::chrono::milliseconds max{0};  // delays double up to this
  double jitter = 0.0;               // each delay is scaled by a factor in [1 - jitter, 1]
  // A child that has not failed for this long restarts after `min` again.
  std::chrono::milliseconds reset_after{10000};
};

struct supervisor_spec {
  std::string path;  // e.g. "root" or "root/accounts"
  int max_restarts = 5;
  std::chrono::milliseconds period{10000};
  std::vector<child_spec> children;  // simple_one_for_one: exactly one, the template
  std::shared_ptr<supervision_log> log;  // may be null
  strategy strat = strategy::one_for_one;
  backoff_policy backoff;
  uint64_t seed = 0;  // jitter; 0 draws a random seed
};

// The backoff delay of a child's `n`th consecutive restart (n >= 0) before
// jitter: min * 2^n, capped at max.
std::chrono::milliseconds backoff_delay(const backoff_policy& b, int n);

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec);

// Asks `target` to exit with `reason` (an exit message, so an actor that
// handles nothing else, e.g. one that hangs, still exits). Its supervisor sees
// an abnormal exit, as after a crash.
void crash_actor(const caf::actor& target, caf::error reason);

// A child spec that starts a nested supervisor; its shutdown deadline is
// `shutdown` (give it enough for its own children).
child_spec supervisor_child(supervisor_spec spec, std::chrono::milliseconds shutdown);

}  // namespace kastor::runtime
