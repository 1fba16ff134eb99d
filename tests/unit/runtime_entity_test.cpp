// Keyed entities: entity_book routes records to one activation per key,
// restores keys from changelog snapshots, drops them with their partitions,
// passivates idle ones and stamps snapshots with the partition's epoch; the
// role declarations turn a state class into what a node assembles.
#include "kastor/runtime/entity.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/describe/class.hpp>
#include <caf/sec.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kastor/runtime/reject.hpp"
#include "kastor/runtime/role.hpp"

namespace counters {

struct bump {
  std::string id;
  int64_t by = 1;
};
BOOST_DESCRIBE_STRUCT(bump, (), (id, by))

struct tally {  // the counter entity's snapshot
  std::string id;
  int64_t count = 0;
  int activations = 0;  // not part of the state a real app would keep; counted here
};
BOOST_DESCRIBE_STRUCT(tally, (), (id, count, activations))

struct counter {
  using snapshot_type = tally;
  explicit counter(const std::string& id) { t.id = id; }
  explicit counter(const tally& restored) : t(restored) { ++t.activations; }
  tally snapshot() const { return t; }
  kastor::runtime::outputs handle(const kastor::runtime::record_meta&, const bump& b, int64_t) {
    if (b.by < 0)
      kastor::runtime::reject("bump.by must not be negative");
    t.count += b.by;
    return {};
  }
  tally t;
};

// A counter that only goes up, and that stays active until it reached 10:
// the book's two hooks.
struct ratchet {
  using snapshot_type = tally;
  explicit ratchet(const std::string& id) { t.id = id; }
  explicit ratchet(const tally& restored) : t(restored) {}
  tally snapshot() const { return t; }
  kastor::runtime::outputs handle(const kastor::runtime::record_meta&, const bump& b, int64_t) {
    if (b.by < 0)
      kastor::runtime::reject("a ratchet only goes up");
    t.count += b.by;
    return {};
  }
  static bool supersedes(const tally& restored, const tally& held) {
    return restored.count > held.count;
  }
  bool may_passivate() const { return t.count >= 10; }
  tally t;
};

// A light whose state is in a header only (its JSON is just the id): a
// codec of the application's own.
struct lamp {
  std::string id;
  bool on = false;
};

struct switch_on {
  std::string id;
  bool on = true;
};
BOOST_DESCRIBE_STRUCT(switch_on, (), (id, on))

struct lamp_entity {
  using snapshot_type = lamp;
  explicit lamp_entity(const std::string& id) { l.id = id; }
  explicit lamp_entity(const lamp& restored) : l(restored) {}
  lamp snapshot() const { return l; }
  kastor::runtime::outputs handle(const kastor::runtime::record_meta&, const switch_on& s,
                                  int64_t) {
    l.on = s.on;
    return {};
  }
  lamp l;
};

void declare() {
  kastor::runtime::declare<switch_on>(
    {.name = "test.switch_on", .topic = "test-switches", .key = &switch_on::id});
  kastor::runtime::declare<lamp>(
    {.name = "test.lamp",
     .topic = "test-lamps",
     .key = &lamp::id,
     .compacted = true,
     .follows_cause = true,
     .encode = [](const lamp& l, kastor::runtime::header_list& extra) {
       extra.push_back({"test-lamp-on", l.on ? "true" : "false"});
       return "{\"id\":\"" + l.id + "\"}";
     },
     .decode = [](std::string_view value, const kastor::runtime::header_list& headers)
       -> caf::expected<lamp> {
       lamp l;
       auto at = value.find("\"id\":\"");
       if (at == std::string_view::npos)
         return caf::make_error(caf::sec::invalid_argument);
       auto from = at + 6;
       l.id = std::string{value.substr(from, value.find('"', from) - from)};
       const auto* on = kastor::runtime::find_header(headers, "test-lamp-on");
       l.on = on != nullptr && on->value == "true";
       return l;
     }});
  kastor::runtime::declare<bump>({.name = "test.bump", .topic = "test-bumps", .key = &bump::id});
  kastor::runtime::declare<tally>({.name = "test.tally",
                                   .topic = "test-tallies",
                                   .key = &tally::id,
                                   .compacted = true,
                                   .follows_cause = true});
}

}  // namespace counters

