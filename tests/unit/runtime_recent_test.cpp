// An entity that remembers its last answers (issue 21, item 6), without
// Kafka: a copy of an input (same message id) is answered with the outputs
// of the first time, under the same derived ids, and its handler does not
// run again; the memory is written in the snapshot and restored with it,
// bounded per key, and an entity that does not remember is as before.
#include "kastor/runtime/recent.hpp"

#include <string>

#include <gtest/gtest.h>

#include "kastor/runtime/entity.hpp"
#include "kastor/runtime/role.hpp"
#include "support/counter_entity.hpp"

namespace tally = counter_entity;

namespace kastor::runtime {
namespace {

class Recent : public ::testing::Test {
protected:
  void SetUp() override {
    tally::declare();
    tally::handled = 0;
    book.remember(3);
  }

  outputs turn(const std::string& id, int64_t n, int32_t attempt = 1) {
    record_meta m;
    m.partition = 0;
    m.message_id = id;
    m.attempt = attempt;
    return book.handle(m, tally::add{"c", n}, 0);
  }
  static std::string id_of(const message& m) {
    const auto* h = find_header(m.notes(), message_id_note);
    return h ? h->value : "";
  }
  static const message* snapshot_in(const outputs& out) {
    for (const auto& m : out)
      if (m.is<tally::counter_state>())
        return &m;
    return nullptr;
  }

  entity_book<tally::counter> book;
};

TEST_F(Recent, ACopyOfAnInputGetsTheFirstAnswerAgainUnderTheSameIdsAndTheHandlerRunsOnce) {
  auto first = turn("in-1", 5);
  ASSERT_EQ(first.size(), 2u);  // added, then the snapshot
  EXPECT_EQ(first[0].get<tally::added>().total, 5);
  EXPECT_EQ(id_of(first[0]), "in-1/0");
  // Handed out again (a redelivery after a crash): same answer, same id.
  auto again = turn("in-1", 5, 2);
  EXPECT_EQ(tally::handled.load(), 1);
  ASSERT_EQ(again.size(), 2u);  // and, attempt 2, its snapshot again
  EXPECT_EQ(again[0].get<tally::added>().total, 5);
  EXPECT_EQ(id_of(again[0]), "in-1/0");
  EXPECT_EQ(book.find("c")->total, 5);
  // Another input is new.
  auto other = turn("in-2", 1);
  EXPECT_EQ(tally::handled.load(), 2);
  EXPECT_EQ(id_of(other[0]), "in-2/0");
  EXPECT_EQ(book.find("c")->total, 6);
}

TEST_F(Recent, TheMemoryTravelsWithTheSnapshotToTheNextOwner) {
  auto out = turn("in-1", 5);
  const auto* snap = snapshot_in(out);
  ASSERT_NE(snap, nullptr);
  ASSERT_NE(find_header(snap->notes(), recent_header), nullptr);
  entity_book<tally::counter> next_owner;
  next_owner.remember(3);
  next_owner.adopt(0, {*snap}, 2);
  record_meta m;
  m.partition = 0;
  m.message_id = "in-1";
  m.attempt = 2;
  auto again = next_owner.handle(m, tally::add{"c", 5}, 0);
  EXPECT_EQ(tally::handled.load(), 1);
  EXPECT_EQ(again.at(0).get<tally::added>().total, 5);
  EXPECT_EQ(id_of(again.at(0)), "in-1/0");
  EXPECT_EQ(next_owner.find("c")->total, 5);
}

TEST_F(Recent, OnlyTheLastNInputsAreRemembered) {
  for (auto id : {"a", "b", "c", "d"})
    turn(id, 1);
  EXPECT_EQ(tally::handled.load(), 4);
  turn("d", 1, 2);  // remembered
  turn("b", 1, 2);  // remembered (b, c, d)
  EXPECT_EQ(tally::handled.load(), 4);
  turn("a", 1, 2);  // past the window: handled as new
  EXPECT_EQ(tally::handled.load(), 5);
  EXPECT_EQ(book.find("c")->total, 5);
}

TEST_F(Recent, ATurnThatChangedAndAnsweredNothingIsNotRememberedNorWritten) {
  turn("in-1", 5);
  auto idle = turn("in-2", 0);
  EXPECT_TRUE(idle.empty());
  turn("in-2", 0, 2);
  EXPECT_EQ(tally::handled.load(), 3);  // not remembered: it ran again, doing nothing again
}

TEST_F(Recent, AFailedTurnIsNotRemembered) {
  turn("in-1", 5);
  EXPECT_THROW(turn("bad", -1), std::runtime_error);
  EXPECT_THROW(turn("bad", -1, 2), std::runtime_error);
  EXPECT_EQ(tally::handled.load(), 3);
  EXPECT_EQ(book.find("c")->total, 5);
}

TEST_F(Recent, AnEntityThatDoesNotRememberIsAsBefore) {
  entity_book<tally::counter> plain;
  record_meta m;
  m.partition = 0;
  m.message_id = "in-1";
  auto out = plain.handle(m, tally::add{"c", 5}, 0);
  m.attempt = 2;
  plain.handle(m, tally::add{"c", 5}, 0);
  EXPECT_EQ(tally::handled.load(), 2);
  EXPECT_EQ(plain.find("c")->total, 10);
  EXPECT_EQ(id_of(out.at(0)), "");  // the producer gives it a fresh id
  EXPECT_EQ(find_header(snapshot_in(out)->notes(), recent_header), nullptr);
}

TEST_F(Recent, AnUnreadableMemoryIsForgottenNotFatal) {
  recent_turns r{4};
  EXPECT_TRUE(r.restore("k", 0, "{not json"));
  EXPECT_EQ(r.keys(), 0u);
  EXPECT_TRUE(r.restore("k", 0, R"([{"input":"x","outputs":[{"type":"nope","value":"{}"}]}])"));
  EXPECT_EQ(r.find("k", "x"), nullptr);
  EXPECT_FALSE(r.restore("k", 0, ""));
}

TEST_F(Recent, TheEntityDeclarationTurnsItOn) {
  auto spec = entity<tally::counter>("tallies").consumes<tally::add>().remember(8).spec();
  EXPECT_EQ(static_cast<entity_book<tally::counter>&>(*spec.store).remembers(), 8u);
}

}  // namespace
}  // namespace kastor::runtime
