// On a real Apache Kafka: kastor's roles mixed with foreign clients as their
// users write them, both ways. Seed 002's services in KafkaJS 2.2.4
// (tests/interop/seed002.js), kafka-python (seed 000's client,
// tests/interop/py_client.py) and the Java client (kafka-clients, the jar the
// broker ships with; tests/interop/JavaReader.java), installed by
// tests/interop/install.sh (`make test` runs it) under ~/.cache/kastor.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "kastor/apps/commands.hpp"
#include "kastor/apps/driver.hpp"
#include "kastor/apps/http_client.hpp"
#include "kastor/apps/process.hpp"
#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "support/kafka.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

using test::system_brokers;

const std::vector<std::string> pipeline_topics{"order-created",       "payment-requests",
                                               "payment-results",     "notification-events",
                                               "email-sent",          "order-state"};

fs::path cache_root() {
  if (const char* c = std::getenv("KASTOR_CACHE"))
    return c;
  const char* home = std::getenv("HOME");
  return fs::path{home ? home : "/root"} / ".cache" / "kastor";
}

// The jars deploy/local/kafka.sh fetched for the broker: kafka-clients among them.
fs::path kafka_libs() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cache_root(), ec))
    if (e.path().filename().string().rfind("kafka-", 0) == 0 && fs::exists(e.path() / "libs"))
      for (const auto& jar : fs::directory_iterator(e.path() / "libs", ec))
        if (jar.path().filename().string().rfind("kafka-clients-", 0) == 0)
          return e.path() / "libs";
  return {};
}

std::string slurp(const fs::path& p) {
  std::ifstream in{p};
  return {std::istreambuf_iterator<char>{in}, {}};
}

std::vector<json::object> json_lines(const fs::path& p) {
  std::vector<json::object> out;
  std::ifstream in{p};
  std::string line;
  while (std::getline(in, line))
    if (!line.empty())
      if (auto v = json::parse(line); v.is_object())
        out.push_back(v.as_object());
  return out;
}

std::string text(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string{v->as_string()} : std::string{};
}

// Where each partition of `topics` ends now, as (topic, partition, offset).
std::vector<std::tuple<std::string, int32_t, int64_t>> topic_ends(
  rd_kafka_t* rk, const std::vector<std::string>& topics) {
  std::vector<std::tuple<std::string, int32_t, int64_t>> out;
  for (const auto& t : topics) {
    auto n = bridges::partitions_of(rk, t);
    EXPECT_TRUE(n && *n > 0) << t;
    for (int32_t p = 0; n && p < *n; ++p) {
      int64_t lo = 0, hi = 0;
      // A client that just connected to a fresh cluster may ask a broker
      // that is not (yet) the leader: asked again, it learns the leader.
      auto err = RD_KAFKA_RESP_ERR_NO_ERROR;
      for (int tries = 0; tries < 30; ++tries) {
        err = rd_kafka_query_watermark_offsets(rk, t.c_str(), p, &lo, &hi, 10000);
        if (err != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION
            && err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
          break;
        rd_kafka_poll(rk, 200);  // lets the metadata refresh
      }
      EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << t << "/" << p;
      out.emplace_back(t, p, hi);
    }
  }
  return out;
}

// Commits `group`'s offsets at the current end of `topics`, so that a new
// consumer of that group starts after what earlier tests left in the shared
// topics (kastor's groups and the seed's KafkaJS ones alike).
void commit_at_end(const std::string& group, const std::vector<std::string>& topics) {
  auto conf = bridges::make_conf({{"bootstrap.servers", system_brokers()},
                                  {"group.id", group},
                                  {"enable.auto.commit", "false"}});
  ASSERT_TRUE(conf);
  char err[512];
  bridges::rk_ptr rk{rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), err, sizeof(err))};
  ASSERT_TRUE(rk) << err;
  bridges::partition_list_ptr list{rd_kafka_topic_partition_list_new(8)};
  for (const auto& [t, p, end] : topic_ends(rk.get(), topics))
    rd_kafka_topic_partition_list_add(list.get(), t.c_str(), p)->offset = end;
  ASSERT_EQ(rd_kafka_commit(rk.get(), list.get(), 0), RD_KAFKA_RESP_ERR_NO_ERROR) << group;
  rd_kafka_consumer_close(rk.get());
}

