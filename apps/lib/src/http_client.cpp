#include "kastor/apps/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "kastor/runtime/errors.hpp"

namespace kastor::apps {

std::string http_reply::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (boost::beast::iequals(n, name))
      return v;
  return {};
}

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

struct http_client::impl {
  std::string host;
  uint16_t port;
  std::chrono::milliseconds timeout{30000};
  boost::asio::io_context io;
  std::unique_ptr<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  caf::expected<http_reply> roundtrip(http::request<http::string_body>& req) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      beast::error_code ec;
      const bool reused = stream != nullptr;
      // Asynchronous operations run to completion here: tcp_stream's
      // expiry (the timeout) applies only to those.
      auto run = [this] {
        io.restart();
        io.run();
      };
      if (!stream) {
        stream = std::make_unique<beast::tcp_stream>(io);
        tcp::resolver resolver{io};
        auto results = resolver.resolve(host, std::to_string(port), ec);
        if (!ec) {
          stream->expires_after(timeout);
          stream->async_connect(results, [&ec](beast::error_code e, const tcp::endpoint&) {
            ec = e;
          });
          run();
        }
        if (ec) {
          stream.reset();
          return runtime::make_error(runtime::runtime_errc::timeout,
                                     host + ":" + std::to_string(port) + ": " + ec.message());
        }
      }
      stream->expires_after(timeout);
      http::async_write(*stream, req, [&ec](beast::error_code e, size_t) { ec = e; });
      run();
      http::response<http::string_body> res;
      if (!ec) {
        http::async_read(*stream, buffer, res, [&ec](beast::error_code e, size_t) { ec = e; });
        run();
      }
      if (ec) {
        stream.reset();
        buffer.clear();
        // The server may have closed an idle keep-alive connection: sent
        // again once on a new one; never after a timeout.
        if (attempt == 0 && reused && ec != beast::error::timeout)
          continue;
        return runtime::make_error(runtime::runtime_errc::timeout, "http: " + ec.message());
      }
      if (!res.keep_alive())
        stream.reset();
      http_reply out{res.result_int(), std::move(res.body())};
      for (const auto& field : res)
        out.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
      return out;
    }
    return runtime::make_error(runtime::runtime_errc::timeout, "http: unreachable");
  }
};

http_client::http_client(std::string host, uint16_t port, std::chrono::milliseconds timeout)
  : impl_(std::make_unique<impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}

http_client::~http_client() = default;

caf::expected<http_reply> http_client::get(const std::string& target) {
  http::request<http::string_body> req{http::verb::get, target, 11};
  req.set(http::field::host, impl_->host);
  req.keep_alive(true);
  return impl_->roundtrip(req);
}

caf::expected<http_reply> http_client::post_json(
  const std::string& target, const std::string& body,
  const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, impl_->host);
  req.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers)
    req.set(name, value);
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();
  return impl_->roundtrip(req);
}

}  // namespace kastor::apps
