// Supervision of a whole node on librdkafka's mock cluster: crashes injected
// by path and by chaos, hangs, the live tree over HTTP, and escalation of a
// `kastor node` process to a non-zero exit.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "kastor/actors/roles.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/mailbox.hpp"

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <sys/wait.h>

#include "kastor/actors/ledger.hpp"
#include "kastor/apps/driver.hpp"
#include "kastor/apps/http_client.hpp"
#include "kastor/apps/node.hpp"
#include "kastor/apps/process.hpp"
#include "kastor/apps/topics.hpp"
#include "kastor/bridges/kafka.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

// The nodes' admin.token, and the header that carries it.
constexpr std::string_view admin_token = "supervision-test-admin-token";
const std::vector<std::pair<std::string, std::string>> admin{
  {"Authorization", "Bearer " + std::string{admin_token}}};

class SupervisionTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto m = bridges::mock_cluster::start(3);
    ASSERT_TRUE(m);
    mock_ = std::move(*m);
    for (const auto& t : apps::pipeline_topics(3, 3))
      ASSERT_FALSE(mock_->create_topic(t));
    dir_ = std::filesystem::temp_directory_path()
           / ("kastor-supervision-test-" + std::to_string(getpid()) + "-"
              + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }

  void TearDown() override {
    node_.reset();
    mock_.reset();
    if (!HasFailure())
      std::filesystem::remove_all(dir_);
  }

  // The mock's settings, plus `extra` config keys.
  runtime::config_layers layers(std::map<std::string, std::string> extra = {}) const {
    runtime::config_layers l;
    l["brokers"] = {mock_->bootstrap(), "test"};
    l["http"] = {"127.0.0.1:0", "test"};
    l["ops.http"] = {"127.0.0.1:0", "test"};
    l["data.dir"] = {dir_.string(), "test"};
    l["kafka.session-timeout-ms"] = {"6000", "test"};
    l["kafka.fetch-wait-max-ms"] = {"5", "test"};  // the mock does not wake a waiting fetch
    l["log.level"] = {"warn", "test"};
    l["admin.token"] = {std::string{admin_token}, "test"};
    for (auto& [k, v] : extra)
      l[k] = {v, "test"};
    return l;
  }

  void start_node(std::map<std::string, std::string> extra = {}) {
    auto cfg = runtime::make_config(layers(std::move(extra)), actors::shop_app());
    ASSERT_TRUE(cfg) << runtime::describe(cfg.error());
    auto n = apps::node::start(*cfg);
    ASSERT_TRUE(n) << runtime::describe(n.error());
    node_ = std::move(*n);
    ASSERT_TRUE(test::eventually([&] { return node_->ready(); }, 60s));
  }

  // Drives `orders` sample orders and checks every one ends terminal with
  // exactly one charge and one email.
  void drive_and_check(int orders, std::function<void()> meanwhile = {}) {
    apps::drive_options d;
    d.port = node_->http_port();
    d.orders = orders;
    d.concurrency = 4;
    std::thread faults;
    if (meanwhile)
      faults = std::thread{meanwhile};
    auto drove = apps::drive_orders(d);
    if (faults.joinable())
      faults.join();
    ASSERT_EQ(drove.accepted.size(), static_cast<size_t>(orders));
    auto check = apps::check_orders("127.0.0.1", d.port, drove.accepted,
                                    {(dir_ / "payment-ledger.jsonl").string()},
                                    {(dir_ / "email-outbox.jsonl").string()}, 120s);
    EXPECT_EQ(check.terminal, static_cast<size_t>(orders));
    EXPECT_EQ(check.charge_anomalies, 0u);
    EXPECT_EQ(check.email_anomalies, 0u);
    for (const auto& id : check.broken)
      ADD_FAILURE() << "order " << id << " broke an invariant";
  }

  int64_t restarts(const std::string& path) const { return node_->supervision()->restarts()[path]; }

  std::unique_ptr<bridges::mock_cluster> mock_;
  std::filesystem::path dir_;
  std::unique_ptr<apps::node> node_;
};

TEST_F(SupervisionTest, ThePaymentRoleCrashingWhileOrdersFlowLosesAndDoublesNothing) {
  // Given a node; while 120 orders flow, the payment role's supervisor (its
  // bridge and worker with it) is crashed twice
  start_node();
  drive_and_check(120, [&] {
    for (int i = 1; i <= 2; ++i) {
      // once some orders have been charged since the last crash
      EXPECT_TRUE(test::eventually(
        [&] { return node_->payment_ledger()->keys().size() >= static_cast<size_t>(30 * i); }, 60s));
      EXPECT_EQ(node_->api()->crash("root/payment"), gateway::backend::crash_outcome::sent);
      EXPECT_TRUE(test::eventually([&] { return restarts("root/payment") == i; }, 30s));
    }
  });
  // Then every order still ends with one charge and one email (checked
  // above), the payment role restarted twice and no other role restarted
  EXPECT_EQ(restarts("root/payment"), 2);
  EXPECT_EQ(node_->supervision()->total_restarts(), 2);
}

