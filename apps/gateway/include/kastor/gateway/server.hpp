// The HTTP gateway: the shop's routes on the runtime's HTTP transport
// (runtime/http.hpp: limits, framing, 404/405/429/504), next to a node's ops
// routes (runtime/ops.hpp: /healthz, /readyz, /api/supervision, /api/status,
// POST /api/admin/crash) answered by the same backend.
//
// Routes (every response is application/json):
//   POST /api/orders       validate (no backend call on any 4xx), submit_order,
//                          202 {"orderId":…,"status":"PENDING"} once the broker
//                          acknowledged; 503 when the write failed. An
//                          Idempotency-Key header (1-255 visible ASCII chars,
//                          else 422) makes a retry safe: same key and body,
//                          same answer and one order; another body, 422
//                          idempotency_conflict. A valid W3C traceparent
//                          header is the order's trace (a new span of it);
//                          without one a trace is started; the 202 returns
//                          the order record's traceparent.
//   GET  /api/orders/{id}  200 order snapshot, 404 not_found; 400 for an id
//                          that is not 1-128 chars of [A-Za-z0-9._-].
//   GET  /api/analytics    200 the backend's JSON; 503 if this node has none.
// A backend that does not answer within request_timeout gets a 504; its late
// answer is then dropped.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "kastor/actors/messages.hpp"
#include "kastor/runtime/http.hpp"
#include "kastor/runtime/ops.hpp"

namespace kastor::gateway {

// Outcome of a submit_order. `order_id` is set when `ok`; `error` says why the
// write failed otherwise (it becomes the message of the 503).
struct submit_result {
  bool ok = false;
  std::string order_id;
  std::string error;
  // The Idempotency-Key was used before with another body (a 422).
  bool key_conflict = false;
};

// An Idempotency-Key header: 1 to 255 visible ASCII characters.
inline constexpr size_t max_idempotency_key_chars = 255;
bool valid_idempotency_key(std::string_view key);

// What the gateway asks of the rest of the node (implemented on Kafka + CAF),
// besides what the ops routes ask (runtime::ops_backend).
// Thread-safety: every member may be called from any thread; the gateway calls
// them from its io threads, so none of them may block.
// Callbacks: each `done` is called exactly once, from any thread (also from
// inside the call itself). A callback that comes after the gateway gave up
// (504) or after it was stopped is ignored; the gateway never blocks in it.
class backend : public runtime::ops_backend {
public:
  // Assigns the order id and created time, writes `order-created`, calls back
  // after the broker acknowledged (or failed). With an `idempotency_key`
  // (empty: none), the same key and body always get the same order id and
  // only one order; the same key with another body gets key_conflict.
  // `traceparent`: the W3C trace the order record is to carry (the
  // request's, or one the gateway started).
  virtual void submit_order(actors::order_created order, std::string idempotency_key,
                            std::string traceparent,
                            std::function<void(submit_result)> done) = 0;
  // nullopt: no such order.
  virtual void get_order(std::string id,
                         std::function<void(std::optional<actors::order_snapshot>)> done) = 0;
  // The analytics aggregates as a JSON text; nullopt: analytics not available
  // on this node.
  virtual void get_analytics(std::function<void(std::optional<std::string> json)> done) = 0;
};

using runtime::max_actor_path_chars;
using runtime::max_header_bytes;
using server_options = runtime::http_options;

// The shop's routes alone, for a listener that serves other routes too.
std::vector<runtime::http_route> routes(std::shared_ptr<backend> backend);

// The shop's routes and the ops routes, both answered by `backend`, on a
// listener of their own (log lines as kastor.gateway). See runtime::http_server.
class http_server {
public:
  http_server(server_options options, std::shared_ptr<backend> backend);

  // Errors: the transport's, and "gateway: no backend".
  caf::expected<void> start();
  void stop() { server_.stop(); }
  uint16_t port() const { return server_.port(); }

private:
  bool has_backend_;
  runtime::http_server server_;
};

}  // namespace kastor::gateway
