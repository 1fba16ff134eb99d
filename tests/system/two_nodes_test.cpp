// On a real Apache Kafka (make test starts one and sets KASTOR_BROKERS):
// two `kastor node` processes share the work of every role.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "kastor/apps/commands.hpp"
#include "kastor/apps/driver.hpp"
#include "kastor/apps/http_client.hpp"
#include "kastor/apps/process.hpp"
#include "kastor/actors/ledger.hpp"
#include "kastor/bridges/kafka.hpp"
#include "support/kafka.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

using test::system_brokers;

using test::group_members;

class TwoNodes : public ::testing::Test {
protected:
  void SetUp() override {
    KASTOR_SYSTEM_KAFKA_WITH_TOPICS();
    dir_ = std::filesystem::temp_directory_path() / ("kastor-system-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    prefix_ = "sys" + std::to_string(getpid());
    for (int i = 0; i < 2; ++i) {
      ports_[i] = apps::free_port();
      std::vector<std::string> argv{KASTOR_BIN, "node", "--brokers", system_brokers(), "--http",
                                    "127.0.0.1:" + std::to_string(ports_[i]), "--node-id",
                                    "node-" + std::to_string(i), "--data-dir", dir_.string(),
                                    "--set", "group.prefix=" + prefix_, "--log-level", "warn"};
      for (const auto& a : extra_args())
        argv.push_back(a);
      nodes_[i] = std::make_unique<apps::child_process>(
        argv, (dir_ / ("node-" + std::to_string(i) + ".log")).string());
    }
    for (int i = 0; i < 2; ++i) {
      apps::http_client c{"127.0.0.1", ports_[i]};
      ASSERT_TRUE(test::eventually([&] {
        auto r = c.get("/readyz");
        return r && r->status == 200;
      }, 90s)) << "node " << i << " not ready; log in " << dir_;
    }
  }

  void TearDown() override {
    for (auto& n : nodes_) {
      if (n) {
        EXPECT_EQ(n->stop(30s), 0) << "a node did not stop cleanly; log in " << dir_;
      }
    }
    if (!HasFailure())
      std::filesystem::remove_all(dir_);
  }

  std::string ledger() const { return (dir_ / "payment-ledger.jsonl").string(); }
  std::string outbox() const { return (dir_ / "email-outbox.jsonl").string(); }

  virtual std::vector<std::string> extra_args() const { return {}; }

  // Drives `per_node` orders through each gateway, then checks that every
  // one is terminal (seen from either gateway), charged once, emailed once.
  void drive_and_check(int per_node) {
    std::vector<std::string> ids;
    size_t declined = 0;
    for (int i = 0; i < 2; ++i) {
      apps::drive_options d;
      d.port = ports_[i];
      d.orders = per_node;
      d.first = i * per_node;
      auto drove = apps::drive_orders(d);
      ASSERT_EQ(drove.accepted.size(), static_cast<size_t>(per_node)) << "failed=" << drove.failed;
      ids.insert(ids.end(), drove.accepted.begin(), drove.accepted.end());
      for (int k : drove.accepted_index)
        declined += apps::sample_order_declined(k) ? 1 : 0;
    }
    auto check = apps::check_orders("127.0.0.1", ports_[1], ids, {ledger()}, {outbox()}, 180s);
    EXPECT_EQ(check.terminal, ids.size());
    EXPECT_EQ(check.charge_anomalies, 0u);
    EXPECT_EQ(check.email_anomalies, 0u);
    EXPECT_EQ(check.declined, declined);
    for (size_t i = 0; i < check.broken.size() && i < 5; ++i)
      ADD_FAILURE() << "order broke an invariant: " << check.broken[i];
    for (size_t i = 0; i < check.not_terminal.size() && i < 5; ++i)
      ADD_FAILURE() << "order not terminal: " << check.not_terminal[i];
  }

  std::filesystem::path dir_;
  std::string prefix_;
  uint16_t ports_[2] = {0, 0};
  std::unique_ptr<apps::child_process> nodes_[2];
};

TEST_F(TwoNodes, AThousandOrdersEachEndTerminalWithOneChargeAndOneEmail) {
  // Given two nodes sharing the partitions of every role's group
  ASSERT_TRUE(test::eventually([&] { return group_members(prefix_ + ".payment") == 2; }, 60s));
  EXPECT_TRUE(test::eventually([&] { return group_members(prefix_ + ".order") == 2; }, 60s));
  EXPECT_TRUE(test::eventually([&] { return group_members(prefix_ + ".email") == 2; }, 60s));
  // When 1,000 orders arrive, half through each gateway; then every order is
  // terminal (seen from either gateway), charged once, emailed once
  drive_and_check(500);
}

TEST_F(TwoNodes, KcatSeesTheSeedJsonAndAHeaderlessKcatRecordIsProcessed) {
  // Given one order accepted through the gateway
  apps::http_client c{"127.0.0.1", ports_[0]};
  auto r = c.post_json("/api/orders", apps::sample_order_json(3));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202u);
  auto id = std::string{boost::json::parse(r->body).at("orderId").as_string()};
  // Then kcat reads it from order-created as the seed's JSON
  auto out = apps::run_capture("kcat -C -q -e -b " + system_brokers() + " -t order-created -f '%s\\n'");
  bool found = false;
  std::istringstream lines{out};
  for (std::string line; std::getline(lines, line);) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object() || v.at("orderId").as_string() != id.c_str())
      continue;
    found = true;
    EXPECT_TRUE(v.at("customerId").is_string());
    EXPECT_TRUE(v.at("items").is_array());
    EXPECT_TRUE(v.at("items").at(0).as_object().contains("subtotal"));
    EXPECT_TRUE(v.at("totalAmount").is_number());
  }
  EXPECT_TRUE(found) << out.substr(0, 500);
  // When kcat writes a header-less payment request
  auto kid = "kcat-" + prefix_;
  auto cmd = "printf '%s' '{\"orderId\":\"" + kid
             + "\",\"customerId\":\"kcat-customer\",\"totalAmount\":42.5}' | kcat -P -b "
             + system_brokers() + " -t payment-requests -k " + kid;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  // Then it is charged once and its order ends NOTIFIED
  actors::jsonl_ledger charges{ledger(), "orderId"};
  ASSERT_TRUE(test::eventually([&] { return charges.count(kid) == 1; }, 60s));
  ASSERT_TRUE(test::eventually([&] {
    auto g = c.get("/api/orders/" + kid);
    return g && g->status == 200
           && boost::json::parse(g->body).at("status").as_string() == "NOTIFIED";
  }, 60s));
}