class Interop : public ::testing::Test {
protected:
  void SetUp() override {
    KASTOR_SYSTEM_KAFKA_WITH_TOPICS();
    interop_ = cache_root() / "interop";
    ASSERT_TRUE(fs::exists(interop_ / "node" / "node_modules" / "kafkajs"))
      << "KafkaJS is not installed: run `bash tests/interop/install.sh` (make test does)";
    ASSERT_TRUE(fs::exists(interop_ / "python" / "kafka"))
      << "kafka-python is not installed: run `bash tests/interop/install.sh` (make test does)";
    static int run = 0;
    prefix_ = "interop" + std::to_string(getpid()) + "-" + std::to_string(++run);
    dir_ = fs::temp_directory_path() / ("kastor-" + prefix_);
    fs::create_directories(dir_);
    // kastor's groups of this test start at the topics' ends: what earlier
    // tests left there is not this test's.
    commit_at_end(prefix_ + ".order",
                  {"order-created", "payment-results", "notification-events", "email-sent"});
    commit_at_end(prefix_ + ".payment", {"payment-requests"});
    commit_at_end(prefix_ + ".email", {"notification-events"});
    // Where every topic ends now: what this test reads starts there.
    std::ofstream ends{dir_ / "from.txt"};
    auto conf = bridges::make_conf({{"bootstrap.servers", system_brokers()}});
    char err[512];
    bridges::rk_ptr rk{rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), err, sizeof(err))};
    for (const auto& [t, p, end] : topic_ends(rk.get(), pipeline_topics))
      ends << t << " " << p << " " << end << "\n";
  }

  void TearDown() override {
    for (auto& [name, c] : children_)
      if (c)
        c->stop(20s);
    if (!HasFailure())
      fs::remove_all(dir_);
    else
      std::cerr << "logs kept in " << dir_ << "\n";
  }

  // A `kastor node` running `roles` (its groups start where SetUp found the
  // topics' ends).
  void start_node(const std::string& name, const std::string& roles, uint16_t port = 0) {
    std::vector<std::string> argv{KASTOR_BIN, "node", "--brokers", system_brokers(), "--roles",
                                  roles, "--node-id", prefix_ + "-" + name, "--data-dir",
                                  dir_.string(), "--set", "group.prefix=" + prefix_,
                                  "--log-level", "warn"};
    if (port != 0) {
      argv.push_back("--http");
      argv.push_back("127.0.0.1:" + std::to_string(port));
    }
    children_[name] = std::make_unique<apps::child_process>(argv, log(name).string());
    if (port != 0) {
      apps::http_client c{"127.0.0.1", port};
      ASSERT_TRUE(test::eventually([&] {
        auto r = c.get("/readyz");
        return r && r->status == 200;
      }, 90s)) << name << " not ready: " << slurp(log(name));
    }
  }

  // One of seed 002's services (KafkaJS), ready once it prints "ready".
  void start_seed(const std::string& service, std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/env",
                                  "NODE_PATH=" + (interop_ / "node" / "node_modules").string(),
                                  "node", KASTOR_SOURCE_DIR "/tests/interop/seed002.js", service,
                                  "--brokers", system_brokers()};
    argv.insert(argv.end(), args.begin(), args.end());
    children_["seed-" + service] = std::make_unique<apps::child_process>(argv, log("seed-" + service).string());
    ASSERT_TRUE(test::eventually(
      [&] { return slurp(log("seed-" + service)).find("ready") != std::string::npos; }, 60s))
      << "seed " << service << ": " << slurp(log("seed-" + service));
  }

  void expect_alive(const std::string& name) {
    auto& c = children_.at(name);
    EXPECT_FALSE(c->exited()) << name << " exited: " << slurp(log(name));
  }

  // kafka-python: one JSON line per order produced, or the read summary.
  std::string python(const std::vector<std::string>& args) {
    std::string cmd = "PYTHONPATH=" + (interop_ / "python").string() + " python3 "
                      KASTOR_SOURCE_DIR "/tests/interop/py_client.py";
    for (const auto& a : args)
      cmd += " '" + a + "'";
    return apps::run_capture(cmd + " 2>>" + log("python").string());
  }

  // `n` sample orders through the gateway on `port`, every one accepted.
  static apps::drive_result drive(uint16_t port, int n) {
    apps::drive_options d;
    d.port = port;
    d.orders = n;
    auto drove = apps::drive_orders(d);
    EXPECT_EQ(drove.accepted.size(), static_cast<size_t>(n)) << "failed=" << drove.failed;
    return drove;
  }

  // kafka-python produces `count` seed-shaped orders, the last `no_key` of
  // them without a key; what it printed of each.
  std::vector<json::object> python_orders(int count, int no_key) {
    std::vector<json::object> produced;
    std::istringstream lines{python({"orders", "--brokers", system_brokers(), "--count",
                                     std::to_string(count), "--prefix", prefix_ + "-py",
                                     "--no-key", std::to_string(no_key)})};
    for (std::string line; std::getline(lines, line);)
      produced.push_back(json::parse(line).as_object());
    EXPECT_EQ(produced.size(), static_cast<size_t>(count)) << slurp(log("python"));
    return produced;
  }

  fs::path log(const std::string& name) const { return dir_ / (name + ".log"); }

  // The Java client's summary of `topics` since the test began.
  std::string java_read(const std::vector<std::string>& topics) {
    auto libs = kafka_libs();
    EXPECT_FALSE(libs.empty()) << "no kafka-clients jar under " << cache_root()
                               << " (bash deploy/local/kafka.sh fetch)";
    std::string cmd = "java -cp '" + libs.string() + "/*' " KASTOR_SOURCE_DIR
                      "/tests/interop/JavaReader.java " + system_brokers() + " "
                      + (dir_ / "from.txt").string();
    for (const auto& t : topics)
      cmd += " " + t;
    return apps::run_capture(cmd + " 2>>" + log("java").string());
  }

  static std::string status_of(apps::http_client& c, const std::string& id,
                               json::object* order = nullptr) {
    auto r = c.get("/api/orders/" + id);
    if (!r || r->status != 200)
      return "";
    auto o = json::parse(r->body).as_object();
    if (order)
      *order = o;
    return text(o, "status");
  }

  fs::path interop_;
  fs::path dir_;
  std::string prefix_;
  std::map<std::string, std::unique_ptr<apps::child_process>> children_;
};

