// What a role's mailbox (its Kafka consumer and the records it holds) has
// done so far, as actor_node::mailboxes() reports it: a copy, taken at once.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

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
  // Dead letters written, by why: a decoding error's code (malformed_json,
  // unknown_type, schema_violation, no_handler, ...), rejected (the handler
  // said it never succeeds), max_attempts, behind_key (a later record of a
  // key that was dead-lettered), or other.
  std::map<std::string, uint64_t> dead_letter_reasons;

  // Adds the counters of `o` (a replaced mailbox's) to these.
  void add_counters(const mailbox_stats& o) {
    received += o.received;
    finished += o.finished;
    redelivered += o.redelivered;
    dead_lettered += o.dead_lettered;
    forwarded += o.forwarded;
    pauses += o.pauses;
    transactions += o.transactions;
    aborts += o.aborts;
    handoffs += o.handoffs;
    stalls += o.stalls;
    lost_assignments += o.lost_assignments;
    longest_handoff_ms = std::max(longest_handoff_ms, o.longest_handoff_ms);
    for (const auto& [why, n] : o.dead_letter_reasons)
      dead_letter_reasons[why] += n;
  }
};

// One assigned partition of a role's mailbox, as its poll thread last saw
// it (at most a second ago).
struct partition_stats {
  std::string topic;
  int32_t partition = 0;
  size_t in_flight = 0;        // records taken and not finished: the mailbox depth
  size_t quarantined = 0;      // of those, waiting behind a failed record of their key
  int64_t committed = -1;      // the offset committed (or stored to commit); -1: none yet
  int64_t position = -1;       // the next offset the consumer fetches; -1: unknown
  int64_t low_watermark = -1;  // the partition's start as last fetched; -1: unknown
  int64_t high_watermark = -1; // the partition's end as last fetched; -1: unknown
  // What the role has not finished: the high watermark less the committed
  // offset (before any commit, and for a view, which commits nothing, less
  // the position); -1: unknown (nothing committed or read since the
  // assignment: where the group stands is the broker's to say, `kastor ctl
  // status --brokers`). With nothing in flight, everything before the
  // position is finished: what lies between the committed offset and it is
  // no record of the role's (a transaction's marker, an aborted record
  // read_committed skips), not lag.
  int64_t lag() const {
    if (high_watermark < 0)
      return -1;
    if (low_watermark == high_watermark)
      return 0;  // nothing there to read
    int64_t from = committed >= 0 ? committed : position;
    if (in_flight == 0 && position > from)
      from = position;
    return from >= 0 ? std::max<int64_t>(0, high_watermark - from) : -1;
  }
};

}  // namespace kastor::bridges
