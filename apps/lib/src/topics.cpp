#include "kastor/apps/topics.hpp"

#include "kastor/actors/messages.hpp"
#include "kastor/bridges/remote.hpp"

namespace kastor::apps {

std::vector<bridges::topic_spec> pipeline_topics(int partitions, int replication) {
  std::vector<bridges::topic_spec> out;
  for (const auto& topic : runtime::messages().topics()) {  // once each
    bool compacted = false;  // a changelog if any type in it is
    for (const auto* t : runtime::messages().all())
      compacted = compacted || (t->topic == topic && t->compacted);
    out.push_back({topic, partitions, replication, compacted});
    out.push_back({topic + ".dlq", partitions, replication, false});
  }
  // Requests to the order actors: as many partitions as their input topics,
  // so a key's request reaches the node owning the key (remote.hpp).
  out.push_back({bridges::request_topic("order"), partitions, replication, false});
  return out;
}

}  // namespace kastor::apps