TEST_F(SupervisionTest, PaymentCrashingAfterChargingNeverChargesTwice) {
  // Given payment crashing after the charge on 30% of its turns, email
  // crashing before sending on 20%
  start_node({{"chaos", "payment.crash-after-charge=0.3,email.crash=0.2"},
              {"chaos.seed", "42"},
              {"supervisor.max-restarts", "10000"},
              {"supervisor.backoff-max-ms", "20"},
              {"mailbox.max-attempts", "30"}});
  // When 150 orders flow; then each is charged and emailed exactly once
  drive_and_check(150);
  auto fired = node_->chaos_fired();
  EXPECT_GT(fired["payment"]["crash-after"], 10);
  EXPECT_GT(fired["email"]["crash"], 5);
  EXPECT_GE(restarts("root/payment/worker"), fired["payment"]["crash-after"]);
  for (const auto& [role, s] : node_->mailboxes())
    EXPECT_EQ(s.dead_lettered, 0u) << role;
}

TEST_F(SupervisionTest, AHungActorIsKilledAtItsTurnDeadlineAndItsRecordsComplete) {
  // Given the order actor hanging on 5% of its turns, a 300 ms turn deadline
  start_node({{"chaos", "order.hang=0.05"},
              {"mailbox.turn-deadline-ms", "300"},
              {"supervisor.backoff-max-ms", "20"},
              {"supervisor.max-restarts", "10000"},
              {"mailbox.max-attempts", "30"}});
  drive_and_check(60);
  // Then each hang ended in an exit for `hung` and a restart (a hang that
  // fired as the last orders finished is killed at its deadline after them)
  auto hangs = node_->chaos_fired()["order"]["hang"];
  EXPECT_GT(hangs, 0);
  EXPECT_TRUE(test::eventually([&] {
    return restarts("root/order/worker") >= node_->chaos_fired()["order"]["hang"];
  }, 10s)) << restarts("root/order/worker") << " restarts, "
           << node_->chaos_fired()["order"]["hang"] << " hangs";
  bool saw_hung = false;
  for (const auto& e : node_->supervision()->events())
    saw_hung = saw_hung || (e.path == "root/order/worker" && e.reason.find("runtime.hung") == 0);
  EXPECT_TRUE(saw_hung);
}

TEST_F(SupervisionTest, TheTreeIsServedOverHttpAndAnActorCanBeCrashedByPath) {
  start_node();
  apps::http_client c{"127.0.0.1", node_->http_port()};
  // The tree: root one_for_one -> roles rest_for_one -> bridge, worker
  auto r = c.get("/api/supervision");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u);
  auto tree = boost::json::parse(r->body).at("tree").as_object();
  EXPECT_EQ(tree.at("path").as_string(), "root");
  EXPECT_EQ(tree.at("strategy").as_string(), "one_for_one");
  std::vector<std::string> roles;
  for (const auto& role : tree.at("children").as_array()) {
    roles.emplace_back(role.at("name").as_string());
    EXPECT_EQ(role.at("strategy").as_string(), "rest_for_one");
    EXPECT_EQ(role.at("state").as_string(), "running");
    const auto& kids = role.at("children").as_array();
    ASSERT_EQ(kids.size(), 2u);
    EXPECT_EQ(kids[0].at("name").as_string(), "bridge");
    EXPECT_EQ(kids[1].at("name").as_string(), "worker");
  }
  EXPECT_EQ(roles, (std::vector<std::string>{"order", "payment", "email", "analytics", "gateway"}));
  // Crashing a worker by path: 202, and its supervisor restarts it
  auto crash = c.post_json("/api/admin/crash", R"({"path":"root/email/worker"})", admin);
  ASSERT_TRUE(crash);
  EXPECT_EQ(crash->status, 202u) << crash->body;
  ASSERT_TRUE(test::eventually([&] { return restarts("root/email/worker") == 1; }, 10s));
  r = c.get("/api/supervision");
  auto after = boost::json::parse(r->body);
  EXPECT_EQ(after.at("counts").at("restarted").to_number<int64_t>(), 1);
  auto email = after.at("tree").at("children").as_array()[2];
  auto worker = email.at("children").as_array()[1];
  EXPECT_EQ(worker.at("restarts").to_number<int64_t>(), 1);
  EXPECT_NE(std::string{worker.at("lastExitReason").as_string()}.find("admin API"),
            std::string::npos);
  // No live actor at a path: 404
  crash = c.post_json("/api/admin/crash", R"({"path":"root/nope"})", admin);
  ASSERT_TRUE(crash);
  EXPECT_EQ(crash->status, 404u);
  // The root supervisor: 409 (issue 14, defect 7: it ended the node, and so
  // `kastor demo`, through its own admin API)
  crash = c.post_json("/api/admin/crash", R"({"path":"root"})", admin);
  ASSERT_TRUE(crash);
  EXPECT_EQ(crash->status, 409u) << crash->body;
  EXPECT_NE(crash->body.find("root supervisor"), std::string::npos) << crash->body;
  // And the pipeline still works
  drive_and_check(20);
}

