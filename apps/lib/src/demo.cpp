#include <cstdio>
#include <filesystem>
#include <thread>

#include <boost/json.hpp>

#include "kastor/actors/ledger.hpp"
#include "kastor/apps/commands.hpp"
#include "kastor/apps/driver.hpp"
#include "kastor/apps/http_client.hpp"
#include "kastor/apps/node.hpp"
#include "kastor/apps/topics.hpp"
#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/mailbox.hpp"
#include "kastor/bridges/remote.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/logging.hpp"

namespace kastor::apps {

namespace {

struct progress_counts {
  int64_t accepted = 0, paid = 0, declined = 0, emailed = 0;
};

progress_counts read_progress(http_client& client) {
  progress_counts p;
  auto reply = client.get("/api/analytics");
  if (!reply || reply->status != 200)
    return p;
  boost::system::error_code ec;
  auto v = boost::json::parse(reply->body, ec);
  if (ec || !v.is_object())
    return p;
  const auto* all = v.as_object().if_contains("allTime");
  if (all == nullptr || !all->is_object())
    return p;
  auto num = [&](const char* k) -> int64_t {
    const auto* x = all->as_object().if_contains(k);
    return x && x->is_number() ? x->to_number<int64_t>() : 0;
  };
  p.accepted = num("orders");
  p.paid = num("paymentsSucceeded");
  p.declined = num("paymentsDeclined");
  p.emailed = num("emailsSent");
  return p;
}

uint64_t dead_letters(const node& n) {
  uint64_t total = 0;
  for (const auto& [role, s] : n.mailboxes())
    total += s.dead_lettered;
  return total;
}

void print_progress(const node& n, const progress_counts& p, double rate) {
  std::printf("\raccepted=%lld paid=%lld declined=%lld emailed=%lld rate=%.0f/s restarts=%lld "
              "dlq=%llu   ",
              static_cast<long long>(p.accepted), static_cast<long long>(p.paid),
              static_cast<long long>(p.declined), static_cast<long long>(p.emailed), rate,
              static_cast<long long>(n.supervision()->total_restarts()),
              static_cast<unsigned long long>(dead_letters(n)));
  std::fflush(stdout);
}

}  // namespace

int run_node(const runtime::node_config& cfg, const std::atomic<bool>& stop) {
  auto n = node::start(cfg);
  if (!n) {
    std::fprintf(stderr, "kastor node: %s\n", runtime::describe(n.error()).c_str());
    return 2;
  }
  if ((*n)->http_port() != 0)
    std::printf("gateway: http://%s:%u\n", cfg.http_host.c_str(), (*n)->http_port());
  std::fflush(stdout);
  int rc = (*n)->run(stop);
  (*n)->stop();
  return rc;
}

int create_topics(const std::string& brokers, int partitions, int replication,
                  const std::string& group_prefix) {
  auto topics = pipeline_topics(partitions, replication, group_prefix);
  if (auto err = bridges::ensure_topics(brokers, topics, std::chrono::seconds{60})) {
    std::fprintf(stderr, "kastor topics: %s\n", runtime::describe(err).c_str());
    return 1;
  }
  for (const auto& t : topics)
    std::printf("topic %s partitions=%d replication=%d%s\n", t.name.c_str(), t.partitions,
                t.replication, t.compacted ? " compacted" : "");
  return 0;
}

int run_demo(demo_options opts, const std::atomic<bool>& stop) {
  auto mock = bridges::mock_cluster::start(opts.brokers);
  if (!mock) {
    std::fprintf(stderr, "kastor demo: %s\n", runtime::describe(mock.error()).c_str());
    return 2;
  }
  auto& cfg = opts.node;
  // (the admin API that node::start would use does not work on the mock)
  for (const auto& t :
       pipeline_topics(cfg.partitions, std::min(3, opts.brokers), cfg.group_prefix))
    if (auto err = (*mock)->create_topic(t)) {
      std::fprintf(stderr, "kastor demo: %s\n", runtime::describe(err).c_str());
      return 2;
    }
  cfg.brokers = (*mock)->bootstrap();
  if (auto err = (*mock)->create_topic({bridges::reply_topic(cfg.node_id), 1, 1, false})) {
    std::fprintf(stderr, "kastor demo: %s\n", runtime::describe(err).c_str());
    return 2;
  }
  // The mock cluster makes later group joins wait session.timeout.ms - 1 s,
  // and does not wake a waiting fetch when data arrives.
  cfg.session_timeout_ms = std::min(cfg.session_timeout_ms, 6000);
  cfg.fetch_wait_max_ms = std::min(cfg.fetch_wait_max_ms, 5);
  if (opts.orders > 0) {  // its own driver's connections, all from here, fit
    cfg.http_max_connections = std::max(cfg.http_max_connections, opts.concurrency + 16);
    if (cfg.http_max_client_connections != 0)
      cfg.http_max_client_connections = std::max(cfg.http_max_client_connections, opts.concurrency);
  }
  if (cfg.data_dir == runtime::node_config{}.data_dir) {
    char tmpl[] = "/tmp/kastor-demo.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      std::perror("kastor demo: mkdtemp");
      return 2;
    }
    cfg.data_dir = tmpl;
  }
  if (!cfg.has_role("gateway") || !cfg.has_role("analytics")) {
    std::fprintf(stderr, "kastor demo: needs the gateway and analytics roles\n");
    return 2;
  }
  std::printf("bootstrap.servers=%s\n", cfg.brokers.c_str());
  std::fflush(stdout);
  auto started = node::start(cfg);
  if (!started) {
    std::fprintf(stderr, "kastor demo: %s\n", runtime::describe(started.error()).c_str());
    return 2;
  }
  auto& n = **started;
  std::printf("gateway: http://%s:%u  (data: %s)\n", cfg.http_host.c_str(), n.http_port(),
              cfg.data_dir.c_str());
  std::fflush(stdout);
  // Wait for the group joins (the mock's first join takes about 3 s).
  auto join_deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  while (!n.ready() && !stop.load() && std::chrono::steady_clock::now() < join_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  if (!n.ready()) {
    std::fprintf(stderr, "kastor demo: the node did not join its consumer groups in time\n");
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  http_client client{"127.0.0.1", n.http_port()};
  auto t0 = std::chrono::steady_clock::now();
  if (opts.orders <= 0) {
    progress_counts last;
    auto last_t = t0;
    std::thread runner;
    std::atomic<int> rc{0};
    std::atomic<bool> node_done{false};
    runner = std::thread{[&] {
      rc = n.run(stop);
      node_done = true;
    }};
    while (!node_done.load()) {
      std::this_thread::sleep_for(std::chrono::seconds{1});
      auto p = read_progress(client);
      auto now = std::chrono::steady_clock::now();
      print_progress(n, p, (p.emailed - last.emailed) / std::chrono::duration<double>(now - last_t).count());
      last = p;
      last_t = now;
    }
    runner.join();
    std::printf("\n");
    n.stop();
    return rc;
  }
  drive_options d;
  d.port = n.http_port();
  d.orders = opts.orders;
  d.concurrency = opts.concurrency;
  d.stop = &stop;
  std::atomic<bool> driving{true};
  std::thread ticker{[&] {
    progress_counts last;
    auto last_t = std::chrono::steady_clock::now();
    http_client c{"127.0.0.1", n.http_port()};
    while (driving.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds{500});
      auto p = read_progress(c);
      auto now = std::chrono::steady_clock::now();
      print_progress(n, p, (p.emailed - last.emailed) / std::chrono::duration<double>(now - last_t).count());
      last = p;
      last_t = now;
    }
  }};
  auto drove = drive_orders(d);
  auto check = check_orders("127.0.0.1", n.http_port(), drove.accepted,
                            {(std::filesystem::path{cfg.data_dir} / "payment-ledger.jsonl").string()},
                            {(std::filesystem::path{cfg.data_dir} / "email-outbox.jsonl").string()},
                            std::chrono::seconds{60 + opts.orders / 50}, {}, &stop);
  driving = false;
  ticker.join();
  auto p = read_progress(client);
  print_progress(n, p, 0);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t expected_declined = 0;
  for (int i : drove.accepted_index)
    expected_declined += sample_order_declined(i) ? 1 : 0;
  auto sup = n.supervision();
  std::printf("\n\nsummary\n");
  std::printf("  orders sent        %d\n", opts.orders);
  std::printf("  accepted (202)     %zu  rejected %zu  failed %zu\n", drove.accepted.size(),
              drove.rejected, drove.failed);
  std::printf("  terminal           %zu  (paid %zu, declined %zu; expected declined %zu)\n",
              check.terminal, check.paid, check.declined, expected_declined);
  std::printf("  charge anomalies   %zu  (orders not charged exactly once)\n", check.charge_anomalies);
  std::printf("  email anomalies    %zu  (orders without exactly one email for their outcome)\n",
              check.email_anomalies);
  std::printf("  restarts survived  %lld", static_cast<long long>(sup->total_restarts()));
  std::string sep = "  (";
  for (const auto& [path, count] : sup->restarts()) {
    std::printf("%s%s %lld", sep.c_str(), path.c_str(), static_cast<long long>(count));
    sep = ", ";
  }
  std::printf("%s\n", sep == ", " ? ")" : "");
  if (!cfg.chaos.empty()) {
    std::printf("  faults injected    ");
    sep = "";
    for (const auto& [role, faults] : n.chaos_fired())
      for (const auto& [fault, count] : faults) {
        std::printf("%s%s.%s %lld", sep.c_str(), role.c_str(), fault.c_str(),
                    static_cast<long long>(count));
        sep = ", ";
      }
    std::printf("  (--chaos %s, seed %llu)\n", cfg.chaos.to_string().c_str(),
                static_cast<unsigned long long>(cfg.chaos.seed));
  }
  std::printf("  dead letters       %llu\n", static_cast<unsigned long long>(dead_letters(n)));
  std::printf("  elapsed            %.1f s  (%.0f orders/s end to end)\n", secs,
              drove.accepted.size() / secs);
  for (size_t i = 0; i < check.broken.size() && i < 10; ++i)
    std::printf("  broken order       %s\n", check.broken[i].c_str());
  for (size_t i = 0; i < check.not_terminal.size() && i < 10; ++i)
    std::printf("  not terminal       %s\n", check.not_terminal[i].c_str());
  if (stop.load())
    std::printf("  interrupted        yes (Ctrl-C): the figures cover what was done\n");
  bool ok = !stop.load() && drove.accepted.size() == static_cast<size_t>(opts.orders)
            && check.ok(drove.accepted.size()) && check.declined == expected_declined;
  std::printf("result: %s\n", ok ? "OK" : "FAILED");
  std::fflush(stdout);
  n.stop();
  return ok ? 0 : 1;
}

}  // namespace kastor::apps
