// seed 002's wire format for the shop's messages (see wire.cpp), as far as
// others need it: money as the wire's decimal numbers.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>

#include "kastor/actors/messages.hpp"

namespace kastor::actors {

// The wire's decimal number as integer cents. nullopt for NaN/inf, more than
// two decimals, or more cents than a JavaScript number holds exactly.
std::optional<int64_t> cents_from_json_number(double v);

}  // namespace kastor::actors
