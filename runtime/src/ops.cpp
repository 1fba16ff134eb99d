#include "kastor/runtime/ops.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <variant>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "kastor/runtime/json_text.hpp"
#include "kastor/runtime/logging.hpp"

namespace kastor::runtime {

namespace {

namespace json = boost::json;

std::shared_ptr<spdlog::logger> logger() {
  static const auto instance = runtime::logger("kastor.ops");
  return instance;
}

http_response status_response(int status, std::string_view text) {
  json::object obj;
  obj["status"] = text;
  return {status, to_json_text(obj), "application/json", {}};
}

// A request's text in a log line: quoted and escaped, so it cannot forge lines.
std::string quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

http_response internal_error(const char* what) {
  logger()->error("ops backend threw status=500 error=\"{}\"", what);
  return http_error_response(500, "internal_error", "internal error");
}

// Validates a POST /api/admin/crash request into the actor path, checked in
// this order: 415 media type, 400 not JSON, 422 not an object, 422 an unknown
// member, 422 `path` missing / not a string / empty / too long.
std::variant<std::string, http_response> parse_crash_request(std::string_view content_type,
                                                             std::string_view body) {
  if (!is_json_media_type(content_type))
    return http_error_response(415, "unsupported_media_type",
                               "Content-Type must be application/json");
  json::error_code ec;
  const json::value doc = json::parse(body, ec);
  if (ec)
    return http_error_response(400, "malformed_json",
                               "request body is not valid JSON: " + ec.message());
  const auto* top = doc.if_object();
  if (top == nullptr)
    return http_error_response(422, "wrong_type", "request body must be a JSON object");
  for (const auto& member : *top)
    if (member.key() != "path") {
      const std::string key{member.key()};
      return http_error_response(422, "unknown_field", "unknown field '" + key + "'", key);
    }
  const auto* path = top->if_contains("path");
  if (path == nullptr)
    return http_error_response(422, "missing_field", "field 'path' is required", "path");
  if (!path->is_string())
    return http_error_response(422, "wrong_type", "field 'path' must be a string", "path");
  const auto& text = path->get_string();
  if (text.empty())
    return http_error_response(422, "invalid_value", "field 'path' must not be empty", "path");
  // Code points of text the parser already validated as UTF-8.
  const auto chars = std::count_if(text.begin(), text.end(),
                                   [](char c) { return (c & 0xC0) != 0x80; });
  if (static_cast<size_t>(chars) > max_actor_path_chars)
    return http_error_response(422, "invalid_value",
                               "field 'path' must be at most "
                                 + std::to_string(max_actor_path_chars) + " characters",
                               "path");
  return std::string{text};
}

// Whether `given` is `expected` (not empty), in a time that depends on
// `given`'s length only, not on where the two differ.
bool same_secret(std::string_view given, std::string_view expected) {
  if (expected.empty())
    return false;
  size_t diff = given.size() ^ expected.size();
  for (size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i]) ^ static_cast<unsigned char>(expected[i % expected.size()]);
  return diff == 0;
}

// The caller of an admin route: nullopt when allowed, else the refusal.
std::optional<http_response> refuse_admin(const ops_backend& be, const http_request& req) {
  const auto token = be.admin_token();
  if (token.empty())
    return http_error_response(403, "forbidden",
                               "admin endpoints are off on this node: set admin.token (a secret of "
                               "at least " + std::to_string(min_admin_token_chars)
                                 + " characters, e.g. in KASTOR_ADMIN_TOKEN) and send it as "
                                   "Authorization: Bearer <token>");
  constexpr std::string_view scheme = "Bearer ";
  const auto auth = req.header("Authorization");
  const bool bearer = auth.size() > scheme.size()
                      && std::equal(scheme.begin(), scheme.end(), auth.begin(),
                                    [](char a, char b) {
                                      return std::tolower(static_cast<unsigned char>(a))
                                             == std::tolower(static_cast<unsigned char>(b));
                                    });
  if (req.count("Authorization") != 1 || !bearer
      || !same_secret(auth.substr(scheme.size()), token)) {
    logger()->warn("admin request refused path={} client={} reason=unauthorized", req.path,
                   req.client);
    auto res = http_error_response(401, "unauthorized",
                                   "admin endpoints need Authorization: Bearer <admin.token>");
    res.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="kastor admin")");
    return res;
  }
  return std::nullopt;
}

