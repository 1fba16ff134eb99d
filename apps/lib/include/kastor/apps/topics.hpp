// The topics a kastor deployment needs: every route's topic and its
// dead-letter topic `<topic>.dlq`, derived from bridges/routes (one source),
// and `order-requests` (request/reply to the order actors, remote.hpp).
#pragma once

#include <vector>

#include "kastor/bridges/kafka.hpp"

namespace kastor::apps {

std::vector<bridges::topic_spec> pipeline_topics(int partitions, int replication);

}  // namespace kastor::apps
