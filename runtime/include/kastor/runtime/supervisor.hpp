// Supervisors on CAF monitors: one_for_one with a restart intensity limit.
//
// A supervisor starts its children in order, monitors them, and restarts a
// child that exits (for any reason but its own shutdown). More than
// `max_restarts` restarts within `period` make it stop its children in reverse
// start order and exit with runtime_errc::restart_limit_exceeded, which its
// parent (a supervisor, or the node) sees as a failure: escalation. An exit
// message to a supervisor is an orderly shutdown: children are stopped one at
// a time, last started first, each awaited for up to `shutdown_deadline`
// before it is killed.
// Every supervision event is logged on "kastor.supervisor" and recorded in the
// shared `supervision_log`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>

namespace kastor::runtime {

// Thread-safe record of supervision events, for summaries and /api later.
class supervision_log {
public:
  struct event {
    std::string path;    // "root/payment/actor"
    std::string what;    // "started", "restarted", "escalated", "stopped"
    std::string reason;  // the exit reason that caused it
  };
  void record(event e);
  // Restarts per child path.
  std::map<std::string, int64_t> restarts() const;
  int64_t total_restarts() const;
  std::vector<event> events() const;

private:
  mutable std::mutex mtx_;
  std::vector<event> events_;
  std::map<std::string, int64_t> restarts_;
};

struct child_spec {
  std::string name;
  // Spawns the child; called again on every restart. The returned actor is
  // monitored by the supervisor (`parent`).
  std::function<caf::actor(caf::local_actor* parent)> start;
};

struct supervisor_spec {
  std::string path;  // e.g. "root" or "root/payment"
  int max_restarts = 5;
  std::chrono::milliseconds period{10000};
  std::vector<child_spec> children;
  std::shared_ptr<supervision_log> log;  // may be null
  // How long a child may take to stop before it is killed.
  std::chrono::milliseconds shutdown_deadline{5000};
};
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec);

// A child spec that starts a nested supervisor.
child_spec supervisor_child(supervisor_spec spec);

}  // namespace kastor::runtime
