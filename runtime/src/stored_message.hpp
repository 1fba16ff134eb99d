// A message kept inside another record's header (a timer's message in
// kastor-timers, an answer in kastor-recent): its type's name, its value and
// the headers its codec writes, as a JSON object, and back.
#pragma once

#include <string>

#include <boost/json/value.hpp>
#include <caf/expected.hpp>

#include "kastor/runtime/message.hpp"

namespace kastor::runtime::detail {

boost::json::object store_message(const message& m);
// Errors name what is wrong (an unknown type, a value its codec rejects).
caf::expected<message> load_message(const boost::json::value& stored);

}  // namespace kastor::runtime::detail
