// A small blocking HTTP/1.1 client (Boost.Beast) with one keep-alive
// connection, for `kastor demo`, `kastor bench` and tests. Not thread-safe:
// one per thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

namespace kastor::apps {

struct http_reply {
  unsigned status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};
  // A header's value ("" when absent); names compare case-insensitively.
  std::string header(std::string_view name) const;
};

class http_client {
public:
  // `timeout`: a request (connect, write, read) not answered within it fails
  // with runtime_errc::timeout.
  http_client(std::string host, uint16_t port,
              std::chrono::milliseconds timeout = std::chrono::seconds{30});
  ~http_client();
  caf::expected<http_reply> get(const std::string& target);
  caf::expected<http_reply> post_json(
    const std::string& target, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers = {});

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kastor::apps
