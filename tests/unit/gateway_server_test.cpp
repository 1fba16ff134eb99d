// The HTTP gateway over real loopback sockets: a fake backend scripts the
// answers, a small Beast client talks to the server. Every wait is on an event
// with a deadline; nothing sleeps.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/wait.hpp"
#include "kastor/bridges/codec.hpp"
#include "kastor/gateway/server.hpp"
#include "kastor/gateway/validation.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/trace.hpp"

namespace kastor::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr std::string_view seed_body =
  R"({"customerId":"test-customer-123","items":[{"productId":"product-abc",)"
  R"("name":"Test Product","price":49.99,"quantity":2,"subtotal":99.98}],"totalAmount":99.98})";

// --- a backend the test scripts ------------------------------------------------

// Thread-safe. Answers from inside the call unless told to hold the callbacks.
class fake_backend final : public backend {
public:
  enum class submit_mode {
    acknowledge,       // ok, order ids "order-1", "order-2", … in arrival order
    fail,              // the write failed
    hold,              // keep the callback; the test calls it (or never does)
    hold_until_count,  // keep callbacks until `release_at` arrived, then answer all
    throw_,            // throw from submit_order
  };

  // The key "used-with-another-body" is answered as a conflict.
  void submit_order(actors::order_created order, std::string idempotency_key,
                    std::string traceparent, std::function<void(submit_result)> done) override {
    std::vector<std::pair<std::function<void(submit_result)>, submit_result>> answers;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      orders_.push_back(std::move(order));
      keys_.push_back(idempotency_key);
      traces_.push_back(traceparent);
      const auto n = orders_.size();
      if (idempotency_key == "used-with-another-body") {
        answers.emplace_back(std::move(done), submit_result{false, "", "", true});
      } else
      switch (mode_) {
        case submit_mode::acknowledge:
          answers.emplace_back(std::move(done), submit_result{true, "order-" + std::to_string(n), "", false});
          break;
        case submit_mode::fail:
          answers.emplace_back(std::move(done), submit_result{false, "", "broker unreachable", false});
          break;
        case submit_mode::hold:
          held_.push_back(std::move(done));
          break;
        case submit_mode::hold_until_count:
          held_.push_back(std::move(done));
          if (held_.size() == release_at_) {
            for (size_t i = 0; i < held_.size(); ++i)
              answers.emplace_back(std::move(held_[i]),
                                   submit_result{true, "order-" + std::to_string(i + 1), "", false});
            held_.clear();
          }
          break;
        case submit_mode::throw_:
          cv_.notify_all();
          throw std::runtime_error{"backend exploded"};
      }
      cv_.notify_all();
    }
    for (auto& [callback, result] : answers)
      callback(std::move(result));
  }

  void get_order(std::string id,
                 std::function<void(std::optional<actors::order_snapshot>)> done) override {
    std::optional<actors::order_snapshot> answer;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      ++lookups_;
      if (auto it = snapshots_.find(id); it != snapshots_.end())
        answer = it->second;
    }
    done(std::move(answer));
  }

  void get_analytics(std::function<void(std::optional<std::string>)> done) override {
    std::optional<std::string> answer;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      ++lookups_;
      answer = analytics_;
    }
    done(std::move(answer));
  }

  std::vector<std::string> not_ready() const override {
    std::lock_guard<std::mutex> guard{mutex_};
    if (ready_)
      return {};
    return {"role order: not in its consumer group yet", "requests: no reply topic (retrying)"};
  }

  std::optional<std::string> supervision_json() const override {
    std::lock_guard<std::mutex> guard{mutex_};
    ++lookups_;
    return supervision_;
  }

  std::string admin_token() const override {
    std::lock_guard<std::mutex> guard{mutex_};
    return admin_token_;
  }

  crash_outcome crash(const std::string& path) override {
    std::lock_guard<std::mutex> guard{mutex_};
    crashes_.push_back(path);
    if (crash_throws_)
      throw std::runtime_error{"crash exploded"};
    return crash_outcome_;
  }

  // --- scripting ---
  void set_submit_mode(submit_mode m, size_t release_at = 0) {
    std::lock_guard<std::mutex> guard{mutex_};
    mode_ = m;
    release_at_ = release_at;
  }
  void put_snapshot(actors::order_snapshot s) {
    std::lock_guard<std::mutex> guard{mutex_};
    snapshots_[s.order_id] = std::move(s);
  }
  void set_analytics(std::optional<std::string> body) {
    std::lock_guard<std::mutex> guard{mutex_};
    analytics_ = std::move(body);
  }
  void set_ready(bool r) {
    std::lock_guard<std::mutex> guard{mutex_};
    ready_ = r;
  }
  void set_supervision(std::optional<std::string> tree) {
    std::lock_guard<std::mutex> guard{mutex_};
    supervision_ = std::move(tree);
  }
  void set_crash_outcome(crash_outcome outcome) {
    std::lock_guard<std::mutex> guard{mutex_};
    crash_outcome_ = outcome;
  }
  void set_crash_throws(bool t) {
    std::lock_guard<std::mutex> guard{mutex_};
    crash_throws_ = t;
  }
  void set_admin_token(std::string t) {
    std::lock_guard<std::mutex> guard{mutex_};
    admin_token_ = std::move(t);
  }

  // --- observing ---
  std::vector<std::string> keys() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return keys_;
  }
  std::vector<std::string> traces() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return traces_;
  }
  std::vector<actors::order_created> orders() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return orders_;
  }
  // Every call that asked the backend for something (ready() aside).
  size_t calls() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return orders_.size() + lookups_ + crashes_.size();
  }
  // The path of every crash() call, in order.
  std::vector<std::string> crashes() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return crashes_;
  }
  bool wait_for_submits(size_t n, std::chrono::milliseconds deadline) {
    std::unique_lock<std::mutex> lock{mutex_};
    return cv_.wait_for(lock, deadline, [&] { return orders_.size() >= n; });
  }
  std::vector<std::function<void(submit_result)>> take_held() {
    std::lock_guard<std::mutex> guard{mutex_};
    return std::exchange(held_, {});
  }

