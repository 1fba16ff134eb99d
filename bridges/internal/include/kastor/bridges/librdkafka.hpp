// librdkafka inside the bridges: configuration, log forwarding, error
// classification, record headers, metadata and group calls on a handle, and
// librdkafka's in-process mock cluster. In-tree only (the bridges, the apps,
// the tests): never installed, so no public header of kastor includes
// librdkafka.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <librdkafka/rdkafka.h>

#include "kastor/bridges/kafka.hpp"

struct rd_kafka_mock_cluster_s;

namespace kastor::bridges {

struct conf_deleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;

// A configuration with every property set; an invalid one is an error naming it.
caf::expected<conf_ptr> make_conf(const kafka_properties& props);

// Routes librdkafka's log lines through a queue that `forward_logs` drains on
// our own thread into the "kastor.kafka" logger (never on librdkafka's threads).
void enable_log_queue(rd_kafka_conf_t* conf);
void forward_logs(rd_kafka_t* rk, rd_kafka_queue_t* log_queue);

// A consumer handle made from `conf` (which it takes), its log lines routed
// to a queue of its own (`*log_queue`, for forward_logs; the caller destroys
// it) and its events polled with consumer_poll. `what` names it in the error.
caf::expected<rk_ptr> make_consumer(conf_ptr conf, rd_kafka_queue_t** log_queue,
                                    const std::string& what);

// Classifies a librdkafka error code as retriable or fatal
// (bridge_errc::kafka_retriable / kafka_fatal), with `what` as context.
caf::error kafka_error(rd_kafka_resp_err_t err, const std::string& what);
bool is_retriable(rd_kafka_resp_err_t err);
// Errors that belong to the record as it is (too large, invalid), not to the
// broker's or the producer's state: runtime::publish_outcome::record_refused.
bool is_record_refused(rd_kafka_resp_err_t err);

// Takes ownership of a transactional API error (null: no error) and
// classifies it: bridge_errc::kafka_fatal (fenced, or the producer is broken),
// kafka_abortable (the transaction must be aborted), else kafka_retriable
// (e.g. a timeout: the outcome of the call is unknown).
caf::error txn_error(rd_kafka_error_t* e, const std::string& what);

// The headers of a consumed record, in order.
header_list read_headers(rd_kafka_message_t* msg);

// Partition count of `topic` (a metadata request); 0 when it does not exist.
caf::expected<int> partitions_of(rd_kafka_t* rk, const std::string& topic,
                                 std::chrono::milliseconds timeout = std::chrono::seconds{10});

caf::expected<group_description> describe_group(rd_kafka_t* rk, const std::string& group,
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
  // Metadata answers `err` for `topic` (made if missing) until set back to
  // RD_KAFKA_RESP_ERR_NO_ERROR: a topic that is not there yet.
  void set_topic_error(const std::string& topic, rd_kafka_resp_err_t err);

private:
  mock_cluster() = default;
  rk_ptr owner_;
  ::rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace kastor::bridges
