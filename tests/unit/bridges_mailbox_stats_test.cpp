// Issue 22: what a node's /metrics and /api/status read off its mailboxes.
#include <gtest/gtest.h>

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
  // Before any commit (and for a view, which commits nothing): from the position...
  EXPECT_EQ(at(-1, 30, 0, 100, 1).lag(), 70);
  // ...or, before any fetch, from the partition's start
  EXPECT_EQ(at(-1, -1, 20, 100).lag(), 80);
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

}  // namespace
}  // namespace kastor::bridges