private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  submit_mode mode_ = submit_mode::acknowledge;
  size_t release_at_ = 0;
  std::vector<actors::order_created> orders_;
  std::vector<std::string> keys_;
  std::vector<std::string> traces_;
  std::vector<std::function<void(submit_result)>> held_;
  mutable size_t lookups_ = 0;
  std::map<std::string, actors::order_snapshot> snapshots_;
  std::optional<std::string> analytics_;
  bool ready_ = true;
  std::optional<std::string> supervision_;
  crash_outcome crash_outcome_ = crash_outcome::sent;
  bool crash_throws_ = false;
  std::string admin_token_ = "gateway-test-admin-token";
  std::vector<std::string> crashes_;
};

// A backend that overrides only what every backend must: the admin members
// keep their default implementations.
class minimal_backend final : public backend {
public:
  void submit_order(actors::order_created, std::string, std::string,
                    std::function<void(submit_result)> done) override {
    done(submit_result{false, "", "not implemented", false});
  }
  void get_order(std::string,
                 std::function<void(std::optional<actors::order_snapshot>)> done) override {
    done(std::nullopt);
  }
  void get_analytics(std::function<void(std::optional<std::string>)> done) override {
    done(std::nullopt);
  }
  std::vector<std::string> not_ready() const override { return {}; }
};

// --- a small client ---------------------------------------------------------------

struct reply {
  beast::error_code ec;
  http::response<http::string_body> res;

  unsigned status() const { return res.result_int(); }
  std::string header(http::field f) const {
    const auto v = res[f];
    return std::string{v.data(), v.size()};
  }
  // The "error" member of a JSON error body ("" if there is none).
  std::string error_code() const {
    json::error_code ec;
    const auto v = json::parse(res.body(), ec);
    if (ec || !v.is_object() || !v.as_object().contains("error"))
      return "";
    return std::string{v.as_object().at("error").as_string()};
  }
};

// One HTTP/1.1 connection to 127.0.0.1; every operation blocks the caller for
// at most `deadline`.
class client {
public:
  explicit client(uint16_t port, std::chrono::milliseconds deadline = 5s)
    : stream_(ioc_), deadline_(deadline) {
    stream_.expires_after(deadline_);
    stream_.async_connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port},
                          [this](beast::error_code ec) { connect_error_ = ec; });
    run();
  }

  reply send(http::request<http::string_body> req) {
    req.prepare_payload();
    beast::error_code written;
    stream_.expires_after(deadline_);
    http::async_write(stream_, req, [&](beast::error_code ec, size_t) { written = ec; });
    run();
    if (written)
      return reply{written, {}};
    return read(req.method() == http::verb::head);
  }

  beast::error_code write_raw(const std::string& bytes) {
    beast::error_code written = connect_error_;
    if (written)
      return written;
    stream_.expires_after(deadline_);
    asio::async_write(stream_, asio::buffer(bytes),
                      [&](beast::error_code ec, size_t) { written = ec; });
    run();
    return written;
  }

  reply read(bool head_request = false) {
    reply r;
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    parser.skip(head_request);
    stream_.expires_after(deadline_);
    http::async_read(stream_, buffer_, parser, [&](beast::error_code ec, size_t) { r.ec = ec; });
    run();
    if (!r.ec)
      r.res = parser.release();
    return r;
  }

  // The server closed the connection: the next read ends without data.
  bool closed_by_server() {
    char byte = 0;
    beast::error_code result;
    stream_.expires_after(deadline_);
    stream_.async_read_some(asio::buffer(&byte, 1),
                            [&](beast::error_code ec, size_t) { result = ec; });
    run();
    return result == asio::error::eof || result == asio::error::connection_reset;
  }

private:
  void run() {
    ioc_.restart();
    ioc_.run();
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::chrono::milliseconds deadline_;
  beast::error_code connect_error_;
};

http::request<http::string_body> request(http::verb method, std::string target) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  return req;
}

http::request<http::string_body> post(std::string target, std::string_view body,
                                      std::string_view content_type = "application/json") {
  auto req = request(http::verb::post, std::move(target));
  if (!content_type.empty())
    req.set(http::field::content_type, content_type);
  req.body() = std::string{body};
  return req;
}

http::request<http::string_body> get(std::string target) {
  return request(http::verb::get, std::move(target));
}

// --- fixture ------------------------------------------------------------------------

class GatewayServer : public ::testing::Test {
protected:
  void start(server_options options = {}) {
    options.address = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<http_server>(options, backend_);
    const auto started = server_->start();
    ASSERT_TRUE(started) << runtime::describe(started.error());
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }

  // One request on a fresh connection.
  reply call(http::request<http::string_body> req) {
    client c{port_};
    return c.send(std::move(req));
  }

  // A kept-alive connection, served once: open and counted by the server.
  static void hold(client& c) {
    ASSERT_FALSE(c.write_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_EQ(c.read().status(), 200u);
  }
  // Closes a held connection (the server closes it after one more answer).
  static void let_go(client& c) {
    ASSERT_FALSE(c.write_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    ASSERT_EQ(c.read().status(), 200u);
    ASSERT_TRUE(c.closed_by_server());
  }

  void expect_concurrent_orders_answered(int threads, size_t n);

  std::shared_ptr<fake_backend> backend_ = std::make_shared<fake_backend>();
  std::unique_ptr<http_server> server_;
  uint16_t port_ = 0;
};

// --- POST /api/orders -----------------------------------------------------------------

TEST_F(GatewayServer, AValidOrderIsAcceptedWith202OnceTheBackendAcknowledged) {
  // given a running gateway whose backend acknowledges writes
  start();
  // when the seed body is posted
  const auto r = call(post("/api/orders", seed_body));
  // then the answer is 202 with the order id the backend assigned
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 202u);
  EXPECT_EQ(r.header(http::field::content_type), "application/json");
  EXPECT_EQ(r.res.body(), R"({"orderId":"order-1","status":"PENDING"})");
  // and the backend received the validated order, in cents, without an id
  const auto orders = backend_->orders();
  ASSERT_EQ(orders.size(), 1u);
  EXPECT_EQ(orders[0].customer_id, "test-customer-123");
  EXPECT_EQ(orders[0].total_cents, 9998);
  ASSERT_EQ(orders[0].items.size(), 1u);
  EXPECT_EQ(orders[0].items[0].price_cents, 4999);
  EXPECT_EQ(orders[0].order_id, "");
}

TEST_F(GatewayServer, AnIdempotencyKeyIsPassedToTheBackend) {
  start();
  auto req = post("/api/orders", seed_body);
  req.set("Idempotency-Key", "retry-me-7");
  const auto r = call(req);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 202u);
  call(post("/api/orders", seed_body));  // and none without the header
  EXPECT_EQ(backend_->keys(), (std::vector<std::string>{"retry-me-7", ""}));
}

