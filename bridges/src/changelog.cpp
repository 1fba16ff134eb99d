#include "kastor/bridges/changelog.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <thread>

#include "kastor/bridges/kafka.hpp"
#include "kastor/runtime/logging.hpp"
#include "kastor/runtime/role_actor.hpp"

namespace kastor::bridges {

entity_changelog::entity_changelog(std::shared_ptr<runtime::entity_store> store,
                                   std::string brokers, std::string topic, std::string node,
                                   std::shared_ptr<kafka_publisher> dead_letters,
                                   std::chrono::milliseconds read_timeout)
    : store_(std::move(store)), brokers_(std::move(brokers)), topic_(std::move(topic)),
      node_(std::move(node)), log_(runtime::logger("kastor.node")),
      dead_letters_(std::move(dead_letters)), read_timeout_(read_timeout) {}

bool entity_changelog::assigned(const void* mailbox, const std::vector<int32_t>& parts) {
  std::lock_guard<std::mutex> guard{mtx_};
  current_ = mailbox;
  std::vector<int32_t> gone;
  for (auto& [p, pos] : position_)
    if (std::find(parts.begin(), parts.end(), p) == parts.end())
      gone.push_back(p);
  forget(gone);
  std::map<int32_t, int64_t> from;
  for (auto p : parts)
    from[p] = position_.count(p) ? position_[p] : -1;
  if (from.empty())
    return true;
  auto began = std::chrono::steady_clock::now();
  std::map<int32_t, int64_t> ends;
  caf::expected<std::vector<stored_record>> records{std::vector<stored_record>{}};
  for (int attempt = 1; attempt <= 3; ++attempt) {
    ends.clear();
    records = read_topic(brokers_, topic_, from, read_timeout_, &ends, read_end::settled);
    if (records)
      break;
    log_->warn("node={} event=changelog_restore_failed topic={} attempt={} partitions={} error={}",
               node_, topic_, attempt, parts.size(), runtime::describe(records.error()));
    if (attempt < 3)
      std::this_thread::sleep_for(std::chrono::milliseconds{500 * attempt});
  }
  if (!records) {
    forget(parts);  // nothing half-known stays behind
    return false;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - began).count();
  // A late write of an earlier owner (an older epoch) is skipped.
  std::map<int32_t, std::vector<runtime::message>> by_partition;
  std::vector<std::string> stale;
  std::vector<unusable_record> unusable;
  auto now = runtime::wall_clock_ms();
  for (auto& live : live_snapshots(*records, max_epoch_, &stale, &unusable, now))
    by_partition[live.record->partition].push_back(std::move(live.snapshot));
  dead_letter(unusable);
  // This owner's epoch: above every epoch in the partition so far, and the
  // assignment's time (a later owner is assigned later). No epoch read is
  // more than max_epoch_ahead_ms past the clock, so this cannot overflow.
  for (auto p : parts)
    store_->adopt(p, by_partition[p], std::max(now, max_epoch_[p] + 1));
  for (auto [p, end] : ends)
    position_[p] = end;
  log_->info("node={} event=changelog_restored topic={} partitions={} records={} stale_skipped={} "
             "ms={}", node_, topic_, parts.size(), records->size(), stale.size(), ms);
  return true;
}

// Unusable records to `<topic>.dlq`, each once (the caller holds mtx_). The
// DLQ is read for the origins it holds only when there is something to
// write, which is rare; writes are waited for (bounded), and one that fails
// is tried again by the next restore that reads the record.
void entity_changelog::dead_letter(const std::vector<unusable_record>& unusable) {
  std::vector<const unusable_record*> todo;
  for (const auto& u : unusable) {
    if (dead_lettered_.count(u.record->id()))
      continue;
    log_->warn("node={} event=changelog_record_unusable record={} reason={}", node_,
               u.record->id(), u.reason);
    if (dead_letters_)
      todo.push_back(&u);
  }
  if (todo.empty())
    return;
  const auto dlq = topic_ + ".dlq";
  if (auto held = read_topic(brokers_, dlq, {}, std::chrono::seconds{10})) {
    for (const auto& r : *held)
      if (auto origin = r.header("kastor-dlq-origin"); !origin.empty())
        dead_lettered_.insert(origin);
  } else {
    log_->warn("node={} event=changelog_dlq_unread topic={} error={}: writing what was found",
               node_, dlq, runtime::describe(held.error()));
  }
  struct pending {
    std::string origin;
    std::promise<runtime::publish_outcome> done;
  };
  std::vector<std::shared_ptr<pending>> writes;  // (a late report may outlive this call)
  for (const auto* u : todo) {
    const auto& r = *u->record;
    if (!dead_lettered_.insert(r.id()).second)
      continue;  // in the DLQ already
    auto headers = r.headers;
    headers.push_back({"kastor-dlq-reason", u->reason});
    headers.push_back({"kastor-dlq-origin", r.id()});
    headers.push_back({"kastor-dlq-node", node_});
    headers.push_back({"kastor-dlq-time", std::to_string(runtime::wall_clock_ms())});
    auto w = std::make_shared<pending>();
    w->origin = r.id();
    dead_letters_->produce(dlq, r.key, r.value, headers,
                           [w](const runtime::publish_outcome& o) { w->done.set_value(o); });
    writes.push_back(std::move(w));
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  for (auto& w : writes) {
    auto f = w->done.get_future();
    std::string error = "not acknowledged within 10 s";
    if (f.wait_until(until) == std::future_status::ready) {
      auto o = f.get();
      if (o.ok())
        continue;
      error = o.error;
    }
    log_->error("node={} event=changelog_dead_letter_failed record={} error={}: the next "
                "restore tries again", node_, w->origin, error);
    dead_lettered_.erase(w->origin);
  }
}

void entity_changelog::revoked(const void* mailbox, const std::vector<int32_t>& parts, bool lost) {
  if (!lost)
    return;  // kept: if they come back, only the changelog's tail is read
  std::lock_guard<std::mutex> guard{mtx_};
  if (mailbox != current_)
    return;  // a replaced mailbox's late word: its successor owns what it adopted
  forget(parts);
}

void entity_changelog::forget(const std::vector<int32_t>& parts) {
  if (parts.empty())
    return;
  store_->release(parts);
  for (auto p : parts) {
    position_.erase(p);
    max_epoch_.erase(p);
  }
}

}  // namespace kastor::bridges
