// Atoms shared between kastor's actors (CAF 0.17: atom_constant).
#pragma once

#include <caf/atom.hpp>

namespace kastor::runtime {

using get_atom = caf::get_atom;
using process_atom = caf::atom_constant<caf::atom("process")>;      // delayed handling
using publish_failed_atom = caf::atom_constant<caf::atom("pubfail")>;
using tree_atom = caf::atom_constant<caf::atom("tree")>;           // supervision snapshot
using owned_atom = caf::atom_constant<caf::atom("owned")>;         // the owner's own record of a key

}  // namespace kastor::runtime
