// Issue 21, trap 7: a role the configuration lists but the application never
// adds no longer passes silently; one the application adds that the node
// does not run is left out and logged.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include <boost/describe/class.hpp>

#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/node.hpp"
#include "kastor/runtime/role.hpp"
#include "support/wait.hpp"

namespace pings {

struct ping {
  std::string id;
};
BOOST_DESCRIBE_STRUCT(ping, (), (id))

struct ponger {
  kastor::runtime::outputs handle(const kastor::runtime::record_meta&, const ping&, int64_t) {
    return {};
  }
};

}  // namespace pings

namespace kastor {
namespace {

using namespace std::chrono_literals;

TEST(RoleConfig, ARoleConfiguredButNeverAddedKeepsTheNodeNotReadyNamingIt) {
  runtime::declare<pings::ping>({.name = "test.ping", .topic = "role-config-pings",
                                 .key = &pings::ping::id});
  auto m = bridges::mock_cluster::start(1);
  ASSERT_TRUE(m);
  for (const auto* t : {"role-config-pings", "role-config-pings.dlq"})
    ASSERT_FALSE((*m)->create_topic({t, 2, 1, false}));
  runtime::config_layers l;
  l["brokers"] = {(*m)->bootstrap(), "test"};
  l["roles"] = {"pong,pang", "test"};  // pang: a typo, or a role the code forgot
  l["kafka.fetch-wait-max-ms"] = {"5", "test"};
  l["kafka.session-timeout-ms"] = {"6000", "test"};
  l["log.level"] = {"warn", "test"};
  l["data.dir"] = {(std::filesystem::temp_directory_path()
                    / ("kastor-role-config-" + std::to_string(getpid()))).string(), "test"};
  auto cfg = runtime::make_config(l, {.roles = {"pong", "pang", "other"}});
  ASSERT_TRUE(cfg) << runtime::describe(cfg.error());
  auto node = bridges::actor_node::make(*cfg);
  ASSERT_TRUE(node);
  ASSERT_FALSE((*node)->add(runtime::role<pings::ponger>("pong").consumes<pings::ping>()));
  // A role this node does not run is left out (logged, no mailbox)
  ASSERT_FALSE((*node)->add(runtime::role<pings::ponger>("other").consumes<pings::ping>()));
  (*node)->start();
  // pong joins its group; the node stays not ready, naming pang
  ASSERT_TRUE(test::eventually([&] {
    auto why = (*node)->not_ready();
    return why.size() == 1;
  }, 60s));
  EXPECT_EQ((*node)->not_ready()[0],
            "role pang: configured (roles) but the application added no such role");
  EXPECT_FALSE((*node)->ready());
  EXPECT_EQ((*node)->mailboxes().size(), 1u);
  (*node)->stop();
}

}  // namespace
}  // namespace kastor
