// On a real Apache Kafka (make test starts one and sets KASTOR_BROKERS):
// request/reply to the order actor that owns a key, across nodes. Two
// `kastor node --roles order` processes share the order role; this test is a
// third node that asks them through Kafka. When the owner of a key is killed
// (kill -9), a request for that key fails at its deadline with a timeout, not
// later and not never; once the group has rebalanced, the survivor answers,
// with the orders as the dead node left them (restored from order-state).
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include <caf/all.hpp>

#include "kastor/apps/commands.hpp"
#include "kastor/apps/process.hpp"
#include "kastor/bridges/codec.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/bridges/remote.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/role_actor.hpp"
#include "support/kafka.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

using test::system_brokers;

struct answer {
  bool replied = false;
  std::string status, body, node;
  caf::error error;
  std::chrono::milliseconds took{0};
};

class RequestReply : public ::testing::Test {
protected:
  void SetUp() override {
    KASTOR_SYSTEM_KAFKA_WITH_TOPICS();
    tag_ = std::to_string(getpid());
    me_ = "rr-test-" + tag_;
    dir_ = std::filesystem::temp_directory_path() / ("kastor-rr-" + tag_);
    std::filesystem::create_directories(dir_);
    for (int i = 0; i < 2; ++i) {
      ids_[i] = "rr-" + std::string(1, static_cast<char>('a' + i)) + "-" + tag_;
      nodes_[i] = std::make_unique<apps::child_process>(
        std::vector<std::string>{KASTOR_BIN, "node", "--roles", "order", "--brokers",
                                 system_brokers(), "--node-id", ids_[i], "--data-dir",
                                 dir_.string(), "--set", "group.prefix=rr" + tag_, "--set",
                                 "kafka.session-timeout-ms=6000", "--log-level", "info"},
        (dir_ / (ids_[i] + ".log")).string());
    }
    ASSERT_TRUE(test::eventually([&] { return test::group_members("rr" + tag_ + ".order") == 2; },
                                 90s))
      << "the two order nodes did not join; logs in " << dir_;
    // (stable: orders written now are handled by the node that keeps their key)
    bridges::producer_options po;
    po.brokers = system_brokers();
    po.client_id = me_;
    auto producer = bridges::kafka_publisher::make(po);
    ASSERT_TRUE(producer);
    producer_ = *producer;
    // Its reply topic is made by the requester; its requests go to the
    // nodes' group prefix (rr<pid>.order-requests).
    auto requester =
      bridges::remote_requester::make({system_brokers(), me_, producer_, "rr" + tag_});
    ASSERT_TRUE(requester) << runtime::describe(requester.error());
    requester_ = *requester;
    runtime::register_message_types(cfg_);
    cfg_.set("logger.verbosity", caf::atom("quiet"));
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    proxy_ = bridges::spawn_remote_proxy(*sys_, requester_, "order", 2s);
  }

  void TearDown() override {
    if (requester_)
      requester_->stop();
    proxy_ = nullptr;
    sys_.reset();
    for (auto& n : nodes_)
      if (n)
        n->stop(30s);
    if (!HasFailure() && !dir_.empty())
      std::filesystem::remove_all(dir_);
  }

  // Writes orders with these ids to order-created, as a gateway does.
  void write_orders(const std::vector<std::string>& ids) {
    std::atomic<int> acked{0};
    for (const auto& id : ids) {
      actors::order_created o;
      o.order_id = id;
      o.customer_id = "cust-rr";
      o.total_cents = 1234;
      o.items = {{"p1", "thing", 1234, 1, 1234}};
      o.created_at_ms = runtime::wall_clock_ms();
      producer_->publish({o}, nullptr, [&](const runtime::publish_outcome& r) {
        if (r.ok())
          ++acked;
      });
    }
    ASSERT_TRUE(test::eventually([&] { return acked.load() == static_cast<int>(ids.size()); }, 30s));
  }

  answer ask(const std::string& id) {
    caf::scoped_actor self{*sys_};
    answer a;
    auto start = std::chrono::steady_clock::now();
    self->request(proxy_, 10s, runtime::get_atom::value, id)
      .receive(
        [&](const std::string& status, const std::string& body, const std::string& node) {
          a.replied = true;
          a.status = status;
          a.body = body;
          a.node = node;
        },
        [&](caf::error& e) { a.error = e; });
    a.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
    return a;
  }

  std::vector<std::string> order_ids(const std::string& batch, int n) const {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i)
      out.push_back("rr-" + tag_ + "-" + batch + "-" + std::to_string(i));
    return out;
  }

  // `kastor ctl status --json` for these nodes' groups: the order role's entry.
  boost::json::object order_status() {
    auto out = apps::run_capture(std::string{KASTOR_BIN} + " ctl status --brokers "
                                 + system_brokers() + " --prefix rr" + tag_ + " --json");
    boost::system::error_code ec;
    auto v = boost::json::parse(out, ec);
    if (ec || !v.is_object())
      return {};
    for (const auto& r : v.at("roles").as_array())
      if (r.at("role") == "order")
        return r.as_object();
    return {};
  }

  // node -> the order-created partitions it owns, per `kastor ctl status`.
  std::map<std::string, std::set<int64_t>> owned(const boost::json::object& role) {
    std::map<std::string, std::set<int64_t>> out;
    if (role.empty())
      return out;
    for (const auto& m : role.at("members").as_array()) {
      auto& parts = out[std::string{m.at("node").as_string()}];
      if (const auto* p = m.at("partitions").as_object().if_contains("order-created"))
        for (const auto& x : p->as_array())
          parts.insert(x.as_int64());
    }
    return out;
  }

  std::string tag_, me_;
  std::string ids_[2];
  std::filesystem::path dir_;
  std::unique_ptr<apps::child_process> nodes_[2];
  std::shared_ptr<bridges::kafka_publisher> producer_;
  std::shared_ptr<bridges::remote_requester> requester_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::actor proxy_;
};

