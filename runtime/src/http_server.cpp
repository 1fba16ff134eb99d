#include "kastor/runtime/http.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cmath>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include <sys/resource.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/json_text.hpp"
#include "kastor/runtime/logging.hpp"

namespace kastor::runtime {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using response = http::response<http::string_body>;

// After a response that leaves unread input behind (413, 431, 400), the
// connection is closed only after the client stopped sending or after this
// long: closing a socket with unread data makes the kernel send a reset,
// which can destroy the response before the client read it.
constexpr auto linger_timeout = std::chrono::seconds{2};
constexpr size_t linger_max_bytes = 1024 * 1024;

std::string_view to_sv(beast::string_view s) {
  return {s.data(), s.size()};
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 9112 section 6: how a request's body is framed, checked before any of
// it is read. A Transfer-Encoding whose last coding is not chunked leaves the
// body's end unknowable (read as "no body", the body would run as the next
// request: smuggling): 400 and close. chunked is the only coding this server
// decodes (others before it: 501), HTTP/1.0 has no Transfer-Encoding, and
// it never comes with a Content-Length.
struct framing_error {
  http::status status;
  std::string code;
  std::string message;
};

std::optional<framing_error> check_framing(const http::request<http::string_body>& req) {
  std::vector<std::string> codings;
  bool present = false;
  const auto [first, last] = req.equal_range(http::field::transfer_encoding);
  for (auto field = first; field != last; ++field) {
    present = true;
    std::string_view list = to_sv(field->value());
    while (!list.empty()) {
      auto comma = list.find(',');
      auto item = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
        item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
        item.remove_suffix(1);
      if (!item.empty())
        codings.emplace_back(item);
    }
  }
  if (!present)
    return std::nullopt;
  auto bad = [](std::string why) {
    return framing_error{http::status::bad_request, "bad_request", std::move(why)};
  };
  if (req.version() < 11)
    return bad("Transfer-Encoding in an HTTP/1.0 request");
  if (req.count(http::field::content_length) > 0)
    return bad("both Transfer-Encoding and Content-Length");
  if (codings.empty() || !iequals(codings.back(), "chunked"))
    return bad("Transfer-Encoding must end in chunked");
  if (codings.size() > 1)
    return framing_error{http::status::not_implemented, "not_implemented",
                         "only the chunked transfer coding is supported"};
  return std::nullopt;
}

// Whether the io_context that sessions post to still exists. A handler's reply
// posts only while holding `mutex` and seeing `alive`; stop() clears
// `alive` before it stops and destroys the io_context, so a late callback can
// never touch a destroyed one.
struct liveness {
  std::mutex mutex;
  bool alive = true;
};

// Requests per second per client address: a token bucket each, holding one
// second's worth. Buckets idle for a minute are dropped (checked when the
// table has grown), so the table stays bounded by the clients of a minute.
class rate_limiter {
public:
  explicit rate_limiter(uint32_t per_second) : rate_(per_second) {}

  // True when the client may make a request now; else how long to wait (s).
  std::pair<bool, int> take(const std::string& client) {
    if (rate_ == 0)
      return {true, 0};
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> guard{mtx_};
    if (buckets_.size() > sweep_at_) {
      for (auto i = buckets_.begin(); i != buckets_.end();)
        i = now - i->second.last > std::chrono::minutes{1} ? buckets_.erase(i) : std::next(i);
      sweep_at_ = std::max<size_t>(1024, buckets_.size() * 2);
    }
    auto [it, fresh] = buckets_.try_emplace(client, bucket{static_cast<double>(rate_), now});
    auto& b = it->second;
    if (!fresh) {
      const std::chrono::duration<double> since = now - b.last;
      b.tokens = std::min<double>(rate_, b.tokens + since.count() * rate_);
      b.last = now;
    }
    if (b.tokens < 1)
      return {false, std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / rate_)))};
    b.tokens -= 1;
    return {true, 0};
  }

private:
  struct bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };
  const uint32_t rate_;
  std::mutex mtx_;
  std::unordered_map<std::string, bucket> buckets_;
  size_t sweep_at_ = 1024;
};

// Connections open per client address, for max_client_connections: only
// addresses with one open are kept.
class client_connections {
public:
  explicit client_connections(size_t per_client) : cap_(per_client) {}

