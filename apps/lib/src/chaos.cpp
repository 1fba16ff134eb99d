// kastor ctl load / kastor ctl check: the client and the checker of the fault
// suite (deploy/local/chaos.sh runs the faults in between).
//
// load records every request with what the client saw: ok (202 with the order
// id), failed (definitely not written: no gateway took the connection, a 4xx,
// or a 503 that says the write failed) or unknown (a timeout, a broken
// connection, a 5xx whose write may have happened). Every request carries an
// Idempotency-Key, so even an unknown request names the order it would have
// made. check waits until every acknowledged order is terminal (or a
// deadline), then checks the invariants over everything in Kafka and in the
// provider ledgers.
#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdint>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "kastor/actors/ledger.hpp"
#include "kastor/actors/messages.hpp"
#include "kastor/actors/order.hpp"
#include "kastor/actors/payment.hpp"
#include "kastor/apps/commands.hpp"
#include "kastor/apps/driver.hpp"
#include "kastor/apps/http_client.hpp"
#include "kastor/apps/idempotency.hpp"
#include "kastor/bridges/codec.hpp"
#include "kastor/bridges/kafka.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/role_actor.hpp"

namespace kastor::apps {

namespace {

struct endpoint {
  std::string host;
  uint16_t port = 0;
};

std::optional<endpoint> parse_endpoint(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return std::nullopt;
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(s.substr(colon + 1), &used);
    if (used != s.size() - colon - 1)
      return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (port <= 0 || port > 65535)
    return std::nullopt;
  return endpoint{s.substr(0, colon), static_cast<uint16_t>(port)};
}

// One line of the history: key, order id, outcome, gateway, start, end, detail.
struct request_record {
  std::string key;
  std::string order_id;
  std::string outcome;  // ok | failed | unknown
  std::string gateway;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string detail;
};

std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\t' || c == '\n' || c == '\r')
      c = ' ';
  return s.substr(0, 200);
}

}  // namespace

int run_load(const load_options& o) {
  std::vector<endpoint> gateways;
  std::stringstream list{o.gateways};
  for (std::string item; std::getline(list, item, ',');) {
    auto e = parse_endpoint(item);
    if (!e) {
      std::fprintf(stderr, "kastor ctl load: bad gateway '%s' (want HOST:PORT)\n", item.c_str());
      return 2;
    }
    gateways.push_back(*e);
  }
  if (gateways.empty()) {
    std::fprintf(stderr, "kastor ctl load: --gateways HOST:PORT[,HOST:PORT...] is required\n");
    return 2;
  }
  std::ofstream history{o.history, std::ios::app};
  if (!history) {
    std::fprintf(stderr, "kastor ctl load: cannot write '%s'\n", o.history.c_str());
    return 2;
  }
  // One try of request k: the first gateway tried is number `first` (round
  // robin); one that refuses the connection took nothing, so the next one is
  // tried with the same key.
  // A gateway that did not answer in time is left out until this (epoch ms).
  std::vector<std::atomic<int64_t>> left_out(gateways.size());
  constexpr int64_t leave_out_ms = 10000;
  auto one_request = [&](std::vector<std::unique_ptr<http_client>>& clients, int k, int first) {
    request_record r;
    r.key = o.key_prefix + "-" + std::to_string(k);
    r.order_id = order_id_for_key(r.key);
    r.start_ms = runtime::wall_clock_ms();
    r.outcome = "failed";
    r.detail = "no gateway took the connection";
    std::vector<size_t> order;
    for (int pass = 0; pass < 2 && order.empty(); ++pass)
      for (size_t a = 0; a < gateways.size(); ++a) {
        size_t g = (static_cast<size_t>(first) + a) % gateways.size();
        if (pass == 1 || left_out[g].load() <= r.start_ms)
          order.push_back(g);
      }
    for (auto g : order) {
      auto& c = clients[g];
      if (!c)
        c = std::make_unique<http_client>(gateways[g].host, gateways[g].port, o.timeout);
      r.gateway = gateways[g].host + ":" + std::to_string(gateways[g].port);
      auto reply = c->post_json("/api/orders", sample_order_json(k), {{"Idempotency-Key", r.key}});
      if (!reply) {
        auto why = runtime::describe(reply.error());
        c.reset();
        left_out[g] = runtime::wall_clock_ms() + leave_out_ms;
        if (why.find("refused") != std::string::npos)
          continue;  // nothing was sent
        r.outcome = "unknown";
        r.detail = why;
        break;
      }
      if (reply->status == 202) {
        r.outcome = "ok";
        r.detail = "";
      } else if (reply->status == 503 && reply->body.find("outcome unknown") == std::string::npos) {
        r.outcome = "failed";
        r.detail = reply->body;
      } else if (reply->status >= 400 && reply->status < 500) {
        r.outcome = "failed";
        r.detail = std::to_string(reply->status) + " " + reply->body;
      } else {
        r.outcome = "unknown";
        r.detail = std::to_string(reply->status) + " " + reply->body;
      }
      break;
    }
    r.end_ms = runtime::wall_clock_ms();
    return r;
  };
  std::mutex mtx;
  std::atomic<int> next{0};
  std::map<std::string, size_t> counts;
  const int total = static_cast<int>(o.rate * o.duration_s);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < o.concurrency; ++w)
    workers.emplace_back([&] {
      // One keep-alive client per gateway per worker; a dead one is rebuilt.
      std::vector<std::unique_ptr<http_client>> clients(gateways.size());
      for (;;) {
        int k = next.fetch_add(1);
        if (k >= total || (o.stop && o.stop->load()))
          return;
        std::this_thread::sleep_until(
          start + std::chrono::microseconds{static_cast<int64_t>(k * 1e6 / o.rate)});
        // A try whose outcome is unknown is sent again (same key and body)
        // on the next gateway after a short wait.
        for (int attempt = 0; attempt <= o.retries; ++attempt) {
          request_record r = one_request(clients, k, k + attempt);
          {
            std::lock_guard<std::mutex> guard{mtx};
            ++counts[r.outcome];
            history << r.key << '\t' << r.order_id << '\t' << r.outcome << '\t' << r.gateway
                    << '\t' << r.start_ms << '\t' << r.end_ms << '\t' << one_line(r.detail)
                    << '\n';
            if (r.outcome != "unknown" || attempt == o.retries || (o.stop && o.stop->load()))
              break;
            ++counts["retried"];
          }
          std::this_thread::sleep_for(std::chrono::milliseconds{500 * (attempt + 1)});
        }
      }
    });
  for (auto& t : workers)
    t.join();
  history.flush();
  std::printf("load: %d requests: tries %zu ok, %zu failed, %zu unknown (%zu sent again)\n",
              std::min(total, next.load()), counts["ok"], counts["failed"], counts["unknown"],
              counts["retried"]);
  return history ? 0 : 1;
}

