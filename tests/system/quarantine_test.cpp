// Per-key quarantine on a real Apache Kafka (make test sets KASTOR_BROKERS):
// a poison record among 10,000 records of 100 keys stops only its own key,
// whose records reach the dead-letter topic in order.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <future>
#include <mutex>

#include "kastor/bridges/mailbox.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/runtime/role_actor.hpp"
#include "support/kafka.hpp"
#include "support/quarantine.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

using test::system_brokers;

TEST(Quarantine, APoisonKeyAmongTenThousandRecordsOfAHundredKeysStopsOnlyItself) {
  if (system_brokers().empty())
    GTEST_SKIP() << "needs a real Kafka: run through `make test` (KASTOR_BROKERS)";
  // Topics of this run only: payment-requests.qt<pid> and its .dlq
  auto suffix = ".qt" + std::to_string(getpid());
  auto topic = "payment-requests" + suffix;
  ASSERT_FALSE(bridges::ensure_topics(system_brokers(), {{topic, 3, 1, false}, {topic + ".dlq", 3, 1, false}},
                                      60s));
  bridges::producer_options po;
  po.brokers = system_brokers();
  po.topic_suffix = suffix;
  auto producer = *bridges::kafka_publisher::make(po);
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  bridges::mailbox_options opts;
  opts.brokers = system_brokers();
  opts.group_id = "quarantine" + suffix;
  opts.topics = {topic};
  opts.dead_letters = producer;
  opts.retry_backoff_min = 50ms;
  opts.supervisor_path = "root/payment";
  auto mailbox = *bridges::kafka_mailbox::make(opts);
  auto state = std::make_shared<test::keyed_state>();
  auto log = std::make_shared<runtime::supervision_log>();
  auto sup = test::supervise_role(
    sys, state, runtime::role_io{producer, mailbox, &runtime::wall_clock_ms, 0ms, nullptr, 0},
    mailbox, log, 100);
  // When 10,000 records arrive, 100 per key, in order per key
  std::promise<runtime::publish_outcome> written;
  producer->publish(test::quarantine_records(), nullptr,
                    [&](const runtime::publish_outcome& o) { written.set_value(o); });
  ASSERT_TRUE(written.get_future().get().ok());
  // Then every record is handled or dead-lettered
  ASSERT_TRUE(test::eventually([&] {
    auto s = mailbox->stats();
    return s.finished == 10000 && s.in_flight == 0;
  }, 180s)) << "finished " << mailbox->stats().finished;
  // And key-7's records from the poison one on that waited behind it are in
  // the DLQ, in order; the key's later records flowed once it was released
  auto dead = mailbox->stats().dead_lettered;
  auto dlq = test::read_topic(system_brokers(), topic + ".dlq", 3, dead);
  ASSERT_EQ(dlq.size(), dead);
  {
    std::lock_guard<std::mutex> guard{state->mtx};
    test::expect_quarantine_outcome(state->seen, dlq);
  }
  EXPECT_EQ(dlq[0].headers["kastor-dlq-origin"].rfind(topic + "/", 0), 0u);
  // And, stopped cleanly, every offset is committed: nothing skipped
  mailbox->stop();
  EXPECT_EQ(test::committed(system_brokers(), opts.group_id, topic, 3), 10000);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  producer->stop(10s);
}

}  // namespace
