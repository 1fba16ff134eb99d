// The operational routes of a node, for any listener to serve (http.hpp):
//   GET  /healthz          200 {"status":"ok"} (never rate limited)
//   GET  /readyz           200 {"status":"ready"} / 503 {"status":"not_ready",
//                          "reasons":[...]} (never rate limited)
//   GET  /api/supervision  200 the supervision tree's JSON; 503 unavailable
//                          when the node has none
//   GET  /api/status       200 the node's own view of its roles and mailboxes;
//                          503 unavailable when the node has none
//   POST /api/admin/crash  body {"path":"root/accounts/worker"}: makes that actor
//                          exit abnormally, as a crash would. 415 unless
//                          Content-Type is application/json, 400 malformed_json,
//                          422 for a body that is not an object, an unknown
//                          member, or a `path` that is missing, not a string,
//                          empty or over max_actor_path_chars (the backend is
//                          not asked on any of these); then 202
//                          {"path":…,"status":"crash_sent"}, 404 not_found (no
//                          live actor has that path), 409 conflict (the root)
//                          or 403 forbidden (admin endpoints disabled).
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

  enum class crash_outcome {
    sent,       // the actor was told to exit abnormally
    not_found,  // no live actor has that path
    disabled,   // admin endpoints are off on this node (admin.enabled=false)
    refused,    // the root supervisor: nothing restarts it, the node would stop
  };
  // Makes the actor at `path` (e.g. "root/accounts/worker") exit abnormally, as
  // a crash would, so its supervisor reacts. `sent` means the exit was sent,
  // not that the restart happened.
  virtual crash_outcome crash([[maybe_unused]] const std::string& path) {
    return crash_outcome::disabled;
  }
};

// Longest actor path POST /api/admin/crash accepts, in characters.
inline constexpr size_t max_actor_path_chars = 512;

// The routes above, answered by `backend` (which they keep alive).
std::vector<http_route> ops_routes(std::shared_ptr<ops_backend> backend);

}  // namespace kastor::runtime
