#include <cstdio>

#include "kastor/apps/commands.hpp"
#include "kastor/apps/http_client.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/json_text.hpp"

namespace kastor::apps {

int run_ctl(const ctl_options& opts) {
  auto colon = opts.node.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0
      || std::sscanf(opts.node.c_str() + colon + 1, "%d", &port) != 1 || port <= 0 || port > 65535) {
    std::fprintf(stderr, "kastor ctl: --node '%s': expected HOST:PORT\n", opts.node.c_str());
    return 2;
  }
  http_client client{opts.node.substr(0, colon), static_cast<uint16_t>(port)};
  caf::expected<http_reply> reply = http_reply{};
  if (opts.verb == "supervision") {
    reply = client.get("/api/supervision");
  } else if (opts.verb == "crash") {
    std::string body;
    runtime::json_object_writer{body}.text("path", opts.path).close();
    reply = client.post_json("/api/admin/crash", body);
  } else {
    std::fprintf(stderr, "kastor ctl: unknown command '%s'\n", opts.verb.c_str());
    return 2;
  }
  if (!reply) {
    std::fprintf(stderr, "kastor ctl: %s: %s\n", opts.node.c_str(),
                 runtime::describe(reply.error()).c_str());
    return 2;
  }
  bool ok = reply->status >= 200 && reply->status < 300;
  std::fprintf(ok ? stdout : stderr, "%s\n", reply->body.c_str());
  if (!ok)
    std::fprintf(stderr, "kastor ctl: HTTP %u\n", reply->status);
  return ok ? 0 : 1;
}

}  // namespace kastor::apps