// Issue 22: W3C Trace Context. A caller's traceparent is the order's trace
// (a new span of it), returned in the 202; without a valid one a trace is
// started.
TEST_F(GatewayServer, ACallersTraceparentIsTheOrdersTraceAndIsReturned) {
  start();
  const std::string caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto req = post("/api/orders", seed_body);
  req.set("traceparent", caller);
  const auto r = call(req);
  ASSERT_FALSE(r.ec) << r.ec.message();
  ASSERT_EQ(r.status(), 202u);
  const std::string returned{r.res["traceparent"]};
  const auto traces = backend_->traces();
  ASSERT_EQ(traces.size(), 1u);
  EXPECT_EQ(returned, traces[0]);  // what the record carries is what the caller gets
  auto parsed = runtime::parse_traceparent(returned);
  ASSERT_TRUE(parsed) << returned;
  EXPECT_EQ(parsed->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");  // the caller's trace
  EXPECT_NE(parsed->span_id, "00f067aa0ba902b7");                   // the gateway's span
  // Without one, or with a malformed one, a trace is started
  for (const char* bad : {"", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "garbage", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) {
    auto again = post("/api/orders", seed_body);
    if (*bad != 0)
      again.set("traceparent", bad);
    const auto started = call(again);
    ASSERT_EQ(started.status(), 202u) << bad;
    auto t = runtime::parse_traceparent(std::string{started.res["traceparent"]});
    ASSERT_TRUE(t) << bad;
    EXPECT_NE(t->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736") << bad;
  }
}

TEST_F(GatewayServer, AKeyUsedWithAnotherBodyIs422) {
  start();
  auto req = post("/api/orders", seed_body);
  req.set("Idempotency-Key", "used-with-another-body");
  const auto r = call(req);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 422u);
  EXPECT_EQ(r.error_code(), "idempotency_conflict");
}

// Issue 14, defect 7: two Idempotency-Key headers were accepted.
TEST_F(GatewayServer, TwoIdempotencyKeyHeadersAre400AndNeverReachTheBackend) {
  start();
  auto req = post("/api/orders", seed_body);
  req.insert("Idempotency-Key", "k-1");
  req.insert("Idempotency-Key", "k-2");
  const auto r = call(req);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 400u);
  EXPECT_EQ(r.error_code(), "duplicate_header");
  EXPECT_EQ(backend_->calls(), 0u);
}

TEST_F(GatewayServer, AnInvalidIdempotencyKeyIs422AndNeverReachesTheBackend) {
  start();
  for (std::string key : {std::string{}, std::string(256, 'k'), std::string{"has space"},
                          std::string{"tab\there"}, std::string{"caf\xc3\xa9"}}) {
    auto req = post("/api/orders", seed_body);
    req.set("Idempotency-Key", key);
    const auto r = call(req);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status(), 422u) << key;
    EXPECT_EQ(r.error_code(), "invalid_value") << key;
    EXPECT_THAT(r.res.body(), HasSubstr("Idempotency-Key")) << key;
  }
  EXPECT_TRUE(backend_->orders().empty());
  auto longest = post("/api/orders", seed_body);
  longest.set("Idempotency-Key", std::string(255, 'k'));
  EXPECT_EQ(call(longest).status(), 202u);
}

TEST_F(GatewayServer, AFailedWriteIs503) {
  start();
  backend_->set_submit_mode(fake_backend::submit_mode::fail);
  const auto r = call(post("/api/orders", seed_body));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 503u);
  EXPECT_EQ(r.error_code(), "unavailable");
  EXPECT_THAT(r.res.body(), HasSubstr("broker unreachable"));
  EXPECT_EQ(backend_->orders().size(), 1u);
}

TEST_F(GatewayServer, ABackendThatThrowsIs500AndTheServerKeepsServing) {
  start();
  backend_->set_submit_mode(fake_backend::submit_mode::throw_);
  client c{port_};
  const auto r = c.send(post("/api/orders", seed_body));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 500u);
  EXPECT_EQ(r.error_code(), "internal_error");
  EXPECT_EQ(c.send(get("/healthz")).status(), 200u);
}

TEST_F(GatewayServer, ABackendThatDoesNotAnswerInTimeIs504AndItsLateAnswerIsDropped) {
  // given a backend that holds its callbacks, and a 1 s request timeout
  server_options options;
  options.request_timeout = 1000ms;
  start(options);
  backend_->set_submit_mode(fake_backend::submit_mode::hold);
  client c{port_};
  // when an order is posted, the gateway gives up after the timeout
  const auto first = c.send(post("/api/orders", seed_body));
  ASSERT_FALSE(first.ec) << first.ec.message();
  EXPECT_EQ(first.status(), 504u);
  EXPECT_EQ(first.error_code(), "timeout");
  EXPECT_TRUE(first.res.keep_alive());
  auto late = backend_->take_held();
  ASSERT_EQ(late.size(), 1u);
  // when a second order is waiting on the same connection and the first
  // order's answer arrives late
  ASSERT_FALSE(c.write_raw(
    "POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
    std::to_string(seed_body.size()) + "\r\n\r\n" + std::string{seed_body}));
  ASSERT_TRUE(backend_->wait_for_submits(2, 5s));
  late[0](submit_result{true, "late-order", "", false});
  auto second = backend_->take_held();
  ASSERT_EQ(second.size(), 1u);
  second[0](submit_result{true, "second-order", "", false});
  // then the second request gets its own answer, not the late one
  const auto r = c.read();
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 202u);
  EXPECT_EQ(r.res.body(), R"({"orderId":"second-order","status":"PENDING"})");
}

