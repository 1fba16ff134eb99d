// analytics_book: aggregates of the pipeline, over all time and over the last
// minute, for GET /api/analytics and `kastor demo`.
//
// Counted once per order id and category, however often a record is
// redelivered: orders (order_created), payments succeeded / declined and
// revenue (the first payment_result of an order), emails sent (the first
// email_sent of an order), refunds (an order whose counted SUCCEEDED charge
// payment refunded, seen as its PAYMENT_REFUNDED email, whichever of the two
// arrives first: its total leaves the revenue then, so the last minute's
// revenue is negative when it holds a refund and not the older charge), and
// the latency accepted -> emailed (email_sent.sent_at_ms -
// order_created.created_at_ms, clamped at 0; a created_at_ms of 0 means
// "unknown" and is replaced by the handling time), taken when the second of
// the two arrives, whichever that is.
//
// The last minute is a sliding window on the time the book handled a record
// (`now_ms` of handle()): a report at `now` covers records handled at t with
// now - t < window_ms. All-time latencies go into a log-linear histogram
// (bounded memory, <1% relative error); the window keeps exact samples and
// drops them as they expire. The per-order dedupe facts (a few bytes per
// order id) are kept for the life of the book.
//
// Thread-safety: none; one actor owns it. Exceptions: std::invalid_argument
// for a message without order id, or a payment_result whose status is neither
// SUCCEEDED nor DECLINED; a handle() that throws has counted nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kastor/actors/messages.hpp"

namespace kastor::actors {

// Non-negative integers (milliseconds) in log-linear buckets: exact below 256,
// then 128 buckets per power of two, so a percentile is within 0.4% of the
// true sample. Memory: one counter per bucket up to the largest value seen
// (at most ~7,300 counters).
class log_linear_histogram {
public:
  void record(int64_t value);  // negative values count as 0
  uint64_t count() const { return count_; }
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  int64_t max() const { return count_ == 0 ? 0 : max_; }
  // Nearest-rank percentile, p in (0, 100]; 0 when empty.
  int64_t percentile(double p) const;
  size_t buckets() const { return counts_.size(); }

private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
};

struct latency_summary {
  int64_t p50_ms = 0;
  int64_t p95_ms = 0;
  int64_t p99_ms = 0;
  uint64_t count = 0;
  friend bool operator==(const latency_summary&, const latency_summary&) = default;
};

struct analytics_totals {
  uint64_t orders = 0;
  int64_t revenue_cents = 0;  // sum of SUCCEEDED totals, less the refunded ones
  uint64_t payments_succeeded = 0;
  uint64_t payments_declined = 0;
  // succeeded / (succeeded + declined); empty (JSON null) without payments.
  std::optional<double> payment_success_rate;
  uint64_t emails_sent = 0;
  uint64_t refunds = 0;  // succeeded charges refunded (a timed-out order's)
  latency_summary latency;
  friend bool operator==(const analytics_totals&, const analytics_totals&) = default;
};

struct analytics_report {
  analytics_totals all_time;
  analytics_totals last_minute;
  friend bool operator==(const analytics_report&, const analytics_report&) = default;
};

class analytics_book {
public:
  static constexpr int64_t window_ms = 60'000;

  // None of these emits anything.
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                           const actors::order_created& msg,
                                           int64_t now_ms);
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                           const actors::payment_result& msg,
                                           int64_t now_ms);
  std::vector<runtime::message> handle(const runtime::record_meta& meta,
                                           const actors::email_sent& msg,
                                           int64_t now_ms);

  analytics_report report(int64_t now_ms) const;

  // {"allTime":{"orders":..,"revenue":123.45,"paymentsSucceeded":..,
  //  "paymentsDeclined":..,"paymentSuccessRate":0.9,"emailsSent":..,"refunds":..,
  //  "latencyMs":{"p50":..,"p95":..,"p99":..,"count":..}},"lastMinute":{..}}
  std::string report_json(int64_t now_ms) const;

  // Samples the window currently holds (expired ones are dropped on handle).
  size_t window_samples() const { return window_.size(); }

private:
  enum class kind : uint8_t { order, succeeded, declined, email, refund, latency };
  struct sample {
    int64_t at_ms;
    kind what;
    int64_t value;  // cents for succeeded and refund, ms for latency
  };
  struct order_facts {
    bool created = false;
    bool paid = false;  // a payment outcome was counted
    bool emailed = false;
    bool latency = false;
    bool refund_seen = false;  // its PAYMENT_REFUNDED email
    bool refunded = false;     // the refund was counted
    bool charged = false;       // its payment outcome counted was SUCCEEDED
    int64_t charged_cents = 0;  // with this total
    int64_t created_at_ms = 0;
    int64_t sent_at_ms = 0;
  };

  void add(kind what, int64_t value, int64_t now_ms);
  void maybe_latency(order_facts& f, int64_t now_ms);
  void maybe_refund(order_facts& f, int64_t now_ms);
  void expire(int64_t now_ms);

  std::unordered_map<std::string, order_facts> orders_;
  analytics_totals all_time_;  // latency filled from histogram_ in report()
  log_linear_histogram histogram_;
  std::deque<sample> window_;
};

// The JSON of one analytics_totals (the "allTime" / "lastMinute" objects).
std::string to_json(const analytics_totals& t);
std::string to_json(const analytics_report& r);

}  // namespace kastor::actors