  // False when the client holds as many as it may.
  bool enter(const std::string& client) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& n = open_[client];
    if (cap_ != 0 && n >= cap_)
      return false;  // (n > 0: the entry stays)
    ++n;
    return true;
  }
  void leave(const std::string& client) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (auto it = open_.find(client); it != open_.end() && --it->second == 0)
      open_.erase(it);
  }

private:
  const size_t cap_;
  std::mutex mtx_;
  std::unordered_map<std::string, size_t> open_;
};

struct shared_config {
  http_options options;
  std::shared_ptr<spdlog::logger> log;
  std::vector<http_route> routes;
  std::shared_ptr<liveness> live;
  std::shared_ptr<rate_limiter> limiter;
  std::shared_ptr<std::atomic<size_t>> connections;  // sessions alive
  std::shared_ptr<client_connections> per_client;    // each session's client counted
  counter_family requests;     // {route, code}; empty without options.metrics
  histogram_family durations;  // {route}
};

// A connected socket's peer address: what the limits count per client.
std::string client_of(const tcp::socket& socket) {
  beast::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  return ec ? std::string{"unknown"} : peer.address().to_string();
}

// The route for `path`: an exact one first, else the longest prefix one.
const http_route* match(const std::vector<http_route>& routes, std::string_view path) {
  const http_route* best = nullptr;
  for (const auto& r : routes) {
    if (!r.prefix && r.path == path)
      return &r;
    if (r.prefix && path.starts_with(r.path) && (!best || r.path.size() > best->path.size()))
      best = &r;
  }
  return best;
}

bool takes(const http_route& r, std::string_view method) {
  for (const auto& m : r.methods)
    if (m == method || (m == "GET" && method == "HEAD"))
      return true;
  return false;
}

std::string allow_of(const http_route& r) {
  std::string out;
  for (const auto& m : r.methods) {
    out += (out.empty() ? "" : ", ") + m;
    if (m == "GET")
      out += ", HEAD";
  }
  return out;
}

// One connection. Everything runs on the connection's strand; the only entry
// from other threads is a handler's reply, which posts onto that strand.
// Ownership: the pending read, write or reply timer holds the session.
class session : public std::enable_shared_from_this<session> {
public:
  // Counted already: in connections, and for `client` in per_client.
  session(tcp::socket socket, std::string client, std::shared_ptr<const shared_config> cfg)
    : stream_(std::move(socket)),
      executor_(stream_.get_executor()),
      timer_(executor_),
      cfg_(std::move(cfg)),
      client_(std::move(client)) {}

  ~session() {
    cfg_->per_client->leave(client_);
    cfg_->connections->fetch_sub(1);
  }

  void start() {
    asio::dispatch(executor_, beast::bind_front_handler(&session::read_header, shared_from_this()));
  }

private:
  spdlog::logger& log() const { return *cfg_->log; }

  // --- reading ---------------------------------------------------------------

