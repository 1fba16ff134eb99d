// Inbound: Kafka -> actor. A role's mailbox is a consumer group.
//
// A poll thread (never an actor thread) fetches records, decodes them and
// sends (record_meta, message) to the bound actor. The actor reports each
// record as finished (completion_sink) once its effects are durable; only the
// contiguous prefix of finished offsets is stored and committed, so a crash
// never commits a record that was not finished. When the bound actor is
// replaced (its supervisor restarted it), every unfinished record is delivered
// again to the new incarnation with attempt + 1. A record that cannot be
// decoded goes to `<topic>.dlq` with the reason in its headers.
//
// Rebalances: a revoked partition is handed off cleanly: the mailbox takes
// nothing new from it, the actor skips what it was given but has not started,
// the turns already started finish (up to handoff_deadline), the finished
// prefix is committed, and only then is the partition released. A lost
// assignment (this member was too slow, the group moved on) commits nothing.
// on_assign/on_revoke let the role restore and drop its keys' state. A poll
// loop that stood still past half the session timeout (a paused process) may
// be a zombie: at-least-once, it hands out nothing and its actor starts
// nothing until the group confirms or replaces the assignment.
//
// Backpressure: above `high_water` records in flight the assigned partitions
// are paused; below `low_water` they are resumed, so memory stays bounded
// however far behind the group is.
//
// Exactly-once mode (mailbox_options::exactly_once): the consumer reads
// read_committed and a transactional producer, whose transactional.id is
// stable per group and assigned partition set (a new owner of the same set
// fences a zombie and aborts what it left open), carries the actor's outputs,
// dead letters and the consumed offsets in one transaction. Every
// commit_interval the mailbox stops handing out records, waits for those out
// to finish, and commits. A worker that dies, or an abortable error, aborts
// the transaction and delivers everything since the last commit again (with
// attempt + 1) to the current incarnation; a commit whose outcome is unknown
// (it timed out) re-creates the producer, which resolves it, and rewinds to
// the offsets the group has committed; a fatal or fenced error fails the
// mailbox, so its bridge restarts. Records are not parked per key in this
// mode: a failing record holds its partitions until it succeeds or reaches
// max_attempts and goes to the DLQ (in the transaction); after each abort the
// next transaction is smaller, so it soon fails alone.
//
// The two modes are two implementations of one private interface
// (bridges/src/mailbox_delivery.hpp: at_least_once.cpp, exactly_once.cpp);
// the rest of the mailbox is the same in both.
//
// Thread-safety: bind(), finished(), stats() and stop() may be called from
// any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>

#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/mailbox_stats.hpp"
#include "kastor/bridges/partition_tracker.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/runtime/ports.hpp"

