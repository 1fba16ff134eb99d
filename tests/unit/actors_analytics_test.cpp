// analytics_book: all-time and last-minute aggregates, deduplicated by order id.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "kastor/actors/analytics.hpp"

namespace rt = kastor::runtime;
namespace actors = kastor::actors;
using kastor::actors::analytics_book;
using kastor::actors::analytics_report;
using kastor::actors::log_linear_histogram;

namespace {

const rt::record_meta meta{};

actors::order_created created(const std::string& id, int64_t created_at) {
  actors::order_created o;
  o.order_id = id;
  o.customer_id = "c-1";
  o.total_cents = 1000;
  o.created_at_ms = created_at;
  return o;
}

actors::payment_result paid(const std::string& id, int64_t cents) {
  return {id, "c-1", cents, actors::payment_succeeded, "", "tx-" + id, 0};
}

actors::payment_result declined(const std::string& id, int64_t cents) {
  return {id, "c-1", cents, actors::payment_declined, "amount over limit", "", 0};
}

actors::email_sent emailed(const std::string& id, int64_t sent_at) {
  return {id, "c-1", actors::notify_payment_succeeded, sent_at};
}

// The exact nearest-rank percentile of a sample set.
int64_t exact_percentile(std::vector<int64_t> v, double p) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::max<size_t>(rank, 1) - 1];
}