TEST_F(TwoNodes, AnIdempotencyKeyRetriedOnTheOtherNodeGetsTheSameOrder) {
  auto key = "two-nodes-" + prefix_;
  auto body = apps::sample_order_json(11);
  apps::http_client a{"127.0.0.1", ports_[0]}, b{"127.0.0.1", ports_[1]};
  // Given an order made through node 0 with an Idempotency-Key
  auto first = a.post_json("/api/orders", body, {{"Idempotency-Key", key}});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 202u);
  auto id = std::string{boost::json::parse(first->body).at("orderId").as_string()};
  auto check = apps::check_orders("127.0.0.1", ports_[1], {id}, {ledger()}, {outbox()}, 60s);
  EXPECT_EQ(check.terminal, 1u);
  // When the client retries through node 1: the same order, still one charge
  auto retry = b.post_json("/api/orders", body, {{"Idempotency-Key", key}});
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->status, 202u);
  EXPECT_NE(retry->body.find(id), std::string::npos) << retry->body;
  // And another body with that key is refused on node 1 as well
  auto other = b.post_json("/api/orders", apps::sample_order_json(12), {{"Idempotency-Key", key}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 422u) << other->body;
  check = apps::check_orders("127.0.0.1", ports_[0], {id}, {ledger()}, {outbox()}, 60s);
  EXPECT_EQ(check.charge_anomalies, 0u);
  EXPECT_EQ(check.email_anomalies, 0u);
}

// Issue 14, defect 2: on a node that had not seen the key, another body with
// the same customer and total counted as the same request (202, the first
// order's id).
TEST_F(TwoNodes, AnotherBodyWithTheSameCustomerAndTotalIsAConflictOnTheOtherNode) {
  auto key = "two-nodes-body-" + prefix_;
  auto body = apps::sample_order_json(13);
  auto other = body;  // other items, same customer and total
  for (auto at = other.find("Sample product"); at != std::string::npos;
       at = other.find("Sample product", at))
    other.replace(at, 6, "Swapped");
  ASSERT_NE(other, body);
  apps::http_client a{"127.0.0.1", ports_[0]}, b{"127.0.0.1", ports_[1]};
  auto first = a.post_json("/api/orders", body, {{"Idempotency-Key", key}});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 202u);
  auto id = std::string{boost::json::parse(first->body).at("orderId").as_string()};
  ASSERT_TRUE(test::eventually([&] {
    auto g = b.get("/api/orders/" + id);
    return g && g->status == 200;
  }, 60s));
  auto second = b.post_json("/api/orders", other, {{"Idempotency-Key", key}});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 422u) << second->body;
  auto retry = b.post_json("/api/orders", body, {{"Idempotency-Key", key}});
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->status, 202u) << retry->body;
  EXPECT_NE(retry->body.find(id), std::string::npos) << retry->body;
}

// The supervision issue's "done means" on the real broker: the same chaos as
// `kastor demo --chaos`, with the supervision settings a chaos run needs
// (a node takes no demo defaults).
class TwoChaosNodes : public TwoNodes {
protected:
  std::vector<std::string> extra_args() const override {
    return {"--chaos", "payment.crash=0.05,payment.crash-after-charge=0.02,email.crash=0.05",
            "--chaos-seed", "7", "--set", "supervisor.max-restarts=10000", "--set",
            "supervisor.backoff-min-ms=1", "--set", "supervisor.backoff-max-ms=20", "--set",
            "mailbox.max-attempts=10"};
  }

  int64_t restarts_on(int i) {
    apps::http_client c{"127.0.0.1", ports_[i]};
    auto r = c.get("/api/supervision");
    if (!r || r->status != 200)
      return -1;
    const auto* n = boost::json::parse(r->body).at("counts").as_object().if_contains("restarted");
    return n ? n->to_number<int64_t>() : 0;
  }
};

TEST_F(TwoChaosNodes, OrdersSurviveCrashesBeforeAndAfterTheirSideEffectsOnBothNodes) {
  ASSERT_TRUE(test::eventually([&] { return group_members(prefix_ + ".payment") == 2; }, 60s));
  drive_and_check(1000);
  // And both nodes' actors were crashed and restarted along the way
  EXPECT_GT(restarts_on(0), 10);
  EXPECT_GT(restarts_on(1), 10);
}

}  // namespace