namespace kastor::bridges {

class consumer_calls;  // bridges/internal/include/kastor/bridges/consumer_calls.hpp

// How often each record's actor died while handling it, kept outside one
// mailbox so that a record's count survives the mailbox being replaced (its
// bridge restarted) and a poison record still reaches the DLQ.
// Thread-safety: any thread.
class failure_memory {
public:
  int get(const std::string& topic, int32_t partition, int64_t offset) const;
  int increment(const std::string& topic, int32_t partition, int64_t offset);
  void erase(const std::string& topic, int32_t partition, int64_t offset);
  bool empty() const { return size_.load() == 0; }

private:
  mutable std::mutex mtx_;
  std::atomic<size_t> size_{0};  // lets get() skip the lock when nothing failed
  std::map<std::tuple<std::string, int32_t, int64_t>, int> counts_;
};

// A keyed role's forward topic (mailbox_options::forward_topic):
// "<group>-repartition", created by the node with its inputs' partition count.
std::string forward_topic_of(const std::string& group_id);

struct mailbox_options {
  std::string brokers;
  std::string group_id;
  std::vector<std::string> topics;
  // The message type names the role's handlers take; a record of another
  // type is dead-lettered (bridge_errc::no_handler), never handed out or
  // silently committed. Empty: every declared type.
  std::vector<std::string> accepts;
  // true: records are not decoded but handed out as they came
  // (runtime::raw_record: key, value and headers byte for byte), whatever
  // they hold; a copy stage reads so.
  bool raw = false;
  // false: a broadcast view (e.g. a node's dashboard): reads every partition
  // from the beginning, commits nothing.
  bool commit = true;
  size_t high_water = 2000;
  size_t low_water = 1000;
  int session_timeout_ms = 10000;
  int fetch_wait_max_ms = 100;  // see node_config; 5 on the mock cluster
  // Non-empty: a static member of the group (KIP-345, librdkafka's
  // group.instance.id), unique in the group and the same across restarts. A
  // member back within the session timeout gets its partitions again with no
  // rebalance; on stop it leaves the group only if leave_on_stop (else its
  // partitions wait for it, or for the session timeout). Another consumer
  // joining with the same id fences this one for good (the mailbox fails,
  // naming the id).
  std::string group_instance_id;
  bool leave_on_stop = false;
  std::string client_id = "kastor";
  // A record whose handling actor died this many times while handling it
  // (not merely while it waited in the actor's queue) goes to `<topic>.dlq`
  // instead of being delivered again (a poison record must not stop the rest),
  // and so do the records of its key behind it.
  int max_attempts = 5;
  // Per-key quarantine: the key of a record its actor failed on (its handler
  // threw, or the actor died handling it) is parked;
  // the record is tried again after retry_backoff_min, doubling up to
  // retry_backoff_max, while the key's later records wait behind it and every
  // other key flows. After max_attempts the key's records go to the DLQ in
  // order and the key is released.
  std::chrono::milliseconds retry_backoff_min{100};
  std::chrono::milliseconds retry_backoff_max{10000};
  // An actor whose turn on a record (started() to turn_done()) lasts longer
  // than this hangs: the mailbox makes it exit (runtime_errc::hung), so its
  // supervisor restarts it. 0: never.
  std::chrono::milliseconds turn_deadline{10000};
  // For dead-letter headers: the supervisor of the handling actor
  // ("root/accounts"), the node, and the last exit reason of the actor.
  std::string supervisor_path;
  std::string node_id;
  std::function<std::string()> last_exit_reason;
  std::shared_ptr<failure_memory> failures;  // null: counts live and die with this mailbox
  std::shared_ptr<kafka_publisher> dead_letters;  // null: log and skip dead letters
  kafka_properties extra;                         // applied last
  // The consumer's calls of librdkafka (null: librdkafka's own). A test
  // passes a wrapper that fails one of them.
  std::shared_ptr<consumer_calls> calls;
  // Set: the consumer joins its group only once this returned (called on the
  // poll thread, with the mailbox's stop flag: return early once it is set).
  // A restarted bridge waits so for its predecessor's consumer to have left:
  // with the same group.instance.id, joining first would fence it, and what
  // it finished would not be committed.
  std::function<void(const std::atomic<bool>& stopping)> join_after;
  // Exactly-once: outputs go through `transactional` (its transactional_id is
  // set per partition set; topic or topic_suffix as the role needs).
  bool exactly_once = false;
  producer_options transactional;
  std::chrono::milliseconds commit_interval{100};
  // At most this many records (and dead letters) per transaction. After an
  // abort the next transaction may hold only half as many as the aborted one
  // (down to 1), doubling again with each commit, so a record that keeps
  // failing is soon alone in its transaction and the others get through.
  size_t max_transaction_records = 1000;
  // Hand-off on a revocation: how long the records whose turn has started
  // may take to finish before the partitions are released anyway.
  std::chrono::milliseconds handoff_deadline{2000};
  // Ownership of keys, on the poll thread, each call naming the mailbox (a
  // replaced one's last calls may come after its successor's first):
  // on_assign(mailbox, partitions) before any record of them is taken (e.g.
  // restore the keys' state; false: it could not be, and the mailbox fails
  // without taking anything, so that its bridge restarts); on_revoke after
  // they are released, lost = true when the group moved on without a clean
  // hand-off (drop what was built from them, commit nothing).
  std::function<bool(const void* mailbox, const std::vector<int32_t>&)> on_assign;
  std::function<void(const void* mailbox, const std::vector<int32_t>&, bool lost)> on_revoke;
  // Non-null: a standby instance of the role, in the group only while the
  // flag is set (it joins and leaves, handing off cleanly, as it changes).
  std::shared_ptr<std::atomic<bool>> standby;
  // A keyed role (its state per key lives with the key's partition): a
  // record that is not on the partition `partitioner` puts its key in (a
  // foreign producer wrote it without a key, or with another partitioner, or
  // to a partition it chose) is forwarded to that partition of
  // `forward_topic`, a topic of this group's own (forward_topic_of()), as
  // Kafka Streams repartitions: co-partitioned with the inputs and in
  // `topics`, so the key's owner reads it, and no other reader of the input
  // topic sees the record twice. The copy is byte for byte, with
  // kastor-forwarded-from, the kastor-type header (the forward topic carries
  // every type) and the key when it had none; it goes through dead_letters'
  // producer or, exactly-once, in the transaction, and the original's offset
  // passes once it is durable. Empty: records are handled where they are.
  std::string forward_topic;
  std::string partitioner = "murmur2_random";  // as the producers' (kafka.partitioner)
};

class kafka_mailbox : public runtime::completion_sink,
                      public std::enable_shared_from_this<kafka_mailbox> {
public:
  static caf::expected<std::shared_ptr<kafka_mailbox>> make(mailbox_options opts);
  ~kafka_mailbox() override;

  // Starts the poll thread. Call bind() first.
  void start();

  // (Re)binds the actor that handles this mailbox's records; unfinished
  // records are delivered again to it.
  void bind(caf::actor target);

  void finished(const runtime::record_meta& m) override;
  void started(const runtime::record_meta& m) override;
  bool try_start(const runtime::record_meta& m) override;
  void clear_suspect() override;
  void turn_done(const runtime::record_meta& m) override;
  void actor_died() override;
  void rejected(const runtime::record_meta& m, const std::string& reason) override;
  bool failed(const runtime::record_meta& m, const std::string& reason) override;
  bool current(const runtime::record_meta& m) const override;

  mailbox_stats stats() const;
  // Its assigned partitions (at most a second old).
  std::vector<partition_stats> partitions() const;

  // Why the consumer cannot go on (a fatal librdkafka error); nullopt while
  // healthy. Its owner then replaces the mailbox.
  std::optional<std::string> failure() const;

  // Stops taking new records (their partitions pause); stop() then waits for
  // those in flight. Call it on every mailbox first so they drain together.
  void begin_drain();

  // Stops taking new records, waits up to `drain` for the records in flight
  // to finish, then stores and commits the finished prefix and leaves the
  // group (a static member only with leave_on_stop), the commit and the
  // leaving within `close` whatever the brokers do: past it the consumer is
  // abandoned (what it did not commit is delivered again; the group drops
  // the member after its session timeout). Idempotent. False: the close did
  // not finish in time.
  bool stop(std::chrono::milliseconds drain = std::chrono::milliseconds{0},
            std::chrono::milliseconds close = std::chrono::seconds{10});

  const mailbox_options& options() const { return opts_; }

  // Exactly-once: where the bound actor publishes (into the open transaction;
  // a publish for a record that is not in it fails). Null in the default mode.
  std::shared_ptr<runtime::publisher> transactional_out() const;

private:
  struct copy_out_record;
  struct record_extra;
  using in_flight_record = partition_tracker<record_extra>::record;
  struct partition_state;
  struct completion {
    std::string topic;
    int32_t partition;
    int64_t offset;
    uint64_t incarnation;
  };

  explicit kafka_mailbox(mailbox_options opts);
  // The group's rebalance callback (err: librdkafka's assign or revoke code).
  void rebalance(int err, rd_kafka_topic_partition_list_t* parts);
  static std::vector<int32_t> partition_numbers(const rd_kafka_topic_partition_list_t* parts);
  size_t hand_off();
  caf::error subscribe();
  void follow_standby();
  bool close_consumer(std::chrono::milliseconds budget);
  void restart_fetchers();
  void check_stall();
  bool stall_guard() const;
  int64_t stall_limit_ms() const { return opts_.session_timeout_ms / 2; }
  void run();
  void handle(message_ptr msg);
  void dead_letter(const std::string& key, const std::string& value, header_list headers,
                   const std::string& reason, runtime::record_meta meta);
  void send_copy(in_flight_record& rec);
  static std::string dead_letter_class(const std::string& reason);
  void snapshot_partitions(bool now);
  int64_t snapshot_at_ms_ = 0;  // poll thread
  std::vector<partition_stats> partition_snapshot_;  // under mtx_
  copy_out_record dead_letter_copy(const std::string& key, const std::string& value,
                                     header_list headers, const std::string& reason,
                                     const in_flight_record& rec) const;
  static void cut_down(copy_out_record& copy, const std::string& why);
  std::vector<in_flight_record*> rewrite_unwritable();
  std::optional<int32_t> home_partition(const std::string& topic, const std::string& key);
  void forward(int32_t home, std::string value, header_list headers, runtime::record_meta meta);
  void deliver(const partition_state& ps, in_flight_record& r);
  void drain_completions();
  void apply_backpressure();
  void redeliver_if_rebound();
  void dead_letter_in_flight(const runtime::record_meta& meta, const std::string& reason);
  std::chrono::milliseconds retry_delay(int failures) const;
  void dead_letter_key(partition_state& ps, const std::string& key, const std::string& reason);
  void retry_parked();
  void apply_rejections();
  void apply_failures();
  void unblock(const std::string& topic, int32_t partition, const std::string& key,
               int64_t dead_lettered_until = -1);
  void check_turn_deadline();
  size_t in_flight_count() const;
  void start_locked(const runtime::record_meta& m);

  mailbox_options opts_;
  consumer_calls* calls_ = nullptr;  // opts_.calls
  rk_ptr rk_;
  rd_kafka_queue_t* log_queue_ = nullptr;
  std::thread poller_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};

