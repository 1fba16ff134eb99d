#include "kastor/apps/topics.hpp"

#include "kastor/actors/messages.hpp"
#include "kastor/bridges/mailbox.hpp"
#include "kastor/bridges/remote.hpp"

namespace kastor::apps {

std::vector<bridges::topic_spec> pipeline_topics(int partitions, int replication,
                                                 const std::string& group_prefix) {
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
  // Its repartition topic takes the records a foreign producer put on
  // another partition than the node's partitioner would (mailbox.hpp).
  out.push_back({bridges::request_topic(group_prefix + ".order"), partitions, replication, false});
  out.push_back({bridges::forward_topic_of(group_prefix + ".order"), partitions, replication,
                 false});
  return out;
}

}  // namespace kastor::apps
