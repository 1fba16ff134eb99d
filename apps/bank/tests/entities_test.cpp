// The bank's entities as plain classes: no Kafka, no actors.
#include "bank/entities.hpp"

#include <gtest/gtest.h>
#include <kastor/runtime/entity.hpp>
#include <kastor/runtime/reject.hpp>

namespace bank {
namespace {

class Bank : public ::testing::Test {
protected:
  void SetUp() override { declare_messages(); }
  record_meta meta;
};

// The one op_result in `out`.
op_result result_of(const outputs& out) {
  EXPECT_EQ(out.size(), 1u);
  return out.at(0).get<op_result>();
}

TEST_F(Bank, AnAccountOpensOnceAndRefusesToGoNegative) {
  account a{"acct-1"};
  EXPECT_TRUE(a.handle(meta, {"acct-1", "acct-1", "open", 100}, 0).empty());
  a.handle(meta, {"acct-1", "again", "open", 100}, 0);  // a second opening deposit is refused
  EXPECT_EQ(a.snapshot().cents, 100);
  EXPECT_TRUE(result_of(a.handle(meta, {"acct-1", "t1", "debit", 60}, 0)).ok);
  EXPECT_FALSE(result_of(a.handle(meta, {"acct-1", "t2", "debit", 60}, 0)).ok);
  EXPECT_EQ(a.snapshot().cents, 40);
}

TEST_F(Bank, AnOpDeliveredAgainGetsTheSameAnswerAndAppliesOnce) {
  account a{"acct-1"};
  a.handle(meta, {"acct-1", "acct-1", "open", 100}, 0);
  EXPECT_FALSE(result_of(a.handle(meta, {"acct-1", "t1", "debit", 150}, 0)).ok);
  a.handle(meta, {"acct-1", "t2", "credit", 100}, 0);
  // t1 again, now that it would fit: still refused, as first answered.
  EXPECT_FALSE(result_of(a.handle(meta, {"acct-1", "t1", "debit", 150}, 0)).ok);
  EXPECT_TRUE(result_of(a.handle(meta, {"acct-1", "t2", "credit", 100}, 0)).ok);
  EXPECT_EQ(a.snapshot().cents, 200);
}

TEST_F(Bank, AClosedAccountRefusesCreditsButTakesRefunds) {
  account a{"acct-1"};
  a.handle(meta, {"acct-1", "acct-1", "open", 100}, 0);
  a.handle(meta, {"acct-1", "acct-1", "close", 0}, 0);
  EXPECT_FALSE(result_of(a.handle(meta, {"acct-1", "t1", "credit", 5}, 0)).ok);
  EXPECT_FALSE(result_of(a.handle(meta, {"acct-1", "t2", "debit", 5}, 0)).ok);
  EXPECT_TRUE(result_of(a.handle(meta, {"acct-1", "t3", "refund", 5}, 0)).ok);
  EXPECT_EQ(a.snapshot().cents, 105);
}

TEST_F(Bank, AnUnknownKindOrANegativeAmountIsRejected) {
  account a{"acct-1"};
  EXPECT_THROW(a.handle(meta, {"acct-1", "t", "steal", 5}, 0), kastor::runtime::rejection);
  EXPECT_THROW(a.handle(meta, {"acct-1", "t", "credit", -5}, 0), kastor::runtime::rejection);
  EXPECT_TRUE(a.snapshot().ops.empty());
}

TEST_F(Bank, ATransferDebitsThenCredits) {
  transfer_saga s{"t1"};
  auto out = s.handle(meta, transfer{"t1", "a", "b", 30}, 0);
  EXPECT_EQ(out.at(0).get<account_op>().kind, "debit");
  out = s.handle(meta, op_result{"t1", "a", "debit", true}, 0);
  EXPECT_EQ(out.at(0).get<account_op>().account, "b");
  EXPECT_TRUE(s.handle(meta, op_result{"t1", "b", "credit", true}, 0).empty());
  EXPECT_EQ(s.snapshot().status, "completed");
  // Answers delivered again change nothing.
  EXPECT_TRUE(s.handle(meta, op_result{"t1", "a", "debit", false}, 0).empty());
  EXPECT_EQ(s.snapshot().status, "completed");
}

TEST_F(Bank, ARefusedCreditIsCompensatedAndARefusedDebitEndsIt) {
  transfer_saga s{"t1"};
  s.handle(meta, transfer{"t1", "a", "b", 30}, 0);
  s.handle(meta, op_result{"t1", "a", "debit", true}, 0);
  auto out = s.handle(meta, op_result{"t1", "b", "credit", false}, 0);
  EXPECT_EQ(out.at(0).get<account_op>().kind, "refund");
  EXPECT_EQ(out.at(0).get<account_op>().account, "a");
  s.handle(meta, op_result{"t1", "a", "refund", true}, 0);
  EXPECT_EQ(s.snapshot().status, "compensated");

  transfer_saga r{"t2"};
  r.handle(meta, transfer{"t2", "a", "b", 30}, 0);
  EXPECT_TRUE(r.handle(meta, op_result{"t2", "a", "debit", false}, 0).empty());
  EXPECT_EQ(r.snapshot().status, "refused");
}

TEST_F(Bank, AnOldAnswerDeliveredAgainResendsTheCurrentStep) {
  // A crash wrote the saga's snapshot (refunding) but lost the refund op; the
  // credit's answer comes again and must not leave the saga waiting forever.
  transfer_saga s{transfer_state{"t1", "a", "b", 30, "refunding", {}}};
  auto out = s.handle(meta, op_result{"t1", "b", "credit", false}, 0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].get<account_op>().kind, "refund");
  EXPECT_EQ(out[0].get<account_op>().account, "a");
  EXPECT_EQ(s.snapshot().status, "refunding");
}

TEST_F(Bank, ARequestDeliveredAgainResendsTheCurrentStepOnly) {
  transfer_saga s{"t1"};
  s.handle(meta, transfer{"t1", "a", "b", 30}, 0);
  s.handle(meta, op_result{"t1", "a", "debit", true}, 0);
  auto out = s.handle(meta, transfer{"t1", "a", "b", 30}, 0);
  EXPECT_EQ(out.at(0).get<account_op>().kind, "credit");
  EXPECT_THROW(s.handle(meta, transfer{"t1", "a", "c", 30}, 0), kastor::runtime::rejection);
}

TEST_F(Bank, ASagaSurvivesItsSnapshot) {
  kastor::runtime::entity_book<transfer_saga> book;
  meta.partition = 0;
  auto out = book.handle(meta, transfer{"t1", "a", "b", 30}, 0);
  auto snap = out.back();  // the saga's snapshot, written after its debit
  kastor::runtime::entity_book<transfer_saga> other;
  other.adopt(0, {snap}, 7);
  out = other.handle(meta, op_result{"t1", "a", "debit", true}, 0);
  EXPECT_EQ(out.at(0).get<account_op>().kind, "credit");
  EXPECT_EQ(out.back().epoch(), 7);
}

TEST_F(Bank, AVoidSealsAnOpThatHasNotAppliedAndReportsOneThatHad) {
  account a{"acct-1"};
  a.handle(meta, {"acct-1", "acct-1", "open", 100}, 0);
  // Voided before it arrives: answered ok, and the late debit is refused.
  EXPECT_TRUE(result_of(a.handle(meta, {"acct-1", "t1", "void-debit", 30}, 0)).ok);
  EXPECT_FALSE(result_of(a.handle(meta, {"acct-1", "t1", "debit", 30}, 0)).ok);
  EXPECT_EQ(a.snapshot().cents, 100);
  // Voided after it applied: not ok (it stands), and nothing moves.
  EXPECT_TRUE(result_of(a.handle(meta, {"acct-1", "t2", "debit", 30}, 0)).ok);
  EXPECT_FALSE(result_of(a.handle(meta, {"acct-1", "t2", "void-debit", 30}, 0)).ok);
  EXPECT_FALSE(result_of(a.handle(meta, {"acct-1", "t2", "void-debit", 30}, 0)).ok);
  EXPECT_EQ(a.snapshot().cents, 70);
}

// A transfer saga as a node runs it (entity_book with the role's factory):
// its step deadlines are durable timers the book fires.
class Deadlines : public Bank {
protected:
  static constexpr int64_t deadline = 5000;
  kastor::runtime::entity_book<transfer_saga> book{
    std::chrono::minutes{1}, [](const std::string& id, const transfer_state* restored) {
      return restored ? transfer_saga{*restored, deadline} : transfer_saga{id, deadline};
    }};

