// Issue 22: what a node's /metrics and /api/status read off its mailboxes.
#include <gtest/gtest.h>

#include "kastor/bridges/kafka_statistics.hpp"
#include "kastor/bridges/mailbox_stats.hpp"

namespace kastor::bridges {
namespace {

partition_stats at(int64_t committed, int64_t position, int64_t low, int64_t high,
                   size_t in_flight = 0) {
  partition_stats p;
  p.committed = committed;
  p.position = position;
  p.low_watermark = low;
  p.high_watermark = high;
  p.in_flight = in_flight;
  return p;
}

TEST(PartitionStats, LagIsTheHighWatermarkLessTheCommittedOffset) {
  EXPECT_EQ(at(40, 50, 0, 100, 10).lag(), 60);  // 10 in flight, 50 not fetched
  EXPECT_EQ(at(100, 100, 0, 100).lag(), 0);
  // Unknown until the watermarks are fetched
  EXPECT_EQ(at(40, 50, -1, -1, 10).lag(), -1);
  // Before any commit (and for a view, which commits nothing): from the position
  EXPECT_EQ(at(-1, 30, 0, 100, 1).lag(), 70);
  // Nothing committed or read since the assignment: unknown (the group may
  // stand anywhere), unless the partition holds nothing to read
  EXPECT_EQ(at(-1, -1, 20, 100).lag(), -1);
  EXPECT_EQ(at(-1, -1, 100, 100).lag(), 0);
  EXPECT_EQ(at(-1, -1, -1, -1).lag(), -1);
}

TEST(PartitionStats, NothingInFlightMeansNoLagUpToThePosition) {
  // A transaction's marker after the last record: the committed offset is
  // one past the last record, the position past the marker
  EXPECT_EQ(at(99, 100, 0, 100).lag(), 0);
  // With a record in flight the committed offset stands
  EXPECT_EQ(at(99, 100, 0, 100, 1).lag(), 1);
}

TEST(MailboxStats, AddCountersSumsTheCountersAndTheReasons) {
  mailbox_stats a;
  a.finished = 3;
  a.dead_letter_reasons = {{"rejected", 1}};
  a.longest_handoff_ms = 20;
  a.in_flight = 7;  // not a counter: the current mailbox's
  mailbox_stats b;
  b.finished = 2;
  b.dead_letter_reasons = {{"rejected", 2}, {"malformed_json", 1}};
  b.longest_handoff_ms = 50;
  b.in_flight = 9;
  a.add_counters(b);
  EXPECT_EQ(a.finished, 5u);
  EXPECT_EQ(a.dead_letter_reasons.at("rejected"), 3u);
  EXPECT_EQ(a.dead_letter_reasons.at("malformed_json"), 1u);
  EXPECT_EQ(a.longest_handoff_ms, 50);
  EXPECT_EQ(a.in_flight, 7u);
}

// librdkafka's statistics document (the fields kastor reads of it).
TEST(KafkaStatistics, ADocumentIsReadPerClientAndAgesOut) {
  const std::string doc = R"({"name":"n-1-order#consumer-3","client_id":"n-1-order",
    "type":"consumer","msg_cnt":4,"msg_size":800,
    "brokers":{"127.0.0.1:9092/bootstrap":{"nodeid":-1,"rtt":{"avg":0,"p99":0}},
               "127.0.0.1:9092/1":{"nodeid":1,"outbuf_cnt":2,"waitresp_cnt":1,
                                   "rtt":{"avg":1500,"p99":9000}}}})";
  ASSERT_TRUE(record_statistics(doc));
  EXPECT_FALSE(record_statistics("not json"));
  EXPECT_FALSE(record_statistics(R"({"name":1})"));
  auto all = recent_statistics(std::chrono::seconds{60});
  const client_statistics* c = nullptr;
  for (const auto& s : all)
    if (s.client == "n-1-order#consumer-3")
      c = &s;
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->type, "consumer");
  EXPECT_EQ(c->queue_messages, 4);
  EXPECT_EQ(c->queue_bytes, 800);
  ASSERT_EQ(c->brokers.size(), 1u);  // the bootstrap entry is no broker
  EXPECT_EQ(c->brokers[0].broker, "127.0.0.1:9092/1");
  EXPECT_DOUBLE_EQ(c->brokers[0].rtt_avg_seconds, 0.0015);
  EXPECT_DOUBLE_EQ(c->brokers[0].rtt_p99_seconds, 0.009);
  EXPECT_EQ(c->brokers[0].requests_queued, 2);
  EXPECT_EQ(c->brokers[0].requests_waiting, 1);
  // A client that stopped reporting ages out (here: at once)
  for (const auto& s : recent_statistics(std::chrono::milliseconds{0}))
    EXPECT_NE(s.client, "n-1-order#consumer-3");
}

}  // namespace
}  // namespace kastor::bridges