TEST_F(SupervisionTest, CrashingThePaymentSupervisorRepeatedlyMakesTheNodeExitNonZero) {
  // Given a `kastor node` process whose supervisors allow 3 restarts in 10 s
  // (crashed through the HTTP admin endpoint and `kastor ctl`)
  auto port = apps::free_port();
  auto log = dir_ / "node.log";
  std::vector<std::string> argv{KASTOR_BIN, "node"};
  for (const auto& [k, v] : layers({{"supervisor.max-restarts", "3"},
                                    {"http", "127.0.0.1:" + std::to_string(port)}}))
    argv.insert(argv.end(), {"--set", k + "=" + v.first});
  apps::child_process node{argv, log.string()};
  apps::http_client c{"127.0.0.1", port};
  ASSERT_TRUE(test::eventually([&] {
    auto r = c.get("/readyz");
    return r && r->status == 200;
  }, 60s)) << "see " << log;
  // When root/payment is crashed four times
  auto payment_restarts = [&]() -> int64_t {
    auto r = c.get("/api/supervision");
    if (!r || r->status != 200)
      return -1;
    auto v = boost::json::parse(r->body);
    for (const auto& role : v.at("tree").at("children").as_array())
      if (role.at("name").as_string() == "payment")
        return role.at("restarts").to_number<int64_t>();
    return -1;
  };
  auto ctl = [&](const std::string& args) {
    // (the node's token in the variable a node and `kastor ctl crash` read)
    auto status = std::system((std::string{"KASTOR_ADMIN_TOKEN="} + std::string{admin_token} + " "
                               + KASTOR_BIN + " ctl " + args + " >/dev/null 2>&1").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  auto node_flag = "--node 127.0.0.1:" + std::to_string(port);
  // (kastor ctl: 0 on success, 1 when the node says no, 2 when it cannot ask)
  EXPECT_EQ(ctl(node_flag + " supervision"), 0);
  EXPECT_EQ(ctl(node_flag + " status"), 0);  // the node's own view (/api/status)
  // The mock's brokers cannot describe groups: ctl status --brokers says what to do instead
  EXPECT_EQ(std::system((std::string{KASTOR_BIN} + " ctl status --brokers " + mock_->bootstrap()
                         + " 2>&1 | grep -q 'kastor ctl --node HOST:PORT status'").c_str()),
            0);
  EXPECT_EQ(ctl(node_flag + " crash root/nope"), 1);
  EXPECT_EQ(std::system((std::string{"KASTOR_ADMIN_TOKEN= "} + KASTOR_BIN + " ctl " + node_flag
                         + " crash root/payment >/dev/null 2>&1").c_str()) >> 8,
            1);  // without the token: 401, nothing crashes
  EXPECT_EQ(ctl("--node 127.0.0.1:80x supervision"), 2);
  EXPECT_EQ(ctl("--node 127.0.0.1:" + std::to_string(apps::free_port()) + " supervision"), 2);
  for (int i = 1; i <= 3; ++i) {
    if (i == 1) {
      ASSERT_EQ(ctl(node_flag + " crash root/payment"), 0);
    } else {
      auto crash = c.post_json("/api/admin/crash", R"({"path":"root/payment"})", admin);
      ASSERT_TRUE(crash && crash->status == 202u);
    }
    ASSERT_TRUE(test::eventually([&] { return payment_restarts() == i; }, 20s));
  }
  auto crash = c.post_json("/api/admin/crash", R"({"path":"root/payment"})", admin);
  ASSERT_TRUE(crash && crash->status == 202u);
  // Then the root gives up: the node turns not ready and exits with 1
  apps::http_client probe{"127.0.0.1", port};
  unsigned last = 200;
  ASSERT_TRUE(test::eventually([&] {
    auto r = probe.get("/readyz");
    if (r)
      last = r->status;
    return !r || r->status != 200;
  }, 20s));
  EXPECT_EQ(last, 503u);
  ASSERT_TRUE(test::eventually([&] { return node.exited().has_value(); }, 30s));
  EXPECT_EQ(*node.exited(), 1);
  std::ifstream in{log};
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("event=root_supervisor_exited"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("restart_limit_exceeded"), std::string::npos);
}

}  // namespace