TEST_F(GatewayServer, ACallbackAfterTheServerStoppedIsHarmless) {
  // given an order the backend holds
  start();
  backend_->set_submit_mode(fake_backend::submit_mode::hold);
  client c{port_};
  ASSERT_FALSE(c.write_raw(
    "POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
    std::to_string(seed_body.size()) + "\r\n\r\n" + std::string{seed_body}));
  ASSERT_TRUE(backend_->wait_for_submits(1, 5s));
  // when the server stops, its connections close
  server_->stop();
  EXPECT_TRUE(c.closed_by_server());
  // and a callback that comes afterwards, even after the server is destroyed,
  // does nothing
  auto held = backend_->take_held();
  ASSERT_EQ(held.size(), 1u);
  held[0](submit_result{true, "too-late", "", false});
  server_.reset();
  held[0](submit_result{true, "too-late", "", false});
  held.clear();
}

// Posts `n` orders at once to a gateway with `threads` io threads whose backend
// answers only after all `n` arrived: a request that blocked its io thread
// would keep the others from ever arriving.
void GatewayServer::expect_concurrent_orders_answered(int threads, size_t n) {
  // given the io threads and a backend that answers only once all n orders arrived
  server_options options;
  options.threads = threads;
  start(options);
  backend_->set_submit_mode(fake_backend::submit_mode::hold_until_count, n);
  // when n clients post at the same time
  std::vector<std::future<reply>> replies;
  for (size_t i = 0; i < n; ++i)
    replies.push_back(std::async(std::launch::async, [port = port_] {
      client c{port, 20s};
      return c.send(post("/api/orders", seed_body));
    }));
  // then every one of them is answered 202 with its own order id
  std::set<std::string> ids;
  for (auto& f : replies) {
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    const auto r = f.get();
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status(), 202u);
    ids.insert(std::string{json::parse(r.res.body()).at("orderId").as_string()});
  }
  EXPECT_EQ(ids.size(), n);
}

TEST_F(GatewayServer, FiftyConcurrentOrdersDoNotBlockEachOther) {
  expect_concurrent_orders_answered(1, 50);
}

TEST_F(GatewayServer, FiftyConcurrentOrdersAreAnsweredOnFourIoThreads) {
  expect_concurrent_orders_answered(4, 50);
}

TEST_F(GatewayServer, AKeepAliveConnectionServesSeveralRequests) {
  start();
  actors::order_snapshot snapshot;
  snapshot.order_id = "order-1";
  snapshot.customer_id = "test-customer-123";
  snapshot.total_cents = 9998;
  snapshot.item_count = 1;
  snapshot.status = actors::status_pending;
  backend_->put_snapshot(snapshot);
  // given one connection
  client c{port_};
  // when an order is posted and then looked up on it
  const auto created = c.send(post("/api/orders", seed_body));
  ASSERT_FALSE(created.ec) << created.ec.message();
  EXPECT_EQ(created.status(), 202u);
  EXPECT_TRUE(created.res.keep_alive());
  const auto found = c.send(get("/api/orders/order-1"));
  // then both are answered on the same connection
  ASSERT_FALSE(found.ec) << found.ec.message();
  EXPECT_EQ(found.status(), 200u);
  EXPECT_TRUE(found.res.keep_alive());
}

TEST_F(GatewayServer, AClientSendingExpect100ContinueGetsToSendItsBody) {
  // given a client that waits for 100 Continue before sending the body (curl does)
  start();
  client c{port_};
  ASSERT_FALSE(c.write_raw(
    "POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    "Expect: 100-continue\r\nContent-Length: " +
    std::to_string(seed_body.size()) + "\r\n\r\n"));
  const auto interim = c.read();
  ASSERT_FALSE(interim.ec) << interim.ec.message();
  EXPECT_EQ(interim.status(), 100u);
  // when it sends the body
  ASSERT_FALSE(c.write_raw(std::string{seed_body}));
  // then the order is accepted
  const auto r = c.read();
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 202u);
}

// --- 4xx: nothing reaches the backend -----------------------------------------------

TEST_F(GatewayServer, AnInvalidOrderIs422AndNeverReachesTheBackend) {
  start();
  const auto r = call(post("/api/orders", R"({"customerId":"c","items":[],"totalAmount":0,"status":"PAID"})"));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 422u);
  EXPECT_EQ(r.error_code(), "read_only_field");
  EXPECT_EQ(json::parse(r.res.body()).at("field").as_string(), "status");
  EXPECT_EQ(backend_->calls(), 0u);
}

TEST_F(GatewayServer, MalformedJsonIs400) {
  start();
  const auto r = call(post("/api/orders", "{not json"));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 400u);
  EXPECT_EQ(r.error_code(), "malformed_json");
  EXPECT_EQ(backend_->calls(), 0u);
}

TEST_F(GatewayServer, ANonJsonContentTypeIs415) {
  start();
  for (std::string_view type : {"text/plain", ""}) {
    SCOPED_TRACE(type);
    const auto r = call(post("/api/orders", seed_body, type));
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status(), 415u);
    EXPECT_EQ(r.error_code(), "unsupported_media_type");
  }
  EXPECT_EQ(backend_->calls(), 0u);
}

