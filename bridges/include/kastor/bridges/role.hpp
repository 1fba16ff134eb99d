// A role under its supervisor: the mailbox bridge (a Kafka consumer group
// owned by a small actor) and the worker (the role's state class run by
// runtime::role_behavior), supervised rest_for_one: when the bridge restarts,
// a fresh consumer rejoins the group from the committed offsets and the worker
// restarts after it and binds to it; when the worker restarts, the bridge
// delivers every unfinished record to the new incarnation again.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "kastor/bridges/mailbox.hpp"
#include "kastor/runtime/role_actor.hpp"
#include "kastor/runtime/supervisor.hpp"

namespace kastor::bridges {

// The role's current mailbox, replaced when its bridge restarts.
// Thread-safety: any thread.
class mailbox_slot {
public:
  std::shared_ptr<kafka_mailbox> get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return current_;
  }
  void set(std::shared_ptr<kafka_mailbox> mb) {
    std::lock_guard<std::mutex> guard{mtx_};
    current_ = std::move(mb);
  }

private:
  mutable std::mutex mtx_;
  std::shared_ptr<kafka_mailbox> current_;
};

// The "bridge" child. Its first start uses `first` (made up front, so that
// configuration errors surface before anything runs); every restart makes a
// new mailbox from `first`'s options. The mailbox's poll thread starts with
// the actor; when the actor exits (crash, kill or shutdown) the mailbox stops:
// the finished prefix is committed and it leaves the group. A mailbox whose
// consumer failed makes the actor exit with that error.
runtime::child_spec mailbox_bridge_child(std::shared_ptr<kafka_mailbox> first,
                                         std::shared_ptr<mailbox_slot> slot);

// The "worker" child: the role's actor, bound to the slot's current mailbox
// (which also receives its completions). `on_start` (may be empty) learns
// every new incarnation, e.g. to route queries.
template <class State>
runtime::child_spec mailbox_worker_child(std::string name, std::shared_ptr<State> state,
                                         runtime::role_io io, std::shared_ptr<mailbox_slot> slot,
                                         caf::message_handler extra = {},
                                         std::function<void(const caf::actor&)> on_start = {}) {
  runtime::child_spec c;
  c.name = std::move(name);
  c.shutdown = std::chrono::milliseconds{2000};
  c.start = [=](caf::local_actor* parent) -> caf::actor {
    auto mailbox = slot->get();
    if (!mailbox)
      return nullptr;  // no bridge: a failed start
    auto my_io = io;
    my_io.acks = mailbox;
    auto a = parent->system().spawn(&runtime::role_behavior<State>, state, my_io, extra);
    mailbox->bind(a);
    if (on_start)
      on_start(a);
    return a;
  };
  return c;
}

}  // namespace kastor::bridges
