// W3C Trace Context (https://www.w3.org/TR/trace-context/): the
// `traceparent` every record kastor writes carries, so that one order's
// records and log lines share one trace id through every hop.
//
//   traceparent: 00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>
//
// A record's traceparent names the span that wrote it (its parent-id). The
// outputs of a turn carry the trace of the record that caused it with a span
// id of their own; a record that came without one (a foreign producer's)
// starts a trace at its first kastor hop, derived from its message id, so
// that it gets the same one each time it is read. An HTTP route that writes
// records takes its request's traceparent, or starts one, and gives it to
// the message as a note (message::with_note(traceparent_header, ...)).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kastor::runtime {

inline constexpr std::string_view traceparent_header = "traceparent";

struct trace_context {
  std::string trace_id;  // 32 lowercase hex digits, not all zero
  std::string span_id;   // 16 lowercase hex digits, not all zero
  uint8_t flags = 0x01;  // sampled

  // "00-<trace_id>-<span_id>-<flags>"
  std::string header() const;
};

// The header's context, or nullopt for anything W3C says to ignore:
// malformed, version ff, a version-00 header with more after it, upper-case
// hex, an all-zero trace or parent id. A later version is read by its first
// four fields (what follows them is that version's own).
std::optional<trace_context> parse_traceparent(std::string_view header);

// A new trace (random ids).
trace_context start_trace();
// A trace for a record that came without one: ids derived from `seed` (its
// message id), the same for the same seed.
trace_context trace_from(std::string_view seed);
// The same trace, a new span (random id).
trace_context child_of(const trace_context& parent);

// Whether parse_traceparent would read `header` (without making anything).
bool valid_traceparent(std::string_view header);
// The traceparent of a record written in the turn of a record whose
// traceparent is `cause`: its trace with a new span, or a new trace when
// `cause` is empty or not valid. Built in place (one allocation: the
// producer's path, once per record).
std::string next_traceparent(std::string_view cause);

}  // namespace kastor::runtime
