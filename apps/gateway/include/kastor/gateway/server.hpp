// The HTTP gateway: a Boost.Beast HTTP/1.1 server in front of a `backend`.
//
// Routes (every response is application/json):
//   POST /api/orders       validate (no backend call on any 4xx), submit_order,
//                          202 {"orderId":…,"status":"PENDING"} once the broker
//                          acknowledged; 503 when the write failed. An
//                          Idempotency-Key header (1-255 visible ASCII chars,
//                          else 422) makes a retry safe: same key and body,
//                          same answer and one order; another body, 422
//                          idempotency_conflict.
//   GET  /api/orders/{id}  200 order snapshot, 404 not_found; 400 for an id
//                          that is not 1-128 chars of [A-Za-z0-9._-].
//   GET  /api/analytics    200 the backend's JSON; 503 if this node has none.
//   GET  /healthz          200 {"status":"ok"}
//   GET  /readyz           200 {"status":"ready"} / 503 {"status":"not_ready",
//                          "reasons":[...]} (the backend's not_ready()).
//   GET  /api/supervision  200 the backend's supervision tree JSON verbatim;
//                          503 unavailable if this node has none.
//   POST /api/admin/crash  body {"path":"root/payment/worker"}: makes that actor
//                          exit abnormally, as a crash would. 415 unless
//                          Content-Type is application/json, 400 malformed_json,
//                          422 for a body that is not an object, an unknown
//                          member, or a `path` that is missing, not a string,
//                          empty or over max_actor_path_chars (no backend call
//                          on any of these); then 202
//                          {"path":…,"status":"crash_sent"}, 404 not_found (no
//                          live actor has that path) or 403 forbidden (admin
//                          endpoints disabled on this node: admin.enabled=false).
// A backend that does not answer within request_timeout gets a 504; its late
// answer is then dropped. Unknown path: 404; known path, wrong method: 405 with
// an Allow header. HEAD is accepted wherever GET is.
//
// Limits enforced while reading: headers max_header_bytes (431), body
// max_body_bytes (413, decided from Content-Length before the body is read).
// After a 4xx that leaves unread input the connection is closed.
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

// What the gateway asks of the rest of the node (implemented on Kafka + CAF).
// Thread-safety: every member may be called from any thread; the gateway calls
// them from its io threads, so none of them may block.
// Callbacks: each `done` is called exactly once, from any thread (also from
// inside the call itself). A callback that comes after the gateway gave up
// (504) or after it was stopped is ignored; the gateway never blocks in it.
class backend {
public:
  virtual ~backend() = default;
  // Assigns the order id and created time, writes `order-created`, calls back
  // after the broker acknowledged (or failed). With an `idempotency_key`
  // (empty: none), the same key and body always get the same order id and
  // only one order; the same key with another body gets key_conflict.
  virtual void submit_order(actors::order_created order, std::string idempotency_key,
                            std::function<void(submit_result)> done) = 0;
  // nullopt: no such order.
  virtual void get_order(std::string id,
                         std::function<void(std::optional<actors::order_snapshot>)> done) = 0;
  // The analytics aggregates as a JSON text; nullopt: analytics not available
  // on this node.
  virtual void get_analytics(std::function<void(std::optional<std::string> json)> done) = 0;
  // Why the node is not ready (it has not joined its Kafka groups, a feature
  // is down and being retried), one line each; empty: ready. Called on an io
  // thread: must be cheap.
  virtual std::vector<std::string> not_ready() const = 0;

  // The live supervision tree as a JSON text; nullopt: not available on this
  // node. Called on an io thread: must answer from a snapshot, without asking
  // actors and waiting.
  virtual std::optional<std::string> supervision_json() const { return std::nullopt; }

  enum class crash_outcome {
    sent,       // the actor was told to exit abnormally
    not_found,  // no live actor has that path
    disabled,   // admin endpoints are off on this node (admin.enabled=false)
    refused,    // the root supervisor: nothing restarts it, the node would stop
  };
  // Makes the actor at `path` (e.g. "root/payment/worker") exit abnormally, as
  // a crash would, so its supervisor reacts. Must not block: `sent` means the
  // exit was sent, not that the restart happened.
  virtual crash_outcome crash([[maybe_unused]] const std::string& path) {
    return crash_outcome::disabled;
  }
};

// Longest actor path POST /api/admin/crash accepts, in characters.
inline constexpr size_t max_actor_path_chars = 512;

// Largest request line plus header fields (Beast's parser limit).
inline constexpr uint32_t max_header_bytes = 8 * 1024;

struct server_options {
  // An IP address literal (IPv4 or IPv6) to bind to; nothing else is bound.
  std::string address = "127.0.0.1";
  // 0 picks an ephemeral port; see http_server::port().
  uint16_t port = 8080;
  // Threads running the io_context; at least 1.
  int threads = 1;
  // How long the gateway waits for the backend before answering 504. Positive.
  std::chrono::milliseconds request_timeout{10000};
  // Deadline for receiving one request (so also how long an idle keep-alive
  // connection stays open) and for sending one response. Positive.
  std::chrono::milliseconds io_timeout{30000};
  // Connections open at once; one more is answered 503 (Retry-After) and
  // closed at once, so idle sockets cannot use up the file descriptors. At
  // least 1. start() also raises the process's open-file limit to its hard
  // limit where allowed, and lowers this to fit under it.
  size_t max_connections = 512;
  // Connections one client address may hold open at once; one more is
  // answered 429 (Retry-After) and closed at once, so one client cannot take
  // every connection (when this is below max_connections, as it fits after
  // start() lowered it). 0: no limit (behind a proxy that funnels every
  // client through one address, raise it or use 0).
  size_t max_client_connections = 256;
  // Requests per second one client address may make (a token bucket holding
  // one second's worth); above it: 429 with Retry-After. /healthz and
  // /readyz are never limited. 0: no limit.
  uint32_t rate_limit = 10000;
};

// Thread-safety: start(), stop() and port() may be called from any thread
// except the server's own io threads (a backend callback must not call stop()).
class http_server {
public:
  http_server(server_options options, std::shared_ptr<backend> backend);
  ~http_server();  // stop()

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds, listens and runs the io threads. Idempotent: a running server
  // returns success. Errors (runtime_errc::invalid_config), e.g.
  // "127.0.0.1:8080: address already in use", "threads must be at least 1".
  caf::expected<void> start();

  // Closes the listener and every connection (requests in flight are dropped),
  // joins the io threads. Idempotent; start() may be called again afterwards.
  void stop();

  // The bound port (the ephemeral one when options.port was 0); 0 when not running.
  uint16_t port() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kastor::gateway
