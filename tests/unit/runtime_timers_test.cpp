// Durable timers without Kafka: an entity schedules, replaces and cancels
// timers through its outputs; the book fires them when due, once per timer
// (a copy of a fired timer is dropped), writes them with the snapshot,
// restores them with it, drops them with the partition, and fires what a
// cluster that was down missed once each, a tick's worth at a time.
#include "kastor/runtime/timers.hpp"

#include <stdexcept>
#include <string>

#include <boost/describe/class.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kastor/runtime/entity.hpp"
#include "kastor/runtime/role.hpp"

namespace seats {

struct hold {
  std::string seat;
  int64_t for_ms = 0;
};
BOOST_DESCRIBE_STRUCT(hold, (), (seat, for_ms))

struct pay {
  std::string seat;
};
BOOST_DESCRIBE_STRUCT(pay, (), (seat))

struct hold_expired {
  std::string seat;
};
BOOST_DESCRIBE_STRUCT(hold_expired, (), (seat))

struct seat_state {
  std::string seat;
  std::string status;  // held, sold, free
  int expiries = 0;
};
BOOST_DESCRIBE_STRUCT(seat_state, (), (seat, status, expiries))

struct other_seat {  // a type the seat entity does not consume
  std::string seat;
};
BOOST_DESCRIBE_STRUCT(other_seat, (), (seat))

void declare() {
  using kastor::runtime::declare;
  declare<hold>({.name = "test.hold", .topic = "test-holds", .key = &hold::seat});
  declare<pay>({.name = "test.pay", .topic = "test-pays", .key = &pay::seat});
  declare<hold_expired>(
    {.name = "test.hold_expired", .topic = "test-holds", .key = &hold_expired::seat});
  declare<other_seat>({.name = "test.other_seat", .topic = "test-others", .key = &other_seat::seat});
  declare<seat_state>({.name = "test.seat_state", .topic = "test-seats", .key = &seat_state::seat,
                       .compacted = true, .follows_cause = true});
}

using kastor::runtime::outputs;
using kastor::runtime::record_meta;

// A hold expires unless paid.
struct seat {
  using snapshot_type = seat_state;
  explicit seat(const std::string& id) { s.seat = id; }
  explicit seat(const seat_state& restored) : s(restored) {}
  seat_state snapshot() const { return s; }
  outputs handle(const record_meta&, const hold& h, int64_t) {
    s.status = "held";
    if (h.for_ms < 0)  // a bug: a timer to another key
      return {kastor::runtime::timer_after("expiry", std::chrono::milliseconds{1},
                                           hold_expired{"elsewhere"})};
    if (h.for_ms == 1)  // a bug: a type it does not consume
      return {kastor::runtime::timer_after("expiry", std::chrono::milliseconds{1},
                                           other_seat{s.seat})};
    return {kastor::runtime::timer_after("expiry", std::chrono::milliseconds{h.for_ms},
                                         hold_expired{s.seat})};
  }
  outputs handle(const record_meta&, const pay&, int64_t) {
    s.status = "sold";
    return {kastor::runtime::cancel_timer("expiry")};
  }
  outputs handle(const record_meta&, const hold_expired&, int64_t) {
    if (fail_expiries > 0) {
      --fail_expiries;
      throw std::runtime_error("the box office is down");
    }
    ++s.expiries;
    s.status = "free";
    return {};
  }
  seat_state s;
  static inline int fail_expiries = 0;
};

}  // namespace seats

namespace kastor::runtime {
namespace {

using seats::hold;
using seats::hold_expired;
using seats::pay;
using seats::seat;
using seats::seat_state;

class Timers : public ::testing::Test {
protected:
  void SetUp() override {
    seats::declare();
    auto spec = entity<seat>("seats").consumes<hold, pay, hold_expired>().spec();
    store = spec.store;
    book = &dynamic_cast<entity_book<seat>&>(*store);
  }

  static record_meta at(int32_t partition, int64_t offset = 0, std::string timer = {}) {
    record_meta m;
    m.topic = "test-holds";
    m.partition = partition;
    m.offset = offset;
    m.timer = std::move(timer);
    return m;
  }
  // The tag a fired message carries (what decode_record puts in meta.timer).
  static std::string tag(const message& fired) {
    const auto* h = find_header(fired.notes(), timer_tag_header);
    return h ? h->value : "";
  }
  static std::string timers_of(const message& snapshot) {
    const auto* h = find_header(snapshot.notes(), timers_header);
    return h ? h->value : "";
  }

