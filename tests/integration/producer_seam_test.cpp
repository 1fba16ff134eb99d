// The publisher's librdkafka calls go through a seam (bridges/internal/
// producer_calls.hpp); a wrapper fails chosen calls, and the publisher must
// answer each batch exactly once with the right failure class.
#include <atomic>
#include <future>
#include <string>

#include <gtest/gtest.h>

#include "kastor/actors/messages.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/bridges/producer_calls.hpp"
#include "kastor/runtime/errors.hpp"
#include "support/kafka.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

// librdkafka's calls, but the next `fail_left` produce() calls fail with
// `error`, and commit_transaction fails once with a timeout if told to.
struct failing_producer : bridges::producer_calls {
  rd_kafka_resp_err_t produce(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                              const std::string& key, const std::string& value,
                              rd_kafka_headers_t* headers, void* opaque) override {
    ++produced;
    if (fail_left > 0) {
      --fail_left;
      return error;
    }
    return producer_calls::produce(rk, topic, partition, key, value, headers, opaque);
  }
  rd_kafka_error_t* commit_transaction(rd_kafka_t* rk, int timeout_ms) override {
    if (fail_commit.exchange(false))
      return rd_kafka_error_new(RD_KAFKA_RESP_ERR__TIMED_OUT, "injected: commit timed out");
    return producer_calls::commit_transaction(rk, timeout_ms);
  }
  std::atomic<int> fail_left{0};
  std::atomic<int> produced{0};
  std::atomic<bool> fail_commit{false};
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
};

struct ProducerSeam : ::testing::Test {
  void SetUp() override {
    auto m = bridges::mock_cluster::start(1);
    ASSERT_TRUE(m);
    mock = std::move(*m);
    ASSERT_FALSE(mock->create_topic({"payment-requests", 3, 1, false}));
  }
  std::shared_ptr<bridges::kafka_publisher> publisher(std::string txn_id = "") {
    bridges::producer_options po;
    po.brokers = mock->bootstrap();
    po.calls = calls;
    po.transactional_id = std::move(txn_id);
    auto p = bridges::kafka_publisher::make(po);
    EXPECT_TRUE(p);
    return p ? *p : nullptr;
  }
  // Publishes three requests; the batch's one outcome.
  runtime::publish_outcome publish_three(bridges::kafka_publisher& p) {
    std::vector<runtime::message> batch;
    for (int i = 0; i < 3; ++i)
      batch.push_back(actors::payment_request{"o-" + std::to_string(i), "c", 100});
    std::atomic<int> answers{0};
    std::promise<runtime::publish_outcome> done;
    p.publish(std::move(batch), nullptr, [&](const runtime::publish_outcome& o) {
      if (answers++ == 0)
        done.set_value(o);
    });
    auto outcome = done.get_future().get();
    p.stop(5s);  // every delivery report is in: a second answer would show now
    EXPECT_EQ(answers.load(), 1);
    return outcome;
  }

  std::unique_ptr<bridges::mock_cluster> mock;
  std::shared_ptr<failing_producer> calls = std::make_shared<failing_producer>();
};

TEST_F(ProducerSeam, ARecordThatCanNeverBeWrittenFailsItsBatchOnceAndNotRetriably) {
  calls->fail_left = 1;
  auto p = publisher();
  ASSERT_TRUE(p);
  auto o = publish_three(*p);
  EXPECT_FALSE(o.ok());
  EXPECT_FALSE(o.retriable);
  EXPECT_NE(o.error.find("payment-requests"), std::string::npos) << o.error;
  EXPECT_EQ(p->failed(), 1u);
  EXPECT_EQ(p->delivered(), 2u);  // the others went out
}

TEST_F(ProducerSeam, AFullQueueIsWaitedOutNotFailed) {
  calls->error = RD_KAFKA_RESP_ERR__QUEUE_FULL;
  calls->fail_left = 3;
  auto p = publisher();
  ASSERT_TRUE(p);
  auto o = publish_three(*p);
  EXPECT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(calls->produced.load(), 6);  // three refusals, then the three records
  EXPECT_EQ(p->delivered(), 3u);
}

TEST_F(ProducerSeam, ACommitThatTimedOutIsRetriableItsOutcomeUnknown) {
  auto p = publisher("seam-txn");
  ASSERT_TRUE(p);
  ASSERT_FALSE(p->init_transactions(10s));
  ASSERT_FALSE(p->begin_transaction());
  calls->fail_commit = true;
  auto err = p->commit_transaction(nullptr, nullptr, 10s);
  ASSERT_TRUE(err);
  EXPECT_EQ(err.category(), runtime::bridge_category);
  EXPECT_EQ(err.code(), static_cast<uint8_t>(runtime::bridge_errc::kafka_retriable));
  EXPECT_NE(runtime::describe(err).find("commit timed out"), std::string::npos);
  // Not fatal: the same transaction can still be committed.
  EXPECT_FALSE(p->commit_transaction(nullptr, nullptr, 10s));
  p->stop(5s);
}

}  // namespace