TEST_F(GatewayServer, ABodyOfExactly64KiBIsAccepted) {
  start();
  std::string body{seed_body};
  body.append(max_body_bytes - body.size(), ' ');
  const auto r = call(post("/api/orders", body));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 202u);
}

TEST_F(GatewayServer, A65KiBBodyIs413AndTheConnectionIsClosed) {
  start();
  client c{port_};
  const auto r = c.send(post("/api/orders", std::string(65 * 1024, ' ')));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 413u);
  EXPECT_EQ(r.error_code(), "payload_too_large");
  EXPECT_FALSE(r.res.keep_alive());
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(backend_->calls(), 0u);
}

TEST_F(GatewayServer, AChunkedBodyOver64KiBIs413) {
  start();
  client c{port_};
  std::string raw =
    "POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i)
    raw += "4000\r\n" + std::string(0x4000, ' ') + "\r\n";
  raw += "0\r\n\r\n";
  ASSERT_FALSE(c.write_raw(raw));
  const auto r = c.read();
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 413u);
  EXPECT_EQ(r.error_code(), "payload_too_large");
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(backend_->calls(), 0u);
}

// Issue 14, defect 3: a Transfer-Encoding other than a final chunked was
// read as "no body", and the body then ran as the next request (a POST
// that wrote an order).
TEST_F(GatewayServer, ATransferEncodingThatDoesNotEndInChunkedIs400AndNothingRuns) {
  start();
  const std::string smuggled =
    "POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    "Content-Length: " + std::to_string(seed_body.size()) + "\r\n\r\n" + std::string{seed_body};
  for (const char* te : {"identity", "xchunked", "chunked, identity", "chunked;q=1", ""}) {
    SCOPED_TRACE(te);
    client c{port_};
    ASSERT_FALSE(c.write_raw("POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: "
                             "application/json\r\nTransfer-Encoding: " + std::string{te} +
                             "\r\n\r\n" + smuggled));
    const auto r = c.read();
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status(), 400u);
    EXPECT_EQ(r.error_code(), "bad_request");
    EXPECT_FALSE(r.res.keep_alive());
    EXPECT_TRUE(c.closed_by_server());
  }
  EXPECT_EQ(backend_->calls(), 0u);
}

TEST_F(GatewayServer, TransferEncodingWithContentLengthOrInHttp10Is400) {
  start();
  for (const std::string head :
       {"POST /api/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Content-Length: 5\r\n\r\n",
        "POST /api/orders HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
    client c{port_};
    ASSERT_FALSE(c.write_raw(head + "0\r\n\r\n"));
    const auto r = c.read();
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status(), 400u) << head;
    EXPECT_TRUE(c.closed_by_server());
  }
  EXPECT_EQ(backend_->calls(), 0u);
}

TEST_F(GatewayServer, ACodingBeforeChunkedIs501) {
  start();
  client c{port_};
  ASSERT_FALSE(c.write_raw("POST /api/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
                           "chunked\r\n\r\n0\r\n\r\n"));
  const auto r = c.read();
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 501u);
  EXPECT_EQ(r.error_code(), "not_implemented");
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(backend_->calls(), 0u);
}

TEST_F(GatewayServer, AChunkedOrderIsStillAccepted) {
  start();
  client c{port_};
  std::ostringstream size;
  size << std::hex << seed_body.size();
  ASSERT_FALSE(c.write_raw("POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           "application/json\r\nTransfer-Encoding: Chunked\r\n\r\n" +
                           size.str() + "\r\n" + std::string{seed_body} + "\r\n0\r\n\r\n"));
  const auto r = c.read();
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 202u);
  EXPECT_EQ(backend_->calls(), 1u);
}

// Issue 14, defect 4: idle sockets could use up the file descriptors; new
// clients then hung and accept failed in a loop.
TEST_F(GatewayServer, AConnectionOverTheCapIsAnswered503AndClosedWhileOthersAreServed) {
  server_options o;
  o.max_connections = 2;
  start(o);
  client idle1{port_};
  client idle2{port_};
  ASSERT_NO_FATAL_FAILURE(hold(idle1));
  ASSERT_NO_FATAL_FAILURE(hold(idle2));
  {
    client third{port_};
    const auto r = third.read();
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status(), 503u);
    EXPECT_EQ(r.error_code(), "too_many_connections");
    EXPECT_EQ(r.res[http::field::retry_after], "1");
    EXPECT_TRUE(third.closed_by_server());
  }
  // Once one goes, a new client is served again
  ASSERT_NO_FATAL_FAILURE(let_go(idle1));
  ASSERT_TRUE(test::eventually([&] { return call(get("/healthz")).status() == 200u; }, 5s));
}

TEST_F(GatewayServer, OneClientOverItsConnectionCapIs429WhileTheServerHasRoom) {
  server_options o;
  o.max_connections = 10;
  o.max_client_connections = 2;
  start(o);
  client idle1{port_};
  client idle2{port_};
  ASSERT_NO_FATAL_FAILURE(hold(idle1));
  ASSERT_NO_FATAL_FAILURE(hold(idle2));
  {
    client third{port_};  // the same address (loopback)
    const auto r = third.read();
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status(), 429u);
    EXPECT_EQ(r.error_code(), "too_many_connections");
    EXPECT_EQ(r.res[http::field::retry_after], "1");
    EXPECT_TRUE(third.closed_by_server());
  }
  // Once one of its connections goes, the client may open another
  ASSERT_NO_FATAL_FAILURE(let_go(idle1));
  ASSERT_TRUE(test::eventually([&] { return call(get("/healthz")).status() == 200u; }, 5s));
}

TEST_F(GatewayServer, AClientOverTheRateLimitGets429WithRetryAfterAndHealthChecksPass) {
  server_options o;
  o.rate_limit = 3;
  start(o);
  backend_->set_analytics(R"({"orders":0})");
  client c{port_};
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(c.send(get("/api/analytics")).status(), 200u) << i;
  const auto r = c.send(get("/api/analytics"));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 429u);
  EXPECT_EQ(r.error_code(), "too_many_requests");
  EXPECT_EQ(r.res[http::field::retry_after], "1");
  EXPECT_EQ(c.send(get("/healthz")).status(), 200u);
  EXPECT_EQ(c.send(get("/readyz")).status(), 200u);
}

