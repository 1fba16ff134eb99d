// `bank check` finds every broken invariant: a state built by hand, then
// broken one way at a time.
#include <gtest/gtest.h>

#include "bank/tools.hpp"

namespace bank {
namespace {

class Check : public ::testing::Test {
protected:
  // a -> b 30 completed, a -> c 20 compensated (c closed), b -> a 500 refused.
  void SetUp() override {
    requested = {{"t1", {"t1", "a", "b", 30}}, {"t2", {"t2", "a", "c", 20}},
                 {"t3", {"t3", "b", "a", 500}}};
    sagas = {{"t1", {"t1", "a", "b", 30, "completed", {}}},
             {"t2", {"t2", "a", "c", 20, "compensated", {}}},
             {"t3", {"t3", "b", "a", 500, "refused", {}}}};
    accounts = {
      {"a", {"a", 70, 100, true, {{"open:a", true}, {"debit:t1", true}, {"debit:t2", true},
                                   {"refund:t2", true}}}},
      {"b", {"b", 130, 100, true, {{"open:b", true}, {"credit:t1", true}, {"debit:t3", false}}}},
      {"c", {"c", 100, 100, false, {{"open:c", true}, {"close:c", true}, {"credit:t2", false}}}},
    };
  }
  std::vector<std::string> broken() { return judge(opened, requested, sagas, accounts).broken; }

  std::map<std::string, int64_t> opened{{"a", 100}, {"b", 100}, {"c", 100}};
  std::map<std::string, transfer> requested;
  std::map<std::string, transfer_state> sagas;
  std::map<std::string, account_state> accounts;
};

TEST_F(Check, AConsistentBankHolds) {
  auto out = judge(opened, requested, sagas, accounts);
  EXPECT_TRUE(out.broken.empty()) << out.broken.front();
  EXPECT_EQ(out.total, 300);
  EXPECT_EQ(out.opened, 300);
  EXPECT_EQ(out.outcomes["completed"], 1);
  EXPECT_EQ(out.outcomes["compensated"], 1);
  EXPECT_EQ(out.outcomes["refused"], 1);
}

TEST_F(Check, AnExpiredTransferHoldsOnlyWhenItsDebitNeverApplied) {
  // t4: a -> b 10, voided at a before its debit came: sealed, refused.
  requested["t4"] = {"t4", "a", "b", 10};
  sagas["t4"] = {"t4", "a", "b", 10, "expired", {}};
  accounts["a"].ops["debit:t4"] = false;
  EXPECT_TRUE(broken().empty());
  // The same with the debit applied: money taken by a transfer that says it
  // never ran.
  accounts["a"].ops["debit:t4"] = true;
  accounts["a"].cents -= 10;
  EXPECT_FALSE(broken().empty());
}

TEST_F(Check, MoneyMadeOrLostIsFound) {
  accounts["b"].cents += 30;  // a credit applied twice
  EXPECT_EQ(broken().size(), 2u);  // b's ops disagree, and the total
}

TEST_F(Check, ANegativeBalanceIsFound) {
  accounts["a"].cents = -10;
  accounts["a"].opened_with = 20;
  accounts["b"].opened_with = 180;
  opened = {{"a", 20}, {"b", 180}, {"c", 100}};
  EXPECT_FALSE(broken().empty());
  EXPECT_NE(broken().front().find("negative"), std::string::npos);
}

TEST_F(Check, ATransferBothCreditedAndRefundedIsFound) {
  sagas["t2"].status = "completed";
  EXPECT_EQ(broken().size(), 1u);
  sagas["t2"].status = "compensated";
  accounts["c"].ops["credit:t2"] = true;
  accounts["c"].cents += 20;  // c agrees with its ops; the saga and the total do not
  auto found = broken();
  ASSERT_EQ(found.size(), 2u);
  EXPECT_NE(found[0].find("transfer t2 is compensated"), std::string::npos) << found[0];
}

TEST_F(Check, AnOpForNobodysTransferOrTheWrongAccountIsFound) {
  accounts["c"].ops["debit:t9"] = true;
  EXPECT_FALSE(broken().empty());
  accounts["c"].ops.erase("debit:t9");
  accounts["c"].ops["debit:t1"] = true;  // t1 debits a, not c
  EXPECT_FALSE(broken().empty());
}

TEST_F(Check, AnAccountWithoutStateIsFound) {
  accounts.erase("c");  // its money and its opening both gone from the snapshots
  auto found = broken();
  ASSERT_FALSE(found.empty());
  EXPECT_NE(found.front().find("account c was opened but has no state"), std::string::npos);
}

TEST_F(Check, MoneyInFlightIsNotMissing) {
  sagas["t1"].status = "crediting";
  accounts["b"].ops.erase("credit:t1");
  accounts["b"].cents -= 30;
  auto out = judge(opened, requested, sagas, accounts);
  EXPECT_TRUE(out.broken.empty()) << out.broken.front();
  EXPECT_EQ(out.in_flight, 30);
  EXPECT_EQ(out.total, 270);
}

TEST_F(Check, AnOpenTransferIsCountedNotBroken) {
  sagas.erase("t3");
  accounts["b"].ops.erase("debit:t3");
  auto out = judge(opened, requested, sagas, accounts);
  EXPECT_TRUE(out.broken.empty());
  EXPECT_EQ(out.outcomes["never started"], 1);
}

}  // namespace
}  // namespace bank
