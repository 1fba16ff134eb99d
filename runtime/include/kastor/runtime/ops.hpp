// The operational routes of a node, for any listener to serve (http.hpp):
//   GET  /metrics          200 the node's metrics and the application's, in
//                          Prometheus' text format (0.0.4; metrics.hpp); 503
//                          unavailable when the node has none (never rate limited)
//   GET  /healthz          200 {"status":"ok"} (never rate limited)
//   GET  /readyz           200 {"status":"ready"} / 503 {"status":"not_ready",
//                          "reasons":[...]} (never rate limited)
//   GET  /api/supervision  200 the supervision tree's JSON; 503 unavailable
//                          when the node has none
//   GET  /api/status       200 the node's own view of its roles and mailboxes;
//                          503 unavailable when the node has none
//   POST /api/admin/crash  body {"path":"root/accounts/worker"}: makes that actor
//                          exit abnormally, as a crash would. First the
//                          caller: 403 forbidden when the node has no admin
//                          token (admin endpoints off, the body says how to
//                          turn them on), 401 unauthorized (WWW-Authenticate:
//                          Bearer) without `Authorization: Bearer <token>`
//                          or with another token. Then the body: 415 unless
//                          Content-Type is application/json, 400 malformed_json,
//                          422 for a body that is not an object, an unknown
//                          member, or a `path` that is missing, not a string,
//                          empty or over max_actor_path_chars (the backend is
//                          not asked on any of these); then 202
//                          {"path":…,"status":"crash_sent"}, 404 not_found (no
//                          live actor has that path) or 409 conflict (the root).
// Nothing is asked of the backend's crash() before all of that passed.
// actor_node serves them on ops.http for every application (bridges/node.hpp).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kastor/runtime/http.hpp"

namespace kastor::runtime {

// What the ops routes ask of a node. Every member is called on an io thread:
// it must answer at once, from a snapshot, never by asking actors and waiting.
class ops_backend {
public:
  virtual ~ops_backend() = default;
  // Why the node is not ready, one line each; empty: ready.
  virtual std::vector<std::string> not_ready() const = 0;
  // The live supervision tree as JSON; nullopt: not available here.
  virtual std::optional<std::string> supervision_json() const { return std::nullopt; }
  // The node's status as JSON; nullopt: not available here.
  virtual std::optional<std::string> status_json() const { return std::nullopt; }
  // Its metrics in Prometheus' text format; nullopt: not available here.
  virtual std::optional<std::string> metrics_text() const { return std::nullopt; }

  // The token admin routes require (admin.token); empty: they are off.
  virtual std::string admin_token() const { return {}; }

  enum class crash_outcome {
    sent,       // the actor was told to exit abnormally
    not_found,  // no live actor has that path
    refused,    // the root supervisor: nothing restarts it, the node would stop
  };
  // Makes the actor at `path` (e.g. "root/accounts/worker") exit abnormally, as
  // a crash would, so its supervisor reacts. `sent` means the exit was sent,
  // not that the restart happened.
  virtual crash_outcome crash([[maybe_unused]] const std::string& path) {
    return crash_outcome::not_found;
  }
};

// Shortest admin.token accepted (a guessable token is no protection).
inline constexpr size_t min_admin_token_chars = 16;

// Longest actor path POST /api/admin/crash accepts, in characters.
inline constexpr size_t max_actor_path_chars = 512;

// The routes above, answered by `backend` (which they keep alive; a node's,
// actor_node::ops(), answers "stopped" once the node is gone). Throws
// std::invalid_argument for a null backend.
std::vector<http_route> ops_routes(std::shared_ptr<ops_backend> backend);

}  // namespace kastor::runtime
