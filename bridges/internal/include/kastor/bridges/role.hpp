// A role under its supervisor: the mailbox bridge (a Kafka consumer group
// owned by a small actor) and the worker (the role's state class run by
// runtime::role_behavior), supervised rest_for_one: when the bridge restarts,
// a fresh consumer rejoins the group from the committed offsets and the worker
// restarts after it and binds to it; when the worker restarts, the bridge
// delivers every unfinished record to the new incarnation again.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#include <string>

#include "kastor/bridges/mailbox.hpp"
#include "kastor/runtime/role_actor.hpp"
#include "kastor/runtime/supervisor.hpp"

namespace kastor::bridges {

// The role's current mailbox, replaced when its bridge restarts, and what
// outlives one mailbox: the records' failure counts, the counters of mailboxes
// already replaced, and the threads stopping them.
// Thread-safety: any thread, but join() (and the destructor) not from a
// thread that retire() started.
class mailbox_slot {
public:
  mailbox_slot() = default;
  mailbox_slot(const mailbox_slot&) = delete;
  mailbox_slot& operator=(const mailbox_slot&) = delete;
  ~mailbox_slot() { join(); }

  std::shared_ptr<kafka_mailbox> get() const;
  void set(std::shared_ptr<kafka_mailbox> mb);

  // Stops `mb` (commit its finished prefix, leave the group) on a thread of
  // its own, so no actor thread waits for the broker; its counters are kept.
  void retire(std::shared_ptr<kafka_mailbox> mb);
  // Waits for every retire() so far.
  void join();
  // How many retire()s there have been so far.
  uint64_t retirements() const;
  // Waits until the first `n` retired mailboxes have stopped (their
  // consumers left or were abandoned), at most `deadline`, and no longer
  // once `stop` is set; false if they had not by then.
  bool wait_retired(uint64_t n, std::chrono::milliseconds deadline,
                    const std::atomic<bool>& stop);

  // The current mailbox's stats, counters summed with the replaced ones'.
  mailbox_stats stats() const;

  const std::shared_ptr<failure_memory>& failures() const { return failures_; }

private:
  mutable std::mutex mtx_;
  void keep_counting(const std::shared_ptr<kafka_mailbox>& mb);
  std::shared_ptr<kafka_mailbox> current_;
  std::vector<std::shared_ptr<kafka_mailbox>> retiring_;  // replaced, not stopped yet
  mailbox_stats retired_;
  std::vector<std::thread> stopping_;
  uint64_t retire_calls_ = 0;  // retire()s so far
  std::vector<bool> retire_done_;  // per retire(), in order: stopped
  std::condition_variable retired_cv_;
  std::shared_ptr<failure_memory> failures_ = std::make_shared<failure_memory>();
};

// The "bridge" child. Its first start uses `first` (made up front, so that
// configuration errors surface before anything runs; give it the slot's
// failures()); every restart makes a new mailbox from `first`'s options,
// whose consumer joins the group only once the mailboxes retired before it
// have stopped (a static member never fences its own predecessor). The
// mailbox's poll thread starts with the actor; when the actor exits (crash,
// kill or shutdown) the slot retires the mailbox: the finished prefix is
// committed and it leaves the group. A mailbox whose consumer failed makes the
// actor exit with that error.
runtime::child_spec mailbox_bridge_child(std::shared_ptr<kafka_mailbox> first,
                                         std::shared_ptr<mailbox_slot> slot);

// The "worker" child: the role's actor (made by `spawn`), bound to the slot's
// current mailbox (which also receives its completions, and in exactly-once
// mode carries its outputs in a transaction). `on_start` (may be empty) learns
// every new incarnation, e.g. to route queries.
using worker_spawn = std::function<caf::actor(caf::actor_system&, runtime::role_io)>;
runtime::child_spec mailbox_worker_child(std::string name, worker_spawn spawn, runtime::role_io io,
                                         std::shared_ptr<mailbox_slot> slot,
                                         std::function<void(const caf::actor&)> on_start = {});

// The same for a state class and its handlers (runtime::role_behavior).
template <class State>
runtime::child_spec mailbox_worker_child(std::string name, std::shared_ptr<State> state,
                                         runtime::handlers<State> handlers,
                                         runtime::role_io io, std::shared_ptr<mailbox_slot> slot,
                                         caf::message_handler extra = {},
                                         std::function<void(const caf::actor&)> on_start = {}) {
  std::shared_ptr<const runtime::role_program> program = runtime::role_program::of(state, handlers);
  return mailbox_worker_child(
    std::move(name),
    [program, extra](caf::actor_system& sys, runtime::role_io my_io) {
      return sys.spawn(&runtime::role_behavior, program, std::move(my_io), extra);
    },
    std::move(io), std::move(slot), std::move(on_start));
}

// A role's consumer on a node is named "<node>-<role>", with "-standby"
// appended for a standby instance (one a node starts only while no other node
// runs the role); kastor ctl status and the standby watch read them back.
std::string role_client_id(const std::string& node, const std::string& role, bool standby);
struct role_member {
  std::string node;  // the client id itself when it is not in this form
  bool standby = false;
};
role_member parse_role_client_id(const std::string& client_id, const std::string& role);

}  // namespace kastor::bridges
