// Kafka helpers for integration and system tests: read a topic from the
// beginning, sum a group's committed offsets, supervise a role the way a node
// does.
#pragma once

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "kastor/actors/messages.hpp"
#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/role.hpp"
#include "kastor/runtime/supervisor.hpp"

namespace kastor::test {

// The real Kafka of system tests (`make test` sets KASTOR_BROKERS); "" without one.
inline std::string system_brokers() {
  const char* b = std::getenv("KASTOR_BROKERS");
  return b ? b : "";
}

// In a system test's SetUp: skips it without a real Kafka, else makes sure the
// pipeline's topics exist (6 partitions, replication 1).
#define KASTOR_SYSTEM_KAFKA_WITH_TOPICS()                                                   \
  do {                                                                                      \
    if (::kastor::test::system_brokers().empty())                                           \
      GTEST_SKIP() << "needs a real Kafka: run through `make test` (KASTOR_BROKERS)";       \
    ASSERT_EQ(::kastor::apps::create_topics(::kastor::test::system_brokers(), 6, 1, "kastor"), 0); \
  } while (false)

struct kafka_record {
  std::string key, value;
  std::map<std::string, std::string> headers;
};

// A consumer assigned partitions 0..partitions-1 of `topic` from the
// beginning (no group membership, commits nothing); `extra` properties last.
inline bridges::rk_ptr reader(const std::string& brokers, const std::string& topic, int partitions,
                              const bridges::kafka_properties& extra = {}) {
  bridges::kafka_properties props{{"bootstrap.servers", brokers},
                                  {"group.id", "reader-" + topic},
                                  {"enable.auto.commit", "false"}};
  props.insert(props.end(), extra.begin(), extra.end());
  auto conf = bridges::make_conf(props);
  char err[512];
  bridges::rk_ptr rk{rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), err, sizeof(err))};
  bridges::partition_list_ptr parts{rd_kafka_topic_partition_list_new(partitions)};
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), p)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk.get(), parts.get());
  return rk;
}

// Up to `n` records of `topic` (partitions 0..partitions-1), from the
// beginning, partition by partition as the broker hands them out; waits up to
// `wait` for them.
inline std::vector<kafka_record> read_topic(const std::string& brokers, const std::string& topic,
                                            int partitions, size_t n,
                                            std::chrono::milliseconds wait = std::chrono::seconds{30}) {
  auto rk = reader(brokers, topic, partitions);
  std::vector<kafka_record> out;
  auto until = std::chrono::steady_clock::now() + wait;
  while (out.size() < n && std::chrono::steady_clock::now() < until) {
    bridges::message_ptr msg{rd_kafka_consumer_poll(rk.get(), 100)};
    if (!msg || msg->err)
      continue;
    kafka_record r;
    r.key.assign(static_cast<const char*>(msg->key), msg->key_len);
    r.value.assign(static_cast<const char*>(msg->payload), msg->len);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(msg.get(), &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* val;
      size_t size;
      for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &val, &size); ++i)
        r.headers[name] = std::string{static_cast<const char*>(val), size};
    }
    out.push_back(std::move(r));
  }
  rd_kafka_consumer_close(rk.get());
  return out;
}

// Sum of the committed offsets of `group` on `topic`; -1 if they cannot be read.
inline int64_t committed(const std::string& brokers, const std::string& group,
                         const std::string& topic, int partitions) {
  auto conf = bridges::make_conf({{"bootstrap.servers", brokers}, {"group.id", group}});
  char err[512];
  bridges::rk_ptr rk{rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), err, sizeof(err))};
  bridges::partition_list_ptr parts{rd_kafka_topic_partition_list_new(partitions)};
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), p);
  if (rd_kafka_committed(rk.get(), parts.get(), 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return -1;
  int64_t sum = 0;
  for (int p = 0; p < partitions; ++p)
    sum += std::max<int64_t>(0, parts->elems[p].offset);
  return sum;
}

// Members of a consumer group once it is stable (every member has its
// assignment), as the broker reports them; -1 while it rebalances or if unknown.
inline int group_members(const std::string& group) {
  auto conf = bridges::make_conf({{"bootstrap.servers", system_brokers()}});
  char err[512];
  bridges::rk_ptr rk{rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), err, sizeof(err))};
  const rd_kafka_group_list* list = nullptr;
  if (rd_kafka_list_groups(rk.get(), group.c_str(), &list, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return -1;
  int n = list->group_cnt == 0                                   ? 0
          : std::string{list->groups[0].state} != "Stable" ? -1
                                                           : list->groups[0].member_cnt;
  rd_kafka_group_list_destroy(list);
  return n;
}

// A test state's handlers: every shop message type it has a handle() for.
template <class State>
runtime::handlers<State> shop_handlers() {
  runtime::handlers<State> h;
  auto add = [&h]<class T>(std::type_identity<T>) {
    if constexpr (requires(State& s, const runtime::record_meta& m, const T& x) {
                    s.handle(m, x, int64_t{0});
                  })
      h.template on<T>();
  };
  add(std::type_identity<actors::order_created>{});
  add(std::type_identity<actors::payment_request>{});
  add(std::type_identity<actors::payment_result>{});
  add(std::type_identity<actors::notification_event>{});
  add(std::type_identity<actors::email_sent>{});
  add(std::type_identity<actors::order_snapshot>{});
  return h;
}

// The role's shape in a node: root/payment (rest_for_one) -> bridge, worker.
// The bridge starts the mailbox's poll thread.
template <class State>
caf::actor supervise_role(caf::actor_system& sys, std::shared_ptr<State> state,
                          runtime::role_io io, std::shared_ptr<bridges::kafka_mailbox> mailbox,
                          std::shared_ptr<runtime::supervision_log> log, int max_restarts) {
  auto slot = std::make_shared<bridges::mailbox_slot>();
  runtime::supervisor_spec spec;
  spec.path = "root/payment";
  spec.max_restarts = max_restarts;
  spec.children = {bridges::mailbox_bridge_child(mailbox, slot),
                   bridges::mailbox_worker_child("worker", state, shop_handlers<State>(), io, slot)};
  spec.log = log;
  spec.strat = runtime::strategy::rest_for_one;
  return runtime::spawn_supervisor(sys, spec);
}

}  // namespace kastor::test
