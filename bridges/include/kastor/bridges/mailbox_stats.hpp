// What a role's mailbox (its Kafka consumer and the records it holds) has
// done so far, as actor_node::mailboxes() reports it: a copy, taken at once.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kastor::bridges {

struct mailbox_stats {
  uint64_t received = 0;      // records fetched
  uint64_t finished = 0;      // records reported finished
  uint64_t redelivered = 0;   // deliveries to a new incarnation
  uint64_t dead_lettered = 0;
  uint64_t forwarded = 0;     // records sent on to their key's partition (forward_topic)
  uint64_t dead_letters_failing = 0;  // dead-letter writes failing in a row (retried, backing off)
  uint64_t pauses = 0;        // times the partitions were paused
  size_t in_flight = 0;
  size_t max_in_flight = 0;
  bool paused = false;
  bool joined = false;        // a group assignment was received
  size_t assigned_partitions = 0;
  uint64_t transactions = 0;  // exactly-once: committed
  uint64_t aborts = 0;        // exactly-once: aborted (work since then redone)
  uint64_t handoffs = 0;      // revocations (each a hand-off, or a lost assignment)
  uint64_t stalls = 0;        // poll loop stood still past half the session timeout
  bool standing_by = false;   // a standby not in its group (not running the role now)
  uint64_t lost_assignments = 0;
  int64_t longest_handoff_ms = 0;  // revocation to release, the longest
  // stop(): records taken and not finished when the drain ended (not
  // committed: delivered again to the next owner).
  size_t unfinished_at_stop = 0;
};

}  // namespace kastor::bridges
