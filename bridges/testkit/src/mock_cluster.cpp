#include "kastor/testkit/mock_cluster.hpp"

#include <utility>

#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/librdkafka.hpp"

namespace kastor::testkit {

caf::expected<mock_cluster> mock_cluster::start(int brokers) {
  auto cluster = bridges::mock_cluster::start(brokers);
  if (!cluster)
    return cluster.error();
  return mock_cluster{std::move(*cluster)};
}

mock_cluster::mock_cluster(std::unique_ptr<bridges::mock_cluster> cluster)
  : cluster_(std::move(cluster)) {
}

mock_cluster::mock_cluster(mock_cluster&&) noexcept = default;
mock_cluster& mock_cluster::operator=(mock_cluster&&) noexcept = default;
// Defined here, where bridges::mock_cluster is complete.
mock_cluster::~mock_cluster() = default;

const std::string& mock_cluster::bootstrap() const {
  return cluster_->bootstrap();
}

caf::error mock_cluster::create_topic(const std::string& name, int partitions) {
  return cluster_->create_topic(bridges::topic_spec{name, partitions, 1, false});
}

void mock_cluster::push_request_errors(int16_t api_key, const std::vector<int>& error_codes) {
  std::vector<rd_kafka_resp_err_t> errors;
  for (int code : error_codes)
    errors.push_back(static_cast<rd_kafka_resp_err_t>(code));
  cluster_->push_request_errors(api_key, errors);
}

bridges::mock_cluster& mock_cluster::cluster() {
  return *cluster_;
}

}  // namespace kastor::testkit
