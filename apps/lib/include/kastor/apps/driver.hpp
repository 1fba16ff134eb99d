// Drives sample orders through a gateway over HTTP and checks the outcome:
// used by `kastor demo --orders N`, `kastor bench` and the system tests.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kastor::apps {

// The seed 002 body of sample order `i` (deterministic). Every 7th order is
// over the default 1,000.00 limit and every 11th comes from a blocked
// customer: both are declined by the payment rules.
std::string sample_order_json(int i);
bool sample_order_declined(int i);

struct drive_options {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  int orders = 100;
  int concurrency = 16;
  double rate = 0;  // orders/s offered in total; 0: as fast as the gateway answers
  int first = 0;    // index of the first sample order
  const std::atomic<bool>* stop = nullptr;  // set: no more orders are sent
};

struct drive_result {
  std::vector<std::string> accepted;  // order ids answered 202
  std::vector<int> accepted_index;    // their sample indexes
  size_t rejected = 0;                // 4xx
  size_t failed = 0;                  // 5xx or transport errors
  double seconds = 0;
};

drive_result drive_orders(const drive_options& opts);

struct order_check {
  size_t terminal = 0;
  size_t paid = 0;
  size_t declined = 0;
  size_t timed_out = 0;         // cancelled for want of a payment outcome (order.hpp)
  size_t charge_anomalies = 0;  // orders with 0 or more than 1 charge-ledger records
  // orders with 0 or more than 1 outcome emails (a timed-out order: not
  // exactly one cancellation email, or more than one outcome email)
  size_t email_anomalies = 0;
  std::vector<std::string> not_terminal;
  std::vector<std::string> broken;  // ids that broke an invariant
  bool ok(size_t expected) const {
    return terminal == expected && charge_anomalies == 0 && email_anomalies == 0;
  }
};

// Polls GET /api/orders/{id} until every order is NOTIFIED or the deadline
// passes; then counts charges and emails per order in the given ledger files.
// `progress` (may be empty) is called about once a second with the count of
// terminal orders.
order_check check_orders(const std::string& host, uint16_t port,
                         const std::vector<std::string>& ids,
                         const std::vector<std::string>& payment_ledgers,
                         const std::vector<std::string>& email_outboxes,
                         std::chrono::milliseconds deadline,
                         const std::function<void(size_t)>& progress = {},
                         const std::atomic<bool>* stop = nullptr);

}  // namespace kastor::apps
