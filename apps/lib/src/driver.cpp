#include "kastor/apps/driver.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "kastor/actors/ledger.hpp"
#include "kastor/actors/messages.hpp"
#include "kastor/apps/http_client.hpp"

namespace kastor::apps {

bool sample_order_declined(int i) {
  return i % 7 == 6 || i % 11 == 10;
}

std::string sample_order_json(int i) {
  // Prices in cents; over-limit orders buy one 1,250.00 item.
  std::string customer = (i % 11 == 10 ? "blocked-customer-" : "customer-") + std::to_string(i % 97);
  std::vector<std::pair<int64_t, int64_t>> lines;  // price cents, quantity
  if (i % 7 == 6)
    lines = {{125000, 1}};
  else
    lines = {{4999 + (i % 5) * 100, 1 + i % 3}, {1250, 2}};
  auto money = [](int64_t c) {
    return std::to_string(c / 100) + "." + (c % 100 < 10 ? "0" : "") + std::to_string(c % 100);
  };
  std::string items;
  int64_t total = 0;
  for (size_t k = 0; k < lines.size(); ++k) {
    auto [price, qty] = lines[k];
    total += price * qty;
    items += (k ? "," : "") + std::string{"{\"productId\":\"product-"} + std::to_string(k + i % 13)
             + "\",\"name\":\"Sample product " + std::to_string(k) + "\",\"price\":" + money(price)
             + ",\"quantity\":" + std::to_string(qty) + ",\"subtotal\":" + money(price * qty) + "}";
  }
  return "{\"customerId\":\"" + customer + "\",\"items\":[" + items
         + "],\"totalAmount\":" + money(total) + "}";
}

drive_result drive_orders(const drive_options& opts) {
  drive_result out;
  std::mutex mtx;
  std::atomic<int> next{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  int conc = std::max(1, std::min(opts.concurrency, opts.orders));
  for (int w = 0; w < conc; ++w)
    workers.emplace_back([&] {
      http_client client{opts.host, opts.port};
      for (;;) {
        int k = next.fetch_add(1);
        if (k >= opts.orders || (opts.stop && opts.stop->load()))
          return;
        if (opts.rate > 0)  // open-loop pacing: order k is due at k / rate
          std::this_thread::sleep_until(start + std::chrono::microseconds{
                                                  static_cast<int64_t>(k * 1e6 / opts.rate)});
        int i = opts.first + k;
        auto reply = client.post_json("/api/orders", sample_order_json(i));
        std::lock_guard<std::mutex> guard{mtx};
        if (!reply || reply->status >= 500) {
          ++out.failed;
        } else if (reply->status == 202) {
          boost::system::error_code ec;
          auto v = boost::json::parse(reply->body, ec);
          const auto* id = !ec && v.is_object() ? v.as_object().if_contains("orderId") : nullptr;
          if (id == nullptr || !id->is_string()) {
            ++out.failed;  // a 202 without an order id is a broken answer
            continue;
          }
          out.accepted.push_back(std::string{id->as_string()});
          out.accepted_index.push_back(i);
        } else {
          ++out.rejected;
        }
      }
    });
  for (auto& t : workers)
    t.join();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

order_check check_orders(const std::string& host, uint16_t port,
                         const std::vector<std::string>& ids,
                         const std::vector<std::string>& payment_ledgers,
                         const std::vector<std::string>& email_outboxes,
                         std::chrono::milliseconds deadline,
                         const std::function<void(size_t)>& progress,
                         const std::atomic<bool>* stop) {
  order_check out;
  http_client client{host, port};
  std::vector<std::string> pending = ids;
  std::vector<std::string> statuses;
  auto until = std::chrono::steady_clock::now() + deadline;
  auto last_progress = std::chrono::steady_clock::now();
  std::map<std::string, std::string> payment_status;
  while (!pending.empty() && std::chrono::steady_clock::now() < until
         && !(stop && stop->load())) {
    std::vector<std::string> still;
    for (const auto& id : pending) {
      auto reply = client.get("/api/orders/" + id);
      if (reply && reply->status == 200) {
        boost::system::error_code ec;
        auto v = boost::json::parse(reply->body, ec);
        const auto* o = !ec && v.is_object() ? &v.as_object() : nullptr;
        const auto* status = o ? o->if_contains("status") : nullptr;
        const auto* paid = o ? o->if_contains("paymentStatus") : nullptr;
        if (status && status->is_string() && status->as_string() == "NOTIFIED") {
          ++out.terminal;
          payment_status[id] = paid && paid->is_string() ? std::string{paid->as_string()} : "";
          continue;
        }
      }
      still.push_back(id);
    }
    pending.swap(still);
    if (progress && std::chrono::steady_clock::now() - last_progress > std::chrono::seconds{1}) {
      progress(out.terminal);
      last_progress = std::chrono::steady_clock::now();
    }
    if (!pending.empty())  // polling an HTTP API: pace the next pass
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  out.not_terminal = pending;
  for (const auto& [id, ps] : payment_status) {
    if (ps == "SUCCEEDED")
      ++out.paid;
    else if (ps == "DECLINED")
      ++out.declined;
    else if (ps == actors::payment_timed_out)
      ++out.timed_out;
  }
  std::vector<std::unique_ptr<actors::jsonl_ledger>> charges, emails;
  for (const auto& p : payment_ledgers)
    charges.push_back(std::make_unique<actors::jsonl_ledger>(p, "orderId"));
  for (const auto& p : email_outboxes)
    emails.push_back(std::make_unique<actors::jsonl_ledger>(p, "emailKey"));
  for (const auto& id : ids) {
    size_t c = 0, e = 0, cancelled = 0;
    for (auto& l : charges)
      c += l->count(id);  // a charge, or the seal of an order cancelled first
    for (auto& l : emails) {
      e += l->count(id + "/" + actors::notify_payment_succeeded)
           + l->count(id + "/" + actors::notify_payment_failed);
      cancelled += l->count(id + "/" + actors::notify_order_cancelled)
                   + l->count(id + "/" + actors::notify_payment_refunded);
    }
    bool bad = false;
    if (c != 1) {
      ++out.charge_anomalies;
      bad = true;
    }
    auto ps = payment_status.find(id);
    const bool timed_out = ps != payment_status.end() && ps->second == actors::payment_timed_out;
    if (timed_out ? (cancelled != 1 || e > 1) : (e != 1 || cancelled != 0)) {
      ++out.email_anomalies;
      bad = true;
    }
    if (bad)
      out.broken.push_back(id);
  }
  return out;
}

}  // namespace kastor::apps
