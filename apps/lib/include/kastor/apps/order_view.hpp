// A gateway's read model of every order: fed by the compacted `order-state`
// topic (every node reads all of it) and by the gateway's own accepted orders,
// so GET /api/orders/{id} answers on any gateway node, and right after the
// POST that created the order. A snapshot never replaces a later one.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kastor/runtime/messages.hpp"

namespace kastor::apps {

class order_view {
public:
  std::vector<runtime::any_message> handle(const runtime::record_meta& meta,
                                           const runtime::order_snapshot& s, int64_t now_ms);
  // The gateway accepted an order: it is PENDING until order-state says more.
  std::vector<runtime::any_message> handle(const runtime::record_meta& meta,
                                           const runtime::order_created& o, int64_t now_ms);
  std::optional<runtime::order_snapshot> find(const std::string& id) const;
  size_t size() const { return orders_.size(); }

private:
  std::unordered_map<std::string, runtime::order_snapshot> orders_;
};

// PENDING < PAID = PAYMENT_FAILED < NOTIFIED.
int status_rank(const std::string& status);

}  // namespace kastor::apps
