#include "kastor/actors/order.hpp"

#include "checks.hpp"
#include "kastor/runtime/reject.hpp"

#include <algorithm>
#include <stdexcept>

namespace kastor::actors {

namespace rt = kastor::runtime;

namespace {

void advance(actors::order_snapshot& snap, const char* to) {
  if (status_rank(to) > status_rank(snap.status))
    snap.status = to;
}

rt::message snapshot_at(const actors::order_snapshot& snap, int64_t now_ms, int64_t epoch) {
  auto out = snap;
  out.updated_at_ms = now_ms;
  out.epoch = epoch;
  return out;
}

}  // namespace

int status_rank(const std::string& status) {
  if (status == actors::status_notified)
    return 2;
  if (status == actors::status_paid || status == actors::status_payment_failed)
    return 1;
  return 0;  // PENDING
}

bool further_along(const actors::order_snapshot& a, const actors::order_snapshot& b) {
  if (status_rank(a.status) != status_rank(b.status))
    return status_rank(a.status) > status_rank(b.status);
  return a.updated_at_ms > b.updated_at_ms;
}

int64_t item_count_of(const actors::order_created& msg) {
  int64_t n = 0;
  for (const auto& item : msg.items)
    n += item.quantity;
  return n;
}

// Each handler works on a copy of the entry and stores it only after the
// reply is built, so a throw (e.g. bad_alloc) leaves the book as it was.

std::vector<rt::message> order_book::handle(const rt::record_meta& meta,
                                                const actors::order_created& msg,
                                                int64_t now_ms) {
  detail::require_id(msg.order_id, "order_created");
  apply_changes();
  if (passivated_.count(msg.order_id) > 0)
    return {};  // finished long ago: its final snapshot is in the changelog
  entry e;
  if (auto it = orders_.find(msg.order_id); it != orders_.end())
    e = it->second;
  else
    e.snap.status = actors::status_pending;
  if (!e.created_seen) {
    // New, or created earlier from a payment result / email that only guessed
    // these fields: the gateway's order is the source of truth for them.
    e.snap.order_id = msg.order_id;
    e.snap.customer_id = msg.customer_id;
    e.snap.total_cents = msg.total_cents;
    e.snap.item_count = item_count_of(msg);
    e.snap.created_at_ms = msg.created_at_ms != 0 ? msg.created_at_ms : now_ms;
    e.snap.updated_at_ms = now_ms;
    e.snap.request_fingerprint = msg.request_fingerprint;
    e.created_seen = true;
  }
  std::vector<rt::message> out;
  if (e.snap.status == actors::status_pending)
    out.emplace_back(actors::payment_request{e.snap.order_id, e.snap.customer_id,
                                         e.snap.total_cents});
  e.partition = meta.partition;
  out.push_back(snapshot_at(e.snap, now_ms, epoch_of(e.partition)));
  stored(msg.order_id, std::move(e), now_ms);
  return out;
}

order_book::entry order_book::held_or_guessed(const std::string& id,
                                             const std::string& customer_id,
                                             int64_t total_cents, int64_t now_ms) const {
  if (auto it = orders_.find(id); it != orders_.end())
    return it->second;
  // Unknown order (e.g. a request injected without order_created): what the
  // message tells, until its order_created fills in the rest.
  entry e;
  e.snap.order_id = id;
  e.snap.customer_id = customer_id;
  e.snap.total_cents = total_cents;
  e.snap.status = actors::status_pending;
  e.snap.created_at_ms = now_ms;
  return e;
}

void order_book::set_outcome(entry& e, bool ok, int64_t now_ms) {
  e.snap.payment_status = ok ? actors::payment_succeeded : actors::payment_declined;
  advance(e.snap, ok ? actors::status_paid : actors::status_payment_failed);
  if (e.snap.emailed)
    advance(e.snap, actors::status_notified);
  e.snap.updated_at_ms = now_ms;
}

std::vector<rt::message> order_book::emit_snapshot(const rt::record_meta& meta, entry e,
                                                       int64_t now_ms) {
  std::vector<rt::message> out;
  e.partition = meta.partition;
  out.push_back(snapshot_at(e.snap, now_ms, epoch_of(e.partition)));
  auto id = e.snap.order_id;
  stored(id, std::move(e), now_ms);
  return out;
}

std::vector<rt::message> order_book::handle(const rt::record_meta& meta,
                                                const actors::payment_result& msg,
                                                int64_t now_ms) {
  const bool ok = detail::payment_ok(msg);
  apply_changes();
  if (passivated_.count(msg.order_id) > 0)
    return {};
  entry e = held_or_guessed(msg.order_id, msg.customer_id, msg.total_cents, now_ms);
  if (e.snap.payment_status.empty()) {
    set_outcome(e, ok, now_ms);
    e.snap.reason = msg.reason;
    e.snap.transaction_id = msg.transaction_id;
  } else if (e.snap.payment_status == msg.status && e.snap.transaction_id.empty()
             && e.snap.reason.empty() && !(msg.transaction_id.empty() && msg.reason.empty())) {
    // The outcome came first from a notification, which has no details.
    e.snap.reason = msg.reason;
    e.snap.transaction_id = msg.transaction_id;
    e.snap.updated_at_ms = now_ms;
  }
  // else: a duplicate (or a conflicting late result): the first outcome stands.
  return emit_snapshot(meta, std::move(e), now_ms);
}

std::vector<rt::message> order_book::handle(const rt::record_meta& meta,
                                                const actors::notification_event& msg,
                                                int64_t now_ms) {
  detail::require_id(msg.order_id, "notification_event");
  const bool ok = msg.type == actors::notify_payment_succeeded;
  if (!ok && msg.type != actors::notify_payment_failed)
    rt::reject("notification_event for order " + msg.order_id + " has unknown type '" + msg.type
               + "'");
  apply_changes();
  if (passivated_.count(msg.order_id) > 0)
    return {};
  if (auto it = orders_.find(msg.order_id);
      it != orders_.end() && !it->second.snap.payment_status.empty())
    return {};  // the outcome is known (kastor's payment writes a payment_result too)
  entry e = held_or_guessed(msg.order_id, msg.customer_id,
                            msg.amount_known ? msg.total_cents : 0, now_ms);
  set_outcome(e, ok, now_ms);
  return emit_snapshot(meta, std::move(e), now_ms);
}

std::vector<rt::message> order_book::handle(const rt::record_meta& meta,
                                                const actors::email_sent& msg,
                                                int64_t now_ms) {
  detail::require_id(msg.order_id, "email_sent");
  apply_changes();
  if (passivated_.count(msg.order_id) > 0)
    return {};
  entry e = held_or_guessed(msg.order_id, msg.customer_id, 0, now_ms);
  if (!e.snap.emailed) {
    e.snap.emailed = true;
    // Before the payment outcome the order stays where it is; the outcome
    // moves it straight to NOTIFIED (see set_outcome).
    if (!e.snap.payment_status.empty())
      advance(e.snap, actors::status_notified);
    e.snap.updated_at_ms = now_ms;
  }
  return emit_snapshot(meta, std::move(e), now_ms);
}

int64_t order_book::epoch_of(int32_t partition) const {
  auto it = epochs_.find(partition);
  return it == epochs_.end() ? 0 : it->second;
}

void order_book::stored(const std::string& id, entry e, int64_t now_ms) {
  bool newly_finished = e.snap.status == actors::status_notified
                        && (orders_.count(id) == 0 || orders_[id].snap.status != actors::status_notified);
  orders_[id] = std::move(e);
  if (newly_finished)
    finished_.emplace_back(now_ms, id);
  passivate(now_ms);
}

void order_book::passivate(int64_t now_ms) {
  while (!finished_.empty() && now_ms - finished_.front().first >= passivate_after_ms_) {
    auto id = std::move(finished_.front().second);
    finished_.pop_front();
    auto it = orders_.find(id);
    if (it == orders_.end() || it->second.snap.status != actors::status_notified)
      continue;  // released meanwhile
    passivated_[id] = it->second.partition;
    orders_.erase(it);
  }
}

void order_book::adopt(int32_t partition, const std::vector<actors::order_snapshot>& restored,
                       int64_t epoch) {
  std::lock_guard<std::mutex> guard{changes_mtx_};
  changes_.push_back({true, {partition}, restored, epoch});
  has_changes_ = true;
}

void order_book::release(const std::vector<int32_t>& partitions) {
  std::lock_guard<std::mutex> guard{changes_mtx_};
  changes_.push_back({false, partitions, {}, 0});
  has_changes_ = true;
}

void order_book::apply_changes() const {
  if (!has_changes_.load())
    return;
  std::vector<change> todo;
  {
    std::lock_guard<std::mutex> guard{changes_mtx_};
    todo.swap(changes_);
    has_changes_ = false;
  }
  for (auto& c : todo) {
    auto mine = [&c](int32_t p) {
      return std::find(c.partitions.begin(), c.partitions.end(), p) != c.partitions.end();
    };
    if (!c.adopt) {
      std::erase_if(orders_, [&](const auto& kv) { return mine(kv.second.partition); });
      std::erase_if(passivated_, [&](const auto& kv) { return mine(kv.second); });
      for (auto p : c.partitions)
        epochs_.erase(p);
      continue;
    }
    epochs_[c.partitions.front()] = c.epoch;
    // Merged with what is held (the node may have held the partition before
    // and catches up with the changelog): per order the furthest along.
    const int32_t p = c.partitions.front();
    for (auto& snap : c.restored) {
      if (passivated_.count(snap.order_id) > 0)
        continue;  // final already
      auto it = orders_.find(snap.order_id);
      if (it != orders_.end() && !further_along(snap, it->second.snap)) {
        it->second.partition = p;
        it->second.snap.emailed = it->second.snap.emailed || snap.emailed;
        continue;
      }
      if (snap.status == actors::status_notified) {
        if (it != orders_.end())
          orders_.erase(it);
        passivated_[snap.order_id] = p;
        continue;
      }
      entry e = it != orders_.end() ? it->second : entry{};
      e.created_seen = e.created_seen || snap.item_count > 0;  // only order_created sets items
      e.partition = p;
      bool emailed = e.snap.emailed || snap.emailed;
      e.snap = snap;
      e.snap.emailed = emailed;
      e.snap.epoch = 0;  // stamped when written
      orders_[snap.order_id] = std::move(e);
    }
  }
}

size_t order_book::active() const {
  apply_changes();
  return orders_.size();
}

size_t order_book::passivated() const {
  apply_changes();
  return passivated_.size();
}

bool order_book::is_passivated(const std::string& order_id) const {
  apply_changes();
  return passivated_.count(order_id) > 0;
}

std::optional<actors::order_snapshot> order_book::find(const std::string& order_id) const {
  apply_changes();
  auto it = orders_.find(order_id);
  if (it == orders_.end())
    return std::nullopt;
  return it->second.snap;
}

std::optional<actors::order_snapshot> order_book::find_created(const std::string& order_id) const {
  apply_changes();
  auto it = orders_.find(order_id);
  if (it == orders_.end() || !it->second.created_seen)
    return std::nullopt;
  return it->second.snap;
}

bool order_book::emailed(const std::string& order_id) const {
  apply_changes();
  auto it = orders_.find(order_id);
  return it != orders_.end() && it->second.snap.emailed;
}

}  // namespace kastor::actors
