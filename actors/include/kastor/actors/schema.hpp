// The schemas of kastor's messages beyond their fields' types (which the codec
// checks while decoding): ranges, allowed values, and what must add up.
// Checked at the mailbox boundary both ways: a record that arrives is checked
// before any actor sees it (a violation goes to the dead-letter topic), and
// what an actor produces is checked before it is published (a violation
// rejects the record the actor was handling, since the output can never be
// written).
//
// Versions (the kastor-schema header): this build writes version
// `schema_version_current` and reads every version from
// `schema_version_oldest` on; a record without the header is a seed 002
// producer's, version 1. The upgrade rule: a new version may only add
// optional fields and allowed values; it never removes a field or changes
// what one means. So a reader of version N+1 reads version N records, and a
// role can be upgraded one node at a time (upgrade readers before writers).
// A record of a version this build does not know goes to the dead-letter
// topic.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>

#include "kastor/actors/messages.hpp"

namespace kastor::actors {

// Largest amount of money a message may carry ($1,000,000,000.00) and
// largest quantity of one item; ids are at most 512 bytes (the gateway's 128
// characters in any script).
inline constexpr int64_t schema_max_cents = 100'000'000'000;
inline constexpr int64_t schema_max_quantity = 1'000'000;
inline constexpr size_t schema_max_id_bytes = 512;

// nullopt when `m` satisfies its schema, else what is wrong, naming the field
// ("order_created.items[1].quantity must be between 1 and 1000000, got 0").
// The shop's declarations validate with these (message_type::validate).
std::optional<std::string> schema_violation(const runtime::message& m);
std::optional<std::string> check_schema(const order_created& x);
std::optional<std::string> check_schema(const payment_request& x);
std::optional<std::string> check_schema(const payment_result& x);
std::optional<std::string> check_schema(const notification_event& x);
std::optional<std::string> check_schema(const email_sent& x);
std::optional<std::string> check_schema(const order_snapshot& x);
std::optional<std::string> check_schema(const payment_timeout& x);
std::optional<std::string> check_schema(const payment_cancel& x);

}  // namespace kastor::actors