  // The saga's outputs for `m` handled at `now`, without its snapshot.
  template <class T>
  std::vector<kastor::runtime::message> turn(const T& m, int64_t now,
                                             const std::string& timer = {}) {
    record_meta at;
    at.partition = 0;
    at.timer = timer;
    auto out = book.handle(at, m, now);
    std::erase_if(out, [](const auto& o) { return o.template is<transfer_state>(); });
    return out;
  }
  // Fires what is due at `now` and hands it to the saga.
  std::vector<kastor::runtime::message> fire(int64_t now) {
    auto due = book.due_timers(now, 10);
    EXPECT_EQ(due.size(), 1u);
    if (due.empty())
      return {};
    const auto* tag = kastor::runtime::find_header(due[0].notes(),
                                                   kastor::runtime::timer_tag_header);
    return turn(due[0].get<transfer_deadline>(), now, tag ? tag->value : "");
  }
  std::string status() { return book.find("t1")->status; }
};

TEST_F(Deadlines, ADebitWithNoAnswerIsVoidedAndTheTransferExpires) {
  EXPECT_EQ(turn(transfer{"t1", "a", "b", 30}, 1000).at(0).get<account_op>().kind, "debit");
  EXPECT_TRUE(book.due_timers(1000 + deadline - 1, 10).empty());
  auto out = fire(1000 + deadline);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].get<account_op>().kind, "void-debit");
  EXPECT_EQ(out[0].get<account_op>().account, "a");
  EXPECT_EQ(status(), "voiding-debit");
  turn(op_result{"t1", "a", "void-debit", true}, 7000);
  EXPECT_EQ(status(), "expired");
  EXPECT_EQ(book.find("t1")->voided, "debit");
  EXPECT_TRUE(book.due_timers(100000, 10).empty());
}