TEST_F(GatewayServer, OversizedHeadersAre431) {
  start();
  client c{port_};
  ASSERT_FALSE(c.write_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                           std::string(max_header_bytes + 1, 'a') + "\r\n\r\n"));
  const auto r = c.read();
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 431u);
  EXPECT_EQ(r.error_code(), "header_too_large");
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(GatewayServer, AMalformedRequestIs400) {
  start();
  client c{port_};
  ASSERT_FALSE(c.write_raw("GET /healthz HTTP/9\r\n\r\n"));
  const auto r = c.read();
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 400u);
  EXPECT_EQ(r.error_code(), "bad_request");
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(GatewayServer, AnUnknownPathIs404) {
  start();
  for (std::string target : {"/", "/api", "/api/order", "/healthz/x"}) {
    SCOPED_TRACE(target);
    const auto r = call(get(target));
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status(), 404u);
    EXPECT_EQ(r.error_code(), "not_found");
    EXPECT_EQ(r.header(http::field::content_type), "application/json");
  }
  EXPECT_EQ(backend_->calls(), 0u);
}

TEST_F(GatewayServer, AKnownPathWithTheWrongMethodIs405WithAllow) {
  start();
  const std::vector<std::tuple<http::verb, std::string, std::string>> cases{
    {http::verb::get, "/api/orders", "POST"},
    {http::verb::put, "/api/orders", "POST"},
    {http::verb::post, "/api/orders/order-1", "GET, HEAD"},
    {http::verb::delete_, "/api/orders/order-1", "GET, HEAD"},
    {http::verb::post, "/api/analytics", "GET, HEAD"},
    {http::verb::post, "/healthz", "GET, HEAD"},
    {http::verb::put, "/readyz", "GET, HEAD"},
    {http::verb::post, "/api/supervision", "GET, HEAD"},
    {http::verb::delete_, "/api/supervision", "GET, HEAD"},
    {http::verb::get, "/api/admin/crash", "POST"},
    {http::verb::put, "/api/admin/crash", "POST"},
    {http::verb::delete_, "/api/admin/crash", "POST"},
  };
  for (const auto& [method, target, allow] : cases) {
    SCOPED_TRACE(target);
    const auto r = call(request(method, target));
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status(), 405u);
    EXPECT_EQ(r.error_code(), "method_not_allowed");
    EXPECT_EQ(r.header(http::field::allow), allow);
  }
  EXPECT_EQ(backend_->calls(), 0u);
}

// --- GET ------------------------------------------------------------------------------

TEST_F(GatewayServer, AKnownOrderIsAnsweredWithItsSnapshot) {
  start();
  actors::order_snapshot snapshot;
  snapshot.order_id = "ord-42";
  snapshot.customer_id = "test-customer-123";
  snapshot.total_cents = 9998;
  snapshot.item_count = 1;
  snapshot.status = actors::status_paid;
  snapshot.payment_status = actors::payment_succeeded;
  snapshot.transaction_id = "tx-1";
  snapshot.created_at_ms = 1700000000000;
  snapshot.updated_at_ms = 1700000000500;
  backend_->put_snapshot(snapshot);
  const auto r = call(get("/api/orders/ord-42"));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 200u);
  EXPECT_EQ(r.header(http::field::content_type), "application/json");
  EXPECT_EQ(r.res.body(), bridges::encode_value(runtime::message{snapshot}));
}

TEST_F(GatewayServer, AnUnknownOrderIs404) {
  start();
  const auto r = call(get("/api/orders/nope"));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 404u);
  EXPECT_EQ(r.error_code(), "not_found");
}

TEST_F(GatewayServer, AMalformedOrderIdIs400AndNeverReachesTheBackend) {
  start();
  for (std::string id : {std::string{""}, std::string{"bad!id"}, std::string{"a%2Fb"},
                         std::string{"a/b"}, std::string(129, 'x')}) {
    SCOPED_TRACE(id);
    const auto r = call(get("/api/orders/" + id));
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status(), 400u);
    EXPECT_EQ(r.error_code(), "invalid_value");
  }
  EXPECT_EQ(backend_->calls(), 0u);
}

TEST_F(GatewayServer, AnalyticsAreTheBackendsJsonOr503) {
  start();
  backend_->set_analytics(R"({"totalOrders":3,"revenue":299.94})");
  const auto available = call(get("/api/analytics"));
  ASSERT_FALSE(available.ec) << available.ec.message();
  EXPECT_EQ(available.status(), 200u);
  EXPECT_EQ(available.res.body(), R"({"totalOrders":3,"revenue":299.94})");
  EXPECT_EQ(available.header(http::field::content_type), "application/json");

  backend_->set_analytics(std::nullopt);
  const auto missing = call(get("/api/analytics"));
  ASSERT_FALSE(missing.ec) << missing.ec.message();
  EXPECT_EQ(missing.status(), 503u);
  EXPECT_EQ(missing.error_code(), "unavailable");
}

TEST_F(GatewayServer, HealthzIsAlways200) {
  start();
  backend_->set_ready(false);
  const auto r = call(get("/healthz"));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 200u);
  EXPECT_EQ(r.res.body(), R"({"status":"ok"})");
}

TEST_F(GatewayServer, ReadyzFollowsTheBackend) {
  start();
  backend_->set_ready(true);
  const auto ready = call(get("/readyz"));
  EXPECT_EQ(ready.status(), 200u);
  EXPECT_EQ(ready.res.body(), R"({"status":"ready"})");
  backend_->set_ready(false);
  const auto not_ready = call(get("/readyz"));
  EXPECT_EQ(not_ready.status(), 503u);
  EXPECT_EQ(not_ready.res.body(),
            R"x({"status":"not_ready","reasons":["role order: not in its consumer group yet",)x"
            R"x("requests: no reply topic (retrying)"]})x");
}

