// The chaos spec (`kastor node --chaos SPEC`) and the injector that decides,
// per delivery, whether a fault fires.
#include <algorithm>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kastor/actors/roles.hpp"
#include "kastor/runtime/chaos.hpp"
#include "kastor/runtime/errors.hpp"

using namespace kastor::runtime;
using ::testing::HasSubstr;

namespace {

// The shop's roles and fault names, as its app_spec declares them.
caf::expected<chaos_spec> parse_chaos(std::string_view text, uint64_t seed) {
  const auto& app = kastor::actors::shop_app();
  auto roles = app.roles;
  roles.push_back("copy");
  return kastor::runtime::parse_chaos(text, seed, roles, app.chaos_aliases);
}

constexpr std::string_view example_spec =
  "payment.crash=0.05,email.crash=0.02,payment.crash-after-charge=0.01,order.hang=0.001";

// The error text of a spec that must not parse ("" if it parsed).
std::string error_of(std::string_view text) {
  auto spec = parse_chaos(text, 1);
  return spec ? "" : describe(spec.error());
}

record_meta record(int64_t offset, int32_t partition = 0, int32_t attempt = 1,
                   std::string topic = "payment-requests") {
  record_meta m;
  m.topic = std::move(topic);
  m.partition = partition;
  m.offset = offset;
  m.attempt = attempt;
  return m;
}

chaos_spec spec_of(std::string_view text, uint64_t seed = 1) {
  auto spec = parse_chaos(text, seed);
  EXPECT_TRUE(spec) << describe(spec.error());
  return spec ? *spec : chaos_spec{};
}

// The decisions of `injector` for `f` over `n` records spread over 6 partitions.
std::vector<bool> decisions(chaos_injector& injector, chaos_fault f, int n) {
  std::vector<bool> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    out.push_back(injector.fires(f, record(i / 6, i % 6)));
  return out;
}

// --- parsing -------------------------------------------------------------------

TEST(ChaosSpec, TheExampleSpecParsesIntoOneRulePerRoleAndFault) {
  // when the documented example is parsed with seed 42
  const auto spec = parse_chaos(example_spec, 42);
  // then it holds four rules in the order written, the alias as crash_after
  ASSERT_TRUE(spec) << describe(spec.error());
  EXPECT_EQ(spec->seed, 42u);
  EXPECT_FALSE(spec->empty());
  const std::vector<chaos_rule> expected{
    {"payment", chaos_fault::crash, 0.05},
    {"email", chaos_fault::crash, 0.02},
    {"payment", chaos_fault::crash_after, 0.01},
    {"order", chaos_fault::hang, 0.001},
  };
  EXPECT_EQ(spec->rules, expected);
  EXPECT_EQ(spec->rate("payment", chaos_fault::crash), 0.05);
  EXPECT_EQ(spec->rate("payment", chaos_fault::crash_after), 0.01);
  EXPECT_EQ(spec->rate("order", chaos_fault::hang), 0.001);
  // and what it does not name has rate 0
  EXPECT_EQ(spec->rate("payment", chaos_fault::hang), 0.0);
  EXPECT_EQ(spec->rate("analytics", chaos_fault::crash), 0.0);
  EXPECT_EQ(spec->rate("nobody", chaos_fault::crash), 0.0);
}

TEST(ChaosSpec, ToStringIsCanonicalAndParsesBackToTheSameSpec) {
  const auto spec = spec_of(example_spec, 7);
  EXPECT_EQ(spec.to_string(),
            "payment.crash=0.05,email.crash=0.02,payment.crash-after=0.01,order.hang=0.001");
  const auto again = parse_chaos(spec.to_string(), 7);
  ASSERT_TRUE(again) << describe(again.error());
  EXPECT_EQ(*again, spec);
  EXPECT_EQ(spec_of("email.crash-after-send=1,analytics.crash=0").to_string(),
            "email.crash-after=1,analytics.crash=0");
  EXPECT_EQ(chaos_spec{}.to_string(), "");
}

TEST(ChaosSpec, FaultsHaveTheirSpecSpelling) {
  EXPECT_EQ(to_string(chaos_fault::crash), "crash");
  EXPECT_EQ(to_string(chaos_fault::crash_after), "crash-after");
  EXPECT_EQ(to_string(chaos_fault::hang), "hang");
}

TEST(ChaosSpec, EmptyOrBlankTextIsAnEmptySpec) {
  for (std::string_view text : {"", " ", " \t \n"}) {
    SCOPED_TRACE(text);
    const auto spec = parse_chaos(text, 9);
    ASSERT_TRUE(spec) << describe(spec.error());
    EXPECT_TRUE(spec->empty());
    EXPECT_EQ(spec->seed, 9u);
    EXPECT_EQ(spec->to_string(), "");
  }
}

TEST(ChaosSpec, WhitespaceAroundEveryTokenIsAllowed) {
  const auto spec =
    spec_of("  payment . crash = 0.05 ,\temail.crash-after-send= 1 , order.hang =0  ");
  const std::vector<chaos_rule> expected{
    {"payment", chaos_fault::crash, 0.05},
    {"email", chaos_fault::crash_after, 1.0},
    {"order", chaos_fault::hang, 0.0},
  };
  EXPECT_EQ(spec.rules, expected);
}

TEST(ChaosSpec, RatesAreDecimalNumbersFromZeroToOne) {
  EXPECT_EQ(spec_of("payment.crash=0").rules.at(0).rate, 0.0);
  EXPECT_EQ(spec_of("payment.crash=1").rules.at(0).rate, 1.0);
  EXPECT_EQ(spec_of("payment.crash=1.0").rules.at(0).rate, 1.0);
  EXPECT_EQ(spec_of("payment.crash=.25").rules.at(0).rate, 0.25);
  EXPECT_EQ(spec_of("payment.crash=0.000001").rules.at(0).rate, 0.000001);
  EXPECT_EQ(spec_of("payment.crash=-0").to_string(), "payment.crash=0");
}

TEST(ChaosSpec, EveryBadEntryIsAnErrorNamingTheEntryAndWhatIsWrong) {
  struct bad {
    std::string text;
    std::string entry;  // how the error names the entry
    std::string why;
  };
  const std::vector<bad> cases{
    {"payment.crash", "chaos entry 'payment.crash'", "missing '='"},
    {"payment.crash=0.1,email.crash", "chaos entry 'email.crash'", "missing '='"},
    {"payment=0.1", "chaos entry 'payment=0.1'", "missing '.'"},
    {"shipping.crash=0.1", "chaos entry 'shipping.crash=0.1'",
     "unknown role 'shipping' (known: order, payment, email, analytics, gateway, copy)"},
    {"payment.explode=0.1", "chaos entry 'payment.explode=0.1'",
     "unknown fault 'explode' (known: crash, crash-after, hang; crash-after-charge for "
     "payment, crash-after-send for email)"},
    {"payment.=0.1", "chaos entry 'payment.=0.1'", "unknown fault ''"},
    {"payment.crash=abc", "chaos entry 'payment.crash=abc'", "rate 'abc' is not a number"},
    {"payment.crash=", "chaos entry 'payment.crash='", "rate is missing"},
    {"payment.crash=nan", "chaos entry 'payment.crash=nan'", "is not a number"},
    {"payment.crash=inf", "chaos entry 'payment.crash=inf'", "is not a number"},
    {"payment.crash=+0.5", "chaos entry 'payment.crash=+0.5'", "is not a number"},
    {"payment.crash=-", "chaos entry 'payment.crash=-'", "is not a number"},
    {"payment.crash=1.5", "chaos entry 'payment.crash=1.5'", "must be between 0 and 1"},
    {"payment.crash=-0.1", "chaos entry 'payment.crash=-0.1'", "must be between 0 and 1"},
    {"payment.crash=" + std::string(400, '9'), "chaos entry 'payment.crash=999",
     "must be between 0 and 1"},
    {"payment.crash=0.05x", "chaos entry 'payment.crash=0.05x'",
     "rate '0.05x' has trailing characters 'x'"},
    {"payment.crash=5e-2", "chaos entry 'payment.crash=5e-2'", "trailing characters 'e-2'"},
    {"payment.crash=0.1 0.2", "chaos entry 'payment.crash=0.1 0.2'",
     "trailing characters ' 0.2'"},
    {"payment.crash=0.1,payment.crash=0.2", "chaos entry 'payment.crash=0.2'",
     "payment.crash is already set by 'payment.crash=0.1'"},
    {"payment.crash-after-charge=0.1, payment.crash-after=0.2",
     "chaos entry 'payment.crash-after=0.2'",
     "payment.crash-after is already set by 'payment.crash-after-charge=0.1'"},
    {"payment.crash=0.1,,email.crash=0.1", "chaos entry 2", "is empty"},
    {"payment.crash=0.1,", "chaos entry 2", "is empty"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const auto err = error_of(c.text);
    EXPECT_THAT(err, HasSubstr("runtime.invalid_config"));
    EXPECT_THAT(err, HasSubstr(c.entry));
    EXPECT_THAT(err, HasSubstr(c.why));
  }
}

TEST(ChaosSpec, AliasesMeanCrashAfterForTheirOwnRoleOnly) {
  // given the two role-specific aliases on their roles
  EXPECT_EQ(spec_of("payment.crash-after-charge=0.3").rate("payment", chaos_fault::crash_after),
            0.3);
  EXPECT_EQ(spec_of("email.crash-after-send=0.4").rate("email", chaos_fault::crash_after), 0.4);
  // when they are used with another role, the error says whose alias it is
  EXPECT_THAT(error_of("email.crash-after-charge=0.1"),
              HasSubstr("chaos entry 'email.crash-after-charge=0.1': fault "
                        "'crash-after-charge' applies to role 'payment' only; use "
                        "'email.crash-after'"));
  EXPECT_THAT(error_of("payment.crash-after-send=0.1"),
              HasSubstr("chaos entry 'payment.crash-after-send=0.1': fault "
                        "'crash-after-send' applies to role 'email' only"));
  EXPECT_THAT(error_of("order.crash-after-send=0.1"), HasSubstr("applies to role 'email' only"));
}

// --- the injector ------------------------------------------------------------------

TEST(ChaosInjector, KeepsOnlyTheRulesOfItsRole) {
  const auto spec = spec_of(example_spec);
  chaos_injector payment{spec, "payment"};
  EXPECT_TRUE(payment.active());
  EXPECT_EQ(payment.rate(chaos_fault::crash), 0.05);
  EXPECT_EQ(payment.rate(chaos_fault::crash_after), 0.01);
  EXPECT_EQ(payment.rate(chaos_fault::hang), 0.0);
  chaos_injector analytics{spec, "analytics"};
  EXPECT_FALSE(analytics.active());
  chaos_injector zero{spec_of("analytics.crash=0"), "analytics"};
  EXPECT_FALSE(zero.active());
  chaos_injector none{chaos_spec{}, "payment"};
  EXPECT_FALSE(none.active());
}

TEST(ChaosInjector, RateZeroNeverFiresAndRateOneAlwaysFires) {
  // given crash at rate 1 and hang at rate 0
  chaos_injector injector{spec_of("payment.crash=1,payment.hang=0"), "payment"};
  // when 10,000 records are offered
  const auto crash = decisions(injector, chaos_fault::crash, 10'000);
  const auto hang = decisions(injector, chaos_fault::hang, 10'000);
  const auto after = decisions(injector, chaos_fault::crash_after, 10'000);
  // then crash fired on every one, hang and the unnamed crash-after on none
  EXPECT_EQ(std::count(crash.begin(), crash.end(), true), 10'000);
  EXPECT_EQ(std::count(hang.begin(), hang.end(), true), 0);
  EXPECT_EQ(std::count(after.begin(), after.end(), true), 0);
  // and the counters say exactly that
  EXPECT_EQ(injector.fired(chaos_fault::crash), 10'000);
  EXPECT_EQ(injector.fired(chaos_fault::hang), 0);
  EXPECT_EQ(injector.fired(chaos_fault::crash_after), 0);
}

TEST(ChaosInjector, TheSameSeedGivesTheSameDecisionsAndAnotherSeedOthers) {
  const std::string_view text = "payment.crash=0.3";
  chaos_injector a{spec_of(text, 1234), "payment"};
  chaos_injector b{spec_of(text, 1234), "payment"};
  chaos_injector other{spec_of(text, 1235), "payment"};
  const auto da = decisions(a, chaos_fault::crash, 10'000);
  const auto db = decisions(b, chaos_fault::crash, 10'000);
  const auto dother = decisions(other, chaos_fault::crash, 10'000);
  EXPECT_EQ(da, db);
  EXPECT_EQ(a.fired(chaos_fault::crash), b.fired(chaos_fault::crash));
  EXPECT_NE(da, dother);
  // and not by a handful: about 2 x 0.3 x 0.7 of the decisions differ
  int differ = 0;
  for (size_t i = 0; i < da.size(); ++i)
    differ += da[i] != dother[i] ? 1 : 0;
  EXPECT_GT(differ, 3'000);
  EXPECT_LT(differ, 5'400);
}

TEST(ChaosInjector, TheDecisionDependsOnlyOnTheRecordsIdentity) {
  // given a record asked about twice, with different non-identity fields
  chaos_injector injector{spec_of("payment.crash=0.5"), "payment"};
  int fired_first = 0;
  for (int i = 0; i < 1'000; ++i) {
    auto m = record(i, 3);
    const bool first = injector.fires(chaos_fault::crash, m);
    m.key = "order-" + std::to_string(i);
    m.message_id = "other";
    m.incarnation = 17;
    m.timestamp_ms = 99;
    // then both answers agree
    EXPECT_EQ(injector.fires(chaos_fault::crash, m), first) << "offset " << i;
    fired_first += first ? 1 : 0;
  }
  EXPECT_EQ(injector.fired(chaos_fault::crash), 2 * fired_first);
}

TEST(ChaosInjector, TheObservedFrequencyMatchesTheRate) {
  struct expectation {
    std::string text;
    chaos_fault fault;
    double rate;
  };
  const std::vector<expectation> cases{
    {"payment.crash=0.05", chaos_fault::crash, 0.05},
    {"payment.crash-after-charge=0.01", chaos_fault::crash_after, 0.01},
    {"payment.hang=0.5", chaos_fault::hang, 0.5},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    chaos_injector injector{spec_of(c.text, 20240601), "payment"};
    const int n = 100'000;
    decisions(injector, c.fault, n);
    const double observed = static_cast<double>(injector.fired(c.fault)) / n;
    // ± 0.005 is over 7 standard deviations at rate 0.05 (and 3 at 0.5)
    EXPECT_NEAR(observed, c.rate, 0.005);
  }
  // and for a rate of 0.001, 100 ± 40 of 100,000
  chaos_injector rare{spec_of("order.hang=0.001", 3), "order"};
  decisions(rare, chaos_fault::hang, 100'000);
  EXPECT_NEAR(static_cast<double>(rare.fired(chaos_fault::hang)), 100.0, 40.0);
}

TEST(ChaosInjector, ARedeliveryGetsAFreshDraw) {
  // given records that crashed on their first delivery at rate 0.5
  chaos_injector injector{spec_of("payment.crash=0.5"), "payment"};
  int crashed = 0;
  int crashed_again = 0;
  int differ = 0;
  for (int i = 0; i < 10'000; ++i) {
    const bool first = injector.fires(chaos_fault::crash, record(i, 1, 1));
    const bool second = injector.fires(chaos_fault::crash, record(i, 1, 2));
    differ += first != second ? 1 : 0;
    if (first) {
      ++crashed;
      crashed_again += second ? 1 : 0;
    }
  }
  // then about half of them crash again on attempt 2, not all of them
  ASSERT_GT(crashed, 4'500);
  EXPECT_NEAR(static_cast<double>(crashed_again) / crashed, 0.5, 0.03);
  EXPECT_NEAR(differ / 10'000.0, 0.5, 0.03);
}

TEST(ChaosInjector, FaultsRolesAndTopicsAreDrawnIndependently) {
  // given every fault of payment and of email at rate 0.5, with one seed
  const auto spec = spec_of(
    "payment.crash=0.5,payment.crash-after=0.5,payment.hang=0.5,email.crash=0.5", 5);
  chaos_injector payment{spec, "payment"};
  chaos_injector email{spec, "email"};
  const auto crash = decisions(payment, chaos_fault::crash, 10'000);
  const auto after = decisions(payment, chaos_fault::crash_after, 10'000);
  const auto hang = decisions(payment, chaos_fault::hang, 10'000);
  const auto email_crash = decisions(email, chaos_fault::crash, 10'000);
  // then each pair agrees on about half the records, as independent draws do
  auto agreement = [](const std::vector<bool>& x, const std::vector<bool>& y) {
    int same = 0;
    for (size_t i = 0; i < x.size(); ++i)
      same += x[i] == y[i] ? 1 : 0;
    return same / static_cast<double>(x.size());
  };
  EXPECT_NEAR(agreement(crash, after), 0.5, 0.03);
  EXPECT_NEAR(agreement(crash, hang), 0.5, 0.03);
  EXPECT_NEAR(agreement(crash, email_crash), 0.5, 0.03);
  // and the same offset on another topic is another draw
  int same_topic_other = 0;
  for (int i = 0; i < 10'000; ++i)
    same_topic_other += payment.fires(chaos_fault::crash, record(i, 0, 1, "payment-requests")) ==
                            payment.fires(chaos_fault::crash, record(i, 0, 1, "other-topic"))
                          ? 1
                          : 0;
  EXPECT_NEAR(same_topic_other / 10'000.0, 0.5, 0.03);
}

TEST(ChaosInjector, CountsAreExactWhenManyThreadsAsk) {
  // given one injector and the count a single thread observes
  const auto spec = spec_of("payment.crash=0.2", 77);
  chaos_injector single{spec, "payment"};
  decisions(single, chaos_fault::crash, 40'000);
  // when four threads ask about the same 40,000 records, a quarter each
  chaos_injector shared{spec, "payment"};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&shared, t] {
      for (int i = t * 10'000; i < (t + 1) * 10'000; ++i)
        shared.fires(chaos_fault::crash, record(i / 6, i % 6));
    });
  for (auto& t : threads)
    t.join();
  // then the shared counter has counted every firing exactly once
  EXPECT_EQ(shared.fired(chaos_fault::crash), single.fired(chaos_fault::crash));
  EXPECT_GT(single.fired(chaos_fault::crash), 0);
}

}  // namespace
