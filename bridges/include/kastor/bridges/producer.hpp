// Outbound: actor -> Kafka. One idempotent producer (acks=all) per node.
//
// publish() sends each message to its declared type's topic, keyed by its
// key, encodes it (codec.hpp) and calls back once the broker acknowledged the
// whole batch: the delivery report becomes the reply. Keys are partitioned
// like the Java client does (murmur2), so every common client puts a key
// where kastor does; a changelog record follows its cause
// (message_type::follows_cause). Many concurrent
// publishes share librdkafka's batches (linger.ms is small and paid once per
// batch, not once per message).
//
// Thread-safety: publish() and produce() may be called from any thread.
// Callbacks run on the producer's own poll thread and must not block.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <caf/expected.hpp>

#include "kastor/bridges/codec.hpp"
#include "kastor/bridges/kafka.hpp"
#include "kastor/runtime/ports.hpp"

namespace kastor::bridges {

class producer_calls;  // bridges/internal/include/kastor/bridges/producer_calls.hpp

struct producer_options {
  std::string brokers = {};
  std::string client_id = "kastor";
  std::chrono::milliseconds linger{1};
  std::chrono::milliseconds delivery_timeout{30000};  // message.timeout.ms
  // Appended to every routed topic name ("deposits" + ".bench"), so a
  // benchmark or test can run the real bridge without touching the pipeline's
  // topics; consumers of such topics take the type from the kastor-type header.
  std::string topic_suffix = {};
  // Non-empty: every published message goes to this topic instead of its
  // route's (a copy stage's output); the record is the same.
  std::string topic = {};
  // Non-empty: a transactional producer (see the transaction members below);
  // publishes then belong to the open transaction.
  std::string transactional_id = {};
  std::chrono::milliseconds transaction_timeout{10000};  // transaction.timeout.ms
  // librdkafka's partitioner and compression.type (kafka.partitioner,
  // kafka.compression). The defaults are what every common client reads and
  // does: KafkaJS has no LZ4 codec and kafka-python needs extra packages for
  // LZ4, Snappy and ZSTD; Java, KafkaJS and kafka-python partition by murmur2.
  std::string partitioner = "murmur2_random";
  std::string compression = "none";
  kafka_properties extra = {};  // applied last
  // The producer's calls of librdkafka (null: librdkafka's own). A test
  // passes a wrapper that fails one of them.
  std::shared_ptr<producer_calls> calls = {};
};

// Whether records compressed with `codec` can be read by every common client
// without extra packages (none and gzip); the reason when not.
std::optional<std::string> compression_not_portable(const std::string& codec);

class kafka_publisher : public runtime::publisher {
public:
  static caf::expected<std::shared_ptr<kafka_publisher>> make(producer_options opts);
  ~kafka_publisher() override;

  void publish(std::vector<runtime::message> batch, const runtime::record_meta* cause,
               runtime::publish_callback done) override;

  // One raw record (dead letters, forwards, benchmarks). Empty key: no key;
  // partition -1: the partitioner's choice.
  void produce(const std::string& topic, const std::string& key, const std::string& value,
               const header_list& headers, runtime::publish_callback done,
               int32_t partition = -1);

  // Fetches the metadata of every routed topic (and of `extra`) now, so the
  // first publish to each does not wait for a metadata round trip. Takes at
  // most `timeout` in all; errors are only logged.
  void warm_up(std::chrono::milliseconds timeout, const std::vector<std::string>& extra = {});

  // Transactions (transactional_id set). Blocking calls, from one thread.
  // Errors are classified: bridge_errc::kafka_abortable (abort, rewind,
  // retry), kafka_fatal (fenced or broken: recreate the producer) and
  // kafka_retriable (e.g. a commit that timed out: its outcome is unknown).
  caf::error init_transactions(std::chrono::milliseconds timeout);
  caf::error begin_transaction();
  // Adds the consumer's offsets (may be empty) to the transaction, fenced by
  // the consumer group's generation, and commits it.
  caf::error commit_transaction(const rd_kafka_topic_partition_list_t* offsets,
                                const rd_kafka_consumer_group_metadata_t* group,
                                std::chrono::milliseconds timeout);
  caf::error abort_transaction(std::chrono::milliseconds timeout);

  // Waits up to `deadline` for outstanding deliveries, stops the poll thread.
  // Returns how many messages were still undelivered. Idempotent.
  size_t stop(std::chrono::milliseconds deadline);

  // librdkafka raised a fatal error (e.g. the idempotent producer lost its
  // sequence): every later publish fails; the node must be restarted.
  bool fatal() const { return fatal_.load(); }

  uint64_t delivered() const { return delivered_.load(); }
  // The largest record this producer sends (its message.max.bytes): a
  // larger one fails without reaching the broker.
  size_t max_message_bytes() const { return max_message_bytes_; }
  uint64_t failed() const { return failed_.load(); }

private:
  kafka_publisher() = default;
  void run();
  std::string next_message_id();
  // Produces one record completing `batch` (an internal batch_state).
  void produce_one(const std::string& topic, int32_t partition, const std::string& key,
                   const std::string& value, const header_list& headers, void* batch);

  std::shared_ptr<producer_calls> calls_;  // producer_options::calls
  rk_ptr rk_;
  rd_kafka_queue_t* log_queue_ = nullptr;
  std::thread poller_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> fatal_{false};
  std::atomic<uint64_t> seq_{0};
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failed_{0};
  size_t max_message_bytes_ = 1000000;
  std::string id_prefix_;
  std::string topic_suffix_;
  std::string topic_;
};

}  // namespace kastor::bridges
