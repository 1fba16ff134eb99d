#include "kastor/bridges/kafka_statistics.hpp"

#include <map>
#include <mutex>

#include <boost/json.hpp>

namespace kastor::bridges {

namespace {

std::mutex mtx;
std::map<std::string, client_statistics> clients;  // by name

int64_t integer(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->as_int64() : 0;
}

}  // namespace

bool record_statistics(std::string_view json) {
  boost::json::error_code ec;
  auto doc = boost::json::parse(json, ec);
  if (ec || !doc.is_object())
    return false;
  const auto& top = doc.as_object();
  const auto* name = top.if_contains("name");
  const auto* type = top.if_contains("type");
  if (name == nullptr || !name->is_string() || type == nullptr || !type->is_string())
    return false;
  client_statistics c;
  c.client = std::string{name->as_string()};
  c.type = std::string{type->as_string()};
  c.queue_messages = integer(top, "msg_cnt");
  c.queue_bytes = integer(top, "msg_size");
  c.at = std::chrono::steady_clock::now();
  if (const auto* brokers = top.if_contains("brokers"); brokers != nullptr && brokers->is_object())
    for (const auto& [key, value] : brokers->as_object()) {
      if (!value.is_object())
        continue;
      const auto& b = value.as_object();
      if (integer(b, "nodeid") < 0)
        continue;  // a bootstrap entry, not a broker of the cluster
      broker_statistics s;
      s.broker = std::string{key};
      if (const auto* rtt = b.if_contains("rtt"); rtt != nullptr && rtt->is_object()) {
        s.rtt_avg_seconds = static_cast<double>(integer(rtt->as_object(), "avg")) / 1e6;
        s.rtt_p99_seconds = static_cast<double>(integer(rtt->as_object(), "p99")) / 1e6;
      }
      s.requests_queued = integer(b, "outbuf_cnt");
      s.requests_waiting = integer(b, "waitresp_cnt");
      c.brokers.push_back(std::move(s));
    }
  std::lock_guard<std::mutex> guard{mtx};
  clients[c.client] = std::move(c);
  return true;
}

std::vector<client_statistics> recent_statistics(std::chrono::milliseconds max_age) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> guard{mtx};
  std::vector<client_statistics> out;
  for (auto it = clients.begin(); it != clients.end();) {
    if (now - it->second.at > max_age) {
      it = clients.erase(it);  // gone (or silent): no stale series
      continue;
    }
    out.push_back(it->second);
    ++it;
  }
  return out;
}

}  // namespace kastor::bridges