TEST_F(Interop, SeedOrderServiceInFrontOfKastorPaymentAndEmail) {
  // Given kastor's payment and email roles, and seed 002's order service
  // (KafkaJS: "status":"CREATED", payment requests carrying `amount`)
  start_node("kastor", "payment,email");
  ASSERT_TRUE(test::eventually([&] { return test::group_members(prefix_ + ".payment") == 1; }, 60s));
  ASSERT_TRUE(test::eventually([&] { return test::group_members(prefix_ + ".email") == 1; }, 60s));
  auto port = apps::free_port();
  start_seed("order", {"--http", std::to_string(port)});
  // When 20 orders are posted to the seed's order service
  apps::http_client c{"127.0.0.1", port};
  std::map<std::string, int> ids;  // order id -> sample index
  for (int i = 0; i < 20; ++i) {
    auto r = c.post_json("/api/orders", apps::sample_order_json(i));
    ASSERT_TRUE(r && r->status == 202) << (r ? r->body : "no answer");
    ids[text(json::parse(r->body).as_object(), "orderId")] = i;
  }
  // Then kastor charges each once, for its amount, and emails each once
  auto ledger = dir_ / "payment-ledger.jsonl", outbox = dir_ / "email-outbox.jsonl";
  auto emailed = [&] {
    std::set<std::string> seen;
    for (const auto& e : json_lines(outbox))
      if (ids.count(text(e, "orderId")))
        seen.insert(text(e, "orderId"));
    return seen.size();
  };
  ASSERT_TRUE(test::eventually([&] { return emailed() == ids.size(); }, 90s))
    << emailed() << " of " << ids.size() << " emailed; " << slurp(log("kastor"));
  std::map<std::string, int> charges, emails;
  for (const auto& l : json_lines(ledger))
    if (ids.count(text(l, "orderId"))) {
      ++charges[text(l, "orderId")];
      const auto i = ids.at(text(l, "orderId"));
      const auto order = json::parse(apps::sample_order_json(i)).as_object();
      EXPECT_EQ(l.at("amount").to_number<double>(), order.at("totalAmount").to_number<double>())
        << text(l, "orderId");
      EXPECT_EQ(text(l, "status"), apps::sample_order_declined(i) ? "DECLINED" : "SUCCEEDED")
        << text(l, "orderId");
    }
  for (const auto& e : json_lines(outbox))
    if (ids.count(text(e, "orderId"))) {
      ++emails[text(e, "orderId")];
      EXPECT_EQ(text(e, "body").find(" of 0.00"), std::string::npos) << text(e, "body");
    }
  for (const auto& [id, i] : ids) {
    EXPECT_EQ(charges[id], 1) << id;
    EXPECT_EQ(emails[id], 1) << id;
  }
  expect_alive("seed-order");
}

