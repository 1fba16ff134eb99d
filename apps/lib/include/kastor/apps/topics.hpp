// The topics the shop needs: every declared message type's topic and its
// dead-letter topic `<topic>.dlq` (the message registry is the one source),
// and `order-requests` (request/reply to the order actors, remote.hpp).
#pragma once

#include <vector>

#include "kastor/bridges/kafka.hpp"

namespace kastor::apps {

std::vector<bridges::topic_spec> pipeline_topics(int partitions, int replication);

}  // namespace kastor::apps
