// The topics the shop needs: every declared message type's topic and its
// dead-letter topic `<topic>.dlq` (the message registry is the one source),
// and the order role's `<group prefix>.order-requests` (request/reply to the
// order actors, remote.hpp) and `<group prefix>.order-repartition`.
#pragma once

#include <string>
#include <vector>

#include "kastor/bridges/kafka.hpp"

namespace kastor::apps {

std::vector<bridges::topic_spec> pipeline_topics(int partitions, int replication,
                                                 const std::string& group_prefix = "kastor");

}  // namespace kastor::apps