http_response crash(ops_backend& be, const http_request& req) {
  if (auto refused = refuse_admin(be, req))
    return std::move(*refused);
  auto parsed = parse_crash_request(req.header("Content-Type"), req.body);
  if (auto* err = std::get_if<http_response>(&parsed))
    return std::move(*err);
  const auto& path = std::get<std::string>(parsed);
  switch (be.crash(path)) {
    case ops_backend::crash_outcome::sent: {
      logger()->warn("admin crash sent path={}", quoted(path));
      json::object obj;
      obj["path"] = path;
      obj["status"] = "crash_sent";
      return {202, to_json_text(obj), "application/json", {}};
    }
    case ops_backend::crash_outcome::not_found:
      logger()->info("admin crash refused path={} reason=not_found", quoted(path));
      return http_error_response(404, "not_found", "no live actor has the path '" + path + "'");
    case ops_backend::crash_outcome::refused:
      logger()->info("admin crash refused path={} reason=root", quoted(path));
      return http_error_response(409, "conflict",
                                 "'" + path
                                   + "' is the root supervisor: nothing restarts it, so crashing "
                                     "it would stop the node (stop the node instead)");
  }
  logger()->error("backend returned an unknown crash outcome status=500");
  return http_error_response(500, "internal_error", "internal error");
}

// A route whose backend answers at once (ops_backend's contract).
template <class F>
http_route at_once(std::string path, std::vector<std::string> methods, bool limited, F answer) {
  return {std::move(path), false, std::move(methods), limited,
          [answer = std::move(answer)](const http_request& req, http_reply reply) {
            http_response res;
            try {
              res = answer(req);
            } catch (const std::exception& e) {
              res = internal_error(e.what());
            }
            reply(std::move(res));
          }};
}

}  // namespace

std::vector<http_route> ops_routes(std::shared_ptr<ops_backend> backend) {
  if (!backend)
    throw std::invalid_argument("ops_routes: no backend");
  auto be = std::move(backend);
  std::vector<http_route> routes;
  // Scrapes come at a fixed interval from a known scraper: never limited.
  routes.push_back(at_once("/metrics", {"GET"}, false, [be](const http_request&) {
    if (auto text = be->metrics_text())
      return http_response{200, std::move(*text), "text/plain; version=0.0.4; charset=utf-8", {}};
    return http_error_response(503, "unavailable", "metrics are not available on this node");
  }));
  routes.push_back(at_once("/healthz", {"GET"}, false,
                           [](const http_request&) { return status_response(200, "ok"); }));
  routes.push_back(at_once("/readyz", {"GET"}, false, [be](const http_request&) {
    auto why = be->not_ready();
    if (why.empty())
      return status_response(200, "ready");
    json::object obj;
    obj["status"] = "not_ready";
    json::array reasons;
    for (auto& r : why)
      reasons.emplace_back(r);
    obj["reasons"] = std::move(reasons);
    return http_response{503, to_json_text(obj), "application/json", {}};
  }));
  routes.push_back(at_once("/api/supervision", {"GET"}, true, [be](const http_request&) {
    if (auto tree = be->supervision_json())
      return http_response{200, std::move(*tree), "application/json", {}};
    return http_error_response(503, "unavailable",
                               "the supervision tree is not available on this node");
  }));
  routes.push_back(at_once("/api/status", {"GET"}, true, [be](const http_request&) {
    if (auto status = be->status_json())
      return http_response{200, std::move(*status), "application/json", {}};
    return http_error_response(503, "unavailable", "the status is not available on this node");
  }));
  routes.push_back(at_once("/api/admin/crash", {"POST"}, true,
                           [be](const http_request& req) { return crash(*be, req); }));
  return routes;
}

}  // namespace kastor::runtime