// A book fed with three orders: o-1 paid 99.98 and emailed, o-2 paid 25.00,
// o-3 declined; o-1's and o-2's emails went out 250 and 400 ms after acceptance.
analytics_book three_orders(int64_t now, int times = 1) {
  analytics_book book;
  for (int i = 0; i < times; ++i) {
    book.handle(meta, created("o-1", 1'000), now);
    book.handle(meta, created("o-2", 2'000), now);
    book.handle(meta, created("o-3", 3'000), now);
    book.handle(meta, paid("o-1", 9998), now);
    book.handle(meta, paid("o-2", 2500), now);
    book.handle(meta, declined("o-3", 500000), now);
    book.handle(meta, emailed("o-1", 1'250), now);
    book.handle(meta, emailed("o-2", 2'400), now);
  }
  return book;
}

}  // namespace

TEST(LogLinearHistogram, SmallValuesAreExact) {
  log_linear_histogram h;
  for (int64_t v = 1; v <= 100; ++v)
    h.record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.percentile(50), 50);
  EXPECT_EQ(h.percentile(95), 95);
  EXPECT_EQ(h.percentile(99), 99);
  EXPECT_EQ(h.percentile(100), 100);
  EXPECT_EQ(h.min(), 1);
}

TEST(LogLinearHistogram, LargeValuesAreWithinOnePercent) {
  log_linear_histogram h;
  std::vector<int64_t> samples;
  // A spread from milliseconds to days, deterministic
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 20'000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    auto v = static_cast<int64_t>(x % 1'000'000'000ull >> (x % 20));
    samples.push_back(v);
    h.record(v);
  }
  for (double p : {1.0, 10.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0}) {
    auto exact = exact_percentile(samples, p);
    auto approx = h.percentile(p);
    EXPECT_LE(std::abs(approx - exact), std::max<int64_t>(1, exact / 100))
        << "p" << p << " exact " << exact << " approx " << approx;
  }
}

TEST(LogLinearHistogram, MemoryIsBoundedWhateverTheValues) {
  log_linear_histogram h;
  h.record(-5);  // counts as 0
  h.record(std::numeric_limits<int64_t>::max());
  EXPECT_LE(h.buckets(), 7'300u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.percentile(100), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(h.percentile(50), 0);
}

TEST(LogLinearHistogram, AnEmptyHistogramReportsZero) {
  log_linear_histogram h;
  EXPECT_EQ(h.percentile(99), 0);
  EXPECT_EQ(h.count(), 0u);
}

TEST(AnalyticsBook, AnEmptyBookReportsZerosAndNoSuccessRate) {
  analytics_book book;
  auto r = book.report(1'000);
  EXPECT_EQ(r, analytics_report{});
  EXPECT_FALSE(r.all_time.payment_success_rate.has_value());
  auto v = boost::json::parse(book.report_json(1'000));
  EXPECT_TRUE(v.at("allTime").at("paymentSuccessRate").is_null());
  EXPECT_EQ(v.at("lastMinute").at("latencyMs").at("count").as_int64(), 0);
}

TEST(AnalyticsBook, CountsOrdersPaymentsRevenueEmailsAndLatency) {
  // Given three orders (see three_orders)
  auto book = three_orders(10'000);
  // When a report is taken within the minute
  auto r = book.report(10'500);
  // Then all time and last minute agree on every figure
  for (const auto* t : {&r.all_time, &r.last_minute}) {
    EXPECT_EQ(t->orders, 3u);
    EXPECT_EQ(t->revenue_cents, 12498);
    EXPECT_EQ(t->payments_succeeded, 2u);
    EXPECT_EQ(t->payments_declined, 1u);
    ASSERT_TRUE(t->payment_success_rate.has_value());
    EXPECT_DOUBLE_EQ(*t->payment_success_rate, 2.0 / 3.0);
    EXPECT_EQ(t->emails_sent, 2u);
    EXPECT_EQ(t->latency.count, 2u);
    EXPECT_EQ(t->latency.p50_ms, 250);
    EXPECT_EQ(t->latency.p99_ms, 400);
  }
}

TEST(AnalyticsBook, RedeliveredRecordsAreCountedOnce) {
  // Given every record delivered three times
  auto thrice = three_orders(10'000, 3);
  // Then the report is that of a single delivery
  EXPECT_EQ(thrice.report(10'500), three_orders(10'000).report(10'500));
  EXPECT_EQ(thrice.window_samples(), three_orders(10'000).window_samples());
}

TEST(AnalyticsBook, LatencyIsTakenWhicheverOfCreatedAndEmailedArrivesFirst) {
  analytics_book book;
  // o-1: accepted, then emailed 250 ms later
  book.handle(meta, created("o-1", 1'000), 1'000);
  book.handle(meta, emailed("o-1", 1'250), 1'300);
  // o-2: its email_sent overtook its order_created
  book.handle(meta, emailed("o-2", 5'400), 5'500);
  EXPECT_EQ(book.report(5'500).all_time.latency.count, 1u);
  book.handle(meta, created("o-2", 5'000), 5'600);
  // And both redelivered
  book.handle(meta, emailed("o-2", 5'400), 5'700);
  book.handle(meta, created("o-1", 1'000), 5'800);
  auto lat = book.report(6'000).all_time.latency;
  EXPECT_EQ(lat.count, 2u);
  EXPECT_EQ(lat.p50_ms, 250);
  EXPECT_EQ(lat.p95_ms, 400);
}

TEST(AnalyticsBook, AnEmailStampedBeforeItsOrderCountsAsZeroLatency) {
  analytics_book book;  // clocks of two machines disagree
  book.handle(meta, created("o-1", 2'000), 2'000);
  book.handle(meta, emailed("o-1", 1'990), 2'001);
  EXPECT_EQ(book.report(2'001).all_time.latency.p50_ms, 0);
}

TEST(AnalyticsBook, PercentilesOfKnownLatencies) {
  // Given 100 orders emailed 1..100 ms after acceptance, in shuffled order
  analytics_book book;
  for (int i = 0; i < 100; ++i) {
    int ms = (i * 37) % 100 + 1;  // 37 is coprime with 100: a permutation of 1..100
    auto id = "o-" + std::to_string(i);
    book.handle(meta, created(id, 10'000), 20'000);
    book.handle(meta, emailed(id, 10'000 + ms), 20'000);
  }
  // Then nearest-rank percentiles are exact, over all time and the last minute
  auto r = book.report(20'000);
  for (const auto* t : {&r.all_time, &r.last_minute}) {
    EXPECT_EQ(t->latency.count, 100u);
    EXPECT_EQ(t->latency.p50_ms, 50);
    EXPECT_EQ(t->latency.p95_ms, 95);
    EXPECT_EQ(t->latency.p99_ms, 99);
  }
}

TEST(AnalyticsBook, AllTimePercentilesOfLongLatenciesAreWithinOnePercent) {
  analytics_book book;
  std::vector<int64_t> latencies;
  for (int i = 1; i <= 1000; ++i) {
    int64_t ms = int64_t{i} * i * 7 + 300;  // 307 ms .. ~7,000 s
    latencies.push_back(ms);
    auto id = "o-" + std::to_string(i);
    book.handle(meta, created(id, 1'000), 1'000);
    book.handle(meta, emailed(id, 1'000 + ms), 1'000);
  }
  auto r = book.report(1'000);
  auto check = [&](int64_t got, double p) {
    auto exact = exact_percentile(latencies, p);
    EXPECT_LE(std::abs(got - exact), exact / 100) << "p" << p << " exact " << exact;
  };
  check(r.all_time.latency.p50_ms, 50);
  check(r.all_time.latency.p95_ms, 95);
  check(r.all_time.latency.p99_ms, 99);
  // The window holds exact samples
  EXPECT_EQ(r.last_minute.latency.p95_ms, exact_percentile(latencies, 95));
}

TEST(AnalyticsBook, TheLastMinuteForgetsWhatIsOlderThanSixtySeconds) {
  // Given three orders handled at t = 10 s
  auto book = three_orders(10'000);
  // Then they are in the last minute until just before t = 70 s
  EXPECT_EQ(book.report(69'999).last_minute.orders, 3u);
  auto later = book.report(70'000);
  EXPECT_EQ(later.last_minute, kastor::actors::analytics_totals{});
  // And all time keeps them
  EXPECT_EQ(later.all_time.orders, 3u);
  EXPECT_EQ(later.all_time.revenue_cents, 12498);
}

TEST(AnalyticsBook, TheWindowDropsExpiredSamplesAsTimeMovesOn) {
  auto book = three_orders(10'000);
  EXPECT_EQ(book.window_samples(), 10u);  // 3 orders, 3 payments, 2 emails, 2 latencies
  // When a new order arrives two minutes later
  book.handle(meta, created("o-4", 130'000), 130'000);
  // Then only it is kept for the window, and the last minute shows only it
  EXPECT_EQ(book.window_samples(), 1u);
  auto r = book.report(130'000);
  EXPECT_EQ(r.last_minute.orders, 1u);
  EXPECT_EQ(r.last_minute.revenue_cents, 0);
  EXPECT_FALSE(r.last_minute.payment_success_rate.has_value());
  EXPECT_EQ(r.all_time.orders, 4u);
}

TEST(AnalyticsBook, LastMinutePercentilesCoverOnlyRecentOrders) {
  analytics_book book;
  // Slow orders long ago, fast ones now
  for (int i = 0; i < 10; ++i) {
    auto id = "old-" + std::to_string(i);
    book.handle(meta, created(id, 1'000), 1'000);
    book.handle(meta, emailed(id, 6'000), 1'000);
  }
  for (int i = 0; i < 10; ++i) {
    auto id = "new-" + std::to_string(i);
    book.handle(meta, created(id, 100'000), 100'000);
    book.handle(meta, emailed(id, 100'010), 100'000);
  }
  auto r = book.report(100'000);
  EXPECT_EQ(r.last_minute.latency, (kastor::actors::latency_summary{10, 10, 10, 10}));
  EXPECT_EQ(r.all_time.latency.count, 20u);
  EXPECT_EQ(r.all_time.latency.p99_ms, 5'000);
}

TEST(AnalyticsBook, AnOrderHasOnePaymentOutcome) {
  analytics_book book;
  book.handle(meta, paid("o-1", 1000), 1);
  book.handle(meta, declined("o-1", 1000), 2);
  book.handle(meta, paid("o-1", 5000), 3);
  auto r = book.report(3).all_time;
  EXPECT_EQ(r.payments_succeeded, 1u);
  EXPECT_EQ(r.payments_declined, 0u);
  EXPECT_EQ(r.revenue_cents, 1000);
  EXPECT_EQ(r.orders, 0u);  // orders count order_created only
}

TEST(AnalyticsBook, ARefundedChargeLeavesTheRevenueOnce) {
  // Given three orders, o-2 (25.00, paid) then refunded after its timeout
  auto book = three_orders(10'000);
  actors::email_sent refund{"o-2", "c-1", actors::notify_payment_refunded, 10'600};
  // When its refund email arrives (twice: redelivered)
  book.handle(meta, refund, 10'600);
  book.handle(meta, refund, 10'700);
  // Then its total leaves the revenue once, in both periods, and the other
  // figures stand (it is still a payment that succeeded, and an email)
  auto r = book.report(10'800);
  for (const auto* t : {&r.all_time, &r.last_minute}) {
    EXPECT_EQ(t->revenue_cents, 12498 - 2500);
    EXPECT_EQ(t->refunds, 1u);
    EXPECT_EQ(t->payments_succeeded, 2u);
    EXPECT_EQ(t->emails_sent, 2u);
  }
  EXPECT_EQ(boost::json::parse(book.report_json(10'800)).at("allTime").at("refunds").as_int64(),
            1);
}

TEST(AnalyticsBook, ARefundSeenBeforeItsChargeCountsWhenTheChargeArrives) {
  analytics_book book;
  // Given the refund email first (email-sent read before payment-results)
  book.handle(meta, actors::email_sent{"o-1", "c-1", actors::notify_payment_refunded, 5}, 5);
  EXPECT_EQ(book.report(5).all_time.refunds, 0u);
  // When the charge it refunds arrives
  book.handle(meta, paid("o-1", 1000), 6);
  // Then revenue nets to zero and one refund is counted
  auto t = book.report(7).all_time;
  EXPECT_EQ(t.revenue_cents, 0);
  EXPECT_EQ(t.refunds, 1u);
  EXPECT_EQ(t.payments_succeeded, 1u);
  // A charge without an amount (a seed billing's) is still refunded once
  book.handle(meta, paid("o-0", 0), 7);
  book.handle(meta, actors::email_sent{"o-0", "c-1", actors::notify_payment_refunded, 7}, 7);
  EXPECT_EQ(book.report(7).all_time.refunds, 2u);
  // And a declined order's refund email (none is sent, but a forged one) refunds nothing
  book.handle(meta, declined("o-2", 500), 8);
  book.handle(meta, actors::email_sent{"o-2", "c-1", actors::notify_payment_refunded, 9}, 9);
  EXPECT_EQ(book.report(9).all_time.refunds, 2u);
  EXPECT_EQ(book.report(9).all_time.revenue_cents, 0);
}

TEST(AnalyticsBook, HandlersEmitNothing) {
  analytics_book book;
  EXPECT_TRUE(book.handle(meta, created("o-1", 1), 1).empty());
  EXPECT_TRUE(book.handle(meta, paid("o-1", 1), 1).empty());
  EXPECT_TRUE(book.handle(meta, emailed("o-1", 1), 1).empty());
}

TEST(AnalyticsBook, BadRecordsAreRejectedAndCountNothing) {
  analytics_book book;
  auto bad = paid("o-1", 1000);
  bad.status = "PENDING";
  EXPECT_THROW(book.handle(meta, bad, 1), std::invalid_argument);
  EXPECT_THROW(book.handle(meta, created("", 1), 1), std::invalid_argument);
  EXPECT_EQ(book.report(1), analytics_report{});
  // The order can still be counted when its real result arrives
  book.handle(meta, paid("o-1", 1000), 2);
  EXPECT_EQ(book.report(2).all_time.payments_succeeded, 1u);
}

TEST(AnalyticsBook, ReportJsonHasTheDocumentedShape) {
  auto book = three_orders(10'000);
  auto text = book.report_json(10'500);
  // Revenue is a decimal, like the wire's money
  EXPECT_NE(text.find("\"revenue\":124.98"), std::string::npos) << text;
  auto v = boost::json::parse(text).as_object();
  ASSERT_EQ(v.size(), 2u);
  for (const char* period : {"allTime", "lastMinute"}) {
    const auto& t = v.at(period).as_object();
    EXPECT_EQ(t.at("orders").as_int64(), 3);
    EXPECT_DOUBLE_EQ(t.at("revenue").as_double(), 124.98);
    EXPECT_EQ(t.at("paymentsSucceeded").as_int64(), 2);
    EXPECT_EQ(t.at("paymentsDeclined").as_int64(), 1);
    EXPECT_NEAR(t.at("paymentSuccessRate").as_double(), 2.0 / 3.0, 1e-12);
    EXPECT_EQ(t.at("emailsSent").as_int64(), 2);
    const auto& lat = t.at("latencyMs").as_object();
    EXPECT_EQ(lat.at("p50").as_int64(), 250);
    EXPECT_EQ(lat.at("p95").as_int64(), 400);
    EXPECT_EQ(lat.at("p99").as_int64(), 400);
    EXPECT_EQ(lat.at("count").as_int64(), 2);
  }
  // Past the window, lastMinute is all zeros and still valid JSON
  auto idle = boost::json::parse(book.report_json(200'000));
  EXPECT_EQ(idle.at("lastMinute").at("revenue").to_number<double>(), 0.0);
  EXPECT_TRUE(idle.at("lastMinute").at("paymentSuccessRate").is_null());
}
