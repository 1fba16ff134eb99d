#include "kastor/apps/idempotency.hpp"

#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid_io.hpp>

namespace kastor::apps {

std::string order_id_for_key(const std::string& key) {
  boost::uuids::name_generator_sha1 gen{boost::uuids::ns::url()};
  return boost::uuids::to_string(gen("kastor:idempotency-key:" + key));
}

namespace {

// Length-prefixed, so that no two different requests read the same.
void put(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out += ':';
  out += s;
  out += ';';
}

void put(std::string& out, int64_t v) {
  put(out, std::to_string(v));
}

}  // namespace

std::string order_fingerprint(const actors::order_created& order) {
  std::string canonical;
  put(canonical, order.customer_id);
  put(canonical, static_cast<int64_t>(order.items.size()));
  for (const auto& i : order.items) {
    put(canonical, i.product_id);
    put(canonical, i.name);
    put(canonical, i.price_cents);
    put(canonical, i.quantity);
    put(canonical, i.subtotal_cents);
  }
  put(canonical, order.total_cents);
  boost::uuids::name_generator_sha1 gen{boost::uuids::ns::url()};
  return boost::uuids::to_string(gen("kastor:order-request:" + canonical));
}

idempotency_table::claim idempotency_table::begin(const std::string& key, const std::string& fingerprint,
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
