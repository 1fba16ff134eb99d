// On librdkafka's mock cluster: the exactly-once mailbox's error paths. The
// mock does not filter aborted records for read_committed readers, so
// exactly-once itself is proven on the real broker (tests/system); here the
// broker fails transactional requests on purpose and a copy stage must go on
// and copy everything: an abortable error aborts and redoes the transaction,
// a fenced producer restarts the bridge through its supervisor.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "kastor/actors/roles.hpp"
#include "kastor/apps/node.hpp"
#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/runtime/errors.hpp"
#include "support/kafka.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

// Kafka API keys (the protocol's numbers).
constexpr int16_t api_add_partitions_to_txn = 24;
constexpr int16_t api_end_txn = 26;

class ExactlyOnceErrors : public ::testing::Test {
protected:
  void SetUp() override {
    auto m = bridges::mock_cluster::start(1);
    ASSERT_TRUE(m);
    mock_ = std::move(*m);
    for (const auto* t : {"in", "in.dlq", "out"})
      ASSERT_FALSE(mock_->create_topic({t, 3, 1, false}));
    dir_ = std::filesystem::temp_directory_path()
           / ("kastor-eos-errors-" + std::to_string(getpid()));
    runtime::config_layers l;
    for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"roles", "copy"}, {"copy.from", "in"}, {"copy.to", "out"}, {"exactly-once", "copy"},
           {"supervisor.backoff-max-ms", "50"}, {"log.level", "warn"}, {"ops.http", "off"}})
      l[k] = {v, "test"};
    auto cfg = runtime::make_config(l, actors::shop_app());
    ASSERT_TRUE(cfg) << runtime::describe(cfg.error());
    cfg->brokers = mock_->bootstrap();
    cfg->data_dir = dir_.string();
    cfg->session_timeout_ms = 6000;
    cfg->fetch_wait_max_ms = 5;
    auto n = apps::node::start(*cfg);
    ASSERT_TRUE(n) << runtime::describe(n.error());
    node_ = std::move(*n);
    ASSERT_TRUE(test::eventually([&] { return node_->ready(); }, 60s));
    bridges::producer_options po;
    po.brokers = mock_->bootstrap();
    po.topic = "in";
    auto input = bridges::kafka_publisher::make(po);
    ASSERT_TRUE(input);
    input_ = *input;
  }

  void TearDown() override {
    if (node_)
      node_->stop();
    node_.reset();
    input_.reset();
    mock_.reset();
    std::filesystem::remove_all(dir_);
  }

  void write(int first, int n) {
    std::atomic<int> acked{0};
    for (int i = first; i < first + n; ++i) {
      actors::order_created o;
      o.order_id = "eos-" + std::to_string(i);
      o.customer_id = "c1";
      o.total_cents = 500;
      o.items = {{"p1", "thing", 500, 1, 500}};
      input_->publish({o}, nullptr, [&](const runtime::publish_outcome& r) {
        if (r.ok())
          ++acked;
      });
    }
    ASSERT_TRUE(test::eventually([&] { return acked.load() == n; }, 30s));
  }

  // Distinct keys copied to `out` (the mock shows aborted records too).
  size_t copied() {
    std::set<std::string> keys;
    for (const auto& r : test::read_topic(mock_->bootstrap(), "out", 3, 100000, 1s))
      keys.insert(r.key);
    return keys.size();
  }

  bridges::mailbox_stats copy_stats() const {
    for (const auto& [role, s] : node_->mailboxes())
      if (role == "copy")
        return s;
    return {};
  }

  std::unique_ptr<bridges::mock_cluster> mock_;
  std::filesystem::path dir_;
  std::unique_ptr<apps::node> node_;
  std::shared_ptr<bridges::kafka_publisher> input_;
};

TEST_F(ExactlyOnceErrors, AnAbortableErrorAbortsTheTransactionAndItsRecordsAreCopiedAgain) {
  // Given a stage that copies and commits
  write(0, 30);
  ASSERT_TRUE(test::eventually([&] { return copied() == 30; }, 30s));
  ASSERT_TRUE(test::eventually([&] { return copy_stats().transactions > 0; }, 10s));
  // When the broker refuses to add a partition to the next transaction
  mock_->push_request_errors(api_add_partitions_to_txn,
                             {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED});
  write(30, 30);
  // Then that transaction is aborted and redone: every record is copied
  EXPECT_TRUE(test::eventually([&] { return copied() == 60; }, 30s)) << copied();
  EXPECT_GE(copy_stats().aborts, 1u);
  EXPECT_TRUE(test::eventually([&] { return copy_stats().in_flight == 0; }, 10s));
}

TEST_F(ExactlyOnceErrors, AFencedProducerRestartsTheBridgeThroughItsSupervisor) {
  write(0, 20);
  ASSERT_TRUE(test::eventually([&] { return copied() == 20; }, 30s));
  // When committing reports that a newer producer fenced this one
  mock_->push_request_errors(api_end_txn, {RD_KAFKA_RESP_ERR_PRODUCER_FENCED});
  write(20, 20);
  // Then the bridge exits with the Kafka error, is restarted, and the new
  // consumer and producer copy the rest
  EXPECT_TRUE(test::eventually([&] {
    auto r = node_->supervision()->restarts();
    return r.count("root/copy/bridge") > 0 && r["root/copy/bridge"] > 0;
  }, 30s));
  EXPECT_NE(node_->supervision()->last_exit_reason("root/copy/bridge").find("kafka_fatal"),
            std::string::npos)
    << node_->supervision()->last_exit_reason("root/copy/bridge");
  EXPECT_TRUE(test::eventually([&] { return copied() == 40; }, 60s)) << copied();
}

}  // namespace

TEST_F(ExactlyOnceErrors, TheCopyStagePassesAnyRecordOnByteForByte) {
  // Given records that are no declared message: binary values, foreign
  // headers, one without a key
  const std::string binary{"\x00\x01\xff not json {", 16};
  std::atomic<int> acked{0};
  auto done = [&](const runtime::publish_outcome& r) {
    if (r.ok())
      ++acked;
  };
  input_->produce("in", "k-1", binary, {{"trace", "t-1"}, {"app", "bank"}}, done);
  input_->produce("in", "k-2", "plain text", {}, done);
  input_->produce("in", "", "no key", {{"x", ""}}, done);
  ASSERT_TRUE(test::eventually([&] { return acked.load() == 3; }, 30s));
  // When the stage copies them, then each arrives as it was written
  std::vector<test::kafka_record> out;
  ASSERT_TRUE(test::eventually([&] {
    out = test::read_topic(mock_->bootstrap(), "out", 3, 3, 1s);
    return out.size() >= 3;
  }, 30s)) << out.size();
  std::map<std::string, test::kafka_record> by_value;
  for (const auto& r : out)
    by_value[r.value] = r;
  ASSERT_EQ(by_value.count(binary), 1u);
  EXPECT_EQ(by_value[binary].key, "k-1");
  EXPECT_EQ(by_value[binary].headers,
            (std::map<std::string, std::string>{{"trace", "t-1"}, {"app", "bank"}}));
  EXPECT_EQ(by_value["plain text"].key, "k-2");
  EXPECT_TRUE(by_value["plain text"].headers.empty());
  EXPECT_EQ(by_value["no key"].key, "");
  EXPECT_EQ(by_value["no key"].headers, (std::map<std::string, std::string>{{"x", ""}}));
  EXPECT_EQ(copy_stats().dead_lettered, 0u);
}
