// librdkafka plumbing: RAII handles, configuration, error classification,
// topic administration and the embedded mock cluster.
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
#include <librdkafka/rdkafka.h>

#include "kastor/bridges/codec.hpp"

struct rd_kafka_mock_cluster_s;

namespace kastor::bridges {

struct rk_deleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using rk_ptr = std::unique_ptr<rd_kafka_t, rk_deleter>;

struct conf_deleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;

struct message_deleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using message_ptr = std::unique_ptr<rd_kafka_message_t, message_deleter>;

struct partition_list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using partition_list_ptr =
  std::unique_ptr<rd_kafka_topic_partition_list_t, partition_list_deleter>;

using kafka_properties = std::vector<std::pair<std::string, std::string>>;

// A configuration with every property set; an invalid one is an error naming it.
caf::expected<conf_ptr> make_conf(const kafka_properties& props);

// Routes librdkafka's log lines through a queue that `forward_logs` drains on
// our own thread into the "kastor.kafka" logger (never on librdkafka's threads).
void enable_log_queue(rd_kafka_conf_t* conf);
void forward_logs(rd_kafka_t* rk, rd_kafka_queue_t* log_queue);

// Classifies a librdkafka error code as retriable or fatal
// (bridge_errc::kafka_retriable / kafka_fatal), with `what` as context.
caf::error kafka_error(rd_kafka_resp_err_t err, const std::string& what);
bool is_retriable(rd_kafka_resp_err_t err);

// Takes ownership of a transactional API error (null: no error) and
// classifies it: bridge_errc::kafka_fatal (fenced, or the producer is broken),
// kafka_abortable (the transaction must be aborted), else kafka_retriable
// (e.g. a timeout: the outcome of the call is unknown).
caf::error txn_error(rd_kafka_error_t* e, const std::string& what);

// The headers of a consumed record, in order.
header_list read_headers(rd_kafka_message_t* msg);

struct topic_spec {
  std::string name;
  int partitions = 6;
  int replication = 1;
  bool compacted = false;
};

// Creates the topics that do not exist yet (an existing one is fine) and waits
// until every partition has a leader. Uses the admin API: real brokers only;
// on the mock cluster use mock_cluster::create_topic.
caf::error ensure_topics(const std::string& brokers, const std::vector<topic_spec>& topics,
                         std::chrono::milliseconds timeout);

// Partition count of `topic` (a metadata request); 0 when it does not exist.
caf::expected<int> partitions_of(rd_kafka_t* rk, const std::string& topic,
                                 std::chrono::milliseconds timeout = std::chrono::seconds{10});

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
  std::string header(std::string_view name) const;
};

// Every committed record (read_committed) of `topic` up to its end as of the
// call, partition by partition in offset order. `from`: partition -> first
// offset to read (-1: its start); empty: every partition from its start.
// `ends` (if given) receives, per partition read, the offset to go on from
// next time. No consumer group is joined. Errors: no such topic or partition
// (runtime_errc::invalid_config), not done within `timeout` (timeout), or the
// consumer's error.
caf::expected<std::vector<stored_record>> read_topic(
  const std::string& brokers, const std::string& topic, const std::map<int32_t, int64_t>& from = {},
  std::chrono::milliseconds timeout = std::chrono::seconds{30},
  std::map<int32_t, int64_t>* ends = nullptr);

// The entity snapshots in a changelog's records (read in offset order per
// partition), without the late writes of replaced owners: a snapshot whose
// epoch (runtime::epoch_header) is below one already read in its partition
// is skipped (its record id goes to `skipped`, if given). `max_epoch`
// (partition -> highest epoch read) carries on from earlier reads of the same
// partitions. Tombstones and undecodable values are left out.
struct live_snapshot {
  const stored_record* record;
  runtime::message snapshot;
  int64_t epoch = 0;
};
std::vector<live_snapshot> live_snapshots(const std::vector<stored_record>& records,
                                          std::map<int32_t, int64_t>& max_epoch,
                                          std::vector<std::string>* skipped = nullptr);

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
caf::expected<group_description> describe_group(rd_kafka_t* rk, const std::string& group,
                                                std::chrono::milliseconds timeout);

// Whether the cluster knows `topic` (a metadata request; works on the mock).
bool topic_exists(const std::string& brokers, const std::string& topic,
                  std::chrono::milliseconds timeout);

// librdkafka's in-process mock cluster (speaks the Kafka protocol on loopback).
// Known limits of librdkafka 2.0.2: first group join ~3 s, ~5 MB kept per
// partition, no transaction filtering, no TLS. Not for proving guarantees.
class mock_cluster {
public:
  static caf::expected<std::unique_ptr<mock_cluster>> start(int brokers);
  ~mock_cluster();
  const std::string& bootstrap() const { return bootstrap_; }
  caf::error create_topic(const topic_spec& t);
  // Fault injection: the next `errors.size()` requests with this Kafka API
  // key (e.g. 26 EndTxn, 28 TxnOffsetCommit) fail with these errors, in order.
  void push_request_errors(int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors);

private:
  mock_cluster() = default;
  rk_ptr owner_;
  ::rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace kastor::bridges
