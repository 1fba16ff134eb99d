// An HTTP/1.1 server with a route table: the transport every kastor listener
// shares (the node's ops routes, an application's own routes).
// Boost.Beast is behind it; this header names none of it.
//
//   runtime::http_server server{options, {
//     {.path = "/healthz", .methods = {"GET"}, .limited = false,
//      .handle = [](const http_request&, http_reply reply) { reply({200, R"({"status":"ok"})"}); }},
//   }};
//   if (auto started = server.start(); !started) ...   // "127.0.0.1:9464: address already in use"
//
// What the transport answers itself (every body JSON, {"error":code,"message":…}):
//   404 not_found for a path no route has; 405 method_not_allowed with an
//   Allow header for a route's path with another method (a route taking GET
//   takes HEAD too, answered without a body); 429 too_many_requests with
//   Retry-After above options.rate_limit per client address (routes with
//   `limited` false, the health checks, are never limited); 504 timeout when
//   a handler has not replied within request_timeout (its late reply is then
//   dropped); 500 internal_error when a handler throws (the server goes on).
// Limits enforced while reading: headers max_header_bytes (431), body
// max_body_bytes (413, decided from Content-Length before the body is read),
// the framing of RFC 9112 section 6 (Transfer-Encoding: 400 / 501). After a
// 4xx that leaves unread input the connection is closed. Connections over
// max_connections are answered 503 and closed, over max_client_connections
// for one address 429, both without reading the request.
//
// Thread-safety: start(), stop() and port() from any thread except the
// server's own io threads. Handlers run on an io thread and must not block;
// `reply` may be called from any thread, exactly once (later calls, and a
// call after the 504 or after stop(), are ignored).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "kastor/runtime/metrics.hpp"

namespace kastor::runtime {

struct http_request {
  std::string method;  // as sent: "GET", "POST", … (HEAD is handled as GET)
  std::string target;  // as sent: the path and the query
  std::string path;    // the target up to '?'
  std::string body;
  std::string client;  // the peer's address
  std::vector<std::pair<std::string, std::string>> headers;

  // The first value of the header `name` (case-insensitive); empty if absent.
  std::string_view header(std::string_view name) const;
  size_t count(std::string_view name) const;
};

struct http_response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
};

// A JSON error response: {"error":code,"message":message[,"field":field]}.
http_response http_error_response(int status, std::string code, std::string message,
                                  std::string field = {});
// Its body alone.
std::string http_error_body(const std::string& code, const std::string& message,
                            const std::string& field = {});

// application/json with optional parameters. JSON is UTF-8 by definition
// (RFC 8259), so a declared charset must say so; any other parameter is
// ignored.
bool is_json_media_type(std::string_view content_type);

using http_reply = std::function<void(http_response)>;

struct http_route {
  // Matched exactly, or (prefix) any path that starts with it.
  std::string path;
  bool prefix = false;
  // The methods it takes, in the order the Allow header lists them; "GET"
  // takes HEAD too.
  std::vector<std::string> methods;
  // False: never counted against the rate limit (health checks).
  bool limited = true;
  std::function<void(const http_request&, http_reply)> handle;
};

struct http_options {
  // An IP address literal (IPv4 or IPv6) to bind to; nothing else is bound.
  std::string address = "127.0.0.1";
  // 0 picks an ephemeral port; see http_server::port().
  uint16_t port = 8080;
  // Threads running the io_context; at least 1.
  int threads = 1;
  // How long a handler may take to reply before the server answers 504. Positive.
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
  // answered 429 (Retry-After) and closed at once. 0: no limit (behind a
  // proxy that funnels every client through one address, raise it or use 0).
  size_t max_client_connections = 256;
  // Requests per second one client address may make (a token bucket holding
  // one second's worth); above it: 429 with Retry-After. 0: no limit.
  uint32_t rate_limit = 10000;
  // Largest request body, in bytes (413 above it).
  size_t max_body_bytes = 64 * 1024;
  // The logger the server's lines are written by (runtime::logger).
  std::string logger = "kastor.http";
  // Where its requests are counted (kastor_http_requests_total{route,code},
  // kastor_http_request_duration_seconds{route}; route is the route's path,
  // "unmatched" for none): a node's registry (actor_node::metrics()). Null: not counted.
  std::shared_ptr<metric_registry> metrics = nullptr;
};

// Largest request line plus header fields (Beast's parser limit).
inline constexpr uint32_t max_header_bytes = 8 * 1024;

class http_server {
public:
  http_server(http_options options, std::vector<http_route> routes);
  ~http_server();  // stop()

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds, listens and runs the io threads. Idempotent: a running server
  // returns success. Errors (runtime_errc::invalid_config), e.g.
  // "127.0.0.1:8080: address already in use", "threads must be at least 1",
  // "two routes for /healthz".
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

// "host:port", with an IPv6 host in brackets.
std::string endpoint_text(const std::string& address, uint16_t port);

}  // namespace kastor::runtime
