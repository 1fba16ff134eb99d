#include "kastor/gateway/server.hpp"

#include <algorithm>
#include <string_view>
#include <utility>
#include <variant>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "kastor/bridges/codec.hpp"
#include "kastor/gateway/validation.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/trace.hpp"
#include "kastor/runtime/logging.hpp"

namespace kastor::gateway {

namespace {

namespace json = boost::json;
using runtime::http_reply;
using runtime::http_request;
using runtime::http_response;

std::shared_ptr<spdlog::logger> logger() {
  static const auto instance = runtime::logger("kastor.gateway");
  return instance;
}

http_response error_response(const http_error& err) {
  return {static_cast<int>(err.status), error_json(err), "application/json", {}};
}

void post_order(backend& be, const http_request& req, http_reply reply) {
  if (req.count("Idempotency-Key") > 1)  // which one the client meant is anyone's guess
    return reply(runtime::http_error_response(400, "duplicate_header",
                                              "more than one Idempotency-Key header"));
  auto parsed = parse_order_request(req.header("Content-Type"), req.body);
  if (auto* err = std::get_if<http_error>(&parsed))
    return reply(error_response(*err));
  const auto key = req.header("Idempotency-Key");
  if (req.count("Idempotency-Key") > 0 && !valid_idempotency_key(key))
    return reply(error_response(http_error{422, "invalid_value",
                                           "Idempotency-Key must be 1 to "
                                             + std::to_string(max_idempotency_key_chars)
                                             + " visible ASCII characters",
                                           "Idempotency-Key"}));
  auto& order = std::get<actors::order_created>(parsed);
  logger()->debug("submitting order customer_id={} items={} total={}", order.customer_id,
                  order.items.size(), runtime::format_cents(order.total_cents));
  // The order's trace: a new span of the caller's, or a trace of its own.
  const auto caller = req.count(std::string{runtime::traceparent_header}) == 1
                        ? runtime::parse_traceparent(req.header(std::string{runtime::traceparent_header}))
                        : std::nullopt;
  const auto trace = (caller ? runtime::child_of(*caller) : runtime::start_trace()).header();
  be.submit_order(std::move(order), std::string{key}, trace, [reply, trace](submit_result result) {
    if (result.key_conflict)
      return reply(error_response(http_error{
        422, "idempotency_conflict", "this Idempotency-Key was used with another request body",
        "Idempotency-Key"}));
    if (!result.ok) {
      logger()->warn("order not written status=503 error=\"{}\"", result.error);
      return reply(runtime::http_error_response(
        503, "unavailable", "the order could not be written: " + result.error));
    }
    if (result.order_id.empty()) {
      logger()->error("backend acknowledged an order without an id status=500");
      return reply(runtime::http_error_response(500, "internal_error", "internal error"));
    }
    logger()->debug("order accepted order_id={} trace_id={}", result.order_id,
                    trace.substr(3, 32));
    json::object obj;
    obj["orderId"] = result.order_id;
    obj["status"] = actors::status_pending;
    reply({202, bridges::to_json_text(obj), "application/json",
           {{std::string{runtime::traceparent_header}, trace}}});
  });
}

void get_order(backend& be, std::string_view id, http_reply reply) {
  if (!valid_order_id(id))
    return reply(error_response(http_error{400, "invalid_value",
                                           "order id must be 1 to "
                                             + std::to_string(max_order_id_chars)
                                             + " characters of [A-Za-z0-9._-]",
                                           "orderId"}));
  be.get_order(std::string{id}, [reply, id = std::string{id}](
                                  std::optional<actors::order_snapshot> snapshot) {
    if (!snapshot)
      return reply(runtime::http_error_response(404, "not_found",
                                                "order '" + id + "' not found"));
    reply({200, bridges::encode_value(runtime::message{std::move(*snapshot)}),
           "application/json", {}});
  });
}

}  // namespace

std::vector<runtime::http_route> routes(std::shared_ptr<backend> be) {
  constexpr std::string_view orders_prefix = "/api/orders/";
  return {
    {"/api/orders", false, {"POST"}, true,
     [be](const http_request& req, http_reply reply) { post_order(*be, req, std::move(reply)); }},
    {std::string{orders_prefix}, true, {"GET"}, true,
     [be, orders_prefix](const http_request& req, http_reply reply) {
       get_order(*be, std::string_view{req.path}.substr(orders_prefix.size()), std::move(reply));
     }},
    {"/api/analytics", false, {"GET"}, true,
     [be](const http_request&, http_reply reply) {
       be->get_analytics([reply](std::optional<std::string> body) {
         if (!body)
           return reply(runtime::http_error_response(
             503, "unavailable", "analytics are not available on this node"));
         reply({200, std::move(*body), "application/json", {}});
       });
     }},
  };
}

namespace {

runtime::http_options as_gateway(server_options o) {
  o.logger = "kastor.gateway";
  return o;
}

std::vector<runtime::http_route> gateway_and_ops(std::shared_ptr<backend> be) {
  if (!be)
    return {};  // (start() refuses it)
  auto all = routes(be);
  for (auto& r : runtime::ops_routes(be))
    all.push_back(std::move(r));
  return all;
}

}  // namespace

http_server::http_server(server_options options, std::shared_ptr<backend> be)
  : has_backend_(be != nullptr),
    server_(as_gateway(std::move(options)), gateway_and_ops(std::move(be))) {}

caf::expected<void> http_server::start() {
  if (!has_backend_)
    return runtime::make_error(runtime::runtime_errc::invalid_config, "gateway: no backend");
  return server_.start();
}

bool valid_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > max_idempotency_key_chars)
    return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace kastor::gateway