namespace kastor::runtime {
namespace {

using counters::bump;
using counters::counter;
using counters::tally;

class EntityBook : public ::testing::Test {
protected:
  void SetUp() override { counters::declare(); }

  static record_meta at(int32_t partition) {
    record_meta m;
    m.partition = partition;
    return m;
  }
  // The snapshot the last handle() wrote.
  static tally written(const outputs& out) {
    EXPECT_FALSE(out.empty());
    return out.back().get<tally>();
  }
};

TEST_F(EntityBook, OneActivationPerKeyAndASnapshotAfterEveryRecord) {
  entity_book<counter> book;
  EXPECT_EQ(written(book.handle(at(0), bump{"a", 2}, 1000)).count, 2);
  EXPECT_EQ(written(book.handle(at(0), bump{"a", 3}, 1001)).count, 5);
  auto out = book.handle(at(1), bump{"b", 1}, 1002);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].get<tally>().id, "b");
  EXPECT_EQ(out[0].key(), "b");
  EXPECT_EQ(book.active(), 2u);
  EXPECT_EQ(book.find("a")->count, 5);
  EXPECT_FALSE(book.find("c"));
  EXPECT_FALSE(book.lookup("c"));
  EXPECT_EQ(book.lookup("a").get<tally>().count, 5);
}

TEST_F(EntityBook, ATurnThatChangedNothingWritesNoSnapshotButARedeliveryDoes) {
  entity_book<counter> book;
  ASSERT_EQ(book.handle(at(0), bump{"a", 2}, 1000).size(), 1u);
  // A bump of 0 changes nothing: no snapshot
  EXPECT_TRUE(book.handle(at(0), bump{"a", 0}, 1001).empty());
  // The same record handed out again (attempt 2): its snapshot is written
  auto again = at(0);
  again.attempt = 2;
  EXPECT_EQ(written(book.handle(again, bump{"a", 0}, 1002)).count, 2);
  // and a change is written as always
  EXPECT_EQ(written(book.handle(at(0), bump{"a", 1}, 1003)).count, 3);
}

TEST_F(EntityBook, ARejectedRecordChangesNothingAndWritesNothing) {
  entity_book<counter> book;
  book.handle(at(0), bump{"a", 2}, 1000);
  EXPECT_THROW(book.handle(at(0), bump{"a", -1}, 1001), rejection);
  EXPECT_EQ(book.find("a")->count, 2);
  // A key whose first record is rejected stays unknown (request/reply's
  // `get` answers not_found, not an empty entity).
  EXPECT_THROW(book.handle(at(0), bump{"new", -1}, 1002), rejection);
  EXPECT_FALSE(book.find("new"));
  EXPECT_FALSE(book.lookup("new"));
  EXPECT_EQ(book.active() + book.passivated(), 1u);
}

// A handler that changed its entity and then threw: the change goes, the
// key is back at its last snapshot (its next record activates it again).
struct half_done {
  using snapshot_type = tally;
  explicit half_done(const std::string& id) { t.id = id; }
  explicit half_done(const tally& restored) : t(restored) { ++t.activations; }
  tally snapshot() const { return t; }
  outputs handle(const record_meta&, const bump& b, int64_t) {
    t.count += b.by;
    if (b.by > 100)
      throw std::runtime_error("too much");
    return {};
  }
  tally t;
};