TEST_F(GatewayServer, HeadIsAnsweredLikeGetWithoutABody) {
  start();
  client c{port_};
  const auto r = c.send(request(http::verb::head, "/healthz"));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 200u);
  EXPECT_EQ(r.header(http::field::content_length), "15");
  EXPECT_EQ(r.res.body(), "");
  // and the connection stays usable
  EXPECT_EQ(c.send(get("/healthz")).res.body(), R"({"status":"ok"})");
}

// --- admin: supervision tree and crash --------------------------------------------------

constexpr std::string_view supervision_tree =
  R"({"name":"root","children":[{"name":"payment","children":[{"name":"worker","restarts":2}]}]})";

// A crash request with the fake backend's admin token (`authorization`: the
// header's value; empty: none).
reply post_crash(uint16_t port, std::string_view body,
                 std::string_view content_type = "application/json",
                 std::string_view authorization = "Bearer gateway-test-admin-token") {
  client c{port};
  auto req = post("/api/admin/crash", body, content_type);
  if (!authorization.empty())
    req.set(http::field::authorization, authorization);
  return c.send(std::move(req));
}

TEST_F(GatewayServer, TheSupervisionTreeIsTheBackendsJsonVerbatim) {
  // given a backend with a supervision tree
  start();
  backend_->set_supervision(std::string{supervision_tree});
  // when it is asked for with GET
  const auto r = call(get("/api/supervision"));
  // then the body is exactly the backend's text
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 200u);
  EXPECT_EQ(r.header(http::field::content_type), "application/json");
  EXPECT_EQ(r.res.body(), supervision_tree);
  // and HEAD gets the same answer without the body
  client c{port_};
  const auto head = c.send(request(http::verb::head, "/api/supervision"));
  ASSERT_FALSE(head.ec) << head.ec.message();
  EXPECT_EQ(head.status(), 200u);
  EXPECT_EQ(head.header(http::field::content_length), std::to_string(supervision_tree.size()));
  EXPECT_EQ(head.res.body(), "");
}

TEST_F(GatewayServer, NoSupervisionTreeOnThisNodeIs503) {
  start();
  backend_->set_supervision(std::nullopt);
  const auto r = call(get("/api/supervision"));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 503u);
  EXPECT_EQ(r.error_code(), "unavailable");
  EXPECT_THAT(r.res.body(), HasSubstr("supervision tree is not available"));
}

TEST_F(GatewayServer, ACrashRequestForALiveActorIs202AndReachesTheBackendOnce) {
  // given a backend that finds the actor
  start();
  backend_->set_crash_outcome(backend::crash_outcome::sent);
  // when a crash of root/payment/worker is posted
  const auto r = post_crash(port_, R"({"path":"root/payment/worker"})");
  // then the answer is 202 naming the path, and the backend was asked exactly once
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 202u);
  EXPECT_EQ(r.header(http::field::content_type), "application/json");
  EXPECT_EQ(r.res.body(), R"({"path":"root/payment/worker","status":"crash_sent"})");
  EXPECT_EQ(backend_->crashes(), std::vector<std::string>{"root/payment/worker"});
}

TEST_F(GatewayServer, ACrashPathOf512CharactersWithACharsetIsAccepted) {
  start();
  const std::string path(max_actor_path_chars, 'p');
  const auto r = post_crash(port_, R"({"path":")" + path + R"("})",
                            "application/json; charset=utf-8");
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 202u);
  EXPECT_EQ(backend_->crashes(), std::vector<std::string>{path});
}

TEST_F(GatewayServer, ACrashRequestForAPathWithNoLiveActorIs404) {
  start();
  backend_->set_crash_outcome(backend::crash_outcome::not_found);
  const auto r = post_crash(port_, R"({"path":"root/nobody"})");
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 404u);
  EXPECT_EQ(r.error_code(), "not_found");
  EXPECT_THAT(r.res.body(), HasSubstr("no live actor has the path 'root/nobody'"));
  EXPECT_EQ(backend_->crashes(), std::vector<std::string>{"root/nobody"});
}

TEST_F(GatewayServer, ACrashRequestTheBackendRefusesIs409) {
  start();
  backend_->set_crash_outcome(backend::crash_outcome::refused);
  const auto r = post_crash(port_, R"({"path":"root"})");
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 409u);
  EXPECT_EQ(r.error_code(), "conflict");
  EXPECT_THAT(r.res.body(), HasSubstr("root supervisor"));
}

TEST_F(GatewayServer, ACrashRequestOnANodeWithoutAnAdminTokenIs403AndSaysHowToAllowIt) {
  start();
  backend_->set_admin_token("");
  const auto r = post_crash(port_, R"({"path":"root/payment/worker"})");
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 403u);
  EXPECT_EQ(r.error_code(), "forbidden");
  EXPECT_THAT(r.res.body(), HasSubstr("admin endpoints are off on this node"));
  EXPECT_THAT(r.res.body(), HasSubstr("set admin.token"));
  EXPECT_TRUE(backend_->crashes().empty());
}

TEST_F(GatewayServer, ACrashRequestWithoutTheTokenIs401AndCrashesNothing) {
  start();
  for (std::string_view authorization :
       {std::string_view{}, std::string_view{"Bearer gateway-test-admin-toke"},
        std::string_view{"Bearer gateway-test-admin-tokenX"},
        std::string_view{"Basic Z2F0ZXdheTp0ZXN0"}, std::string_view{"Bearer "},
        std::string_view{"gateway-test-admin-token"}}) {
    SCOPED_TRACE(authorization);
    // (a body that would not even validate: the caller is refused first)
    const auto r = post_crash(port_, "{not json", "text/plain", authorization);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status(), 401u);
    EXPECT_EQ(r.error_code(), "unauthorized");
    EXPECT_EQ(r.header(http::field::www_authenticate), R"(Bearer realm="kastor admin")");
  }
  // The scheme's name is case-insensitive (RFC 9110)
  EXPECT_EQ(post_crash(port_, R"({"path":"p"})", "application/json",
                       "bearer gateway-test-admin-token").status(),
            202u);
  EXPECT_EQ(backend_->crashes(), std::vector<std::string>{"p"});
}

