// The mailbox's librdkafka calls go through a seam (bridges/internal/
// consumer_calls.hpp); a wrapper fails one chosen call, and the mailbox must
// still end where it would have: every finished record committed.
#include <atomic>
#include <future>

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include "kastor/actors/messages.hpp"
#include "kastor/bridges/consumer_calls.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/mailbox.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/runtime/role_actor.hpp"
#include "support/kafka.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

// librdkafka's calls, but the first offsets_store that would store `end`
// (the whole partition finished) fails, as a broker hiccup or a revoked
// partition makes it.
struct failing_store : bridges::consumer_calls {
  explicit failing_store(int64_t end) : end(end) {}
  rd_kafka_resp_err_t offsets_store(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* p) override {
    for (int i = 0; i < p->cnt; ++i)
      if (p->elems[i].offset == end && !failed.exchange(true))
        return RD_KAFKA_RESP_ERR__STATE;
    ++stored;
    return consumer_calls::offsets_store(rk, p);
  }
  const int64_t end;
  std::atomic<bool> failed{false};
  std::atomic<int> stored{0};
};

struct counter {
  std::atomic<int> handled{0};
  std::vector<runtime::message> handle(const runtime::record_meta&,
                                       const actors::payment_request&, int64_t) {
    ++handled;
    return {};
  }
};

TEST(MailboxSeam, AFailedOffsetStoreIsStoredAgainNotLeftBehind) {
  auto mock = bridges::mock_cluster::start(1);
  ASSERT_TRUE(mock);
  ASSERT_FALSE((*mock)->create_topic({"payment-requests", 1, 1, false}));
  bridges::producer_options po;
  po.brokers = (*mock)->bootstrap();
  auto producer = bridges::kafka_publisher::make(po);
  ASSERT_TRUE(producer);
  constexpr int n = 40;
  std::vector<runtime::message> batch;
  for (int i = 0; i < n; ++i)
    batch.push_back(actors::payment_request{"o-" + std::to_string(i), "c", 100});
  std::promise<bool> published;
  (*producer)->publish(std::move(batch), nullptr,
                       [&](const runtime::publish_outcome& o) { published.set_value(o.ok()); });
  ASSERT_TRUE(published.get_future().get());

  auto calls = std::make_shared<failing_store>(n);
  bridges::mailbox_options o;
  o.brokers = (*mock)->bootstrap();
  o.group_id = "seam-store";
  o.topics = {"payment-requests"};
  o.session_timeout_ms = 6000;
  o.fetch_wait_max_ms = 5;
  o.calls = calls;
  auto mb = bridges::kafka_mailbox::make(o);
  ASSERT_TRUE(mb);
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  auto state = std::make_shared<counter>();
  runtime::role_io io{*producer, *mb, &runtime::wall_clock_ms, 0ms, nullptr, 0};
  auto program =
    runtime::role_program::of(state, runtime::consumes<counter, actors::payment_request>());
  auto worker = sys.spawn(&runtime::role_behavior, std::shared_ptr<const runtime::role_program>{program},
                          io, caf::message_handler{});
  (*mb)->bind(worker);
  (*mb)->start();

  ASSERT_TRUE(test::eventually([&] { return state->handled.load() == n; }));
  // The store of the whole prefix failed once...
  ASSERT_TRUE(test::eventually([&] { return calls->failed.load(); }));
  // ...and is made again: the group's committed offset reaches the end
  // (auto-commit, every 500 ms) while the mailbox runs.
  EXPECT_TRUE(test::eventually(
    [&] { return test::committed((*mock)->bootstrap(), "seam-store", "payment-requests", 1) == n; },
    15s))
    << "committed " << test::committed((*mock)->bootstrap(), "seam-store", "payment-requests", 1);
  (*mb)->stop(2s);
  EXPECT_EQ(test::committed((*mock)->bootstrap(), "seam-store", "payment-requests", 1), n);
  caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
  (*producer)->stop(5s);
}

}  // namespace
