// Kafka as the bridges' users see it: topic administration, reading a topic
// (and an entity changelog's live snapshots), key placement, consumer groups
// as their coordinator describes them. librdkafka itself stays inside: its
// configuration, error classification and mock cluster are in the bridges'
// internal header kastor/bridges/librdkafka.hpp (in-tree only).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "kastor/bridges/codec.hpp"

// librdkafka's handles, declared only: no public header of kastor includes
// librdkafka (what needs it is in the bridges' internal headers).
extern "C" {
typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_queue_s rd_kafka_queue_t;
typedef struct rd_kafka_message_s rd_kafka_message_t;
typedef struct rd_kafka_topic_partition_list_s rd_kafka_topic_partition_list_t;
typedef struct rd_kafka_consumer_group_metadata_s rd_kafka_consumer_group_metadata_t;
}

namespace kastor::bridges {

// Owning handles of librdkafka objects (the deleters live in the library).
struct rk_deleter {
  void operator()(rd_kafka_t* rk) const;
};
using rk_ptr = std::unique_ptr<rd_kafka_t, rk_deleter>;
struct message_deleter {
  void operator()(rd_kafka_message_t* m) const;
};
using message_ptr = std::unique_ptr<rd_kafka_message_t, message_deleter>;
struct partition_list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const;
};
using partition_list_ptr =
  std::unique_ptr<rd_kafka_topic_partition_list_t, partition_list_deleter>;

using kafka_properties = std::vector<std::pair<std::string, std::string>>;


struct topic_spec {
  std::string name;
  int partitions = 6;
  int replication = 1;
  bool compacted = false;
};

// The cluster as one metadata request sees it: every topic with its
// partition count, and how many brokers there are.
struct cluster_view {
  std::map<std::string, int> topics;
  int brokers = 0;
};
caf::expected<cluster_view> describe_cluster(const std::string& brokers,
                                             std::chrono::milliseconds timeout);

// Creates the topics that do not exist yet (an existing one is fine) and waits
// until every partition has a leader. A replication of 0 is min(3, the
// brokers in the cluster). Uses the admin API: real brokers only;
// on the mock cluster use mock_cluster::create_topic.
caf::error ensure_topics(const std::string& brokers, const std::vector<topic_spec>& topics,
                         std::chrono::milliseconds timeout);

// The partition librdkafka's `partitioner` (kafka.partitioner) gives `key`
// among `count` partitions; nullopt for an empty key, a count below 1 or a
// partitioner without a fixed placement. murmur2 is the Java client's
// (Utils.toPositive(Utils.murmur2(key)) % count), as KafkaJS's and
// kafka-python's default partitioners are.
std::optional<int32_t> key_partition(const std::string& partitioner, std::string_view key,
                                     int32_t count);

// One record as stored in a topic.
struct stored_record {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  std::string key;
  std::string value;
  header_list headers;

  std::string id() const {
    return topic + "/" + std::to_string(partition) + "@" + std::to_string(offset);
  }
  std::string header(std::string_view name) const;  // the last one called `name`, or ""
};

// Where read_topic stops in each partition.
enum class read_end {
  // Its committed end when the read gets there (its last stable offset): a
  // transaction still open is left out, whatever becomes of it.
  committed,
  // Past every transaction that wrote to it before the read began (its high
  // watermark then): each is waited for until it commits (read) or aborts
  // (left out). A transaction that never ends holds the read until its
  // timeout, and the error names the partitions. What a
  // restore needs: a transaction's commit is acknowledged to its producer
  // before its markers are written, so a partition's next owner can find the
  // last owner's final transaction still open, while the group's committed
  // offsets (fetched with require_stable) already include it.
  settled,
};

// Every committed record (read_committed) of `topic` up to its end as of the
// call (see read_end), partition by partition in offset order. `from`:
// partition -> first offset to read (-1: its start); empty: every partition
// from its start. `ends` (if given) receives, per partition read, the offset
// to go on from next time. No consumer group is joined. Errors: no such topic
// or partition (runtime_errc::invalid_config), not done within `timeout`
// (timeout; it names the partitions a transaction held), or the consumer's
// error.
caf::expected<std::vector<stored_record>> read_topic(
  const std::string& brokers, const std::string& topic, const std::map<int32_t, int64_t>& from = {},
  std::chrono::milliseconds timeout = std::chrono::seconds{30},
  std::map<int32_t, int64_t>* ends = nullptr, read_end until = read_end::committed);

// The entity snapshots in a changelog's records (read in offset order per
// partition), without the late writes of replaced owners: a snapshot whose
// epoch (runtime::epoch_header) is below one already read in its partition
// is skipped (its record id goes to `skipped`, if given). `max_epoch`
// (partition -> highest epoch read) carries on from earlier reads of the same
// partitions. Tombstones are left out, and so are records no restore can use
// (each in `unusable`, if given, with the reason): a value that cannot be
// decoded, or a type that is not known. A snapshot whose epoch is above
// now_ms + max_epoch_ahead_ms (an epoch is its writer's assignment time: one
// from the far future would make every later snapshot of its partition look
// stale, and overflow the next) is kept with its epoch ignored, and reported
// in `unusable` as well.
struct live_snapshot {
  const stored_record* record;
  runtime::message snapshot;
  int64_t epoch = 0;
};
struct unusable_record {
  const stored_record* record;
  std::string reason;
};
inline constexpr int64_t max_epoch_ahead_ms = 24LL * 3600 * 1000;
std::vector<live_snapshot> live_snapshots(const std::vector<stored_record>& records,
                                          std::map<int32_t, int64_t>& max_epoch,
                                          std::vector<std::string>* skipped = nullptr,
                                          std::vector<unusable_record>* unusable = nullptr,
                                          int64_t now_ms = -1);

// A consumer group as its coordinator describes it.
struct group_member {
  std::string client_id;
  std::string host;
  std::map<std::string, std::vector<int32_t>> assignment;  // topic -> partitions
};
struct group_description {
  std::string state;     // "Stable", "PreparingRebalance", "Empty", "Dead" (unknown group)...
  int32_t coordinator = -1;  // broker id
  std::vector<group_member> members;
};

// Whether the cluster knows `topic` (a metadata request; works on the mock).
bool topic_exists(const std::string& brokers, const std::string& topic,
                  std::chrono::milliseconds timeout);

}  // namespace kastor::bridges