  std::shared_ptr<entity_store> store;
  entity_book<seat>* book = nullptr;
};

TEST_F(Timers, ATimerFiresWhenDueAndItsMessageIsHandledOnce) {
  // Given a hold of 1 s at t=1000
  auto out = book->handle(at(0), hold{"A1", 1000}, 1000);
  ASSERT_EQ(out.size(), 1u);  // the snapshot only: the timer is no output
  EXPECT_FALSE(timers_of(out[0]).empty());  // and is written with the snapshot
  // Then nothing is due before 2000, and at 2000 the expiry fires, tagged
  EXPECT_TRUE(book->due_timers(1999, 10).empty());
  auto fired = book->due_timers(2000, 10);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].get<hold_expired>().seat, "A1");
  EXPECT_EQ(fired[0].key(), "A1");
  // and not again while it is on its way
  EXPECT_TRUE(book->due_timers(2500, 10).empty());
  // When the fired record comes in, it is handled, and the timer is gone
  auto handled = book->handle(at(0, 5, tag(fired[0])), fired[0].get<hold_expired>(), 2010);
  ASSERT_EQ(handled.size(), 1u);
  EXPECT_EQ(handled[0].get<seat_state>().status, "free");
  EXPECT_TRUE(timers_of(handled[0]).empty());
  EXPECT_EQ(book->timers().size(), 0u);
  // And a second copy of it (fired again elsewhere) is dropped: no turn
  EXPECT_TRUE(book->handle(at(0, 9, tag(fired[0])), hold_expired{"A1"}, 2020).empty());
  EXPECT_EQ(book->find("A1")->expiries, 1);
  // while the same record handed out again (its outputs failed) is handled again
  EXPECT_EQ(book->handle(at(0, 5, tag(fired[0])), hold_expired{"A1"}, 2030).size(), 1u);
}

TEST_F(Timers, ATimersRecordWhoseHandlerThrewIsTriedAgainAndTheTimerDoesNotFireAnew) {
  book->handle(at(0), hold{"A1", 1000}, 1000);
  auto fired = book->due_timers(2000, 10);
  ASSERT_EQ(fired.size(), 1u);
  // When its handler throws
  seat::fail_expiries = 1;
  EXPECT_THROW(book->handle(at(0, 5, tag(fired[0])), hold_expired{"A1"}, 2001),
               std::runtime_error);
  // Then the timer does not fire again (no copy 30 s on), and the record
  // tried again (attempt 2) is handled once
  EXPECT_TRUE(book->due_timers(100000, 10).empty());
  auto again = at(0, 5, tag(fired[0]));
  again.attempt = 2;
  ASSERT_EQ(book->handle(again, hold_expired{"A1"}, 2002).size(), 1u);
  EXPECT_EQ(book->find("A1")->expiries, 1);
  EXPECT_TRUE(timers_of(book->handle(at(0), pay{"A1"}, 2003).back()).empty());
}

TEST_F(Timers, AnEarlierTimersRecordHandedOutAgainAfterALaterOneIsStillHandled) {
  // Timers a and b of one key fire and are handled, then a's record comes again
  book->handle(at(0), hold{"A1", 1000}, 1000);
  auto a = book->due_timers(2000, 10);
  book->handle(at(0, 5, tag(a[0])), hold_expired{"A1"}, 2001);
  book->handle(at(0), hold{"A1", 1000}, 2002);
  auto b = book->due_timers(3002, 10);
  ASSERT_EQ(b.size(), 1u);
  book->handle(at(0, 8, tag(b[0])), hold_expired{"A1"}, 3003);
  auto redelivered = at(0, 5, tag(a[0]));
  redelivered.attempt = 2;
  EXPECT_EQ(book->handle(redelivered, hold_expired{"A1"}, 3004).size(), 1u);
}

TEST_F(Timers, ACancelledOrReplacedTimerNeverFiresItsOldCopy) {
  book->handle(at(0), hold{"A1", 1000}, 1000);
  auto first = book->due_timers(2000, 10);
  ASSERT_EQ(first.size(), 1u);
  // A new hold replaces the timer before the fired copy came in
  book->handle(at(0), hold{"A1", 5000}, 2001);
  EXPECT_TRUE(book->handle(at(0, 7, tag(first[0])), hold_expired{"A1"}, 2002).empty());
  EXPECT_EQ(book->find("A1")->status, "held");
  // Paid: the replacing timer is cancelled and never fires
  book->handle(at(0), pay{"A1"}, 3000);
  EXPECT_TRUE(book->due_timers(100000, 10).empty());
  EXPECT_EQ(book->find("A1")->status, "sold");
}

