// libFuzzer: the gateway's request path. The bytes are an HTTP/1.1 request
// as a client sends it; Beast parses it under the gateway's limits, and a
// complete POST body goes through the order validation. An order that is
// accepted must keep the validation's promises (amounts add up to the cent,
// quantities and sizes in range, no control characters in the customer id)
// and travel to Kafka and back unchanged.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "kastor/actors/messages.hpp"
#include "kastor/bridges/codec.hpp"
#include "kastor/gateway/server.hpp"
#include "kastor/gateway/validation.hpp"
#include "kastor/runtime/errors.hpp"

using namespace kastor;
namespace http = boost::beast::http;

namespace {

[[noreturn]] void broken(const char* what, const std::string& body) {
  std::fprintf(stderr, "accepted order breaks a promise: %s\nbody: %s\n", what, body.c_str());
  std::abort();
}

void check(const actors::order_created& o, const std::string& body) {
  int64_t sum = 0;
  if (o.items.empty() || o.items.size() > gateway::max_items)
    broken("item count", body);
  for (const auto& i : o.items) {
    if (i.quantity < 1 || i.quantity > gateway::max_quantity)
      broken("quantity", body);
    if (i.price_cents <= 0 || i.subtotal_cents != i.price_cents * i.quantity)
      broken("subtotal", body);
    sum += i.subtotal_cents;
  }
  if (sum != o.total_cents || o.total_cents > gateway::max_money_cents)
    broken("total", body);
  if (o.customer_id.empty()
      || std::any_of(o.customer_id.begin(), o.customer_id.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    broken("customer id", body);
  auto order = o;
  order.order_id = "fuzz-order";
  auto out = bridges::encode(runtime::message{order}, bridges::outgoing_meta{"m", "", 1, ""});
  auto back = bridges::decode_record("order-created", 0, 1, "fuzz-order", out.value, out.headers, 0);
  if (!back)
    broken(("read back: " + runtime::describe(back.error())).c_str(), body);
  if (!(back->message == runtime::message{order}))
    broken("read back as another order", body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool declared = actors::detail::messages_declared;
  (void) declared;
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.header_limit(gateway::max_header_bytes);
  parser.body_limit(gateway::max_body_bytes);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done())
    return 0;
  const auto& req = parser.get();
  const std::string body = req.body();
  auto result = gateway::parse_order_request(
    std::string_view{req[http::field::content_type].data(), req[http::field::content_type].size()},
    body);
  if (const auto* order = std::get_if<actors::order_created>(&result))
    check(*order, body);
  else if (std::get<gateway::http_error>(result).status < 400
           || std::get<gateway::http_error>(result).status > 499)
    broken("an error that is not 4xx", body);
  return 0;
}
