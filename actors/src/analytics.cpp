#include "kastor/actors/analytics.hpp"

#include "checks.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

#include "json_text.hpp"

namespace kastor::actors {

namespace rt = kastor::runtime;

// --- log_linear_histogram ------------------------------------------------------

namespace {

// Values below 2^(sub_bits+1) get a bucket each; above, every power of two
// [2^k, 2^(k+1)) is cut into 2^sub_bits buckets of width 2^(k-sub_bits), so a
// bucket is at most 1/128 of its lower bound wide.
constexpr int sub_bits = 7;
constexpr uint64_t sub_count = uint64_t{1} << sub_bits;  // 128
constexpr uint64_t exact_limit = sub_count * 2;          // 256

size_t bucket_of(uint64_t v) {
  if (v < exact_limit)
    return static_cast<size_t>(v);
  int k = std::bit_width(v) - 1;  // >= sub_bits + 1
  int shift = k - sub_bits;
  uint64_t top = v >> shift;  // in [128, 256)
  return static_cast<size_t>(exact_limit + static_cast<uint64_t>(k - sub_bits - 1) * sub_count +
                             (top - sub_count));
}

// The lowest value and the width of a bucket.
std::pair<uint64_t, uint64_t> bucket_range(size_t index) {
  if (index < exact_limit)
    return {index, 1};
  uint64_t i = index - exact_limit;
  int shift = static_cast<int>(i / sub_count) + 1;
  uint64_t top = sub_count + i % sub_count;
  return {top << shift, uint64_t{1} << shift};
}

// Nearest rank of percentile p among n samples (1-based).
uint64_t rank_of(double p, uint64_t n) {
  auto r = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  return std::clamp<uint64_t>(r, 1, n);
}

}  // namespace

void log_linear_histogram::record(int64_t value) {
  if (value < 0)
    value = 0;
  size_t b = bucket_of(static_cast<uint64_t>(value));
  if (b >= counts_.size())
    counts_.resize(b + 1, 0);
  ++counts_[b];
  if (count_ == 0 || value < min_)
    min_ = value;
  if (count_ == 0 || value > max_)
    max_ = value;
  ++count_;
}

int64_t log_linear_histogram::percentile(double p) const {
  if (count_ == 0)
    return 0;
  uint64_t rank = rank_of(p, count_);
  // The extremes are known exactly.
  if (rank == count_)
    return max_;
  if (rank == 1)
    return min_;
  uint64_t seen = 0;
  for (size_t b = 0; b < counts_.size(); ++b) {
    seen += counts_[b];
    if (seen >= rank) {
      auto [lo, width] = bucket_range(b);
      auto mid = static_cast<int64_t>(lo + (width - 1) / 2);
      return std::clamp(mid, min_, max_);  // never answer outside what was seen
    }
  }
  return max_;
}

// --- analytics_book --------------------------------------------------------------

namespace {

void finish_rate(analytics_totals& t) {
  auto n = t.payments_succeeded + t.payments_declined;
  if (n == 0)
    t.payment_success_rate.reset();
  else
    t.payment_success_rate =
        static_cast<double>(t.payments_succeeded) / static_cast<double>(n);
}

}  // namespace

// Each handler validates first, then decides what to count from a copy of the
// order's facts, and stores the facts last: a throw counts nothing.

std::vector<rt::message> analytics_book::handle(const rt::record_meta&,
                                                    const actors::order_created& msg,
                                                    int64_t now_ms) {
  detail::require_id(msg.order_id, "order_created");
  expire(now_ms);
  auto f = orders_[msg.order_id];
  if (!f.created) {
    f.created = true;
    f.created_at_ms = msg.created_at_ms != 0 ? msg.created_at_ms : now_ms;
    add(kind::order, 0, now_ms);
    maybe_latency(f, now_ms);
  }
  orders_[msg.order_id] = f;
  return {};
}

std::vector<rt::message> analytics_book::handle(const rt::record_meta&,
                                                    const actors::payment_result& msg,
                                                    int64_t now_ms) {
  const bool ok = detail::payment_ok(msg);
  expire(now_ms);
  auto f = orders_[msg.order_id];
  if (!f.paid) {
    // An order has one payment outcome: the first one counted stands.
    f.paid = true;
    f.charged = ok;
    f.charged_cents = ok ? msg.total_cents : 0;
    add(ok ? kind::succeeded : kind::declined, f.charged_cents, now_ms);
    if (ok)
      maybe_refund(f, now_ms);
  }
  orders_[msg.order_id] = f;
  return {};
}

std::vector<rt::message> analytics_book::handle(const rt::record_meta&,
                                                    const actors::email_sent& msg,
                                                    int64_t now_ms) {
  detail::require_id(msg.order_id, "email_sent");
  expire(now_ms);
  auto f = orders_[msg.order_id];
  if (!f.emailed) {
    f.emailed = true;
    f.sent_at_ms = msg.sent_at_ms;
    add(kind::email, 0, now_ms);
    maybe_latency(f, now_ms);
  }
  if (msg.kind == actors::notify_payment_refunded && !f.refund_seen) {
    f.refund_seen = true;
    maybe_refund(f, now_ms);
  }
  orders_[msg.order_id] = f;
  return {};
}

void analytics_book::maybe_latency(order_facts& f, int64_t now_ms) {
  if (f.latency || !f.created || !f.emailed)
    return;
  f.latency = true;
  add(kind::latency, std::max<int64_t>(0, f.sent_at_ms - f.created_at_ms), now_ms);
}

void analytics_book::maybe_refund(order_facts& f, int64_t now_ms) {
  if (f.refunded || !f.refund_seen || !f.charged)
    return;
  f.refunded = true;
  add(kind::refund, f.charged_cents, now_ms);
}

void analytics_book::add(kind what, int64_t value, int64_t now_ms) {
  window_.push_back(sample{now_ms, what, value});  // the step that may throw, first
  switch (what) {
    case kind::order:
      ++all_time_.orders;
      break;
    case kind::succeeded:
      ++all_time_.payments_succeeded;
      all_time_.revenue_cents += value;
      break;
    case kind::declined:
      ++all_time_.payments_declined;
      break;
    case kind::email:
      ++all_time_.emails_sent;
      break;
    case kind::refund:
      ++all_time_.refunds;
      all_time_.revenue_cents -= value;
      break;
    case kind::latency:
      histogram_.record(value);
      break;
  }
}

void analytics_book::expire(int64_t now_ms) {
  // Samples are appended in handling order; if the caller's clock stepped
  // back a few stay longer than needed, and report() filters them anyway.
  while (!window_.empty() && now_ms - window_.front().at_ms >= window_ms)
    window_.pop_front();
}

analytics_report analytics_book::report(int64_t now_ms) const {
  analytics_report r;
  r.all_time = all_time_;
  r.all_time.latency = {histogram_.percentile(50), histogram_.percentile(95),
                        histogram_.percentile(99), histogram_.count()};
  finish_rate(r.all_time);

  auto& w = r.last_minute;
  std::vector<int64_t> latencies;
  for (const auto& s : window_) {
    if (now_ms - s.at_ms >= window_ms)
      continue;
    switch (s.what) {
      case kind::order:
        ++w.orders;
        break;
      case kind::succeeded:
        ++w.payments_succeeded;
        w.revenue_cents += s.value;
        break;
      case kind::declined:
        ++w.payments_declined;
        break;
      case kind::email:
        ++w.emails_sent;
        break;
      case kind::refund:
        ++w.refunds;
        w.revenue_cents -= s.value;
        break;
      case kind::latency:
        latencies.push_back(s.value);
        break;
    }
  }
  finish_rate(w);
  std::sort(latencies.begin(), latencies.end());
  auto n = static_cast<uint64_t>(latencies.size());
  auto pct = [&](double p) { return n == 0 ? 0 : latencies[rank_of(p, n) - 1]; };
  w.latency = {pct(50), pct(95), pct(99), n};
  return r;
}

std::string analytics_book::report_json(int64_t now_ms) const {
  return to_json(report(now_ms));
}

std::string to_json(const analytics_totals& t) {
  auto latency = detail::object_writer{}
                     .integer("p50", t.latency.p50_ms)
                     .integer("p95", t.latency.p95_ms)
                     .integer("p99", t.latency.p99_ms)
                     .integer("count", t.latency.count)
                     .done();
  return detail::object_writer{}
      .integer("orders", t.orders)
      .money("revenue", t.revenue_cents)
      .integer("paymentsSucceeded", t.payments_succeeded)
      .integer("paymentsDeclined", t.payments_declined)
      .raw("paymentSuccessRate", t.payment_success_rate
                                     ? detail::double_text(*t.payment_success_rate)
                                     : std::string("null"))
      .integer("emailsSent", t.emails_sent)
      .integer("refunds", t.refunds)
      .raw("latencyMs", latency)
      .done();
}

std::string to_json(const analytics_report& r) {
  return detail::object_writer{}
      .raw("allTime", to_json(r.all_time))
      .raw("lastMinute", to_json(r.last_minute))
      .done();
}

}  // namespace kastor::actors
