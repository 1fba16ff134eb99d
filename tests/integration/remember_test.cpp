// An entity that remembers its last answers (issue 21, item 6) on the mock
// cluster, through the public API: a record sent twice under one message id
// (an upstream retry, a redelivery) is handled once, and both copies are
// answered with the same output under the same derived id, so a remembering
// receiver would take it once too.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <string>


#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/mailbox.hpp"
#include "kastor/bridges/node.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/bridges/remote.hpp"
#include "kastor/runtime/role.hpp"
#include "support/counter_entity.hpp"
#include "support/wait.hpp"

namespace ledger = counter_entity;

namespace kastor {
namespace {

using namespace std::chrono_literals;

TEST(Remember, ARecordSentTwiceUnderOneIdIsHandledOnceAndAnsweredTwiceTheSame) {
  ledger::declare();
  auto m = bridges::mock_cluster::start(1);
  ASSERT_TRUE(m);
  auto& mock = *m;
  // (the node's admin call to create topics does not work on the mock)
  for (const auto& topic :
       {std::string{"remember-adds"}, std::string{"remember-adds.dlq"},
        std::string{"remember-added"}, std::string{"remember-state.dlq"},
        bridges::request_topic("kastor.counters"), bridges::forward_topic_of("kastor.counters")})
    ASSERT_FALSE(mock->create_topic({topic, 3, 1, false}));
  ASSERT_FALSE(mock->create_topic({"remember-state", 3, 1, true}));
  runtime::config_layers layers;
  for (auto [k, v] : std::map<std::string, std::string>{
         {"brokers", mock->bootstrap()},
         {"data.dir", (std::filesystem::temp_directory_path()
                       / ("kastor-remember-" + std::to_string(getpid()))).string()},
         {"kafka.session-timeout-ms", "6000"},
         {"kafka.fetch-wait-max-ms", "5"},
         {"log.level", "warn"},
         {"ops.http", "127.0.0.1:0"}})
    layers[k] = {v, "test"};
  auto cfg = runtime::make_config(layers, {.roles = {"counters"}});
  ASSERT_TRUE(cfg) << runtime::describe(cfg.error());
  auto node = bridges::actor_node::make(*cfg);
  ASSERT_TRUE(node) << runtime::describe(node.error());
  ASSERT_FALSE((*node)->add(runtime::entity<ledger::counter>("counters")
                              .consumes<ledger::add>()
                              .produces<ledger::added>()
                              .remember(8)));
  (*node)->start();
  ASSERT_TRUE(test::eventually([&] { return (*node)->ready(); }, 60s));

  // Given add 5 sent twice under one id, then add 1 under another
  auto as = [](runtime::message msg, const char* id) {
    return msg.with_note(std::string{runtime::message_id_note}, id);
  };
  runtime::outputs batch{as(ledger::add{"c", 5}, "in-1"), as(ledger::add{"c", 5}, "in-1"),
                         as(ledger::add{"c", 1}, "in-2")};
  std::promise<runtime::publish_outcome> sent;
  (*node)->producer()->publish(batch, nullptr,
                               [&](const runtime::publish_outcome& o) { sent.set_value(o); });
  ASSERT_TRUE(sent.get_future().get().ok());

  // Then the counter is 6, its handler ran twice, and the answers are the
  // first one twice under its one id, then the second
  std::vector<bridges::stored_record> out;
  ASSERT_TRUE(test::eventually([&] {
    auto r = bridges::read_topic(mock->bootstrap(), "remember-added", {}, 10s);
    if (r)
      out = *r;
    return out.size() >= 3;
  }, 60s)) << out.size() << " answers";
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(ledger::handled.load(), 2);
  EXPECT_EQ(out[0].value, R"({"counter":"c","total":5})");
  EXPECT_EQ(out[1].value, out[0].value);
  EXPECT_EQ(out[2].value, R"({"counter":"c","total":6})");
  EXPECT_EQ(out[0].header("kastor-message-id"), "in-1/0");
  EXPECT_EQ(out[1].header("kastor-message-id"), "in-1/0");
  EXPECT_EQ(out[2].header("kastor-message-id"), "in-2/0");
  (*node)->stop();
}

}  // namespace
}  // namespace kastor