TEST_F(Interop, KastorGatewayAndOrderWithSeedBillingAndNotification) {
  // Given seed 002's billing and notification services (KafkaJS; billing
  // reads `amount` and writes only notification-events, without a key)
  const auto billing_group = "billing-" + prefix_, notification_group = "notification-" + prefix_;
  commit_at_end(billing_group, {"payment-requests"});
  commit_at_end(notification_group, {"notification-events"});
  start_seed("billing", {"--group", billing_group, "--out", (dir_ / "charges.jsonl").string()});
  start_seed("notification", {"--group", notification_group, "--out",
                              (dir_ / "notifications.jsonl").string()});
  // And kastor's gateway and order roles in front of them
  auto port = apps::free_port();
  start_node("kastor", "order,gateway", port);
  // When 20 orders arrive through kastor's gateway
  auto drove = drive(port, 20);
  ASSERT_EQ(drove.accepted.size(), 20u);
  // Then every order reaches its payment outcome (no email role: none goes
  // further) as the seed's billing decided it
  apps::http_client c{"127.0.0.1", port};
  auto outcome = [&](int k) {
    const auto total = json::parse(apps::sample_order_json(drove.accepted_index[k]))
                         .as_object().at("totalAmount").to_number<double>();
    return std::string{total > 1000 ? "PAYMENT_FAILED" : "PAID"};
  };
  ASSERT_TRUE(test::eventually([&] {
    for (size_t k = 0; k < drove.accepted.size(); ++k)
      if (status_of(c, drove.accepted[k]) != outcome(static_cast<int>(k)))
        return false;
    return true;
  }, 90s)) << slurp(log("kastor")) << slurp(log("seed-billing"));
  // And the seed billed each order once, for its amount, and notified each once
  std::map<std::string, int> billed, notified;
  for (const auto& l : json_lines(dir_ / "charges.jsonl"))
    ++billed[text(l, "orderId")];
  ASSERT_TRUE(test::eventually([&] {
    notified.clear();
    for (const auto& l : json_lines(dir_ / "notifications.jsonl"))
      ++notified[text(l, "orderId")];
    for (const auto& id : drove.accepted)
      if (notified[id] == 0)
        return false;
    return true;
  }, 30s));
  for (const auto& id : drove.accepted) {
    EXPECT_EQ(billed[id], 1) << id;
    EXPECT_EQ(notified[id], 1) << id;
  }
  expect_alive("seed-billing");
  expect_alive("seed-notification");
}

