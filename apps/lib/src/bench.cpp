// kastor bench: (a) raw librdkafka produce+consume, (b) actor -> bridge ->
// Kafka -> bridge -> actor, (c) orders end to end through a whole node.
// Numbers, not assertions: tests assert behaviour elsewhere.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <latch>
#include <thread>

#include <boost/json.hpp>
#include <caf/all.hpp>

#include "kastor/actors/messages.hpp"
#include "kastor/apps/commands.hpp"
#include "kastor/apps/driver.hpp"
#include "kastor/apps/http_client.hpp"
#include "kastor/apps/process.hpp"
#include "kastor/apps/topics.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/mailbox.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/role_actor.hpp"

namespace kastor::apps {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

std::string self_exe() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

// (a) The baseline: librdkafka alone, same record count and size.
double raw_kafka(const std::string& brokers, int records, int bytes, const std::string& codec) {
  const std::string topic = "kastor-bench-raw";
  auto conf = bridges::make_conf({{"bootstrap.servers", brokers},
                                  {"group.id", "kastor-bench-raw-" + std::to_string(getpid())},
                                  {"auto.offset.reset", "latest"},
                                  {"enable.auto.commit", "false"},
                                  {"fetch.wait.max.ms", "10"}});
  auto pconf = bridges::make_conf({{"bootstrap.servers", brokers}, {"enable.idempotence", "true"},
                                   {"acks", "all"}, {"linger.ms", "5"},
                                   {"compression.type", codec}});
  if (!conf || !pconf)
    return 0;
  char err[512];
  bridges::rk_ptr consumer{rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), err, sizeof(err))};
  bridges::rk_ptr producer{rd_kafka_new(RD_KAFKA_PRODUCER, pconf->release(), err, sizeof(err))};
  if (!consumer || !producer)
    return 0;
  rd_kafka_poll_set_consumer(consumer.get());
  // Assign every partition at the end, then produce: the consumer sees exactly these records.
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(consumer.get(), topic.c_str(), nullptr);
  if (rd_kafka_metadata(consumer.get(), 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return 0;
  bridges::partition_list_ptr parts{rd_kafka_topic_partition_list_new(8)};
  for (int i = 0; i < md->topics[0].partition_cnt; ++i)
    rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), i)->offset = RD_KAFKA_OFFSET_END;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_assign(consumer.get(), parts.get());
  // Let the assignment resolve its end offsets before producing.
  for (int i = 0; i < 20; ++i)
    if (auto* m = rd_kafka_consumer_poll(consumer.get(), 100))
      rd_kafka_message_destroy(m);
  std::string value(static_cast<size_t>(bytes), 'x');
  std::atomic<int> received{0};
  auto t0 = clock_type::now();
  std::thread reader{[&] {
    while (received.load() < records && seconds_since(t0) < 120)
      if (auto* m = rd_kafka_consumer_poll(consumer.get(), 100)) {
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
          ++received;
        rd_kafka_message_destroy(m);
      }
  }};
  for (int i = 0; i < records; ++i) {
    auto key = std::to_string(i);
    while (rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                             RD_KAFKA_V_KEY(key.data(), key.size()),
                             RD_KAFKA_V_VALUE(value.data(), value.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)
           == RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(producer.get(), 10);
    rd_kafka_poll(producer.get(), 0);
  }
  rd_kafka_flush(producer.get(), 60000);
  reader.join();
  double secs = seconds_since(t0);
  rd_kafka_consumer_close(consumer.get());
  return received.load() / secs;
}

