#include "kastor/testkit/mock_cluster.hpp"

#include <utility>

#include "kastor/bridges/kafka.hpp"

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

bridges::mock_cluster& mock_cluster::cluster() {
  return *cluster_;
}

}  // namespace kastor::testkit