  void read_header() {
    route_ = "unmatched";
    parser_.emplace();
    parser_->header_limit(max_header_bytes);
    parser_->body_limit(cfg_->options.max_body_bytes);
    version_ = 11;
    keep_alive_ = false;
    head_ = false;
    stream_.expires_after(cfg_->options.io_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, size_t) {
    since_ = std::chrono::steady_clock::now();
    if (ec)
      return on_read_error(ec);
    const auto& req = parser_->get();
    version_ = req.version();
    if (auto bad = check_framing(req)) {
      log().warn("request refused status={} reason=\"{}\"", static_cast<int>(bad->status),
                 bad->message);
      keep_alive_ = false;
      return send(http_error_response(static_cast<int>(bad->status), bad->code, bad->message),
                  true);
    }
    if (req.version() >= 11 && !parser_->is_done() &&
        iequals(to_sv(req[http::field::expect]), "100-continue")) {
      // The body is within the limit (else on_header had failed): ask for it.
      continue_ = http::response<http::empty_body>{http::status::continue_, req.version()};
      http::async_write(stream_, continue_,
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec)
                            return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&session::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, size_t) {
    if (ec)
      return on_read_error(ec);
    stream_.expires_never();
    handle(parser_->release());
  }

  void on_read_error(beast::error_code ec) {
    if (parser_ && parser_->get().version() == 10)
      version_ = 10;
    keep_alive_ = false;
    if (ec == http::error::body_limit)
      return send(http_error_response(413, "payload_too_large",
                                      "request body is larger than "
                                        + std::to_string(cfg_->options.max_body_bytes) + " bytes"),
                  true);
    if (ec == http::error::header_limit)
      return send(http_error_response(431, "header_too_large",
                                      "request header is larger than "
                                        + std::to_string(max_header_bytes) + " bytes"),
                  true);
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec.category() != http::make_error_code(http::error::bad_target).category())
      return close();  // the peer went away or timed out: nobody to answer
    send(http_error_response(400, "bad_request", "malformed HTTP request: " + ec.message()), true);
  }

  // --- routing ---------------------------------------------------------------

  void handle(http::request<http::string_body> req) {
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    head_ = req.method() == http::verb::head;
    const auto target = to_sv(req.target());
    const auto path = target.substr(0, target.find('?'));
    const auto* route = match(cfg_->routes, path);
    route_ = route ? route->path : std::string{"unmatched"};
    if (!route || route->limited) {
      if (auto [ok, wait] = cfg_->limiter->take(client_); !ok) {
        retry_after_ = wait;
        return send(http_error_response(429, "too_many_requests",
                                        "more than " + std::to_string(cfg_->options.rate_limit)
                                          + " requests per second from " + client_));
      }
    }
    if (!route)
      return send(http_error_response(404, "not_found", "no route for " + std::string{target}));
    const auto method = to_sv(req.method_string());
    if (!takes(*route, method)) {
      const auto allow = allow_of(*route);
      auto res = http_error_response(405, "method_not_allowed", "allowed methods: " + allow);
      res.headers.emplace_back("Allow", allow);
      return send(std::move(res));
    }
    http_request r;
    r.method = head_ ? "GET" : std::string{method};
    r.target = std::string{target};
    r.path = std::string{path};
    r.client = client_;
    for (const auto& field : req)
      r.headers.emplace_back(std::string{to_sv(field.name_string())}, std::string{to_sv(field.value())});
    r.body = std::move(req.body());
    const auto id = begin_call();
    try {
      route->handle(r, reply_fn(id));
    } catch (const std::exception& e) {
      handler_threw(id, e.what());
    }
  }

  // --- waiting for the handler -----------------------------------------------

  // Arms the request timeout; the timer's handler keeps the session alive
  // until the handler replied or the timeout fired.
  uint64_t begin_call() {
    waiting_ = true;
    const auto id = ++call_id_;
    timer_.expires_after(cfg_->options.request_timeout);
    timer_.async_wait([self = shared_from_this(), id](beast::error_code ec) {
      if (!ec)
        self->on_timeout(id);
    });
    return id;
  }

  // True exactly once per call: for its reply, or for its timeout.
  bool end_call(uint64_t id) {
    if (!waiting_ || id != call_id_)
      return false;
    waiting_ = false;
    timer_.cancel();
    return true;
  }

  // The handler's `reply`: copyable, callable from any thread, holds no
  // reference into the io_context; posts the response onto this session's
  // strand if the server and the session still exist, else drops it.
  http_reply reply_fn(uint64_t id) {
    return [weak = weak_from_this(), live = cfg_->live, id](http_response res) {
      std::lock_guard<std::mutex> guard{live->mutex};
      if (!live->alive)
        return;
      if (auto self = weak.lock()) {
        auto ex = self->executor_;
        asio::post(ex, [self = std::move(self), id, res = std::move(res)]() mutable {
          if (self->end_call(id))
            self->send(std::move(res));
        });
      }
    };
  }

  void on_timeout(uint64_t id) {
    if (!end_call(id))
      return;
    log().warn("handler did not answer status=504 timeout_ms={}",
               cfg_->options.request_timeout.count());
    send(http_error_response(504, "timeout",
                             "the backend did not answer within "
                               + std::to_string(cfg_->options.request_timeout.count()) + " ms"));
  }

  void handler_threw(uint64_t id, const char* what) {
    if (!end_call(id))
      return;
    log().error("handler threw status=500 error=\"{}\"", what);
    send(http_error_response(500, "internal_error", "internal error"));
  }

  // --- writing ---------------------------------------------------------------

  // `linger`: input was left unread; close the connection after the response.
  void send(http_response out, bool linger = false) {
    if (cfg_->options.metrics) {
      cfg_->requests.with({route_, std::to_string(out.status)}).inc();
      cfg_->durations.with({route_}).observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count());
    }
    auto res = std::make_shared<response>(static_cast<http::status>(out.status), version_);
    res->set(http::field::content_type, out.content_type);
    for (auto& [name, value] : out.headers)
      res->set(name, value);
    if (retry_after_ > 0)
      res->set(http::field::retry_after, std::to_string(std::exchange(retry_after_, 0)));
    res->keep_alive(keep_alive_ && !linger);
    res->body() = std::move(out.body);
    res->prepare_payload();
    if (head_) {
      const auto length = res->body().size();
      res->body().clear();
      res->content_length(length);
    }
    response_ = res;
    stream_.expires_after(cfg_->options.io_timeout);
    http::async_write(stream_, *response_,
                      [self = shared_from_this(), linger](beast::error_code ec, size_t) {
                        self->on_write(ec, linger);
                      });
  }