TEST_F(Interop, PythonAndJavaReadEveryKastorTopicAndPythonOrdersAreProcessed) {
  // Given a node running every role, and 10 orders through its gateway
  auto port = apps::free_port();
  start_node("kastor", "order,payment,email,analytics,gateway", port);
  auto drove = drive(port, 10);
  ASSERT_EQ(drove.accepted.size(), 10u);
  auto check = apps::check_orders("127.0.0.1", port, drove.accepted,
                                  {(dir_ / "payment-ledger.jsonl").string()},
                                  {(dir_ / "email-outbox.jsonl").string()}, 90s);
  ASSERT_EQ(check.terminal, 10u);
  // When kafka-python produces 5 seed-shaped orders (header-less, "status":
  // "CREATED"), two of them without a key
  auto produced = python_orders(5, 2);
  ASSERT_EQ(produced.size(), 5u);
  // Then each is processed to NOTIFIED, with its items
  apps::http_client c{"127.0.0.1", port};
  for (const auto& p : produced) {
    json::object order;
    EXPECT_TRUE(test::eventually([&] { return status_of(c, text(p, "orderId"), &order) == "NOTIFIED"; },
                                 60s))
      << text(p, "orderId") << " is " << status_of(c, text(p, "orderId"));
    EXPECT_EQ(order.at("itemCount").to_number<int64_t>(), p.at("items").to_number<int64_t>());
  }
  // And kafka-python reads every kastor topic, every value JSON with its order
  auto summary = python({"read", "--brokers", system_brokers(), "--from",
                         (dir_ / "from.txt").string(), "--topic", "order-created", "--topic",
                         "payment-requests", "--topic", "payment-results", "--topic",
                         "notification-events", "--topic", "email-sent", "--topic",
                         "order-state"});
  ASSERT_FALSE(summary.empty()) << slurp(log("python"));
  auto s = json::parse(summary).as_object();
  EXPECT_TRUE(s.at("undecodable").as_array().empty()) << summary;
  for (const auto& t : pipeline_topics) {
    std::set<std::string> seen;
    if (const auto* ids = s.at("order_ids").as_object().if_contains(t))
      for (const auto& id : ids->as_array())
        seen.insert(std::string{id.as_string()});
    for (const auto& id : drove.accepted)
      EXPECT_TRUE(seen.count(id)) << id << " not read from " << t;
  }
  // And the Java client reads them too, every keyed record where Java puts its key
  std::vector<std::string> topics = pipeline_topics;
  auto java = java_read(topics);
  EXPECT_NE(java.find(" misplaced=0 notjson=0"), std::string::npos) << java << slurp(log("java"));
  EXPECT_EQ(java.find("records=0 "), std::string::npos) << java;
}

TEST_F(Interop, TwoNodesKeepPythonOrdersStateAcrossARebalance) {
  // Given two nodes sharing the order role (and no payment yet: orders wait)
  uint16_t ports[2] = {apps::free_port(), apps::free_port()};
  start_node("a", "order,gateway", ports[0]);
  start_node("b", "order,gateway", ports[1]);
  ASSERT_TRUE(test::eventually([&] { return test::group_members(prefix_ + ".order") == 2; }, 60s));
  // When kafka-python produces 16 orders, 4 of them without a key
  auto produced = python_orders(16, 4);
  ASSERT_EQ(produced.size(), 16u);
  apps::http_client a{"127.0.0.1", ports[0]};
  for (const auto& p : produced)
    ASSERT_TRUE(test::eventually([&] { return status_of(a, text(p, "orderId")) == "PENDING"; }, 60s))
      << text(p, "orderId");
  // And node b leaves (its partitions and their orders move to a), and only
  // then payment and email start on a third node
  EXPECT_EQ(children_.at("b")->stop(30s), 0);
  ASSERT_TRUE(test::eventually([&] { return test::group_members(prefix_ + ".order") == 1; }, 60s));
  start_node("c", "payment,email");
  // Then every order is NOTIFIED with the state it was created with
  for (const auto& p : produced) {
    json::object order;
    EXPECT_TRUE(test::eventually(
      [&] { return status_of(a, text(p, "orderId"), &order) == "NOTIFIED"; }, 90s))
      << text(p, "orderId") << " is " << status_of(a, text(p, "orderId"));
    EXPECT_EQ(order.at("itemCount").to_number<int64_t>(), p.at("items").to_number<int64_t>())
      << text(p, "orderId");
    EXPECT_EQ(text(order, "customerId"), text(p, "customerId")) << text(p, "orderId");
    EXPECT_EQ(order.at("createdAt").to_number<int64_t>(), p.at("createdAtMs").to_number<int64_t>())
      << text(p, "orderId");
  }
  // And every record of theirs, in every topic, is on its key's partition
  auto java = java_read({"order-created", "payment-requests", "order-state"});
  EXPECT_NE(java.find(" misplaced=0 notjson=0"), std::string::npos) << java << slurp(log("java"));
}

}  // namespace