namespace {

struct invariant {
  std::string name;
  size_t checked = 0;
  std::vector<std::string> broken;  // order ids (with a word on how)
};

std::vector<std::string> files_named(const std::string& dir, const std::string& name) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator{dir, ec};
       !ec && it != std::filesystem::recursive_directory_iterator{}; it.increment(ec))
    if (it->is_regular_file() && it->path().filename() == name)
      out.push_back(it->path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int run_check(const check_options& o) {
  if (o.brokers.empty() || o.history.empty()) {
    std::fprintf(stderr, "kastor ctl check: --brokers and --history are required\n");
    return 2;
  }
  std::ifstream in{o.history};
  if (!in) {
    std::fprintf(stderr, "kastor ctl check: cannot read '%s'\n", o.history.c_str());
    return 2;
  }
  std::vector<request_record> history;
  for (std::string line; std::getline(in, line);) {
    std::stringstream ss{line};
    request_record r;
    std::string start, end;
    std::getline(ss, r.key, '\t');
    std::getline(ss, r.order_id, '\t');
    std::getline(ss, r.outcome, '\t');
    std::getline(ss, r.gateway, '\t');
    std::getline(ss, start, '\t');
    std::getline(ss, end, '\t');
    std::getline(ss, r.detail);
    if (r.order_id.empty() || (r.outcome != "ok" && r.outcome != "failed" && r.outcome != "unknown")) {
      std::fprintf(stderr, "kastor ctl check: %s: bad line '%s'\n", o.history.c_str(), line.c_str());
      return 2;
    }
    auto number = [](const std::string& t, int64_t& out) {
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
      return ec == std::errc{} && p == t.data() + t.size();
    };
    if (!number(start, r.start_ms) || !number(end, r.end_ms)) {
      std::fprintf(stderr, "kastor ctl check: %s: bad times in line '%s'\n", o.history.c_str(),
                   line.c_str());
      return 2;
    }
    history.push_back(std::move(r));
  }
  if (history.empty()) {
    std::fprintf(stderr, "kastor ctl check: %s holds no request\n", o.history.c_str());
    return 2;
  }
  std::error_code fs_ec;
  if (!std::filesystem::is_directory(o.ledgers, fs_ec)) {
    std::fprintf(stderr, "kastor ctl check: --ledgers '%s' is not a folder\n", o.ledgers.c_str());
    return 2;
  }
  for (const auto* f : {&o.faults, &o.rss_samples, &o.lag_samples})
    if (!f->empty() && !std::ifstream{*f}) {
      std::fprintf(stderr, "kastor ctl check: cannot read '%s'\n", f->c_str());
      return 2;
    }
  // Tries of one key (a client sends a request whose outcome is unknown
  // again) make one request: ok if any try was acknowledged, else unknown if
  // any try's outcome was, else failed; from its first try's start to the
  // end of the try that decided it.
  std::map<std::string, size_t> outcomes;  // per try
  std::set<std::string> unknown_keys;      // a try of theirs had no known outcome
  size_t tries = history.size();
  {
    auto rank = [](const std::string& outcome) {
      return outcome == "ok" ? 2 : outcome == "unknown" ? 1 : 0;
    };
    std::map<std::string, request_record> by_key;
    for (auto& r : history) {
      ++outcomes[r.outcome];
      if (r.outcome == "unknown")
        unknown_keys.insert(r.key);
      auto [it, first] = by_key.try_emplace(r.key, r);
      if (first)
        continue;
      auto start = std::min(it->second.start_ms, r.start_ms);
      if (rank(r.outcome) > rank(it->second.outcome))
        it->second = r;
      it->second.start_ms = start;
    }
    history.clear();
    for (auto& [key, r] : by_key)
      history.push_back(std::move(r));
  }
  std::map<std::string, const request_record*> by_id;
  for (const auto& r : history)
    by_id[r.order_id] = &r;

  // 1. Wait until every acknowledged order is terminal in order-state.
  auto state_topic = std::string{actors::topic_order_state};
  auto until = std::chrono::steady_clock::now() + o.wait;
  std::vector<bridges::stored_record> states;
  std::map<std::string, actors::order_snapshot> furthest;
  std::set<std::string> stale_ids;  // order-state records readers skip (topic/partition@offset)
  size_t waiting = 0;
  for (;;) {
    auto read = bridges::read_topic(o.brokers, state_topic, {}, std::chrono::seconds{60});
    if (!read) {
      std::fprintf(stderr, "kastor ctl check: reading %s: %s\n", state_topic.c_str(),
                   runtime::describe(read.error()).c_str());
      if (std::chrono::steady_clock::now() >= until)
        return 1;
    } else {
      states = std::move(*read);
      furthest.clear();
      std::map<int32_t, int64_t> max_epoch;
      std::vector<std::string> stale;
      for (auto& live : bridges::live_snapshots(states, max_epoch, &stale)) {
        const auto* snap = live.snapshot.get_if<actors::order_snapshot>();
        if (snap == nullptr)
          continue;
        const auto& s = *snap;
        auto [it, fresh] = furthest.try_emplace(s.order_id, s);
        if (!fresh && actors::further_along(s, it->second))
          it->second = s;
      }
      stale_ids = std::set<std::string>{stale.begin(), stale.end()};
      // (and orders of requests whose outcome was unknown that were written)
      waiting = 0;
      for (const auto& r : history) {
        bool awaited = r.outcome == "ok" || (unknown_keys.count(r.key) && furthest.count(r.order_id));
        if (awaited
            && (!furthest.count(r.order_id) || furthest[r.order_id].status != actors::status_notified))
          ++waiting;
      }
      if (waiting == 0 || std::chrono::steady_clock::now() >= until)
        break;
      std::printf("check: %zu acknowledged orders not terminal yet\n", waiting);
      std::fflush(stdout);
    }
    std::this_thread::sleep_for(std::chrono::seconds{2});  // a CLI polling Kafka, not a test
  }

  // 2. Healed means drained: every role's group has committed all its input.
  // Offsets are committed a little after the records are handled, so this
  // waits (for what is left of --wait, and up to 30 s past it).
  invariant drained{"every role's group commits all its input (lag 0 after healing)", 0, {}};
  {
    auto lag_until = std::max(until, std::chrono::steady_clock::now()
                                       + std::min<std::chrono::seconds>(o.wait, std::chrono::seconds{30}));
    for (;;) {
      std::string error;
      auto lags = pipeline_lag(o.brokers, o.prefix, error);
      std::vector<std::string> behind;
      if (!lags)
        behind.push_back("lag unknown: " + error);
      else
        for (const auto& [role, l] : *lags)
          if (l.records != 0 || l.unknown != 0)
            behind.push_back(role + ": lag " + std::to_string(l.records)
                             + (l.unknown ? " (" + std::to_string(l.unknown) + " partitions unknown)"
                                          : ""));
      if (behind.empty() || std::chrono::steady_clock::now() >= lag_until) {
        drained.checked = lags ? lags->size() : 1;
        drained.broken = std::move(behind);
        break;
      }
      std::printf("check: not drained yet (%s)\n", behind.front().c_str());
      std::fflush(stdout);
      std::this_thread::sleep_for(std::chrono::seconds{2});  // a CLI polling Kafka, not a test
    }
  }

  // 3. Everything else that happened.
  std::map<std::string, std::vector<bridges::stored_record>> topics;
  for (const auto& t : runtime::messages().topics()) {
    if (t == state_topic || (t.size() > 4 && t.compare(t.size() - 4, 4, ".dlq") == 0))
      continue;
    auto read = bridges::read_topic(o.brokers, t, {}, std::chrono::seconds{60});
    if (!read) {
      std::fprintf(stderr, "kastor ctl check: reading %s: %s\n", t.c_str(),
                   runtime::describe(read.error()).c_str());
      return 1;
    }
    topics[t] = std::move(*read);
  }
  topics[state_topic] = states;
  std::vector<std::unique_ptr<actors::jsonl_ledger>> charges, emails;
  for (const auto& f : files_named(o.ledgers, "payment-ledger.jsonl"))
    charges.push_back(std::make_unique<actors::jsonl_ledger>(f, "orderId"));
  for (const auto& f : files_named(o.ledgers, "email-outbox.jsonl"))
    emails.push_back(std::make_unique<actors::jsonl_ledger>(f, "emailKey"));
  std::vector<std::unique_ptr<actors::jsonl_ledger>> refunds;
  for (const auto& f : files_named(o.ledgers, "payment-refunds.jsonl"))
    refunds.push_back(std::make_unique<actors::jsonl_ledger>(f, "orderId"));
  // Whether a charge-ledger line is a charge that went through.
  auto succeeded = [](const std::string& line) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    const auto* status = !ec && v.is_object() ? v.as_object().if_contains("status") : nullptr;
    return status && status->is_string() && status->as_string() == actors::payment_succeeded;
  };

  invariant lost{"acknowledged orders reach a terminal state", 0, {}};
  invariant charged{"no order charged twice", 0, {}};
  invariant mailed{"no order emailed twice", 0, {}};
  invariant failed{"no effect for a request that definitely failed", 0, {}};
  invariant ordered{"per-order events in order in every topic", 0, {}};
  invariant memory{"node memory stays bounded", 0, {}};
  invariant unknown{"requests whose outcome was unknown: at most one order and one charge per "
                    "key, and finished if written", 0, {}};
  invariant refunded{"a timed-out order keeps none of its customer's money (its charge refunded "
                     "once), and no other order is refunded", 0, {}};

  std::set<std::string> created;
  std::map<std::string, std::set<std::string>> bodies;  // order id -> request fingerprints
  for (const auto& rec : topics[std::string{actors::topic_order_created}]) {
    created.insert(rec.key);
    auto v = bridges::decode_value("order_created", rec.value);
    if (auto* oc = v ? v->get_if<actors::order_created>() : nullptr)
      bodies[rec.key].insert(oc->request_fingerprint);
  }
  for (const auto& r : history) {
    size_t c = 0, e = 0, cancel_mails = 0;
    for (auto& l : charges)
      c += l->count(r.order_id);
    for (auto& l : emails) {
      e += l->count(r.order_id + "/" + actors::notify_payment_succeeded)
           + l->count(r.order_id + "/" + actors::notify_payment_failed);
      cancel_mails += l->count(r.order_id + "/" + actors::notify_order_cancelled)
                      + l->count(r.order_id + "/" + actors::notify_payment_refunded);
    }
    size_t paid = 0, back = 0;
    for (auto& l : charges)
      if (auto line = l->find(r.order_id); line && succeeded(*line))
        ++paid;
    for (auto& l : refunds)
      back += l->count(r.order_id);
    ++charged.checked;
    ++mailed.checked;
    if (auto it = furthest.find(r.order_id); it != furthest.end()) {
      ++refunded.checked;
      const bool timed_out = it->second.payment_status == actors::payment_timed_out;
      if (back != (timed_out ? paid : 0))
        refunded.broken.push_back(r.order_id + " (" + (timed_out ? "timed out, " : "")
                                  + std::to_string(paid) + " charges, " + std::to_string(back)
                                  + " refunds)");
    }
    if (c > 1)
      charged.broken.push_back(r.order_id + " (" + std::to_string(c) + " charges)");
    if (e > 1 || cancel_mails > 1)
      mailed.broken.push_back(r.order_id + " (" + std::to_string(e) + " emails, "
                              + std::to_string(cancel_mails) + " cancellation emails)");
    if (unknown_keys.count(r.key)) {
      ++unknown.checked;
      auto it = furthest.find(r.order_id);
      if (c > 1 || e > 1)
        unknown.broken.push_back(r.order_id + " (key " + r.key + ": " + std::to_string(c)
                                 + " charges, " + std::to_string(e) + " emails)");
      else if (bodies[r.order_id].size() > 1)
        unknown.broken.push_back(r.order_id + " (key " + r.key + ": "
                                 + std::to_string(bodies[r.order_id].size())
                                 + " different orders written)");
      else if (created.count(r.order_id)
               && (it == furthest.end() || it->second.status != actors::status_notified))
        unknown.broken.push_back(r.order_id + " (key " + r.key + ": written, never finished)");
    }
    if (r.outcome == "ok") {
      ++lost.checked;
      auto it = furthest.find(r.order_id);
      if (it == furthest.end())
        lost.broken.push_back(r.order_id + " (no state)");
      else if (it->second.status != actors::status_notified)
        lost.broken.push_back(r.order_id + " (" + it->second.status + ")");
    } else if (r.outcome == "failed") {
      ++failed.checked;
      if (created.count(r.order_id) || c > 0 || e > 0)
        failed.broken.push_back(r.order_id);
    }
  }
  // Every record of an order in one partition of each topic; its snapshots
  // never go back; its payment outcome never changes.
  for (const auto& [topic, records] : topics) {
    std::map<std::string, int32_t> partition_of;
    std::map<std::string, int> last_rank;
    std::map<std::string, std::string> outcome_of;
    std::set<std::string> bad;
    for (const auto& rec : records) {
      if (!by_id.count(rec.key))
        continue;  // not this run's
      ++ordered.checked;
      auto [p, fresh] = partition_of.try_emplace(rec.key, rec.partition);
      if (!fresh && p->second != rec.partition && bad.insert(rec.key).second)
        ordered.broken.push_back(rec.key + " (" + topic + ": in two partitions)");
      if (topic == state_topic) {
        if (stale_ids.count(rec.id()))
          continue;  // skipped by every reader
        auto v = bridges::decode_value("order_snapshot", rec.value);
        if (auto* s = v ? v->get_if<actors::order_snapshot>() : nullptr) {
          auto [lr, first] = last_rank.try_emplace(rec.key, actors::status_rank(s->status));
          if (!first && actors::status_rank(s->status) < lr->second && bad.insert(rec.key).second)
            ordered.broken.push_back(rec.key + " (" + topic + ": " + s->status + " at "
                                     + rec.id() + " after a later status)");
          lr->second = std::max(lr->second, actors::status_rank(s->status));
        }
      } else if (topic == actors::topic_payment_results) {
        auto v = bridges::decode_value("payment_result", rec.value);
        if (auto* s = v ? v->get_if<actors::payment_result>() : nullptr) {
          auto [oc, first] = outcome_of.try_emplace(rec.key, s->status);
          if (!first && oc->second != s->status && bad.insert(rec.key).second)
            ordered.broken.push_back(rec.key + " (" + topic + ": " + oc->second + " then "
                                     + s->status + ")");
        }
      }
    }
  }
  // How often an effect was asked for again (redelivery, a zombie, a moved
  // partition) and the provider's or mail service's idempotency caught it:
  // results and sent-notices beyond the first per order.
  auto repeats = [&](std::string_view topic) {
    std::map<std::string, size_t> n;
    for (const auto& rec : topics[std::string{topic}])
      if (by_id.count(rec.key))
        ++n[rec.key];
    size_t extra = 0;
    for (const auto& [id, c] : n)
      extra += c - 1;
    return extra;
  };
  size_t charge_repeats = repeats(actors::topic_payment_results);
  size_t email_repeats = repeats(actors::topic_email_sent);

  // Memory: the RSS samples the fault script took (pid rss_kb per line).
  int64_t max_rss_kb = 0;
  if (!o.rss_samples.empty()) {
    std::ifstream rs{o.rss_samples};
    for (std::string line; std::getline(rs, line);) {
      std::stringstream ss{line};
      std::string pid;
      int64_t kb = 0;
      if (ss >> pid >> kb) {
        ++memory.checked;
        max_rss_kb = std::max(max_rss_kb, kb);
        if (kb > o.max_rss_mb * 1024)
          memory.broken.push_back("node pid " + pid + " at " + std::to_string(kb / 1024) + " MB");
      }
    }
    if (memory.checked == 0)
      memory.broken.push_back("no memory sample in " + o.rss_samples);
  }

  // Lag: the samples the fault script took (epoch_ms role lag per line), the
  // highest per role, each over --max-lag broken.
  invariant lag_bound{"lag stays bounded during the run", 0, {}};
  std::map<std::string, int64_t> max_lag;
  if (!o.lag_samples.empty()) {
    std::ifstream ls{o.lag_samples};
    for (std::string line; std::getline(ls, line);) {
      std::stringstream ss{line};
      int64_t at = 0, lag = 0;
      std::string role;
      if (!(ss >> at >> role >> lag))
        continue;
      ++lag_bound.checked;
      auto& m = max_lag[role];
      m = std::max(m, lag);
      if (o.max_lag > 0 && lag > o.max_lag)
        lag_bound.broken.push_back(role + " lag " + std::to_string(lag) + " over "
                                   + std::to_string(o.max_lag) + " at epoch ms "
                                   + std::to_string(at));
    }
    if (lag_bound.checked == 0)  // a sampler that never got an answer proves nothing
      lag_bound.broken.push_back("no lag sample in " + o.lag_samples);
  }

  // Pauses. A partition of the order role pauses while an order of it waits
  // (written, not yet handled) and no other order of it is handled: per
  // partition, the gaps between consecutive first snapshots during which the
  // later order was already written. And from each ack to NOTIFIED.
  std::map<std::string, int64_t> created_at, notified_at;
  std::map<std::string, std::pair<int64_t, int32_t>> first_state;  // id -> (time, partition)
  for (const auto& rec : topics[std::string{actors::topic_order_created}])
    created_at.try_emplace(rec.key, rec.timestamp_ms);
  for (const auto& rec : states) {
    first_state.try_emplace(rec.key, rec.timestamp_ms, rec.partition);
    auto v = bridges::decode_value("order_snapshot", rec.value);
    if (auto* s = v ? v->get_if<actors::order_snapshot>() : nullptr)
      if (s->status == actors::status_notified)
        notified_at.try_emplace(rec.key, rec.timestamp_ms);
  }
  struct pause {
    int64_t from = 0, ms = 0;
    int32_t partition = -1;
  };
  std::vector<pause> pauses;
  {
    std::map<int32_t, std::vector<std::pair<int64_t, int64_t>>> handled;  // p -> (handled, written)
    for (const auto& r : history)
      if (created_at.count(r.order_id) && first_state.count(r.order_id)) {
        auto [at, p] = first_state[r.order_id];
        handled[p].emplace_back(at, created_at[r.order_id]);
      }
    for (auto& [p, v] : handled) {
      std::sort(v.begin(), v.end());
      for (size_t k = 1; k < v.size(); ++k) {
        auto from = std::max(v[k - 1].first, v[k].second);
        if (v[k].first > from)
          pauses.push_back({from, v[k].first - from, p});
      }
    }
  }
  // The longest of `spans` (pauses, stalls) overlapping [from, to).
  auto longest_in = [](const std::vector<pause>& spans, int64_t from, int64_t to) {
    pause best;
    for (const auto& x : spans)
      if (x.from < to && x.from + x.ms > from && x.ms > best.ms)
        best = x;
    return best;
  };
  auto longest_pause_in = [&](int64_t from, int64_t to) { return longest_in(pauses, from, to); };
  int64_t longest_e2e = 0;
  std::vector<int64_t> e2e;
  for (const auto& r : history) {
    if (r.outcome != "ok" || !notified_at.count(r.order_id))
      continue;
    e2e.push_back(std::max<int64_t>(0, notified_at[r.order_id] - r.end_ms));
    longest_e2e = std::max(longest_e2e, e2e.back());
  }
  // Throughput: acknowledged orders finished per second, from the first
  // request to the last NOTIFIED.
  int64_t first_start = INT64_MAX, last_done = 0;
  size_t done = 0;
  for (const auto& r : history) {
    first_start = std::min(first_start, r.start_ms);
    if (r.outcome == "ok" && notified_at.count(r.order_id)) {
      ++done;
      last_done = std::max(last_done, notified_at[r.order_id]);
    }
  }
  double throughput = last_done > first_start ? done * 1000.0 / (last_done - first_start) : 0;
  std::sort(e2e.begin(), e2e.end());
  auto pct = [&](double q) {
    return e2e.empty() ? 0 : e2e[std::min(e2e.size() - 1, static_cast<size_t>(q * e2e.size()))];
  };
  size_t unknown_created = 0;
  for (const auto& r : history)
    if (r.outcome == "unknown" && created.count(r.order_id))
      ++unknown_created;
  // Liveness: the stretches during which an acknowledged order was waiting
  // and none reached NOTIFIED (the pipeline stood still; a client that sent
  // nothing does not count). Between two consecutive NOTIFIED times, from
  // the later of the first one and the earliest acknowledgement of an order
  // still waiting then.
  std::vector<pause> stalls;  // (no partition: the whole pipeline)
  {
    std::vector<std::pair<int64_t, int64_t>> done_acked;  // (NOTIFIED, ack)
    for (const auto& r : history)
      if (r.outcome == "ok" && notified_at.count(r.order_id))
        done_acked.emplace_back(notified_at[r.order_id], r.end_ms);
    std::sort(done_acked.begin(), done_acked.end());
    // earliest[i]: the earliest ack of the orders NOTIFIED at i or later.
    std::vector<int64_t> earliest(done_acked.size() + 1, INT64_MAX);
    for (size_t i = done_acked.size(); i-- > 0;)
      earliest[i] = std::min(earliest[i + 1], done_acked[i].second);
    int64_t prev = INT64_MIN;
    for (size_t i = 0; i < done_acked.size(); ++i) {
      auto t = done_acked[i].first;
      auto from = std::max(prev, earliest[i]);
      if (t > from)
        stalls.push_back({from, t - from, -1});
      prev = std::max(prev, t);
    }
  }
  auto longest_stall_in = [&](int64_t from, int64_t to) { return longest_in(stalls, from, to); };
  // ack -> NOTIFIED of the orders acknowledged in [from, to): p50, p99.
  auto e2e_in = [&](int64_t from, int64_t to) {
    std::vector<int64_t> v;
    for (const auto& r : history)
      if (r.outcome == "ok" && r.end_ms >= from && r.end_ms < to && notified_at.count(r.order_id))
        v.push_back(std::max<int64_t>(0, notified_at[r.order_id] - r.end_ms));
    std::sort(v.begin(), v.end());
    auto q = [&](double x) {
      return v.empty() ? int64_t{0} : v[std::min(v.size() - 1, static_cast<size_t>(x * v.size()))];
    };
    return std::tuple<size_t, int64_t, int64_t>{v.size(), q(0.5), q(0.99)};
  };

  std::printf("== kastor fault suite report ==\n");
  std::map<std::string, size_t> decided;
  for (const auto& r : history)
    ++decided[r.outcome];
  std::printf("requests: %zu keys (ok %zu, failed %zu, unknown %zu; %zu of the unknown were "
              "written); %zu tries (%zu of them with an unknown outcome, %zu keys sent again)\n",
              history.size(), decided["ok"], decided["failed"], decided["unknown"],
              unknown_created, tries, outcomes["unknown"], unknown_keys.size());
  if (!o.faults.empty()) {
    // "<epoch ms> what" per line: each with the longest wait of an order
    // written between it and the next fault (how long partitions stood still).
    std::vector<std::pair<int64_t, std::string>> faults;
    std::ifstream fs{o.faults};
    for (std::string line; std::getline(fs, line);) {
      char* end = nullptr;
      long long at = std::strtoll(line.c_str(), &end, 10);
      if (end != line.c_str() && *end == ' ')
        faults.emplace_back(at, end + 1);
      else
        faults.emplace_back(0, line);
    }
    int64_t t0 = history.empty() ? 0 : history.front().start_ms;
    for (const auto& r : history)
      t0 = std::min(t0, r.start_ms);
    std::printf("faults, each with what followed until the next one: the longest time orders "
                "waited and none reached NOTIFIED, ack -> NOTIFIED p50/p99 of the orders "
                "acknowledged then, and the longest order-partition pause:\n");
    for (size_t i = 0; i < faults.size(); ++i) {
      auto [at, what] = faults[i];
      if (at == 0) {
        std::printf("  %s\n", what.c_str());
        continue;
      }
      int64_t next = INT64_MAX;
      for (size_t j = i + 1; j < faults.size(); ++j)
        if (faults[j].first != 0) {
          next = faults[j].first;
          break;
        }
      auto p = longest_pause_in(at, next);
      auto st = longest_stall_in(at, next);
      auto [n, p50, p99] = e2e_in(at, next);
      std::printf("  +%6.1f s  %s\n             no NOTIFIED %6lld ms (+%.1f s)  ack->NOTIFIED "
                  "p50 %5lld ms p99 %6lld ms (%zu orders)  pause %6lld ms (partition %d)\n",
                  (at - t0) / 1000.0, what.c_str(), static_cast<long long>(st.ms),
                  (st.from - t0) / 1000.0, static_cast<long long>(p50),
                  static_cast<long long>(p99), n, static_cast<long long>(p.ms), p.partition);
    }
  }
  bool ok = outcomes["ok"] > 0;
  if (!ok)
    std::printf("FAIL no request was acknowledged: the run proves nothing\n");
  std::vector<const invariant*> checked_invariants{&lost,    &charged, &mailed,  &refunded,
                                                   &failed,  &unknown, &ordered, &drained};
  if (!o.rss_samples.empty())
    checked_invariants.push_back(&memory);
  if (!o.lag_samples.empty())
    checked_invariants.push_back(&lag_bound);
  for (const auto* inv : checked_invariants) {
    std::printf("%-4s %s: %zu checked, %zu broken\n", inv->broken.empty() ? "ok" : "FAIL",
                inv->name.c_str(), inv->checked, inv->broken.size());
    for (size_t i = 0; i < inv->broken.size() && i < 20; ++i)
      std::printf("       %s\n", inv->broken[i].c_str());
    if (inv->broken.size() > 20)
      std::printf("       ... and %zu more\n", inv->broken.size() - 20);
    ok = ok && inv->broken.empty();
  }
  auto longest = longest_pause_in(INT64_MIN, INT64_MAX);
  std::printf("effects asked for again and deduplicated by their ledger: %zu charges, %zu "
              "emails\n", charge_repeats, email_repeats);
  std::printf("late order-state writes of a replaced owner (older epoch), skipped by readers: %zu\n",
              stale_ids.size());
  std::printf("longest partition pause (order role): %lld ms (partition %d, +%.1f s)\n",
              static_cast<long long>(longest.ms), longest.partition,
              history.empty() ? 0.0 : (longest.from - first_start) / 1000.0);
  auto worst = longest_stall_in(INT64_MIN, INT64_MAX);
  std::printf("longest time orders waited and none reached NOTIFIED: %lld ms (+%.1f s)\n",
              static_cast<long long>(worst.ms),
              history.empty() ? 0.0 : (worst.from - first_start) / 1000.0);
  std::printf("throughput: %zu orders NOTIFIED in %.1f s = %.1f orders/s\n", done,
              last_done > first_start ? (last_done - first_start) / 1000.0 : 0.0, throughput);
  std::printf("ack -> NOTIFIED: p50 %lld ms, p99 %lld ms, max %lld ms\n",
              static_cast<long long>(pct(0.5)), static_cast<long long>(pct(0.99)),
              static_cast<long long>(longest_e2e));
  if (!o.rss_samples.empty())
    std::printf("node memory: max RSS %lld MB (limit %d MB)\n",
                static_cast<long long>(max_rss_kb / 1024), o.max_rss_mb);
  if (!o.lag_samples.empty()) {
    std::string per;
    for (const auto& [role, m] : max_lag)
      per += (per.empty() ? "" : ", ") + role + " " + std::to_string(m);
    std::printf("lag during the run: max %s records (%zu samples, bound %s)\n",
                per.empty() ? "-" : per.c_str(), lag_bound.checked,
                o.max_lag > 0 ? std::to_string(o.max_lag).c_str() : "none");
  }
  std::printf("result: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}

}  // namespace kastor::apps
