// The partition tracker without a broker: what the mailbox integration tests
// prove on the mock cluster, as records in and decisions out — prefix
// commits, quarantine order, redelivery after a crash, what a hand-off may
// commit.
#include "kastor/bridges/partition_tracker.hpp"

#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kastor/actors/messages.hpp"

namespace kastor::bridges {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

struct no_extra {};
using tracker = partition_tracker<no_extra>;
using clock = tracker::clock;

class PartitionTracker : public ::testing::Test {
protected:
  // Takes `offset` with `key` as a live record.
  tracker::record& take(int64_t offset, const std::string& key) {
    auto& r = t.take(offset);
    r.meta.topic = "payment-requests";
    r.meta.partition = 0;
    r.meta.offset = offset;
    r.meta.key = key;
    r.message = runtime::message{actors::payment_request{}};
    return r;
  }
  static std::vector<int64_t> offsets(const std::vector<tracker::record*>& rs) {
    std::vector<int64_t> out;
    for (auto* r : rs)
      out.push_back(r->meta.offset);
    return out;
  }
  // Rebind after the actor died, with these failure counts.
  tracker::rebind_plan died(std::map<int64_t, int> failures, int max_attempts = 3) {
    return t.rebind([failures](int64_t o) { return failures.count(o) ? failures.at(o) : 0; },
                    max_attempts, now, [](int n) { return std::chrono::milliseconds{100 * n}; },
                    true);
  }

  tracker t;
  clock::time_point now = clock::now();
};

TEST_F(PartitionTracker, CommitsOnlyTheFinishedPrefix) {
  EXPECT_EQ(t.commit_position(), std::nullopt);  // nothing taken yet
  for (int64_t o = 10; o < 15; ++o)
    take(o, "k" + std::to_string(o));
  EXPECT_EQ(t.commit_position(), 10);
  t.finish(12);
  t.finish(13);
  EXPECT_EQ(t.commit_position(), std::nullopt);  // 10 still open: nothing new
  t.finish(10);
  EXPECT_EQ(t.commit_position(), 11);
  t.finish(11);
  t.finish(14);
  EXPECT_EQ(t.commit_position(), 15);  // one past the last taken
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.finish(14));  // finished twice: nothing happens
}

TEST_F(PartitionTracker, RecordsPassedWithoutKeepingThemMoveThePosition) {
  take(3, "a");
  t.passed(4);  // e.g. a request, answered at once
  t.finish(3);
  EXPECT_EQ(t.commit_position(), 5);
  EXPECT_EQ(t.next_offset(), 5);
}

TEST_F(PartitionTracker, ACrashRedeliversEverythingUnfinishedInOrder) {
  take(1, "a");
  take(2, "b");
  take(3, "c");
  t.finish(2);
  auto plan = died({});  // the actor died, but not on any of these
  EXPECT_THAT(offsets(plan.redeliver), ElementsAre(1, 3));
  EXPECT_THAT(plan.dead_letter, IsEmpty());
  EXPECT_EQ(t.parked(), 0u);
}

TEST_F(PartitionTracker, AFailingRecordParksItsKeyAndTheOtherKeysFlow) {
  take(1, "a");
  take(2, "b");
  take(3, "a");  // behind the failing one
  auto plan = died({{1, 1}});
  EXPECT_TRUE(t.is_parked("a"));
  EXPECT_THAT(offsets(plan.redeliver), ElementsAre(2));  // a's records wait
  EXPECT_FALSE(t.deliverable(*t.find(3)));
  EXPECT_TRUE(t.deliverable(*t.find(2)));
  // Its backoff (100 ms after one failure) has not passed...
  EXPECT_THAT(offsets(t.due(now + 50ms)), IsEmpty());
  // ...now it has: the head goes out again, once, with attempt + 1.
  auto due = t.due(now + 150ms);
  ASSERT_THAT(offsets(due), ElementsAre(1));
  EXPECT_EQ(due[0]->meta.attempt, 2);
  EXPECT_THAT(offsets(t.due(now + 10s)), IsEmpty());
  // The head succeeds: the key is released and what waited goes out, in order.
  take(4, "a");
  std::vector<tracker::record*> released;
  EXPECT_TRUE(t.finish(1, &released));
  EXPECT_FALSE(t.is_parked("a"));
  EXPECT_THAT(offsets(released), ElementsAre(3, 4));
}

TEST_F(PartitionTracker, AHeadThatFailsAgainWaitsLonger) {
  take(1, "a");
  died({{1, 1}});
  ASSERT_THAT(offsets(t.due(now + 100ms)), ElementsAre(1));
  now += 100ms;
  died({{1, 2}});  // it failed again: 200 ms from now
  EXPECT_THAT(offsets(t.due(now + 150ms)), IsEmpty());
  EXPECT_THAT(offsets(t.due(now + 200ms)), ElementsAre(1));
}

TEST_F(PartitionTracker, AnEarlierFailingRecordOfTheKeyLeads) {
  take(1, "a");
  take(2, "a");
  died({{2, 1}});
  EXPECT_THAT(offsets(t.due(now + 1s)), ElementsAre(2));
  // 1 failed too (it was redelivered and its actor died on it): it leads now.
  auto plan = died({{1, 1}, {2, 1}});
  EXPECT_THAT(offsets(plan.redeliver), IsEmpty());
  EXPECT_THAT(offsets(t.due(now + 1s)), ElementsAre(1));
}