TEST_F(EntityBook, AHandlerThatThrowsLeavesItsEntityAtItsLastSnapshot) {
  entity_book<half_done> book;
  book.handle(at(0), bump{"a", 2}, 1000);
  EXPECT_THROW(book.handle(at(0), bump{"a", 500}, 1001), std::runtime_error);
  EXPECT_EQ(book.find("a")->count, 2);
  auto t = written(book.handle(at(0), bump{"a", 1}, 1002));
  EXPECT_EQ(t.count, 3);
  EXPECT_EQ(t.activations, 1);  // activated again from its snapshot
  // A key whose very first record threw stays unknown.
  EXPECT_THROW(book.handle(at(0), bump{"b", 500}, 1003), std::runtime_error);
  EXPECT_FALSE(book.find("b"));
}

TEST_F(EntityBook, RestoredKeysActivateFromTheirLastSnapshotWithTheAssignmentsEpoch) {
  entity_book<counter> book;
  book.adopt(3, {message{tally{"a", 7, 0}}, message{tally{"b", 1, 0}}, message{tally{"a", 9, 0}}},
             42);
  EXPECT_EQ(book.passivated(), 2u);
  EXPECT_EQ(book.active(), 0u);
  auto out = book.handle(at(3), bump{"a", 1}, 1000);
  auto t = written(out);
  EXPECT_EQ(t.count, 10);  // the last snapshot of a counted, then one more
  EXPECT_EQ(t.activations, 1);
  EXPECT_EQ(out.back().epoch(), 42);
  EXPECT_EQ(book.active(), 1u);
  // A partition not adopted writes with epoch 0 (no header).
  EXPECT_EQ(book.handle(at(4), bump{"z", 1}, 1000).back().epoch(), 0);
}

TEST_F(EntityBook, ALaterAdoptionLaysTheTailOverWhatIsHeld) {
  entity_book<counter> book;
  book.adopt(0, {message{tally{"a", 1, 0}}, message{tally{"b", 1, 0}}}, 10);
  book.handle(at(0), bump{"a", 1}, 1000);  // a: 2, active
  // The partition comes back: only b changed meanwhile (another owner).
  book.adopt(0, {message{tally{"b", 5, 0}}}, 20);
  EXPECT_EQ(book.find("a")->count, 2);
  EXPECT_EQ(book.find("b")->count, 5);
  EXPECT_EQ(book.handle(at(0), bump{"b", 1}, 1001).back().epoch(), 20);
}

TEST_F(EntityBook, ReleasedPartitionsTakeTheirKeysAlong) {
  entity_book<counter> book;
  book.adopt(0, {message{tally{"a", 1, 0}}}, 10);
  book.handle(at(1), bump{"b", 1}, 1000);
  book.release({0});
  EXPECT_FALSE(book.find("a"));
  EXPECT_EQ(book.find("b")->count, 1);
  book.release({1});
  EXPECT_FALSE(book.find("b"));
  // A key handled again after its partition went starts fresh.
  EXPECT_EQ(written(book.handle(at(0), bump{"a", 1}, 1001)).count, 1);
}

TEST_F(EntityBook, AdoptAndReleaseFromAnotherThreadTakeEffectBeforeTheNextRecord) {
  entity_book<counter> book;
  std::thread other{[&] { book.adopt(2, {message{tally{"k", 4, 0}}}, 5); }};
  other.join();
  EXPECT_EQ(written(book.handle(at(2), bump{"k", 1}, 1000)).count, 5);
}

TEST_F(EntityBook, IdleActivationsArePassivatedAndComeBackFromTheirSnapshot) {
  entity_book<counter> book{std::chrono::milliseconds{100}};
  book.handle(at(0), bump{"a", 3}, 1000);
  book.handle(at(0), bump{"b", 1}, 1000);
  book.handle(at(0), bump{"b", 1}, 1090);
  book.handle(at(0), bump{"c", 1}, 1150);  // a idle for 150 ms: passivated
  EXPECT_EQ(book.passivated(), 1u);
  EXPECT_EQ(book.active(), 2u);
  EXPECT_EQ(book.find("a")->count, 3);  // still known
  auto t = written(book.handle(at(0), bump{"a", 1}, 1160));
  EXPECT_EQ(t.count, 4);
  EXPECT_EQ(t.activations, 1);  // activated again from its snapshot
}

