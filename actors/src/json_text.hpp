// Private helpers for the JSON the actors write themselves (ledger lines, the
// analytics report). Boost.JSON does the escaping and the parsing; numbers are
// written here because Boost.JSON prints every double in exponent form
// (99.98 -> "9.998E1") and money must read as the wire's decimal (99.98).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "kastor/runtime/json_text.hpp"

namespace kastor::actors::detail {

// Integer cents as a decimal with two places: 9998 -> "99.98", -5 -> "-0.05".
// Money for people to read (email bodies, messages): always two decimals.
inline std::string money_text(int64_t cents) {
  // Unsigned magnitude, so INT64_MIN has one too.
  uint64_t mag = cents < 0 ? uint64_t{0} - static_cast<uint64_t>(cents)
                           : static_cast<uint64_t>(cents);
  std::string out = cents < 0 ? "-" : "";
  out += std::to_string(mag / 100);
  out += '.';
  out += static_cast<char>('0' + (mag % 100) / 10);
  out += static_cast<char>('0' + mag % 10);
  return out;
}

// A JSON string literal, escaped.
inline std::string double_text(double d) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, res.ptr);
}

// Builds one JSON object as text, fields in insertion order.
// JSON objects are written with runtime::json_object_writer (one writer for
// every JSON kastor produces).
using object_writer = runtime::json_object_writer;

inline std::optional<boost::json::object> parse_object(std::string_view line) {
  boost::json::error_code ec;
  auto v = boost::json::parse(boost::json::string_view{line.data(), line.size()}, ec);
  if (ec || !v.is_object())
    return std::nullopt;
  return std::move(v.as_object());
}

// Field accessors that tolerate absence and wrong types (they return the default).
inline std::string get_string(const boost::json::object& o, std::string_view name) {
  auto* v = o.if_contains(boost::json::string_view{name.data(), name.size()});
  if (v == nullptr || !v->is_string())
    return {};
  return std::string(v->as_string());
}
inline std::optional<int64_t> get_int(const boost::json::object& o, std::string_view name) {
  auto* v = o.if_contains(boost::json::string_view{name.data(), name.size()});
  if (v == nullptr)
    return std::nullopt;
  if (v->is_int64())
    return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(v->as_uint64());
  return std::nullopt;
}

}  // namespace kastor::actors::detail
