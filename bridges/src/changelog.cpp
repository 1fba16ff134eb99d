#include "kastor/bridges/changelog.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "kastor/bridges/kafka.hpp"
#include "kastor/runtime/logging.hpp"
#include "kastor/runtime/role_actor.hpp"

namespace kastor::bridges {

entity_changelog::entity_changelog(std::shared_ptr<runtime::entity_store> store,
                                   std::string brokers, std::string topic, std::string node)
    : store_(std::move(store)), brokers_(std::move(brokers)), topic_(std::move(topic)),
      node_(std::move(node)), log_(runtime::logger("kastor.node")) {}

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
    records = read_topic(brokers_, topic_, from, std::chrono::seconds{10}, &ends);
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
  for (auto& live : live_snapshots(*records, max_epoch_, &stale))
    by_partition[live.record->partition].push_back(std::move(live.snapshot));
  // This owner's epoch: above every epoch in the partition so far, and the
  // assignment's time (a later owner is assigned later).
  auto now = runtime::wall_clock_ms();
  for (auto p : parts)
    store_->adopt(p, by_partition[p], std::max(now, max_epoch_[p] + 1));
  for (auto [p, end] : ends)
    position_[p] = end;
  log_->info("node={} event=changelog_restored topic={} partitions={} records={} stale_skipped={} "
             "ms={}", node_, topic_, parts.size(), records->size(), stale.size(), ms);
  return true;
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
