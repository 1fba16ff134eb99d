// A role as a supervisor child: its actor runs the role's state class
// (runtime::role_behavior), and its Kafka mailbox is bound to whichever
// incarnation is current, so a restart gets the unfinished records again.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "kastor/bridges/mailbox.hpp"
#include "kastor/runtime/role_actor.hpp"
#include "kastor/runtime/supervisor.hpp"

namespace kastor::bridges {

// `on_start` (may be empty) learns every new incarnation, e.g. to route queries.
template <class State>
runtime::child_spec mailbox_role_child(std::string name, std::shared_ptr<State> state,
                                       runtime::role_io io,
                                       std::shared_ptr<kafka_mailbox> mailbox,
                                       caf::message_handler extra = {},
                                       std::function<void(const caf::actor&)> on_start = {}) {
  return {std::move(name), [=](caf::local_actor* parent) {
            auto a = parent->system().spawn(&runtime::role_behavior<State>, state, io, extra);
            mailbox->bind(a);
            if (on_start)
              on_start(a);
            return a;
          }};
}

}  // namespace kastor::bridges
