#include "kastor/apps/order_view.hpp"

namespace kastor::apps {

int status_rank(const std::string& status) {
  if (status == runtime::status_pending)
    return 0;
  if (status == runtime::status_paid || status == runtime::status_payment_failed)
    return 1;
  if (status == runtime::status_notified)
    return 2;
  return -1;
}

std::vector<runtime::any_message> order_view::handle(const runtime::record_meta&,
                                                     const runtime::order_snapshot& s,
                                                     int64_t) {
  auto [it, added] = orders_.try_emplace(s.order_id, s);
  if (!added && (status_rank(s.status) > status_rank(it->second.status)
                 || (status_rank(s.status) == status_rank(it->second.status)
                     && s.updated_at_ms >= it->second.updated_at_ms)))
    it->second = s;
  return {};
}

std::vector<runtime::any_message> order_view::handle(const runtime::record_meta&,
                                                     const runtime::order_created& o, int64_t) {
  runtime::order_snapshot s;
  s.order_id = o.order_id;
  s.customer_id = o.customer_id;
  s.total_cents = o.total_cents;
  s.item_count = static_cast<int64_t>(o.items.size());
  s.status = runtime::status_pending;
  s.created_at_ms = o.created_at_ms;
  s.updated_at_ms = o.created_at_ms;
  orders_.try_emplace(o.order_id, std::move(s));
  return {};
}

std::optional<runtime::order_snapshot> order_view::find(const std::string& id) const {
  if (auto it = orders_.find(id); it != orders_.end())
    return it->second;
  return std::nullopt;
}

}  // namespace kastor::apps