// (b) Through kastor's bridge: a source actor publishes payment requests, a
// mailbox delivers them to a sink actor that finishes each one.
double through_bridge(const std::string& brokers, int records, int bytes, int fetch_wait_ms,
                      const std::string& codec) {
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  bridges::producer_options po;
  po.brokers = brokers;
  po.client_id = "kastor-bench";
  po.linger = std::chrono::milliseconds{5};
  po.topic_suffix = ".bench";  // never the pipeline's own topics
  po.compression = codec;
  auto pub = bridges::kafka_publisher::make(po);
  bridges::mailbox_options mo;
  mo.brokers = brokers;
  mo.group_id = "kastor-bench-bridge-" + std::to_string(getpid());
  mo.topics = {std::string{actors::topic_payment_requests} + ".bench"};
  mo.fetch_wait_max_ms = fetch_wait_ms;
  mo.high_water = 100000;
  mo.low_water = 50000;
  mo.extra = {{"auto.offset.reset", "latest"}};
  auto mb = bridges::kafka_mailbox::make(mo);
  if (!pub || !mb)
    return 0;
  auto mailbox = *mb;
  std::latch all_seen{records};
  auto sink = sys.spawn([mailbox, &all_seen](caf::event_based_actor*) -> caf::behavior {
    return {[mailbox, &all_seen](const runtime::record_meta& m, const runtime::message&) {
      mailbox->finished(m);
      all_seen.count_down();
    }};
  });
  mailbox->bind(sink);
  mailbox->start();
  for (int i = 0; i < 600 && !mailbox->stats().joined; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  std::this_thread::sleep_for(std::chrono::seconds{1});  // end offsets resolved
  std::string pad(static_cast<size_t>(std::max(0, bytes - 80)), 'c');
  auto publisher = *pub;
  auto t0 = clock_type::now();
  auto source = sys.spawn([=](caf::event_based_actor*) -> caf::behavior {
    return {[=](caf::ok_atom) {
      for (int i = 0; i < records; i += 1000) {
        std::vector<runtime::message> batch;
        for (int k = i; k < std::min(records, i + 1000); ++k)
          batch.push_back(actors::payment_request{"bench-" + std::to_string(k), pad, 4999});
        publisher->publish(std::move(batch), nullptr, [](const runtime::publish_outcome&) {});
      }
    }};
  });
  caf::anon_send(source, caf::ok_atom::value);
  bool done = all_seen.try_wait();
  while (!done && seconds_since(t0) < 120) {
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
    done = all_seen.try_wait();
  }
  double secs = seconds_since(t0);
  auto seen = mailbox->stats().finished;
  mailbox->stop();
  publisher->stop(std::chrono::seconds{10});
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(source, caf::exit_reason::user_shutdown);
  if (!done)
    std::fprintf(stderr, "bench (b): only %llu of %d records arrived\n",
                 static_cast<unsigned long long>(seen), records);
  return seen / secs;
}


boost::json::object analytics_all_time(http_client& c) {
  auto r = c.get("/api/analytics");
  if (!r || r->status != 200)
    return {};
  return boost::json::parse(r->body).as_object().at("allTime").as_object();
}

}  // namespace