  void on_write(beast::error_code ec, bool linger) {
    response_.reset();
    if (ec)
      return close();
    if (linger)
      return linger_close();
    if (!keep_alive_)
      return close();
    read_header();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  void linger_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::min<std::chrono::steady_clock::duration>(
      linger_timeout, cfg_->options.io_timeout));
    drained_ = 0;
    drain();
  }

  void drain() {
    stream_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > linger_max_bytes)
                                return self->stream_.close();
                              self->drain();
                            });
  }

  beast::tcp_stream stream_;
  const beast::tcp_stream::executor_type executor_;  // the strand; read from any thread
  asio::steady_timer timer_;                         // the handler's deadline
  std::shared_ptr<const shared_config> cfg_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;
  std::shared_ptr<response> response_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  bool waiting_ = false;
  uint64_t call_id_ = 0;
  std::array<char, 4096> drain_buffer_{};
  size_t drained_ = 0;
  std::string client_;  // the peer's address (the rate limit's key)
  std::string route_ = "unmatched";  // the request's route (metrics' label)
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
  int retry_after_ = 0;  // seconds, for the next response's Retry-After
};

// Accepts connections; each gets its own strand.
class listener : public std::enable_shared_from_this<listener> {
public:
  listener(asio::io_context& ioc, tcp::acceptor acceptor, std::shared_ptr<const shared_config> cfg)
    : ioc_(ioc), acceptor_(std::move(acceptor)), retry_(acceptor_.get_executor()),
      cfg_(std::move(cfg)) {
  }

  void start() {
    asio::dispatch(acceptor_.get_executor(),
                   beast::bind_front_handler(&listener::accept, shared_from_this()));
  }

private:
  void accept() {
    acceptor_.async_accept(asio::make_strand(ioc_),
                           beast::bind_front_handler(&listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted)
      return;
    if (ec) {
      // E.g. out of file descriptors: retrying at once would spin. 100 ms,
      // doubling to 5 s, while it fails; logged once per run of failures.
      backoff_ = std::min(std::chrono::milliseconds{5000},
                          std::max(std::chrono::milliseconds{100}, backoff_ * 2));
      if (failures_++ == 0)
        cfg_->log->warn("accept failed error=\"{}\" (retrying, backing off)", ec.message());
      retry_.expires_after(backoff_);
      retry_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec)
          self->accept();
      });
      return;
    }
    if (failures_ > 0) {
      cfg_->log->info("accept works again after failures={}", failures_);
      failures_ = 0;
      backoff_ = std::chrono::milliseconds{0};
    }
    auto client = client_of(socket);
    if (cfg_->connections->fetch_add(1) >= cfg_->options.max_connections) {
      cfg_->connections->fetch_sub(1);
      if (refused_++ % 1000 == 0)
        cfg_->log->warn("connection refused: {} open (http.max-connections) refused_so_far={}",
                       cfg_->options.max_connections, refused_);
      refuse(std::move(socket), server_full());
    } else if (!cfg_->per_client->enter(client)) {
      cfg_->connections->fetch_sub(1);
      if (refused_client_++ % 1000 == 0)
        cfg_->log->warn("connection refused: {} holds {} open "
                       "(http.max-connections-per-client) refused_so_far={}",
                       client, cfg_->options.max_client_connections, refused_client_);
      refuse(std::move(socket), client_full());
    } else {
      std::make_shared<session>(std::move(socket), std::move(client), cfg_)->start();
    }
    accept();
  }

  static std::string refusal(const char* status, const std::string& body) {
    return std::string{"HTTP/1.1 "} + status
           + "\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: "
             "close\r\nContent-Length: "
           + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  static const std::string& server_full() {
    static const std::string reply = refusal(
      "503 Service Unavailable", R"({"error":"too_many_connections","message":"the server has )"
                                 R"(as many connections open as it takes; try again"})");
    return reply;
  }
  static const std::string& client_full() {
    static const std::string reply = refusal(
      "429 Too Many Requests", R"({"error":"too_many_connections","message":"this client has )"
                               R"(as many connections open as one client may; use those"})");
    return reply;
  }

  // Over a connection cap: a short answer and close, without reading the
  // request (the socket is not kept, so a flood of idle ones costs nothing).
  void refuse(tcp::socket socket, const std::string& reply) {
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(reply), ignored);  // a fresh socket's buffer holds it
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  std::shared_ptr<const shared_config> cfg_;
  std::chrono::milliseconds backoff_{0};
  uint64_t failures_ = 0;
  uint64_t refused_ = 0;
  uint64_t refused_client_ = 0;
};

