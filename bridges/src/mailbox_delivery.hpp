// The mailbox's private parts, shared by mailbox.cpp and its two delivery
// modes (at_least_once.cpp, exactly_once.cpp). Not installed.
//
// kafka_mailbox::delivery is the seam between the consumer (fetch, decode,
// hand out, track, hand off; mailbox.cpp) and how finished records become
// committed:
// - at_least_once: the finished prefix of each partition is stored as the
//   consumer's offset every round and committed by librdkafka; a record whose
//   actor died is delivered again, its key parked (quarantine) meanwhile;
// - exactly_once: outputs, dead letters and offsets go in one transaction of
//   a producer per partition set; a failure aborts it and everything since
//   the last commit is delivered again.
// Every call is on the poll thread, except copy_failed() (the producer's
// delivery-report thread) and publisher()/guards_stalls() (any thread).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/mailbox.hpp"
#include "kastor/runtime/logging.hpp"

namespace kastor::bridges {

// The original record on its way to `<topic>.dlq` or, forwarded, to its
// key's own partition; kept until the broker has it.
struct kafka_mailbox::copy_out_record {
  std::string topic;
  int32_t partition = -1;  // -1: the partitioner's choice
  bool forward = false;
  std::string key;
  std::string value;
  header_list headers;
  bool cut_down = false;  // see kafka_mailbox::cut_down
  std::string reason_class;  // a dead letter's: mailbox_stats::dead_letter_reasons
};

// What the mailbox keeps beside a record in flight (partition_tracker's Extra).
struct kafka_mailbox::record_extra {
  std::optional<copy_out_record> copy_out;
  message_ptr raw;  // the original record (held, not copied), for a later dead letter
  // Exactly-once: handed out (to the actor, or to the DLQ) in the open
  // transaction, and finished in it (kept until the transaction commits).
  bool sent = false;
  bool done = false;
};

struct kafka_mailbox::partition_state {
  partition_tracker<record_extra> tracker;  // in flight, quarantine, the committable prefix
  int64_t dropped_from = -1;  // the first record not taken while suspect (see check_stall)
  // Exactly-once: a dead letter of this partition failed to be written;
  // nothing of it goes out before then (its records stay in offset order).
  std::chrono::steady_clock::time_point blocked_until{};
  std::chrono::milliseconds block{0};
};

class kafka_mailbox::delivery {
public:
  explicit delivery(kafka_mailbox& mb) : mb_(mb) {}
  virtual ~delivery() = default;
  delivery(const delivery&) = delete;
  delivery& operator=(const delivery&) = delete;

  // The consumer's settings this mode needs (added before the user's extra
  // properties); an error when the options cannot work in this mode.
  virtual caf::error configure(kafka_properties& props) const = 0;
  // The group assigned `parts`; called before the consumer fetches their
  // committed offsets.
  virtual void assigned(const rd_kafka_topic_partition_list_t* parts) = 0;
  // A hand-off begins (the partitions are being revoked) ...
  virtual void begin_handoff() = 0;
  // ... and waits while this is not 0: the records that must finish before
  // the partitions are released.
  virtual size_t awaited() const = 0;
  // The partitions go (revoked, lost, or the mailbox stops): commit what is
  // finished, or nothing when `lost` (the records are someone else's).
  virtual void release(bool lost) = 0;
  // May `rec` go out now (to the actor, or its copy to the broker)? True
  // counts it as sent; false holds it (sent again later by this mode).
  virtual bool admit(const partition_state& ps, in_flight_record& rec) = 0;
  // Where the copy of `rec` (a dead letter, a forward) is written; null: it
  // is held for now. Called after can_copy().
  virtual kafka_publisher* copy_sink(in_flight_record& rec) = 0;
  // False: dead letters are logged and skipped (no DLQ producer).
  virtual bool can_copy() const = 0;
  // A copy's write failed (logged, and in mb_.dead_letter_retries_ or, when
  // it can never be written as it is, in mb_.unwritable_).
  virtual void copy_failed() = 0;
  // `rec` was reported finished: true when its offset may pass now.
  virtual bool finished(in_flight_record& rec) = 0;
  // The actor's handler failed on `rec` (its `failures`-th failure; the
  // actor goes on): try it again later, or dead-letter it.
  virtual void record_failed(partition_state& ps, in_flight_record& rec, int failures,
                             const std::string& reason) = 0;
  // A new actor is bound (first_bind: the mailbox's first): hand it what it
  // must handle again.
  virtual void rebound(bool first_bind) = 0;
  // Once per poll round, after the housekeeping.
  virtual void step() = 0;
  // Where the bound actor publishes; null: the role's own producer.
  virtual std::shared_ptr<runtime::publisher> publisher() const { return nullptr; }
  // True: a poll loop that stood still must not hand anything out until the
  // group confirms the assignment (see kafka_mailbox::check_stall).
  virtual bool guards_stalls() const = 0;

protected:
  kafka_mailbox& mb_;
};

namespace mailbox_detail {

inline std::shared_ptr<spdlog::logger> log() {
  static auto l = runtime::logger("kastor.bridge");
  return l;
}

}  // namespace mailbox_detail

}  // namespace kastor::bridges
