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
  transfer_saga s{transfer_state{"t1", "a", "b", 30, "refunding"}};
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

}  // namespace
}  // namespace bank