TEST_F(PartitionTracker, PastMaxAttemptsTheKeysRecordsAreDeadLetteredInOrder) {
  take(1, "a");
  take(2, "b");
  take(3, "a");
  take(4, "a");
  auto plan = died({{1, 3}}, 3);
  ASSERT_THAT(plan.dead_letter, ElementsAre("a"));
  EXPECT_THAT(offsets(plan.redeliver), ElementsAre(2));
  auto metas = t.dead_letter_key("a");
  std::vector<int64_t> order;
  for (const auto& m : metas)
    order.push_back(m.offset);
  EXPECT_THAT(order, ElementsAre(1, 3, 4));  // the head first
  EXPECT_FALSE(t.is_parked("a"));
  EXPECT_THAT(t.dead_letter_key("a"), IsEmpty());  // released already
}

TEST_F(PartitionTracker, RecordsWithoutAKeyAreParkedAlone) {
  take(1, "");
  take(2, "");
  auto plan = died({{1, 1}});
  EXPECT_TRUE(t.is_parked("@1"));
  EXPECT_THAT(offsets(plan.redeliver), ElementsAre(2));
}

TEST_F(PartitionTracker, AFirstBindParksNothing) {
  take(1, "a");
  auto plan = t.rebind([](int64_t) { return 4; }, 3, now,
                       [](int) { return std::chrono::milliseconds{1}; }, false);
  EXPECT_THAT(offsets(plan.redeliver), ElementsAre(1));
  EXPECT_EQ(t.parked(), 0u);
}

TEST_F(PartitionTracker, AHeadLostWithItsIncarnationGoesOutAgain) {
  take(1, "a");
  died({{1, 1}});
  ASSERT_THAT(offsets(t.due(now + 1s)), ElementsAre(1));
  t.heads_lost();  // e.g. a stall: what was handed out may never come back
  EXPECT_THAT(offsets(t.due(now + 1s)), ElementsAre(1));
}

TEST_F(PartitionTracker, AHandOffCommitsUpToTheFirstUnfinishedRecord) {
  // Revoked while 21 is still running: the next owner gets 21 and 22 again,
  // 20 is not handled twice.
  take(20, "a");
  take(21, "b");
  take(22, "c");
  t.finish(20);
  t.finish(22);
  EXPECT_EQ(t.commit_position(), 21);
}

TEST_F(PartitionTracker, ARecordBeingDeadLetteredIsNotHandedOut) {
  auto& r = take(1, "a");
  r.message.reset();  // its copy is on the way to the DLQ
  EXPECT_FALSE(t.deliverable(r));
  EXPECT_THAT(offsets(died({{1, 5}}).redeliver), IsEmpty());
  EXPECT_EQ(t.parked(), 0u);
  EXPECT_EQ(t.commit_position(), 1);  // and the offset waits for its copy
}

TEST_F(PartitionTracker, AHandlerFailureParksItsKeyAloneAndRetriesItAfterABackoff) {
  // Given records of keys a, b, a; the handler fails on a's first
  take(0, "a");
  take(1, "b");
  take(2, "a");
  bool parked = false;
  auto delay = [](int n) { return std::chrono::milliseconds{100 * n}; };
  EXPECT_EQ(t.fail(0, 1, 3, now, delay, &parked), tracker::failure_plan::retry);
  // Then key a waits (both its records), b flows
  EXPECT_TRUE(parked);
  EXPECT_TRUE(t.is_parked("a"));
  EXPECT_FALSE(t.deliverable(*t.find(2)));
  EXPECT_TRUE(t.deliverable(*t.find(1)));
  // and the head goes out again once its backoff passed, with attempt + 1
  EXPECT_THAT(t.due(now + 50ms), IsEmpty());
  auto again = t.due(now + 100ms);
  ASSERT_THAT(offsets(again), ElementsAre(0));
  EXPECT_EQ(again[0]->meta.attempt, 2);
  // When it succeeds, the key is released with its waiting record
  std::vector<tracker::record*> released;
  EXPECT_TRUE(t.finish(0, &released));
  EXPECT_THAT(offsets(released), ElementsAre(2));
  EXPECT_FALSE(t.is_parked("a"));
}

TEST_F(PartitionTracker, AHandlerFailingMaxAttemptsTimesDeadLettersItsKeyOnly) {
  take(0, "a");
  take(1, "b");
  take(2, "a");
  auto delay = [](int) { return 0ms; };
  EXPECT_EQ(t.fail(0, 1, 2, now, delay), tracker::failure_plan::retry);
  EXPECT_EQ(t.fail(0, 2, 2, now, delay), tracker::failure_plan::dead_letter);
  std::vector<int64_t> dead;
  for (const auto& m : t.dead_letter_key("a"))
    dead.push_back(m.offset);
  EXPECT_THAT(dead, ElementsAre(0, 2));
  EXPECT_FALSE(t.is_parked("a"));
  EXPECT_TRUE(t.deliverable(*t.find(1)));
  // A failure reported for a record no longer in flight changes nothing.
  EXPECT_EQ(t.fail(7, 1, 2, now, delay), tracker::failure_plan::ignored);
}

}  // namespace
}  // namespace kastor::bridges
