// The runtime's HTTP transport as an application's routes see it: routing by
// exact path and longest prefix, 404/405 with Allow, what a handler is told,
// replies from any thread (once), health routes outside the rate limit, and
// route tables that cannot work refused at start. (Limits, framing and the
// 504/500 answers are the gateway's tests', over the same transport.)
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/http.hpp"

namespace kastor::runtime {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using ::testing::HasSubstr;

struct answer {
  unsigned status = 0;
  std::string body;
  std::string allow;
  std::string retry_after;
};

// One request on a fresh connection, with optional headers.
answer call(uint16_t port, http::verb method, const std::string& target,
            std::vector<std::pair<std::string, std::string>> headers = {}) {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  stream.expires_after(std::chrono::seconds{5});
  stream.connect(asio::ip::tcp::endpoint{asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "localhost");
  for (auto& [k, v] : headers)
    req.set(k, v);
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.skip(method == http::verb::head);
  http::read(stream, buffer, parser);
  const auto& res = parser.get();
  return {res.result_int(), res.body(), std::string{res[http::field::allow]},
          std::string{res[http::field::retry_after]}};
}

http_route echo(std::string path, bool prefix, std::vector<std::string> methods) {
  return {path, prefix, std::move(methods), true,
          [path](const http_request& r, http_reply reply) {
            reply({200, path + "|" + r.method + "|" + r.path + "|" + r.target, "text/plain", {}});
          }};
}

class Http : public ::testing::Test {
protected:
  void start(std::vector<http_route> routes, http_options o = {}) {
    o.port = 0;
    server_ = std::make_unique<http_server>(o, std::move(routes));
    auto started = server_->start();
    ASSERT_TRUE(started) << describe(started.error());
    port_ = server_->port();
  }
  std::unique_ptr<http_server> server_;
  uint16_t port_ = 0;
};

TEST_F(Http, AnExactRouteWinsThenTheLongestPrefix) {
  start({echo("/api/things", false, {"GET"}), echo("/api/things/", true, {"GET"}),
         echo("/api/things/special/", true, {"GET"}), echo("/api/", true, {"GET"})});
  EXPECT_EQ(call(port_, http::verb::get, "/api/things").body, "/api/things|GET|/api/things|/api/things");
  EXPECT_EQ(call(port_, http::verb::get, "/api/things/7?full=1").body,
            "/api/things/|GET|/api/things/7|/api/things/7?full=1");
  EXPECT_EQ(call(port_, http::verb::get, "/api/things/special/7").body,
            "/api/things/special/|GET|/api/things/special/7|/api/things/special/7");
  EXPECT_EQ(call(port_, http::verb::get, "/api/other").body, "/api/|GET|/api/other|/api/other");
  // No route: 404 with the JSON error body
  auto none = call(port_, http::verb::get, "/nothing");
  EXPECT_EQ(none.status, 404u);
  EXPECT_THAT(none.body, HasSubstr(R"("error":"not_found")"));
}

TEST_F(Http, AnotherMethodIs405ListingTheRoutesOwnAndHeadIsAnsweredAsGet) {
  start({echo("/x", false, {"GET", "POST"}), echo("/y", false, {"POST"})});
  auto wrong = call(port_, http::verb::delete_, "/x");
  EXPECT_EQ(wrong.status, 405u);
  EXPECT_EQ(wrong.allow, "GET, HEAD, POST");
  EXPECT_EQ(call(port_, http::verb::get, "/y").allow, "POST");
  auto head = call(port_, http::verb::head, "/x");
  EXPECT_EQ(head.status, 200u);
  EXPECT_EQ(head.body, "");  // as GET (the handler saw GET), without the body
  EXPECT_EQ(call(port_, http::verb::post, "/x").body, "/x|POST|/x|/x");
}

TEST_F(Http, AHandlerSeesHeadersCaseInsensitivelyAndMayReplyLaterFromAnotherThreadOnce) {
  std::vector<std::thread> late;
  start({{"/later", false, {"GET"}, true, [&](const http_request& r, http_reply reply) {
            const std::string token{r.header("x-token")};
            const auto n = r.count("X-TOKEN");
            // The reply comes from another thread once the handler is done.
            auto handled = std::make_shared<std::promise<void>>();
            late.emplace_back([reply, token, n, done = handled->get_future()]() mutable {
              done.wait();
              reply({200, token + "/" + std::to_string(n), "text/plain", {}});
              reply({500, "a second reply is ignored", "text/plain", {}});
            });
            handled->set_value();
          }}});
  auto r = call(port_, http::verb::get, "/later", {{"X-Token", "abc"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "abc/1");
  for (auto& t : late)
    t.join();
  // And the connection's server still serves
  EXPECT_EQ(call(port_, http::verb::get, "/later", {{"x-token", "d"}}).body, "d/1");
  for (auto& t : late)
    if (t.joinable())
      t.join();
}

TEST_F(Http, AnUnlimitedRouteIsAnsweredWhileTheClientIsOverTheRateLimit) {
  http_options o;
  o.rate_limit = 1;
  auto health = echo("/healthz", false, {"GET"});
  health.limited = false;
  start({echo("/work", false, {"GET"}), health}, o);
  EXPECT_EQ(call(port_, http::verb::get, "/work").status, 200u);
  auto limited = call(port_, http::verb::get, "/work");
  EXPECT_EQ(limited.status, 429u);
  EXPECT_FALSE(limited.retry_after.empty());
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(call(port_, http::verb::get, "/healthz").status, 200u);
}

TEST(HttpServer, ARouteTableThatCannotWorkIsAStartError) {
  http_options o;
  o.port = 0;
  auto twice = http_server{o, {echo("/a", false, {"GET"}), echo("/a", false, {"POST"})}}.start();
  ASSERT_FALSE(twice);
  EXPECT_THAT(describe(twice.error()), HasSubstr("two routes for /a"));
  // (an exact and a prefix route of one path are two routes)
  EXPECT_TRUE(http_server(o, {echo("/a", false, {"GET"}), echo("/a", true, {"GET"})}).start());
  http_route no_handler{"/b", false, {"GET"}, true, {}};
  auto bad = http_server{o, {no_handler}}.start();
  ASSERT_FALSE(bad);
  EXPECT_THAT(describe(bad.error()), HasSubstr("the route for /b has no handler"));
}

TEST(HttpServer, ErrorBodiesAreJsonWithTheirField) {
  EXPECT_EQ(http_error_body("invalid_value", "bad \"x\"", "x"),
            R"({"error":"invalid_value","message":"bad \"x\"","field":"x"})");
  const auto r = http_error_response(403, "forbidden", "no");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error":"forbidden","message":"no"})");
}

TEST(HttpServer, JsonMediaTypesAcceptOnlyUtf8) {
  EXPECT_TRUE(is_json_media_type("application/json"));
  EXPECT_TRUE(is_json_media_type("Application/JSON; charset=\"UTF-8\""));
  EXPECT_FALSE(is_json_media_type("application/json; charset=latin1"));
  EXPECT_FALSE(is_json_media_type("text/plain"));
}

}  // namespace
}  // namespace kastor::runtime