// Issue 21, item 7: the hooks the shop's order needed to become an entity.
TEST_F(EntityBook, ARestoredSnapshotReplacesTheHeldOneOnlyWhenTheEntitySaysItSupersedesIt) {
  using counters::ratchet;
  entity_book<ratchet> book;
  book.handle(at(1), bump{"a", 5}, 1000);
  book.handle(at(1), bump{"b", 5}, 1000);
  // A changelog tail with a stale write of a (3 < 5) and a newer one of b
  book.adopt(1, {message{tally{"a", 3, 0}}, message{tally{"b", 7, 0}},
                 message{tally{"c", 2, 0}}, message{tally{"c", 1, 0}}}, 0);
  EXPECT_EQ(book.find("a")->count, 5);
  EXPECT_EQ(book.find("b")->count, 7);
  EXPECT_EQ(book.find("c")->count, 2);  // within one tail too
  // The changelog's last word for a is the stale 3: a's next turn writes
  // what is held again, even one that changes nothing
  EXPECT_EQ(written(book.handle(at(1), bump{"a", 0}, 1100)).count, 5);
  EXPECT_TRUE(book.handle(at(1), bump{"a", 0}, 1101).empty());
  EXPECT_EQ(written(book.handle(at(1), bump{"a", 1}, 1102)).count, 6);
  // Without the hook, the changelog's last word wins (offset order)
  entity_book<counter> plain;
  plain.adopt(1, {message{tally{"c", 2, 0}}, message{tally{"c", 1, 0}}}, 0);
  EXPECT_EQ(plain.find("c")->count, 1);
}

TEST_F(EntityBook, ARestoredKeysTurnThatChangesNothingWritesNothingButARolledBackOnesDoes) {
  using counters::ratchet;
  entity_book<ratchet> book;
  book.adopt(0, {message{tally{"a", 5, 0}}}, 0);
  EXPECT_TRUE(book.handle(at(0), bump{"a", 0}, 1000).empty());  // the changelog holds it
  book.handle(at(0), bump{"b", 2}, 1000);
  EXPECT_THROW(book.handle(at(0), bump{"b", -1}, 1001), rejection);
  // Rolled back to its last snapshot: written again at its next turn
  EXPECT_EQ(written(book.handle(at(0), bump{"b", 0}, 1002)).count, 2);
}

TEST_F(EntityBook, AnEntityThatMayNotPassivateStaysActiveHoweverIdle) {
  using counters::ratchet;
  entity_book<ratchet> book{std::chrono::milliseconds{100}};
  book.handle(at(0), bump{"busy", 3}, 1000);
  book.handle(at(0), bump{"done", 10}, 1000);
  book.handle(at(0), bump{"other", 1}, 1500);
  EXPECT_EQ(book.passivated(), 1u);  // done
  EXPECT_EQ(book.active(), 2u);      // busy (may not) and other (not idle)
  EXPECT_EQ(book.find("done")->count, 10);
}

TEST_F(EntityBook, AChangeOnlyAHeaderOfTheSnapshotCarriesIsWritten) {
  using counters::lamp;
  using counters::switch_on;
  entity_book<counters::lamp_entity> book;
  ASSERT_EQ(book.handle(at(0), switch_on{"hall", false}, 1000).size(), 1u);  // new: written
  // Switched on: its JSON is the same ({"id":"hall"}), its header is not
  auto out = book.handle(at(0), switch_on{"hall", true}, 1001);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out.back().get<lamp>().on);
  // Switched on again: nothing changed, nothing written
  EXPECT_TRUE(book.handle(at(0), switch_on{"hall", true}, 1002).empty());
}

