#include "kastor/apps/idempotency.hpp"

#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid_io.hpp>

namespace kastor::apps {

std::string order_id_for_key(const std::string& key) {
  boost::uuids::name_generator_sha1 gen{boost::uuids::ns::url()};
  return boost::uuids::to_string(gen("kastor:idempotency-key:" + key));
}

namespace {

void mix(uint64_t& h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  h ^= 0xff;  // field separator
  h *= 1099511628211ULL;
}

void mix(uint64_t& h, int64_t v) {
  mix(h, std::string_view{reinterpret_cast<const char*>(&v), sizeof(v)});
}

}  // namespace

uint64_t order_fingerprint(const actors::order_created& order) {
  uint64_t h = 14695981039346656037ULL;
  mix(h, order.customer_id);
  mix(h, static_cast<int64_t>(order.items.size()));
  for (const auto& i : order.items) {
    mix(h, i.product_id);
    mix(h, i.name);
    mix(h, i.price_cents);
    mix(h, i.quantity);
    mix(h, i.subtotal_cents);
  }
  mix(h, order.total_cents);
  return h;
}

idempotency_table::claim idempotency_table::begin(const std::string& key, uint64_t fingerprint,
                                                  callback done) {
  std::optional<gateway::submit_result> answer;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto [it, inserted] = entries_.try_emplace(key);
    auto& e = it->second;
    if (inserted) {
      e.fingerprint = fingerprint;
      e.waiters.push_back(std::move(done));
      return claim::first;
    }
    if (e.fingerprint != fingerprint) {
      answer = gateway::submit_result{false, "", "", true};
    } else if (e.result) {
      answer = *e.result;
    } else {
      e.waiters.push_back(std::move(done));
      return claim::waiting;
    }
  }
  done(*answer);
  return claim::answered;
}

void idempotency_table::finish(const std::string& key, const gateway::submit_result& result) {
  std::vector<callback> waiters;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto it = entries_.find(key);
    if (it == entries_.end())
      return;
    waiters.swap(it->second.waiters);
    if (result.ok) {
      it->second.result = result;
      answered_.push_back(key);
      while (answered_.size() > capacity_) {
        entries_.erase(answered_.front());
        answered_.pop_front();
      }
    } else {
      entries_.erase(it);
    }
  }
  for (auto& w : waiters)
    w(result);
}

size_t idempotency_table::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return entries_.size();
}

}  // namespace kastor::apps