TEST_F(Timers, TimersAreRestoredWithTheSnapshotAndGoWithThePartition) {
  // Given a node that scheduled a hold and wrote its snapshot
  auto snapshot = book->handle(at(3), hold{"B7", 1000}, 1000).back();
  // When another node adopts the partition from the changelog
  auto spec = entity<seat>("seats").consumes<hold, pay, hold_expired>().spec();
  auto& other = dynamic_cast<entity_book<seat>&>(*spec.store);
  other.adopt(3, {snapshot}, 77);
  // Then the timer fires there when due (late, never lost)
  auto fired = other.due_timers(5000, 10);
  ASSERT_EQ(fired.size(), 1u);
  // and the copy the first node fired too is handled once only
  auto first_copy = book->due_timers(5000, 10);
  ASSERT_EQ(first_copy.size(), 1u);
  EXPECT_EQ(tag(first_copy[0]), tag(fired[0]));
  EXPECT_EQ(other.handle(at(3, 1, tag(fired[0])), hold_expired{"B7"}, 5001).size(), 1u);
  EXPECT_TRUE(other.handle(at(3, 2, tag(first_copy[0])), hold_expired{"B7"}, 5002).empty());
  EXPECT_EQ(other.find("B7")->expiries, 1);
  // When the partition goes, so do its timers
  book->release({3});
  EXPECT_EQ(book->timers().size(), 0u);
}

TEST_F(Timers, MissedTimersFireOnceEachATicksWorthAtATime) {
  for (int i = 0; i < 25; ++i)
    book->handle(at(0), hold{"S" + std::to_string(i), 10}, 1000);
  // The cluster was down for an hour: 25 overdue, 10 per tick
  EXPECT_EQ(book->due_timers(3'600'000, 10).size(), 10u);
  EXPECT_EQ(book->due_timers(3'600'100, 10).size(), 10u);
  EXPECT_EQ(book->due_timers(3'600'200, 10).size(), 5u);
  EXPECT_TRUE(book->due_timers(3'600'300, 10).empty());
}

TEST_F(Timers, AFiredTimerNotBackInTimeFiresAgain) {
  timer_book t{std::chrono::seconds{30}};
  ASSERT_FALSE(t.apply("A1", 0, timer_after("x", std::chrono::milliseconds{0}, message{hold_expired{"A1"}})
                                 .get<timer_command>(), 1000));
  EXPECT_EQ(t.due(1000, 10).size(), 1u);
  EXPECT_TRUE(t.due(30'999, 10).empty());
  EXPECT_EQ(t.due(31'000, 10).size(), 1u);  // lost on its way? fired again
}

TEST_F(Timers, ATimerToAnotherKeyOrOfATypeNotConsumedIsRejectedAndChangesNothing) {
  book->handle(at(0), hold{"A1", 1000}, 1000);
  EXPECT_THROW(book->handle(at(0), hold{"A1", -1}, 1001), rejection);
  EXPECT_THROW(book->handle(at(0), hold{"A1", 1}, 1002), rejection);
  // the first hold's timer stands
  EXPECT_EQ(book->due_timers(2000, 10).size(), 1u);
}

TEST_F(Timers, ATimerTableReadsBackAsWritten) {
  timer_book t;
  ASSERT_FALSE(t.apply("A1", 2, timer_at("a", 5000, message{hold_expired{"A1"}})
                                 .get<timer_command>(), 1000));
  ASSERT_FALSE(t.apply("A1", 2, timer_at("b", 6000, message{hold_expired{"A1"}})
                                 .get<timer_command>(), 1000));
  timer_book back;
  ASSERT_FALSE(back.restore("A1", 2, t.encode("A1")));
  EXPECT_EQ(back.encode("A1"), t.encode("A1"));
  EXPECT_TRUE(back.has("A1", "a"));
  EXPECT_EQ(back.next_due(), 5000);
  // An unreadable table is an error, and the key keeps no timers
  EXPECT_TRUE(back.restore("A1", 2, "{\"timers\":7}"));
  EXPECT_EQ(back.size(), 0u);
}

TEST_F(Timers, AServiceRoleCannotPublishATimer) {
  auto out = message{hold_expired{"A1"}};
  auto t = timer_after("x", std::chrono::milliseconds{5}, out);
  ASSERT_TRUE(t.violation());
  EXPECT_THAT(*t.violation(), ::testing::HasSubstr("timers are for entities"));
}

}  // namespace
}  // namespace kastor::runtime