TEST_F(EntityBook, EntityRoleSpecNamesItsChangelogInputsAndStore) {
  auto spec = entity<counter>("counters").consumes<bump>().spec();
  EXPECT_EQ(spec.name, "counters");
  EXPECT_EQ(spec.kind, role_kind::entity);
  ASSERT_NE(spec.changelog, nullptr);
  EXPECT_EQ(spec.changelog->name, "test.tally");
  EXPECT_THAT(spec.topics(), ::testing::ElementsAre("test-bumps"));
  EXPECT_TRUE(spec.store);
  ASSERT_TRUE(spec.program);
  EXPECT_TRUE(spec.program->due_timers);  // an entity's actor fires its timers
  EXPECT_FALSE(spec.raw);
}

// An entity that takes a setting: no constructor from a key or a snapshot
// alone, so only a factory can make it.
struct capped_counter {
  using snapshot_type = tally;
  capped_counter(tally t, int64_t cap) : t(std::move(t)), cap(cap) {}
  tally snapshot() const { return t; }
  outputs handle(const record_meta&, const bump& b, int64_t) {
    t.count = std::min(cap, t.count + b.by);
    return {};
  }
  tally t;
  int64_t cap;
};

TEST_F(EntityBook, AnEntityTakesItsSettingsFromItsFactory) {
  // Given an entity declared with a factory that hands it a cap of 10
  std::vector<std::string> made;
  auto spec = entity<capped_counter>("capped").consumes<bump>()
                .make([&made](const std::string& key, const tally* restored) {
                  made.push_back(key + (restored ? ":restored" : ":new"));
                  return capped_counter{restored ? *restored : tally{key, 0, 0}, 10};
                })
                .spec();
  auto& book = dynamic_cast<entity_book<capped_counter>&>(*spec.store);
  // When a new key and a restored one take records
  book.adopt(0, {message{tally{"old", 8, 0}}}, 1);
  EXPECT_EQ(written(book.handle(at(0), bump{"old", 5}, 1000)).count, 10);
  EXPECT_EQ(written(book.handle(at(0), bump{"new", 25}, 1000)).count, 10);
  // Then both were made by the factory, with the setting
  EXPECT_THAT(made, ::testing::ElementsAre("old:restored", "new:new"));
}

TEST_F(EntityBook, AFactoryThatThrowsLosesNoRestoredState) {
  bool broken = true;
  auto spec = entity<capped_counter>("capped").consumes<bump>()
                .make([&broken](const std::string& key, const tally* restored) {
                  if (broken)
                    throw std::runtime_error("no connection");
                  return capped_counter{restored ? *restored : tally{key, 0, 0}, 100};
                })
                .spec();
  auto& book = dynamic_cast<entity_book<capped_counter>&>(*spec.store);
  book.adopt(0, {message{tally{"old", 8, 0}}}, 1);
  EXPECT_THROW(book.handle(at(0), bump{"old", 1}, 1000), std::runtime_error);
  broken = false;
  EXPECT_EQ(written(book.handle(at(0), bump{"old", 1}, 1001)).count, 9);
}

TEST_F(EntityBook, AnEntityWithoutConstructorsOrFactoryIsRefusedWhenDeclared) {
  EXPECT_THROW(entity<capped_counter>("capped").consumes<bump>().spec(), std::logic_error);
}

struct greeter {
  outputs handle(const record_meta&, const bump&, int64_t) { return {}; }
};

TEST_F(EntityBook, ServiceAndViewSpecs) {
  auto service = role<greeter>("greeter").consumes<bump>().latency(std::chrono::milliseconds{5}, 2)
                   .spec();
  EXPECT_EQ(service.kind, role_kind::service);
  EXPECT_EQ(service.changelog, nullptr);
  EXPECT_EQ(service.latency, std::chrono::milliseconds{5});
  EXPECT_EQ(service.max_concurrent, 2);
  EXPECT_EQ(role<greeter>("board").consumes<bump>().view().spec().kind, role_kind::view);
  // A keyed role whose state is no entity_store must say how to make one.
  EXPECT_THROW(role<greeter>("g").keyed<tally>(), std::logic_error);
}

}  // namespace
}  // namespace kastor::runtime
