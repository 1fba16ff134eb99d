// Request validation of the HTTP gateway: turns the body of POST /api/orders
// (seed 002 wire format) into an order_created, or says exactly what is wrong.
//
// Thread-safety: every function is pure and may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "kastor/actors/messages.hpp"
#include "kastor/runtime/http.hpp"

namespace kastor::gateway {

// A 4xx answer: HTTP status, a stable machine-readable code, a sentence for
// humans, and the offending field as a path ("items[2].price"; empty when the
// error is not about one field).
//
// Codes: unsupported_media_type (415), payload_too_large (413),
// malformed_json (400), missing_field, wrong_type, invalid_value,
// unknown_field, read_only_field, amount_mismatch (all 422).
struct http_error {
  unsigned status = 0;
  std::string code;
  std::string message;
  std::string field;
  friend bool operator==(const http_error&, const http_error&) = default;
};

// Limits of one order request.
inline constexpr size_t max_body_bytes = 64 * 1024;
inline constexpr size_t max_customer_id_chars = 128;  // Unicode code points (also productId)
inline constexpr size_t max_items = 1000;
inline constexpr int64_t max_quantity = 1'000'000;
// Every money field (price, subtotal, totalAmount) is at most this many cents
// ($1,000,000,000.00). Keeps cents exact in a double and sums far from overflow.
inline constexpr int64_t max_money_cents = 100'000'000'000;
inline constexpr size_t max_order_id_chars = 128;

// application/json (runtime/http.hpp): every JSON route accepts the same headers.
using runtime::is_json_media_type;

// Validates a POST /api/orders request (Content-Type header value and body).
// On success returns an order_created with customer_id, items and total_cents
// filled (status "PENDING"); order_id and created_at_ms are left to the caller.
// On failure returns the first problem found, checked in this order:
//  1. 415 unless the media type is application/json (case-insensitive;
//     parameters allowed, but a charset other than utf-8 is refused);
//  2. 413 if the body is longer than max_body_bytes;
//  3. 400 if the body is not JSON (or not UTF-8), or its top level is not an object;
//  4. 422 read_only_field / unknown_field for a top-level member other than
//     customerId, items, totalAmount (status, orderId, createdAt,
//     paymentStatus and transactionId are server-owned: read_only_field);
//  5. 422 for customerId, then each item in order (unknown members first, then
//     productId, name, price, quantity, subtotal, subtotal = price x quantity),
//     then totalAmount and totalAmount = sum of subtotals.
// Money is converted to cents as round(x*100); a number with a third nonzero
// decimal is invalid_value. Sums are computed in integer cents.
// JSON itself has no duplicate-key rule: the last occurrence of a key wins.
std::variant<actors::order_created, http_error> parse_order_request(
  std::string_view content_type, std::string_view body);

// {"error":code,"message":message,"field":field}; "field" is omitted when empty.
std::string error_json(const http_error& err);

// True for an order id the gateway may look up: 1 to max_order_id_chars
// characters of [A-Za-z0-9._-].
bool valid_order_id(std::string_view id);

}  // namespace kastor::gateway
