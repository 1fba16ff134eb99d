#include "kastor/apps/order_view.hpp"

#include "kastor/actors/order.hpp"

namespace kastor::apps {

std::vector<runtime::message> order_view::handle(const runtime::record_meta&,
                                                     const actors::order_snapshot& s,
                                                     int64_t) {
  using actors::status_rank;
  auto [it, added] = orders_.try_emplace(s.order_id, s);
  if (!added && (status_rank(s.status) > status_rank(it->second.status)
                 || (status_rank(s.status) == status_rank(it->second.status)
                     && s.updated_at_ms >= it->second.updated_at_ms))) {
    auto fingerprint = std::move(it->second.request_fingerprint);
    it->second = s;
    if (it->second.request_fingerprint.empty())  // a snapshot from before its order was seen
      it->second.request_fingerprint = std::move(fingerprint);
  }
  return {};
}

std::vector<runtime::message> order_view::handle(const runtime::record_meta&,
                                                     const actors::order_created& o, int64_t) {
  actors::order_snapshot s;
  s.order_id = o.order_id;
  s.customer_id = o.customer_id;
  s.total_cents = o.total_cents;
  s.item_count = static_cast<int64_t>(o.items.size());
  s.status = actors::status_pending;
  s.created_at_ms = o.created_at_ms;
  s.updated_at_ms = o.created_at_ms;
  s.request_fingerprint = o.request_fingerprint;
  // An order known already keeps what its owner says of it: the owner takes
  // a second order record of an id as one, so this one's fingerprint may
  // not be the order's (its snapshots carry the one that counts).
  orders_.try_emplace(o.order_id, std::move(s));
  return {};
}

std::optional<actors::order_snapshot> order_view::find(const std::string& id) const {
  if (auto it = orders_.find(id); it != orders_.end())
    return it->second;
  return std::nullopt;
}

}  // namespace kastor::apps