// Raises the process's open-file limit to its hard limit (where allowed) and
// returns how many connections fit under it: `wanted`, or fewer, leaving 256
// descriptors for the rest of the node (Kafka clients, files, log).
size_t fit_connections(size_t wanted, spdlog::logger& log) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return wanted;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max == RLIM_INFINITY ? std::max<rlim_t>(lim.rlim_cur, 1 << 20)
                                                    : lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      log.info("open-file limit raised from={} to={}", lim.rlim_cur, raised.rlim_cur);
      lim = raised;
    }
  }
  if (lim.rlim_cur == RLIM_INFINITY)
    return wanted;
  const size_t room = lim.rlim_cur > 512 ? static_cast<size_t>(lim.rlim_cur) - 256
                                         : static_cast<size_t>(lim.rlim_cur) / 2;
  if (wanted > room) {
    log.warn("http.max-connections={} does not fit the open-file limit {}: using {}",
                   wanted, lim.rlim_cur, room);
    return std::max<size_t>(1, room);
  }
  return wanted;
}

caf::error start_error(std::string what) {
  return runtime::make_error(runtime::runtime_errc::invalid_config, std::move(what));
}

caf::error socket_error(const std::string& where, const beast::error_code& ec) {
  auto message = ec.message();
  if (!message.empty())
    message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  return start_error(where + ": " + message);
}

}  // namespace

struct http_server::impl {
  http_options options;
  std::vector<http_route> routes;
  std::mutex mutex;  // serializes start() and stop()
  std::unique_ptr<asio::io_context> ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::shared_ptr<liveness> live;
  std::vector<std::thread> threads;
  std::atomic<uint16_t> port{0};

  // Requires `mutex`.
  void shutdown() {
    if (!ioc)
      return;
    {
      std::lock_guard<std::mutex> guard{live->mutex};
      live->alive = false;
    }
    work.reset();
    ioc->stop();
    for (auto& t : threads)
      t.join();
    threads.clear();
    // Destroys the listener, every session and every queued handler.
    ioc.reset();
    port = 0;
  }
};

http_server::http_server(http_options options, std::vector<http_route> routes)
  : impl_(std::make_unique<impl>()) {
  impl_->options = std::move(options);
  impl_->routes = std::move(routes);
}

http_server::~http_server() {
  stop();
}

