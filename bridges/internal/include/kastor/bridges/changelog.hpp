// A keyed role's keys follow its partitions. On each assignment the entities
// of every assigned partition are caught up from the role's changelog (its
// snapshot type's compacted topic: from its start, or from where this node
// read it last, since what others wrote meanwhile is in the tail) before any
// of its records is taken. The read waits for every transaction still open
// in those partitions (read_end::settled): the last owner's final commit,
// acknowledged before its markers are written, is part of the state its
// committed offsets stand for. Partitions no longer assigned are dropped, and so
// is everything of a lost assignment. Each assignment writes with a new
// epoch, higher than any before in the partition, and the restore skips a
// snapshot whose epoch is below one it has read: a paused node's queued
// writes that land after its successor's do not count. If the changelog
// cannot be read (three tries of `read_timeout` each: make it longer than a
// transaction left open by a killed owner lives, its transaction timeout and
// the broker's abort check), the assignment fails and the bridge restarts:
// the role never runs on a partition without its entities.
//
// A record no restore can use (undecodable, or of an unknown type) is left
// out, and one with an implausible epoch is restored with its epoch ignored
// (see live_snapshots); either goes to `<topic>.dlq` with the reason, once:
// the restore that finds it writes it unless the DLQ holds that origin
// already (a compacted changelog keeps the record, and every later restore
// reads it again).
//
// Thread-safety: any thread (the mailbox's rebalance callbacks; a replaced
// mailbox's last callback may overlap its successor's first).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/runtime/entity.hpp"

namespace kastor::bridges {

class entity_changelog {
public:
  // dead_letters: where unusable records go (null: they are only logged).
  entity_changelog(std::shared_ptr<runtime::entity_store> store, std::string brokers,
                   std::string topic, std::string node,
                   std::shared_ptr<kafka_publisher> dead_letters = nullptr,
                   std::chrono::milliseconds read_timeout = std::chrono::seconds{30});

  // mailbox_options::on_assign: false when the partitions' entities could
  // not be read (after retries).
  bool assigned(const void* mailbox, const std::vector<int32_t>& parts);
  // mailbox_options::on_revoke.
  void revoked(const void* mailbox, const std::vector<int32_t>& parts, bool lost);

private:
  void forget(const std::vector<int32_t>& parts);
  void dead_letter(const std::vector<unusable_record>& unusable);

  std::shared_ptr<runtime::entity_store> store_;
  std::string brokers_;
  std::string topic_;
  std::string node_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<kafka_publisher> dead_letters_;
  std::chrono::milliseconds read_timeout_;
  std::set<std::string> dead_lettered_;  // origins written (or found) in the DLQ
  std::mutex mtx_;
  const void* current_ = nullptr;         // the mailbox that was assigned last
  std::map<int32_t, int64_t> position_;   // partition -> next changelog offset to read
  std::map<int32_t, int64_t> max_epoch_;  // partition -> highest writer epoch read so far
};

}  // namespace kastor::bridges
