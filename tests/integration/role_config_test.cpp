// Issue 21, trap 7: a role the configuration lists but the application never
// adds no longer passes silently; one the application adds that the node
// does not run is left out and logged. Issue 22: a node of any application
// serves its ops routes (health, readiness, status, supervision, crash) with
// no HTTP code of the application's own.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>

#include <boost/describe/class.hpp>

#include <boost/json.hpp>

#include "kastor/apps/http_client.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/node.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/runtime/metrics.hpp"
#include "kastor/runtime/reject.hpp"
#include "kastor/runtime/role.hpp"
#include "support/wait.hpp"

namespace pings {

struct ping {
  std::string id;
};
BOOST_DESCRIBE_STRUCT(ping, (), (id))

struct ponger {
  kastor::runtime::outputs handle(const kastor::runtime::record_meta&, const ping& p, int64_t) {
    if (p.id == "poison")
      kastor::runtime::reject("a ping that never succeeds");
    pongs.with({p.id.substr(0, 1) == "b" ? "b" : "a"}).inc();
    return {};
  }
  // An application's own metric, declared once with the state.
  kastor::runtime::counter_family pongs =
    kastor::runtime::metrics::counter("test_pongs_total", "Pings answered, by kind.", {"kind"});
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

// The ping type declared, and a mock cluster with its topics (2 partitions).
std::unique_ptr<bridges::mock_cluster> ping_cluster() {
  runtime::declare<pings::ping>({.name = "test.ping", .topic = "role-config-pings",
                                 .key = &pings::ping::id});
  auto made = bridges::mock_cluster::start(1);
  if (!made)
    return nullptr;
  for (const auto* t : {"role-config-pings", "role-config-pings.dlq"})
    if ((*made)->create_topic({t, 2, 1, false}))
      return nullptr;
  return std::move(*made);
}

TEST(RoleConfig, ARoleConfiguredButNeverAddedKeepsTheNodeNotReadyNamingIt) {
  auto m = ping_cluster();
  ASSERT_TRUE(m);
  auto l = node_layers(m->bootstrap(), "kastor-role-config-");
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
  auto m = ping_cluster();
  ASSERT_TRUE(m);
  const std::string token = "role-config-admin-token";
  const std::vector<std::pair<std::string, std::string>> admin{{"Authorization", "Bearer " + token}};
  auto node_with = [&](const std::string& admin_token) {
    auto l = node_layers(m->bootstrap(), "kastor-ops-");
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
  l["brokers"] = {m->bootstrap(), "test"};
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

// A sample's value in a scrape ("name{labels} value"); -1 when absent.
double sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos)
    return -1;
  at += series.size() + 2;
  return std::stod(text.substr(at, text.find('\n', at) - at));
}

// Issue 22: a node of an application of its own serves /metrics: the
// runtime's counters of its role move with the work, and the application's
// own counter is served beside them.
TEST(RoleConfig, ANodeServesTheMetricsOfItsRolesAndOfItsApplication) {
  auto m = ping_cluster();
  ASSERT_TRUE(m);
  auto l = node_layers(m->bootstrap(), "kastor-metrics-");
  l["roles"] = {"pong", "test"};
  l["kafka.statistics-interval-ms"] = {"200", "test"};
  l["admin.token"] = {"role-config-admin-token", "test"};
  auto cfg = runtime::make_config(l, {.roles = {"pong"}});
  ASSERT_TRUE(cfg) << runtime::describe(cfg.error());
  auto node = bridges::actor_node::make(*cfg);
  ASSERT_TRUE(node) << runtime::describe(node.error());
  ASSERT_FALSE((*node)->add(runtime::role<pings::ponger>("pong").consumes<pings::ping>()));
  (*node)->start();
  apps::http_client c{"127.0.0.1", (*node)->ops_port()};
  ASSERT_TRUE(test::eventually([&] { return c.get("/readyz")->status == 200; }, 60s));
  auto scrape = [&] {
    auto r = c.get("/metrics");
    return r && r->status == 200 ? r->body : std::string{};
  };
  // Given a ready node: its metrics are named before any record
  auto before = scrape();
  EXPECT_EQ(sample(before, R"(kastor_records_finished_total{role="pong"})"), 0) << before;
  EXPECT_EQ(sample(before, "kastor_node_ready"), 1);
  EXPECT_GT(sample(before, R"(kastor_partitions_assigned{role="pong"})"), 0);
  // When 30 pings and one poison ping are handled
  bridges::producer_options po;
  po.brokers = m->bootstrap();
  auto producer = bridges::kafka_publisher::make(po);
  ASSERT_TRUE(producer);
  std::vector<runtime::message> batch;
  for (int i = 0; i < 30; ++i)
    batch.push_back(pings::ping{(i % 3 == 0 ? "b-" : "a-") + std::to_string(i)});
  batch.push_back(pings::ping{"poison"});
  std::promise<runtime::publish_outcome> sent;
  (*producer)->publish(std::move(batch), nullptr,
                       [&](const runtime::publish_outcome& o) { sent.set_value(o); });
  ASSERT_TRUE(sent.get_future().get().ok());
  std::string text;
  ASSERT_TRUE(test::eventually([&] {
    text = scrape();
    return sample(text, R"(kastor_records_finished_total{role="pong"})") == 31;
  }, 60s)) << text;
  // Then the runtime counted them, the poison one as a dead letter by reason
  EXPECT_EQ(sample(text, R"(kastor_records_fetched_total{role="pong"})"), 31) << text;
  EXPECT_EQ(sample(text, R"(kastor_dead_letters_total{reason="rejected",role="pong"})"), 1)
    << text;
  EXPECT_EQ(sample(text, R"(kastor_turn_duration_seconds_count{role="pong",type="test.ping"})"),
            31)
    << text;
  EXPECT_EQ(sample(text, R"(kastor_records_in_flight{role="pong"})"), 0);
  // and each partition's offsets: committed up to its end, no lag left
  ASSERT_TRUE(test::eventually([&] {
    text = scrape();
    return text.find("kastor_partition_lag{") != std::string::npos
           && text.find(R"(kastor_partition_lag{partition="0",role="pong",topic="role-config-pings"} 0)")
                != std::string::npos
           && text.find(R"(kastor_partition_lag{partition="1",role="pong",topic="role-config-pings"} 0)")
                != std::string::npos;
  }, 30s)) << text;
  EXPECT_NE(text.find(R"(kastor_partition_committed_offset{partition="0",role="pong")"),
            std::string::npos);
  // and /api/status shows the same partitions, offsets and lag
  auto status = c.get("/api/status");
  ASSERT_TRUE(status);
  const auto doc = boost::json::parse(status->body).as_object();
  const auto& role = doc.at("roles").as_array().at(0).as_object();
  EXPECT_EQ(role.at("deadLetterReasons").as_object().at("rejected").as_int64(), 1);
  const auto& parts = role.at("partitions").as_array();
  ASSERT_EQ(parts.size(), 2u) << status->body;
  int64_t committed = 0;
  for (const auto& p : parts) {
    EXPECT_EQ(p.as_object().at("topic").as_string(), "role-config-pings");
    EXPECT_EQ(p.as_object().at("lag").as_int64(), 0) << status->body;
    EXPECT_EQ(p.as_object().at("inFlight").as_int64(), 0);
    committed += p.as_object().at("committed").as_int64();
  }
  EXPECT_EQ(committed, 31) << status->body;
  // and the application's own counter is served beside them
  EXPECT_EQ(sample(text, R"(test_pongs_total{kind="a"})"), 20) << text;
  EXPECT_EQ(sample(text, R"(test_pongs_total{kind="b"})"), 10) << text;
  // and librdkafka's own statistics of its clients
  EXPECT_TRUE(test::eventually([&] {
    text = scrape();
    return text.find("\nkastor_kafka_broker_rtt_avg_seconds{") != std::string::npos
           && text.find("\nkastor_kafka_queue_messages{") != std::string::npos;
  }, 30s)) << text;
  // and the requests to the listener itself
  EXPECT_GT(sample(text, R"(kastor_http_requests_total{code="200",route="/metrics"})"), 0);
  // When its worker is crashed, the restart is counted by path and reason
  auto crash = c.post_json("/api/admin/crash", R"({"path":"root/pong/worker"})",
                           {{"Authorization", "Bearer role-config-admin-token"}});
  ASSERT_TRUE(crash);
  ASSERT_EQ(crash->status, 202u);
  EXPECT_TRUE(test::eventually([&] {
    text = scrape();
    return sample(text, R"(kastor_supervisor_restarts_total{path="root/pong/worker",reason="runtime.crashed"})")
           == 1;
  }, 30s)) << text;
  (*producer)->stop(5s);
  (*node)->stop();
  std::filesystem::remove_all(std::filesystem::temp_directory_path()
                              / ("kastor-metrics-" + std::to_string(getpid())));
}

}  // namespace
}  // namespace kastor