caf::expected<void> http_server::start() {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  if (impl_->ioc)
    return caf::unit;
  const auto& opts = impl_->options;
  const std::string what = "http";
  if (opts.threads < 1)
    return start_error(what + ": threads must be at least 1, got " + std::to_string(opts.threads));
  if (opts.request_timeout.count() <= 0 || opts.io_timeout.count() <= 0)
    return start_error(what + ": request_timeout and io_timeout must be positive");
  if (opts.max_connections < 1)
    return start_error(what + ": max_connections must be at least 1");
  std::set<std::pair<std::string, bool>> paths;
  for (const auto& r : impl_->routes) {
    if (!r.handle || r.methods.empty())
      return start_error(what + ": the route for " + r.path + " has no handler or no method");
    if (!paths.emplace(r.path, r.prefix).second)
      return start_error(what + ": two routes for " + r.path);
  }
  auto log = runtime::logger(opts.logger);
  const auto where = endpoint_text(opts.address, opts.port);
  beast::error_code ec;
  const auto address = asio::ip::make_address(opts.address, ec);
  if (ec)
    return start_error(where + ": not an IP address");

  auto ioc = std::make_unique<asio::io_context>(opts.threads);
  tcp::acceptor acceptor{asio::make_strand(*ioc)};
  const tcp::endpoint endpoint{address, opts.port};
  acceptor.open(endpoint.protocol(), ec);
  if (ec)
    return socket_error(where, ec);
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec)
    return socket_error(where, ec);
  acceptor.bind(endpoint, ec);
  if (ec)
    return socket_error(where, ec);
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return socket_error(where, ec);
  const auto bound = acceptor.local_endpoint(ec);
  if (ec)
    return socket_error(where, ec);

  impl_->live = std::make_shared<liveness>();
  auto effective = opts;
  effective.max_connections = fit_connections(opts.max_connections, *log);
  auto cfg = std::make_shared<shared_config>(
    shared_config{effective, log, impl_->routes, impl_->live,
                  std::make_shared<rate_limiter>(opts.rate_limit),
                  std::make_shared<std::atomic<size_t>>(0),
                  std::make_shared<client_connections>(opts.max_client_connections),
                  {}, {}});
  if (opts.metrics) {
    cfg->requests = opts.metrics->counter("kastor_http_requests_total",
                                          "HTTP requests answered, by route and status code.",
                                          {"route", "code"});
    cfg->durations = opts.metrics->histogram(
      "kastor_http_request_duration_seconds",
      "From a request's header read to its response being sent, by route.", {"route"});
  }
  std::make_shared<listener>(*ioc, std::move(acceptor), std::move(cfg))->start();
  impl_->work.emplace(ioc->get_executor());
  impl_->ioc = std::move(ioc);
  impl_->port = bound.port();
  try {
    for (int i = 0; i < opts.threads; ++i)
      impl_->threads.emplace_back([ioc = impl_->ioc.get(), log] {
        // A handler that throws must not take the server down.
        for (;;) {
          try {
            ioc->run();
            return;
          } catch (const std::exception& e) {
            log->error("io handler threw error=\"{}\"", e.what());
          }
        }
      });
  } catch (const std::system_error& e) {
    impl_->shutdown();
    return start_error(what + ": cannot start io threads: " + std::string{e.what()});
  }
  log->info("listening address={} port={} threads={}", opts.address, bound.port(), opts.threads);
  return caf::unit;
}

void http_server::stop() {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  if (impl_->ioc)
    runtime::logger(impl_->options.logger)->info("stopping port={}", impl_->port.load());
  impl_->shutdown();
}

uint16_t http_server::port() const {
  return impl_->port;
}

std::string endpoint_text(const std::string& address, uint16_t port) {
  if (address.find(':') != std::string::npos)
    return "[" + address + "]:" + std::to_string(port);
  return address + ":" + std::to_string(port);
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

bool is_json_media_type(std::string_view content_type) {
  const auto semi = content_type.find(';');
  if (!iequals(trim(content_type.substr(0, semi)), "application/json"))
    return false;
  auto rest = semi == std::string_view::npos ? std::string_view{}
                                             : content_type.substr(semi + 1);
  while (!rest.empty()) {
    const auto next = rest.find(';');
    const auto param = trim(rest.substr(0, next));
    rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
    const auto eq = param.find('=');
    if (eq == std::string_view::npos)
      continue;
    if (!iequals(trim(param.substr(0, eq)), "charset"))
      continue;
    auto value = trim(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (!iequals(value, "utf-8") && !iequals(value, "utf8"))
      return false;
  }
  return true;
}

std::string_view http_request::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name))
      return v;
  return {};
}

size_t http_request::count(std::string_view name) const {
  return static_cast<size_t>(std::count_if(headers.begin(), headers.end(),
                                           [&](const auto& h) { return iequals(h.first, name); }));
}

std::string http_error_body(const std::string& code, const std::string& message,
                            const std::string& field) {
  json::object obj;
  obj["error"] = code;
  obj["message"] = message;
  if (!field.empty())
    obj["field"] = field;
  return to_json_text(obj);
}

http_response http_error_response(int status, std::string code, std::string message,
                                  std::string field) {
  return {status, http_error_body(code, message, field), "application/json", {}};
}

}  // namespace kastor::runtime
