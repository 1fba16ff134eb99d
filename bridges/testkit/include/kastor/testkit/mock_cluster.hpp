// An embedded Kafka for tests: librdkafka's in-process mock cluster, which
// speaks the Kafka protocol on 127.0.0.1, started by start() and stopped when
// the object goes away. Any Kafka client (kastor's bridges, kcat, another
// language's client) can use bootstrap().
//
// The RAII front of bridges::mock_cluster, the cluster `kastor demo` runs on.
// librdkafka 2.0.2's limits apply: a first consumer group join takes ~3 s,
// ~5 MB kept per partition, no transaction filtering, no TLS; the admin API's
// CreateTopics is not served, so create topics with create_topic().
//
// Not thread-safe: start, create topics and destroy it from one thread
// (clients on other threads may talk to the brokers meanwhile).
#pragma once

#include <memory>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace kastor::bridges {
class mock_cluster;
}

namespace kastor::testkit {

class mock_cluster {
public:
  // Starts `brokers` mock brokers on loopback ports the system picks.
  // Error: bridge_errc::kafka_fatal when librdkafka cannot start them.
  static caf::expected<mock_cluster> start(int brokers = 1);

  mock_cluster(mock_cluster&&) noexcept;
  mock_cluster& operator=(mock_cluster&&) noexcept;
  // Stops the brokers; clients still connected see them disappear.
  ~mock_cluster();

  // "127.0.0.1:<port>,..." for bootstrap.servers.
  const std::string& bootstrap() const;

  // Creates topic `name` with `partitions` partitions (replication 1).
  // Error: the broker's, classified as bridges' kafka_error() does (an
  // existing topic is one).
  caf::error create_topic(const std::string& name, int partitions);

  // Fault injection: the next `error_codes.size()` requests with Kafka API
  // key `api_key` (e.g. 8 OffsetCommit, 26 EndTxn) fail with these Kafka
  // error codes, in order (e.g. 15 COORDINATOR_NOT_AVAILABLE).
  void push_request_errors(int16_t api_key, const std::vector<int>& error_codes);

  // The cluster behind it (kastor's own tests; its type is internal).
  bridges::mock_cluster& cluster();

private:
  explicit mock_cluster(std::unique_ptr<bridges::mock_cluster> cluster);
  std::unique_ptr<bridges::mock_cluster> cluster_;  // null once moved from
};

}  // namespace kastor::testkit
