#include "kastor/apps/topics.hpp"

#include "kastor/bridges/remote.hpp"
#include "kastor/actors/messages.hpp"

namespace kastor::apps {

std::vector<bridges::topic_spec> pipeline_topics(int partitions, int replication) {
  std::vector<bridges::topic_spec> out;
  for (const auto* t : runtime::messages().all()) {
    out.push_back({t->topic, partitions, replication, t->compacted});
    out.push_back({t->topic + ".dlq", partitions, replication, false});
  }
  // Requests to the order actors: as many partitions as their input topics,
  // so a key's request reaches the node owning the key (remote.hpp).
  out.push_back({bridges::request_topic("order"), partitions, replication, false});
  return out;
}

}  // namespace kastor::apps