TEST_F(Deadlines, AVoidThatFindsTheDebitAppliedGoesOnToTheCreditWithItsOwnDeadline) {
  turn(transfer{"t1", "a", "b", 30}, 1000);
  fire(1000 + deadline);
  auto out = turn(op_result{"t1", "a", "void-debit", false}, 7000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].get<account_op>().kind, "credit");
  EXPECT_EQ(status(), "crediting");
  // The credit is unanswered too: voided at the target, then refunded.
  out = fire(7000 + deadline);
  EXPECT_EQ(out.at(0).get<account_op>().kind, "void-credit");
  EXPECT_EQ(out.at(0).get<account_op>().account, "b");
  out = turn(op_result{"t1", "b", "void-credit", true}, 13000);
  EXPECT_EQ(out.at(0).get<account_op>().kind, "refund");
  turn(op_result{"t1", "a", "refund", true}, 14000);
  EXPECT_EQ(status(), "compensated");
}

TEST_F(Deadlines, AnAnswerInTimeCancelsTheDeadlineAndALateVoidAnswerIsNothing) {
  turn(transfer{"t1", "a", "b", 30}, 1000);
  turn(op_result{"t1", "a", "debit", true}, 2000);
  turn(op_result{"t1", "b", "credit", true}, 3000);
  EXPECT_EQ(status(), "completed");
  EXPECT_TRUE(book.due_timers(100000, 10).empty());
  // A credit voided too late finds it applied: the transfer completed.
  transfer_saga s{transfer_state{"t2", "a", "b", 30, "voiding-credit", {}}, deadline};
  s.handle(meta, op_result{"t2", "b", "void-credit", false}, 0);
  EXPECT_EQ(s.snapshot().status, "completed");
  // The deadline of a step already answered changes nothing.
  EXPECT_TRUE(s.handle(meta, transfer_deadline{"t2", "credit"}, 0).empty());
}

}  // namespace
}  // namespace bank
