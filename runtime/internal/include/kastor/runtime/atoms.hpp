// Atoms shared between kastor's actors (CAF 0.17: atom_constant).
#pragma once

#include <caf/atom.hpp>

namespace kastor::runtime {

using get_atom = caf::get_atom;
using process_atom = caf::atom_constant<caf::atom("process")>;      // delayed handling
using publish_failed_atom = caf::atom_constant<caf::atom("pubfail")>;
using tree_atom = caf::atom_constant<caf::atom("tree")>;           // supervision snapshot
// (lookup, key) -> runtime::message: a keyed role's current snapshot of the
// key (empty when it holds none), for request/reply.
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using timer_tick_atom = caf::atom_constant<caf::atom("timertick")>;  // fire an entity's due timers

}  // namespace kastor::runtime