  // Owned by the poll thread (incarnation_ is read by current()).
  std::map<std::pair<std::string, int32_t>, std::unique_ptr<partition_state>> parts_;
  std::atomic<uint64_t> incarnation_{1};
  bool paused_ = false;
  size_t in_flight_ = 0;  // in_flight_count() as of the last drain, plus records since
  std::atomic<bool> draining_{false};
  std::atomic<bool> drain_seen_{false};  // the poll thread has stopped taking records
  std::atomic<bool> rebound_{false};     // bind() happened since the last redelivery check
  std::atomic<bool> handing_off_{false};  // revoked: no new turn starts (current() is false)
  std::chrono::steady_clock::time_point revoked_at_{};
  // The poll loop's last round (steady ms), and whether it stood still so
  // long that the assignment may be gone (at-least-once; see check_stall).
  std::atomic<int64_t> last_tick_ms_{0};
  int64_t refetch_at_ms_ = 0;  // poll thread: when to restart_fetchers() (0: not due)
  bool suspect_ = false;
  bool subscribed_ = false;
  int64_t suspect_since_ms_ = 0;
  uint64_t received_ = 0;
  struct partition_count {
    int count = 0;  // 0: unknown
    std::chrono::steady_clock::time_point retry_at{};
  };
  std::map<std::string, partition_count> partition_counts_;  // forward_topic
  caf::actor delivered_to_;
  // How finished records become committed, and what may go out meanwhile:
  // at-least-once or exactly-once (bridges/src/mailbox_delivery.hpp).
  class delivery;
  class at_least_once;
  class exactly_once;
  static std::unique_ptr<delivery> at_least_once_delivery(kafka_mailbox& mb);
  static std::unique_ptr<delivery> exactly_once_delivery(kafka_mailbox& mb);
  std::unique_ptr<delivery> delivery_;

