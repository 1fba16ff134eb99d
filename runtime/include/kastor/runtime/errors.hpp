// Errors are values: caf::error with a per-module code enum and a readable
// context string. describe() turns any of them into one line for logs and
// JSON bodies.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace kastor::runtime {

// Codes of the runtime module.
enum class runtime_errc : uint8_t {
  invalid_config = 1,
  restart_limit_exceeded,
  timeout,
  start_failed,    // a supervisor's child could not be started
  crashed,         // an injected crash (chaos, or the admin crash endpoint)
  hung,            // an actor did not finish a turn within its deadline
  exception,       // an actor's handler threw
};

// Codes of the bridges module (Kafka, codec, routes).
enum class bridge_errc : uint8_t {
  malformed_json = 1,   // value is not JSON, or not a JSON object
  missing_field,        // a required field is absent
  wrong_type,           // a field has the wrong JSON type or an invalid value
  unknown_type,         // neither the headers nor the topic name a known type
  unsupported_version,  // schema version this build cannot read
  kafka_retriable,      // a Kafka error that may succeed when retried
  kafka_fatal,          // a Kafka error after which the client must be recreated
  kafka_abortable,      // a transactional error that requires an abort
  schema_violation,     // well-typed, but out of its schema's ranges or values
  no_handler,           // a declared type that no handler of the reading role takes
};

std::string to_string(runtime_errc);
std::string to_string(bridge_errc);

// Error categories (CAF 0.17 identifies a category by an atom).
inline constexpr caf::atom_value runtime_category = caf::atom("runtime");
inline constexpr caf::atom_value bridge_category = caf::atom("bridge");

inline caf::atom_value category_of(runtime_errc) { return runtime_category; }
inline caf::atom_value category_of(bridge_errc) { return bridge_category; }

// An error with a human-readable context.
template <class E>
caf::error make_error(E code, std::string what) {
  return caf::error{static_cast<uint8_t>(code), category_of(code),
                    caf::make_message(std::move(what))};
}

// "bridge.missing_field: field 'accountId' is required" (or CAF's rendering).
std::string describe(const caf::error& err);

}  // namespace kastor::runtime
