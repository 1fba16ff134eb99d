// role_behavior with a simulated service latency (role_io::handle_delay) and
// a bounded number of calls in flight (role_io::max_concurrent).
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "kastor/actors/messages.hpp"
#include "kastor/runtime/role_actor.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

struct timed_state {
  std::mutex mtx;
  std::vector<std::pair<int64_t, std::chrono::steady_clock::time_point>> handled;  // offset, when
  std::vector<runtime::message> handle(const runtime::record_meta& m,
                                           const actors::payment_request&, int64_t) {
    std::lock_guard<std::mutex> guard{mtx};
    handled.emplace_back(m.offset, std::chrono::steady_clock::now());
    return {};
  }
};

// Every record is current except the offsets in `revoked`.
struct sink : runtime::completion_sink {
  std::set<int64_t> revoked;
  std::atomic<int> finished_count{0};
  std::mutex mtx;
  std::vector<std::string> rejections;  // offset: reason
  void finished(const runtime::record_meta&) override { ++finished_count; }
  void rejected(const runtime::record_meta& m, const std::string& reason) override {
    std::lock_guard<std::mutex> guard{mtx};
    rejections.push_back(std::to_string(m.offset) + ": " + reason);
  }
  bool current(const runtime::record_meta& m) const override { return !revoked.count(m.offset); }
};

runtime::record_meta at(int64_t offset) {
  runtime::record_meta m;
  m.topic = "payment-requests";
  m.partition = 0;
  m.offset = offset;
  m.incarnation = 1;
  return m;
}

std::shared_ptr<const runtime::role_program> program(std::shared_ptr<timed_state> state) {
  return runtime::role_program::of(std::move(state),
                                   runtime::consumes<timed_state, actors::payment_request>());
}

}  // namespace

TEST(RoleActor, ARecordOfATypeNoHandlerTakesIsRejectedNeverAcknowledged) {
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  auto state = std::make_shared<timed_state>();
  auto acks = std::make_shared<sink>();
  runtime::role_io io{nullptr, acks, &runtime::wall_clock_ms, 0ms, nullptr, 0};
  // Given a role that takes payment requests only
  auto actor = sys.spawn([=](caf::event_based_actor* self) {
    return runtime::role_behavior(self, program(state), io);
  });
  // When an email_sent and then a payment request reach it
  caf::anon_send(actor, at(0), runtime::message{actors::email_sent{"o-1", "c", "k", 1}});
  caf::anon_send(actor, at(1), runtime::message{actors::payment_request{"o-1", "c", 1}});
  // Then the first is rejected with the reason, the second handled
  ASSERT_TRUE(test::eventually([&] { return acks->finished_count.load() == 1; }, 10s));
  std::lock_guard<std::mutex> guard{acks->mtx};
  EXPECT_EQ(acks->rejections, (std::vector<std::string>{
                                "0: no handler of this role takes message type 'email_sent'"}));
  std::lock_guard<std::mutex> guard2{state->mtx};
  ASSERT_EQ(state->handled.size(), 1u);
  EXPECT_EQ(state->handled[0].first, 1);
  caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
}

TEST(RoleActor, ABoundedServiceTakesOneRecordAtATimeAndSkipsRevokedOnes) {
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  auto state = std::make_shared<timed_state>();
  auto acks = std::make_shared<sink>();
  acks->revoked = {3};
  // Given a service of 20 ms per call with one call in flight
  runtime::role_io io{nullptr, acks, &runtime::wall_clock_ms, 20ms, nullptr, 1};
  auto actor = sys.spawn([=](caf::event_based_actor* self) {
    return runtime::role_behavior(self, program(state), io);
  });
  // When six records arrive at once
  for (int64_t o = 0; o < 6; ++o)
    caf::anon_send(actor, at(o),
                   runtime::message{actors::payment_request{"o-" + std::to_string(o), "c", 1}});
  // Then the five current ones are handled, in order, one call after another
  ASSERT_TRUE(test::eventually([&] { return acks->finished_count.load() == 5; }, 10s));
  std::lock_guard<std::mutex> guard{state->mtx};
  ASSERT_EQ(state->handled.size(), 5u);
  std::vector<int64_t> order;
  for (const auto& [o, t] : state->handled)
    order.push_back(o);
  EXPECT_EQ(order, (std::vector<int64_t>{0, 1, 2, 4, 5}));  // 3 was revoked while it waited
  for (size_t i = 1; i < state->handled.size(); ++i)
    EXPECT_GE(state->handled[i].second - state->handled[i - 1].second, 19ms) << "call " << i;
  caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
}