TEST_F(GatewayServer, ABackendWithoutAdminSupportHasNoTreeAndRefusesCrashes) {
  // given a backend that keeps the default admin members
  server_ = std::make_unique<http_server>(server_options{"127.0.0.1", 0},
                                          std::make_shared<minimal_backend>());
  ASSERT_TRUE(server_->start());
  port_ = server_->port();
  // then there is no supervision tree and crashing is off (no admin token)
  const auto tree = call(get("/api/supervision"));
  ASSERT_FALSE(tree.ec) << tree.ec.message();
  EXPECT_EQ(tree.status(), 503u);
  EXPECT_EQ(tree.error_code(), "unavailable");
  const auto crash = post_crash(port_, R"({"path":"root/payment/worker"})");
  ASSERT_FALSE(crash.ec) << crash.ec.message();
  EXPECT_EQ(crash.status(), 403u);
  EXPECT_EQ(crash.error_code(), "forbidden");
}

TEST_F(GatewayServer, AnInvalidCrashRequestIs4xxAndNeverReachesTheBackend) {
  start();
  struct bad {
    std::string body;
    std::string content_type;
    unsigned status;
    std::string code;
    std::string field;
  };
  const std::vector<bad> cases{
    {R"({"path":"root/payment/worker"})", "text/plain", 415, "unsupported_media_type", ""},
    {R"({"path":"root/payment/worker"})", "", 415, "unsupported_media_type", ""},
    {R"({"path":"root/payment/worker"})", "application/json; charset=latin1", 415,
     "unsupported_media_type", ""},
    {"{not json", "application/json", 400, "malformed_json", ""},
    {"", "application/json", 400, "malformed_json", ""},
    {R"(["root/payment/worker"])", "application/json", 422, "wrong_type", ""},
    {R"("root/payment/worker")", "application/json", 422, "wrong_type", ""},
    {"{}", "application/json", 422, "missing_field", "path"},
    {R"({"path":7})", "application/json", 422, "wrong_type", "path"},
    {R"({"path":null})", "application/json", 422, "wrong_type", "path"},
    {R"({"path":["root"]})", "application/json", 422, "wrong_type", "path"},
    {R"({"path":""})", "application/json", 422, "invalid_value", "path"},
    {R"({"path":")" + std::string(max_actor_path_chars + 1, 'p') + R"("})", "application/json",
     422, "invalid_value", "path"},
    {R"({"path":"root/payment/worker","reason":"test"})", "application/json", 422,
     "unknown_field", "reason"},
    {R"({"force":true,"path":"root/payment/worker"})", "application/json", 422,
     "unknown_field", "force"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.content_type + " " + c.body.substr(0, 60));
    const auto r = post_crash(port_, c.body, c.content_type);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status(), c.status);
    EXPECT_EQ(r.header(http::field::content_type), "application/json");
    EXPECT_EQ(r.error_code(), c.code);
    const auto body = json::parse(r.res.body()).as_object();
    EXPECT_TRUE(body.contains("message"));
    if (c.field.empty())
      EXPECT_FALSE(body.contains("field"));
    else
      EXPECT_EQ(body.at("field").as_string(), c.field);
  }
  EXPECT_TRUE(backend_->crashes().empty());
  EXPECT_EQ(backend_->calls(), 0u);
}

TEST_F(GatewayServer, ACrashBackendThatThrowsIs500AndTheServerKeepsServing) {
  start();
  backend_->set_crash_throws(true);
  client c{port_};
  auto req = post("/api/admin/crash", R"({"path":"root/payment/worker"})");
  req.set(http::field::authorization, "Bearer gateway-test-admin-token");
  const auto r = c.send(std::move(req));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status(), 500u);
  EXPECT_EQ(r.error_code(), "internal_error");
  EXPECT_EQ(c.send(get("/healthz")).status(), 200u);
}

// --- lifecycle ------------------------------------------------------------------------

TEST_F(GatewayServer, StartAndStopAreIdempotentAndTheServerCanRestart) {
  start();
  EXPECT_TRUE(server_->start());
  EXPECT_EQ(server_->port(), port_);
  server_->stop();
  server_->stop();
  EXPECT_EQ(server_->port(), 0);
  ASSERT_TRUE(server_->start());
  port_ = server_->port();
  EXPECT_EQ(call(get("/healthz")).status(), 200u);
}

TEST_F(GatewayServer, ATakenPortIsAClearStartError) {
  // given a gateway listening on a port
  start();
  // when a second one is started on the same address and port
  server_options options;
  options.address = "127.0.0.1";
  options.port = port_;
  http_server second{options, backend_};
  const auto started = second.start();
  // then start() reports which address is taken, without throwing
  ASSERT_FALSE(started);
  EXPECT_THAT(runtime::describe(started.error()),
              HasSubstr("127.0.0.1:" + std::to_string(port_) + ": address already in use"));
}

TEST_F(GatewayServer, InvalidOptionsAreClearStartErrors) {
  server_options bad_address;
  bad_address.address = "not-an-ip";
  bad_address.port = 0;
  const auto a = http_server{bad_address, backend_}.start();
  ASSERT_FALSE(a);
  EXPECT_THAT(runtime::describe(a.error()), HasSubstr("not-an-ip:0: not an IP address"));

  server_options no_threads;
  no_threads.port = 0;
  no_threads.threads = 0;
  const auto t = http_server{no_threads, backend_}.start();
  ASSERT_FALSE(t);
  EXPECT_THAT(runtime::describe(t.error()), HasSubstr("threads must be at least 1"));
}

}  // namespace
}  // namespace kastor::gateway