int run_bench(const bench_options& opts, const std::atomic<bool>&) {
  std::unique_ptr<bridges::mock_cluster> mock;
  std::string brokers = opts.brokers;
  auto topics = pipeline_topics(6, 1);
  topics.push_back({"kastor-bench-raw", 6, 1, false});
  topics.push_back({std::string{actors::topic_payment_requests} + ".bench", 6, 1, false});
  if (brokers.empty()) {
    auto m = bridges::mock_cluster::start(1);
    if (!m) {
      std::fprintf(stderr, "kastor bench: %s\n", runtime::describe(m.error()).c_str());
      return 2;
    }
    mock = std::move(*m);
    brokers = mock->bootstrap();
    for (const auto& t : topics)
      mock->create_topic(t);
    std::printf("broker: embedded mock cluster (figures are NOT representative of Kafka)\n");
  } else {
    if (auto err = bridges::ensure_topics(brokers, topics, std::chrono::seconds{60})) {
      std::fprintf(stderr, "kastor bench: %s\n", runtime::describe(err).c_str());
      return 2;
    }
    std::printf("broker: %s\n", brokers.c_str());
  }
  std::fflush(stdout);
  double a = raw_kafka(brokers, opts.records, opts.record_bytes, opts.compression);
  std::printf("(a) raw librdkafka produce+consume: %.0f records/s (%d records of %d bytes)\n", a,
              opts.records, opts.record_bytes);
  std::fflush(stdout);
  double b = through_bridge(brokers, opts.records, opts.record_bytes, mock ? 5 : 100,
                            opts.compression);
  std::printf("(b) actor -> bridge -> Kafka -> bridge -> actor: %.0f records/s\n", b);
  std::printf("    ratio (b)/(a): %.2f\n", a > 0 ? b / a : 0.0);
  std::fflush(stdout);

  // (c) a whole node as its own process (as deployed), driven over HTTP from here.
  char tmpl[] = "/tmp/kastor-bench.XXXXXX";
  std::string data_dir = mkdtemp(tmpl);
  auto port = free_port();
  child_process node_proc{
    {self_exe(), "node", "--brokers", brokers, "--http", "127.0.0.1:" + std::to_string(port),
     "--node-id", "bench", "--data-dir", data_dir, "--log-level", "warn", "--set",
     "kafka.compression=" + opts.compression, "--set",
     "group.prefix=kastor-bench-" + std::to_string(getpid()), "--set", "http.threads=2", "--set",
     // (its gateway serves the ops routes; none on the default port, which may be taken)
     "ops.http=off", "--set",
     // (every connection of the driver comes from here: no per-client limit)
     "http.max-connections-per-client=0", "--set", "http.rate-limit=0", "--set",
     std::string{"kafka.session-timeout-ms="} + (mock ? "6000" : "10000"), "--set",
     std::string{"kafka.fetch-wait-max-ms="} + (mock ? "5" : "100")},
    data_dir + "/node.log"};
  http_client client{"127.0.0.1", port};
  bool ready = false;
  for (int i = 0; i < 1200 && !ready && !node_proc.exited(); ++i) {
    auto r = client.get("/readyz");
    ready = r && r->status == 200;
    if (!ready)
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  if (!ready) {
    std::fprintf(stderr, "kastor bench: the node did not become ready (log: %s/node.log)\n",
                 data_dir.c_str());
    return 1;
  }
  auto ledgers = std::vector<std::string>{data_dir + "/payment-ledger.jsonl"};
  auto outboxes = std::vector<std::string>{data_dir + "/email-outbox.jsonl"};
  // Latency at a fixed offered rate, first, so the aggregates cover only it.
  drive_options d;
  d.port = port;
  d.rate = opts.offered_rate;
  d.orders = static_cast<int>(opts.offered_rate * opts.latency_seconds);
  d.concurrency = opts.concurrency;
  auto lat_run = drive_orders(d);
  auto lat_check = check_orders("127.0.0.1", port, lat_run.accepted, ledgers, outboxes,
                                std::chrono::seconds{120});
  auto all = analytics_all_time(client);
  auto lat = all.contains("latencyMs") ? all.at("latencyMs").as_object() : boost::json::object{};
  auto num = [](const boost::json::object& o, const char* k) {
    return o.contains(k) && o.at(k).is_number() ? o.at(k).to_number<double>() : -1.0;
  };
  std::printf("(c) latency at %.0f orders/s offered for %d s: accepted=%zu terminal=%zu "
              "accepted->emailed p50=%.1f ms p95=%.1f ms p99=%.1f ms\n",
              opts.offered_rate, opts.latency_seconds, lat_run.accepted.size(), lat_check.terminal,
              num(lat, "p50"), num(lat, "p95"), num(lat, "p99"));
  std::fflush(stdout);
  // Throughput: as fast as the gateway takes them, until the last email.
  d.rate = 0;
  d.orders = opts.orders;
  d.first = 1'000'000;
  auto t0 = clock_type::now();
  auto tput = drive_orders(d);
  auto tput_check = check_orders("127.0.0.1", port, tput.accepted, ledgers, outboxes,
                                 std::chrono::seconds{300});
  double secs = seconds_since(t0);
  std::printf("(c) throughput: %zu orders accepted in %.2f s (%.0f/s at the gateway); all %zu "
              "terminal after %.2f s: %.0f orders/s end to end\n",
              tput.accepted.size(), tput.seconds, tput.accepted.size() / tput.seconds,
              tput_check.terminal, secs, tput_check.terminal / secs);
  std::printf("    exactly-once effects: charge anomalies %zu, email anomalies %zu\n",
              lat_check.charge_anomalies + tput_check.charge_anomalies,
              lat_check.email_anomalies + tput_check.email_anomalies);
  std::printf("memory: the node process's peak RSS %ld MB over both runs\n",
              node_proc.peak_rss_kb() / 1024);
  std::fflush(stdout);
  int rc = node_proc.stop(std::chrono::seconds{30});
  if (rc != 0)
    std::fprintf(stderr, "kastor bench: the node exited with %d (log: %s/node.log)\n", rc,
                 data_dir.c_str());
  else
    std::filesystem::remove_all(data_dir);
  return rc == 0 ? 0 : 1;
}

}  // namespace kastor::apps