  // Shared with other threads.
  mutable std::mutex mtx_;
  caf::actor target_;
  std::vector<completion> completions_;
  std::optional<completion> last_started_;
  // Records whose turn started and that are not finished yet (hand-off).
  std::set<std::tuple<std::string, int32_t, int64_t>> unfinished_turns_;
  // The turn in progress (started, not turn_done) and when it began.
  std::optional<completion> turn_;
  std::chrono::steady_clock::time_point turn_since_{};
  bool turn_killed_ = false;  // the hung actor was told to exit
  std::optional<std::string> failure_;
  std::vector<std::pair<completion, std::string>> rejections_;
  // Records whose handler failed (completion_sink::failed), to be parked or
  // rewound by the poll thread.
  std::vector<std::pair<completion, std::string>> handler_failures_;
  // (topic, partition, key) -> the record whose handler failed (`head`). The key's other records up to `until` that the actor was
  // handed already are skipped (try_start): while the head is retried they
  // go out again, in order, once it is done; once the key is dead-lettered
  // (head -1, until its last record in the DLQ) they are never handled.
  struct blocked_key {
    int64_t head = -1;
    int64_t until = -1;
  };
  std::map<std::tuple<std::string, int32_t, std::string>, blocked_key> blocked_;
  std::vector<completion> dead_letter_retries_;
  std::vector<std::pair<completion, std::string>> unwritable_;  // copies refused for good
  mailbox_stats stats_;
};

}  // namespace kastor::bridges
