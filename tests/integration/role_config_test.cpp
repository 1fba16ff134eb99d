// Issue 21, trap 7: a role the configuration lists but the application never
// adds no longer passes silently; one the application adds that the node
// does not run is left out and logged. Issue 22: a node of any application
// serves its ops routes (health, readiness, status, supervision, crash) with
// no HTTP code of the application's own.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include <boost/describe/class.hpp>

#include <boost/json.hpp>

#include "kastor/apps/http_client.hpp"
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

// A test node on the mock: quick polling, an ephemeral ops port (tests run
// side by side), data in a folder of this process's own.
runtime::config_layers node_layers(const std::string& brokers, const std::string& dir_prefix) {
  runtime::config_layers l;
  l["brokers"] = {brokers, "test"};
  l["kafka.fetch-wait-max-ms"] = {"5", "test"};
  l["kafka.session-timeout-ms"] = {"6000", "test"};
  l["log.level"] = {"warn", "test"};
  l["ops.http"] = {"127.0.0.1:0", "test"};
  l["data.dir"] = {(std::filesystem::temp_directory_path()
                    / (dir_prefix + std::to_string(getpid()))).string(), "test"};
  return l;
}

TEST(RoleConfig, ARoleConfiguredButNeverAddedKeepsTheNodeNotReadyNamingIt) {
  runtime::declare<pings::ping>({.name = "test.ping", .topic = "role-config-pings",
                                 .key = &pings::ping::id});
  auto m = bridges::mock_cluster::start(1);
  ASSERT_TRUE(m);
  for (const auto* t : {"role-config-pings", "role-config-pings.dlq"})
    ASSERT_FALSE((*m)->create_topic({t, 2, 1, false}));
  auto l = node_layers((*m)->bootstrap(), "kastor-role-config-");
  l["roles"] = {"pong,pang", "test"};  // pang: a typo, or a role the code forgot
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

// A node of an application of its own (a pong role): its ops listener.
TEST(RoleConfig, ANodeOfAnyApplicationServesHealthReadinessStatusAndSupervision) {
  runtime::declare<pings::ping>({.name = "test.ping", .topic = "role-config-pings",
                                 .key = &pings::ping::id});
  auto m = bridges::mock_cluster::start(1);
  ASSERT_TRUE(m);
  for (const auto* t : {"role-config-pings", "role-config-pings.dlq"})
    ASSERT_FALSE((*m)->create_topic({t, 2, 1, false}));
  const std::string token = "role-config-admin-token";
  const std::vector<std::pair<std::string, std::string>> admin{{"Authorization", "Bearer " + token}};
  auto node_with = [&](const std::string& admin_token) {
    auto l = node_layers((*m)->bootstrap(), "kastor-ops-");
    l["node.id"] = {"ponger-1", "test"};
    l["roles"] = {"pong", "test"};
    l["admin.token"] = {admin_token, "test"};
    auto cfg = runtime::make_config(l, {.roles = {"pong"}});
    EXPECT_TRUE(cfg) << runtime::describe(cfg.error());
    return bridges::actor_node::make(*cfg);
  };
  auto node = node_with(token);
  ASSERT_TRUE(node) << runtime::describe(node.error());
  const auto port = (*node)->ops_port();
  ASSERT_NE(port, 0);
  apps::http_client c{"127.0.0.1", port};
  // Given a node made but not started: alive, not ready, saying why
  auto health = c.get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200u);
  EXPECT_EQ(health->body, R"({"status":"ok"})");
  auto early = c.get("/readyz");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 503u);
  EXPECT_NE(early->body.find("node starting"), std::string::npos) << early->body;
  // When its role is added and the node started, it turns ready
  ASSERT_FALSE((*node)->add(runtime::role<pings::ponger>("pong").consumes<pings::ping>()));
  (*node)->start();
  ASSERT_TRUE(test::eventually([&] {
    auto r = c.get("/readyz");
    return r && r->status == 200;
  }, 60s)) << c.get("/readyz")->body;
  // Then its status names the role, its group and its mailbox
  auto status = c.get("/api/status");
  ASSERT_TRUE(status);
  ASSERT_EQ(status->status, 200u);
  const auto doc = boost::json::parse(status->body).as_object();
  EXPECT_EQ(doc.at("node").as_string(), "ponger-1");
  EXPECT_TRUE(doc.at("ready").as_bool());
  ASSERT_EQ(doc.at("roles").as_array().size(), 1u);
  const auto& role = doc.at("roles").as_array()[0].as_object();
  EXPECT_EQ(role.at("role").as_string(), "pong");
  EXPECT_EQ(role.at("kind").as_string(), "service");
  EXPECT_EQ(role.at("group").as_string(), "kastor.pong");
  EXPECT_TRUE(role.at("joined").as_bool());
  EXPECT_GT(role.at("assignedPartitions").as_int64(), 0);
  // And its supervision tree, whose worker an admin may crash: it restarts
  auto tree = c.get("/api/supervision");
  ASSERT_TRUE(tree);
  EXPECT_NE(tree->body.find(R"("path":"root/pong/worker")"), std::string::npos) << tree->body;
  // (without the token, or with another, nothing crashes: 401)
  auto anonymous = c.post_json("/api/admin/crash", R"({"path":"root/pong/worker"})");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401u);
  auto guessed = c.post_json("/api/admin/crash", R"({"path":"root/pong/worker"})",
                             {{"Authorization", "Bearer " + token + "x"}});
  ASSERT_TRUE(guessed);
  EXPECT_EQ(guessed->status, 401u);
  auto crash = c.post_json("/api/admin/crash", R"({"path":"root/pong/worker"})", admin);
  ASSERT_TRUE(crash);
  EXPECT_EQ(crash->status, 202u) << crash->body;
  EXPECT_TRUE(test::eventually([&] {
    auto t = c.get("/api/supervision");
    return t && t->body.find(R"("restarts":1)") != std::string::npos;
  }, 30s)) << c.get("/api/supervision")->body;
  auto root = c.post_json("/api/admin/crash", R"({"path":"root"})", admin);
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 409u);
  auto unknown = c.get("/metrics/nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404u);
  // When it stops, the listener closes
  (*node)->stop();
  EXPECT_FALSE(apps::http_client("127.0.0.1", port).get("/healthz"));

  // A node without admin.token refuses the crash (403), saying how to allow it
  auto other = node_with("");
  ASSERT_TRUE(other) << runtime::describe(other.error());
  apps::http_client d{"127.0.0.1", (*other)->ops_port()};
  auto refused = d.post_json("/api/admin/crash", R"({"path":"root/pong"})", admin);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403u);
  EXPECT_NE(refused->body.find("set admin.token"), std::string::npos) << refused->body;
  // And a second node on the same port is a clear start error
  runtime::config_layers l;
  l["brokers"] = {(*m)->bootstrap(), "test"};
  l["ops.http"] = {"127.0.0.1:" + std::to_string((*other)->ops_port()), "test"};
  auto cfg = runtime::make_config(l, {.roles = {"pong"}});
  ASSERT_TRUE(cfg);
  auto clash = bridges::actor_node::make(*cfg);
  ASSERT_FALSE(clash);
  EXPECT_NE(runtime::describe(clash.error()).find("address already in use"), std::string::npos)
    << runtime::describe(clash.error());
  EXPECT_NE(runtime::describe(clash.error()).find("ops.http"), std::string::npos);
  // The ops answers an application's own listener may hold outlive the node
  auto kept = (*other)->ops();
  other->reset();
  EXPECT_EQ(kept->not_ready(), std::vector<std::string>{"node stopped"});
  EXPECT_FALSE(kept->status_json());
  EXPECT_FALSE(kept->supervision_json());
  EXPECT_TRUE(kept->admin_token().empty());
  std::filesystem::remove_all(std::filesystem::temp_directory_path()
                              / ("kastor-ops-" + std::to_string(getpid())));
}

}  // namespace
}  // namespace kastor
