// The outcome the quarantine tests expect from 100 keys of 100 records each
// (record q of key k carries q as its total in cents), where record 30 of
// key-7 always crashes its actor.
#pragma once

#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/kafka.hpp"

namespace kastor::test {

// Handles payment requests keyed "key-N" whose total is their sequence number
// within the key; the 31st of key-7 always crashes it.
struct keyed_state {
  std::mutex mtx;
  std::map<std::string, std::vector<int64_t>> seen;  // key -> seqs handled, in order
  std::vector<runtime::message> handle(const runtime::record_meta&,
                                           const actors::payment_request& r, int64_t) {
    if (r.order_id == "key-7" && r.total_cents == 30)
      throw std::runtime_error("poison");
    std::lock_guard<std::mutex> guard{mtx};
    seen[r.order_id].push_back(r.total_cents);
    return {};
  }
};

// The 10,000 records: 100 per key, in order per key.
inline std::vector<runtime::message> quarantine_records() {
  std::vector<runtime::message> batch;
  for (int64_t i = 0; i < 10000; ++i)
    batch.push_back(actors::payment_request{"key-" + std::to_string(i % 100), "c", i / 100});
  return batch;
}

// Every other key was handled completely, in order, once. key-7: 0..29 were
// handled; the DLQ holds 30..30+n-1 in order (the poison record and the n-1
// that waited behind it); the key was then released, and the rest was handled
// in order.
inline void expect_quarantine_outcome(std::map<std::string, std::vector<int64_t>>& seen,
                                      const std::vector<kafka_record>& dlq) {
  for (int k = 0; k < 100; ++k) {
    if (k == 7)
      continue;
    std::vector<int64_t> all;
    for (int64_t q = 0; q < 100; ++q)
      all.push_back(q);
    EXPECT_EQ(seen["key-" + std::to_string(k)], all) << "key-" << k;
  }
  ASSERT_FALSE(dlq.empty());
  std::vector<int64_t> dead, expected_dead, expected_seen;
  for (const auto& r : dlq) {
    EXPECT_EQ(r.key, "key-7");
    dead.push_back(std::llround(boost::json::parse(r.value).at("totalAmount").to_number<double>() * 100));
  }
  for (int64_t q = 0; q < 100; ++q) {
    if (q >= 30 && q < 30 + static_cast<int64_t>(dlq.size()))
      expected_dead.push_back(q);
    else
      expected_seen.push_back(q);
  }
  EXPECT_EQ(dead, expected_dead);
  EXPECT_EQ(seen["key-7"], expected_seen);
  EXPECT_NE(dlq[0].headers.at("kastor-dlq-reason").find("failed 5 times"), std::string::npos);
  if (dlq.size() > 1) {
    EXPECT_NE(dlq[1].headers.at("kastor-dlq-reason").find("behind record"), std::string::npos);
  }
}

}  // namespace kastor::test
