#include <charconv>
#include <cstdlib>
#include <cstdio>
#include <optional>

#include "kastor/apps/commands.hpp"
#include "kastor/apps/http_client.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/json_text.hpp"

namespace kastor::apps {

namespace {

// "HOST:PORT" or "[IPV6]:PORT" -> host and port; nullopt for anything else.
std::optional<std::pair<std::string, uint16_t>> parse_node(const std::string& node) {
  auto colon = node.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == node.size())
    return std::nullopt;
  auto host = node.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']')
      return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return std::nullopt;  // an IPv6 address needs brackets
  }
  unsigned port = 0;
  const char* first = node.data() + colon + 1;
  const char* last = node.data() + node.size();
  auto [end, ec] = std::from_chars(first, last, port);
  if (ec != std::errc{} || end != last || port == 0 || port > 65535)
    return std::nullopt;
  return std::pair{host, static_cast<uint16_t>(port)};
}

}  // namespace

int run_ctl(const ctl_options& opts) {
  auto node = parse_node(opts.node);
  if (!node) {
    std::fprintf(stderr, "kastor ctl: --node '%s': expected HOST:PORT (port 1-65535)\n",
                 opts.node.c_str());
    return 2;
  }
  http_client client{node->first, node->second};
  caf::expected<http_reply> reply = http_reply{};
  if (opts.verb == "supervision") {
    reply = client.get("/api/supervision");
  } else if (opts.verb == "status") {
    reply = client.get("/api/status");
  } else if (opts.verb == "crash") {
    std::string body;
    runtime::json_object_writer{body}.text("path", opts.path).close();
    // The node's admin.token, from the variable that sets it on a node.
    std::vector<std::pair<std::string, std::string>> headers;
    if (const char* token = std::getenv("KASTOR_ADMIN_TOKEN"); token && *token)
      headers.emplace_back("Authorization", std::string{"Bearer "} + token);
    reply = client.post_json("/api/admin/crash", body, headers);
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
