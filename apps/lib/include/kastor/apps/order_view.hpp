// A gateway's read model of every order: fed by the compacted `order-state`
// topic (every node reads all of it) and by the gateway's own accepted orders,
// so GET /api/orders/{id} answers on any gateway node, and right after the
// POST that created the order. A snapshot never replaces a later one.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kastor/actors/messages.hpp"

namespace kastor::apps {

class order_view {
public:
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                           const actors::order_snapshot& s, int64_t now_ms);
  // The gateway accepted an order: it is PENDING until order-state says more.
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                           const actors::order_created& o, int64_t now_ms);
  std::optional<actors::order_snapshot> find(const std::string& id) const;
  size_t size() const { return orders_.size(); }

private:
  std::unordered_map<std::string, actors::order_snapshot> orders_;
};

}  // namespace kastor::apps