TEST_F(RequestReply, TheOwnerAnswersItsDeathIsATimelyTimeoutAndTheSurvivorAnswersAfterTheRebalance) {
  // Given orders spread over both nodes' partitions, each answered by its owner
  auto first = order_ids("before", 12);
  write_orders(first);
  std::map<std::string, std::string> owner;  // order id -> node
  for (const auto& id : first) {
    answer a;
    ASSERT_TRUE(test::eventually([&] {
      a = ask(id);
      return a.replied && a.status == "ok";
    }, 60s)) << id << ": " << (a.replied ? a.status : runtime::describe(a.error));
    auto snap = bridges::decode_value("order_snapshot", a.body);
    ASSERT_TRUE(snap) << a.body;
    EXPECT_EQ(snap->get<actors::order_snapshot>().order_id, id);
    owner[id] = a.node;
  }
  std::set<std::string> owners;
  for (const auto& [id, node] : owner)
    owners.insert(node);
  ASSERT_EQ(owners.size(), 2u) << "12 keys should land on both nodes' partitions";
  // and `kastor ctl status` shows both nodes, each with half the partitions,
  // and the lag of every partition
  auto before = order_status();
  auto split = owned(before);
  ASSERT_EQ(split.size(), 2u) << boost::json::serialize(before);
  EXPECT_EQ(split[ids_[0]].size(), 3u);
  EXPECT_EQ(split[ids_[1]].size(), 3u);
  EXPECT_EQ(before.at("state"), "Stable");
  EXPECT_EQ(before.at("lag").as_object().at("order-created").as_object().size(), 6u);
  // and the requests topic's lag is its requests group's, which reads and
  // commits it (not the order group, which never does: a lag for ever)
  const auto requests = "rr" + tag_ + ".order-requests";
  EXPECT_TRUE(test::eventually([&] {
    auto s = order_status();
    if (s.empty() || !s.at("lag").as_object().contains(requests))
      return false;
    int64_t left = 0;
    for (const auto& [p, l] : s.at("lag").as_object().at(requests).as_object())
      left += l.as_int64();
    return left == 0;
  }, 30s)) << boost::json::serialize(order_status());
  // An unknown key is answered too: not found
  auto unknown = ask("rr-" + tag_ + "-nobody");
  EXPECT_TRUE(unknown.replied);
  EXPECT_EQ(unknown.status, "not_found");

  // When the owner of the first order is killed
  auto victim_id = owner[first[0]];
  int victim = victim_id == ids_[0] ? 0 : 1;
  EXPECT_EQ(nodes_[victim]->kill_now(), 128 + SIGKILL);
  auto killed_at = std::chrono::steady_clock::now();

  // Then a request for that order fails with a timeout at its 2 s deadline
  auto lost = ask(first[0]);
  EXPECT_FALSE(lost.replied) << "answered by " << lost.node;
  EXPECT_EQ(lost.error.category(), runtime::runtime_category);
  EXPECT_EQ(lost.error.code(), static_cast<uint8_t>(runtime::runtime_errc::timeout))
    << runtime::describe(lost.error);
  EXPECT_GE(lost.took, 1900ms);
  EXPECT_LE(lost.took, 4000ms) << "the deadline error came late";

  // And once the group rebalanced, the survivor answers for the moved key,
  // with the order as the dead owner left it (restored from order-state)
  auto survivor = ids_[1 - victim];
  answer after;
  EXPECT_TRUE(test::eventually([&] {
    after = ask(first[0]);
    return after.replied && after.status == "ok";
  }, 60s)) << "no answer after the rebalance: " << after.status << "; logs in " << dir_;
  EXPECT_EQ(after.node, survivor);
  for (const auto& id : first) {  // every order of both nodes is the survivor's now
    auto a = ask(id);
    EXPECT_EQ(a.status, "ok") << id;
    EXPECT_EQ(a.node, survivor) << id;
    auto snap = bridges::decode_value("order_snapshot", a.body);
    ASSERT_TRUE(snap) << a.body;
    EXPECT_EQ(snap->get<actors::order_snapshot>().total_cents, 1234) << id;
  }
  // (status: the survivor owns every partition now)
  EXPECT_TRUE(test::eventually([&] {
    auto now = owned(order_status());
    return now.size() == 1 && now.count(survivor) && now[survivor].size() == 6;
  }, 30s));
  std::printf("request/reply: owner killed -> timeout after %lld ms (deadline 2000 ms); the survivor "
              "answered %lld ms after the kill\n",
              static_cast<long long>(lost.took.count()),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - killed_at).count()));
  // and for new orders, whichever partition their key has
  auto second = order_ids("after", 12);
  write_orders(second);
  for (const auto& id : second) {
    answer a;
    EXPECT_TRUE(test::eventually([&] {
      a = ask(id);
      return a.replied && a.status == "ok";
    }, 60s)) << id;
    EXPECT_EQ(a.node, survivor);
  }
}

}  // namespace
