#include "kastor/bridges/role.hpp"

#include <caf/all.hpp>

#include "kastor/runtime/errors.hpp"

namespace kastor::bridges {

namespace {

using health_atom = caf::atom_constant<caf::atom("health")>;
constexpr std::chrono::milliseconds health_interval{500};

caf::behavior bridge_actor(caf::event_based_actor* self, std::shared_ptr<kafka_mailbox> mailbox) {
  self->attach_functor([mailbox](const caf::error&) { mailbox->stop(); });
  self->delayed_send(self, health_interval, health_atom::value);
  return {
    [self, mailbox](health_atom) {
      if (auto why = mailbox->failure()) {
        self->quit(runtime::make_error(runtime::bridge_errc::kafka_fatal,
                                       "consumer " + mailbox->options().group_id + ": " + *why));
        return;
      }
      self->delayed_send(self, health_interval, health_atom::value);
    },
  };
}

}  // namespace

runtime::child_spec mailbox_bridge_child(std::shared_ptr<kafka_mailbox> first,
                                         std::shared_ptr<mailbox_slot> slot) {
  runtime::child_spec c;
  c.name = "bridge";
  c.shutdown = std::chrono::milliseconds{5000};
  auto unused = std::make_shared<std::shared_ptr<kafka_mailbox>>(first);
  auto opts = first->options();
  c.start = [unused, opts, slot](caf::local_actor* parent) -> caf::actor {
    std::shared_ptr<kafka_mailbox> mb;
    if (*unused) {
      mb = std::move(*unused);
      unused->reset();
    } else if (auto made = kafka_mailbox::make(opts)) {
      mb = *made;
    } else {
      throw std::runtime_error(runtime::describe(made.error()));
    }
    slot->set(mb);
    mb->start();
    return parent->system().spawn(bridge_actor, mb);
  };
  return c;
}

}  // namespace kastor::bridges
