// No feature is switched off for good at start-up: a node whose request/reply
// cannot start (its reply topic is not there) is not ready, says why, and
// tries again until it works.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "kastor/actors/roles.hpp"
#include "kastor/apps/node.hpp"
#include "kastor/apps/topics.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/mailbox.hpp"
#include "kastor/bridges/remote.hpp"
#include "kastor/gateway/server.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines)
    out += l + "\n";
  return out;
}

TEST(Readiness, ANodeWithoutItsReplyTopicIsNotReadySaysWhyAndRecoversWhenItAppears) {
  auto m = bridges::mock_cluster::start(1);
  ASSERT_TRUE(m);
  auto& mock = *m;
  for (const auto& t : apps::pipeline_topics(3, 1))
    ASSERT_FALSE(mock->create_topic(t));
  auto dir = std::filesystem::temp_directory_path() / ("kastor-ready-" + std::to_string(getpid()));
  auto cfg = runtime::make_config({}, actors::shop_app());
  ASSERT_TRUE(cfg);
  cfg->brokers = mock->bootstrap();
  cfg->http_port = 0;
  cfg->ops_port = 0;
  cfg->data_dir = dir.string();
  cfg->fetch_wait_max_ms = 5;
  cfg->log_level = "warn";
  // Given a node whose reply topic is not there
  const auto replies = bridges::reply_topic(cfg->node_id);
  mock->set_topic_error(replies, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  auto n = apps::node::start(*cfg);
  ASSERT_TRUE(n) << runtime::describe(n.error());
  auto& node = *n;
  // Then, its roles in their groups, it is still not ready, and says why
  ASSERT_TRUE(test::eventually([&] {
    auto why = node->api()->not_ready();
    return why.size() == 1 && why[0].rfind("requests: ", 0) == 0;
  }, 60s)) << joined(node->api()->not_ready());
  EXPECT_FALSE(node->ready());
  EXPECT_NE(node->api()->not_ready()[0].find("(retrying)"), std::string::npos);
  // When the topic appears
  mock->set_topic_error(replies, RD_KAFKA_RESP_ERR_NO_ERROR);
  // Then request/reply starts after all and the node is ready
  EXPECT_TRUE(test::eventually([&] { return node->ready(); }, 90s))
    << joined(node->api()->not_ready());
  node.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
