#include "node_metrics.hpp"

#include <functional>
#include <map>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "kastor/runtime/errors.hpp"

namespace kastor::bridges {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

class families {
public:
  void add(const std::string& name, MetricType type, const std::string& help,
           std::vector<ClientMetric::Label> labels, double value) {
    auto& f = of(name, type, help);
    ClientMetric m;
    m.label = std::move(labels);
    (type == MetricType::Counter ? m.counter.value : m.gauge.value) = value;
    f.metric.push_back(std::move(m));
  }

  // Declares the family even when no sample follows (a node with no role
  // yet still names every metric it has).
  MetricFamily& of(const std::string& name, MetricType type, const std::string& help) {
    auto it = index_.find(name);
    if (it != index_.end())
      return out_[it->second];
    index_.emplace(name, out_.size());
    out_.push_back(MetricFamily{name, help, type, {}});
    return out_.back();
  }

  void merge(std::vector<MetricFamily> more) {
    for (auto& f : more) {
      auto& into = of(f.name, f.type, f.help);
      for (auto& m : f.metric)
        into.metric.push_back(std::move(m));
    }
  }

  std::vector<MetricFamily>& all() { return out_; }

private:
  std::vector<MetricFamily> out_;
  std::map<std::string, size_t> index_;
};

// mailbox_stats::dead_letter_reasons' classes.
const std::vector<std::string>& dead_letter_classes() {
  static const auto all = [] {
    using runtime::bridge_errc;
    std::vector<std::string> out;
    for (auto code : {bridge_errc::malformed_json, bridge_errc::missing_field,
                      bridge_errc::wrong_type, bridge_errc::unknown_type,
                      bridge_errc::unsupported_version, bridge_errc::schema_violation,
                      bridge_errc::no_handler})
      out.push_back(runtime::to_string(code));
    for (const char* other : {"rejected", "max_attempts", "behind_key", "other"})
      out.emplace_back(other);
    return out;
  }();
  return all;
}

}  // namespace

std::string scrape_text(bool ready, const std::vector<role_reading>& roles,
                        const std::vector<client_statistics>& clients,
                        const std::vector<const runtime::metric_registry*>& registries) {
  families fs;
  constexpr auto counter = MetricType::Counter;
  constexpr auto gauge = MetricType::Gauge;
  fs.add("kastor_node_ready", gauge, "1 when the node is ready (GET /readyz answers 200), else 0.",
         {}, ready ? 1 : 0);
  struct role_metric {
    const char* name;
    MetricType type;
    const char* help;
    std::function<double(const mailbox_stats&)> value;
  };
  const std::vector<role_metric> per_role = {
    {"kastor_records_fetched_total", counter, "Records a role's mailbox fetched from Kafka.",
     [](const auto& s) { return double(s.received); }},
    {"kastor_records_finished_total", counter,
     "Records a role finished (handled, their outputs durable): what is committed.",
     [](const auto& s) { return double(s.finished); }},
    {"kastor_records_redelivered_total", counter,
     "Records delivered again to a new incarnation of a role's actor (a retry).",
     [](const auto& s) { return double(s.redelivered); }},
    {"kastor_records_forwarded_total", counter,
     "Records a keyed role sent on to its key's partition (its forward topic).",
     [](const auto& s) { return double(s.forwarded); }},
    {"kastor_records_in_flight", gauge,
     "Records a role's mailbox holds, taken and not finished (its depth).",
     [](const auto& s) { return double(s.in_flight); }},
    {"kastor_mailbox_paused", gauge, "1 while a role's partitions are paused (backpressure).",
     [](const auto& s) { return s.paused ? 1.0 : 0.0; }},
    {"kastor_mailbox_pauses_total", counter, "Times a role's partitions were paused.",
     [](const auto& s) { return double(s.pauses); }},
    {"kastor_group_joined", gauge, "1 once a role's consumer received its group's assignment.",
     [](const auto& s) { return s.joined ? 1.0 : 0.0; }},
    {"kastor_standing_by", gauge, "1 while a standby role is not in its group.",
     [](const auto& s) { return s.standing_by ? 1.0 : 0.0; }},
    {"kastor_partitions_assigned", gauge, "Partitions assigned to a role on this node.",
     [](const auto& s) { return double(s.assigned_partitions); }},
    {"kastor_partition_revocations_total", counter,
     "Rebalances that took a role's partitions (each a hand-off, or a lost assignment).",
     [](const auto& s) { return double(s.handoffs); }},
    {"kastor_lost_assignments_total", counter,
     "Assignments a role lost (the group moved on without a clean hand-off).",
     [](const auto& s) { return double(s.lost_assignments); }},
    {"kastor_handoff_longest_seconds", gauge,
     "The longest hand-off of a role (revocation to release) so far.",
     [](const auto& s) { return double(s.longest_handoff_ms) / 1000.0; }},
    {"kastor_poll_stalls_total", counter,
     "Times a role's poll loop stood still past half the session timeout.",
     [](const auto& s) { return double(s.stalls); }},
    {"kastor_dead_letters_failing", gauge,
     "Dead-letter writes of a role failing in a row (retried, backing off).",
     [](const auto& s) { return double(s.dead_letters_failing); }},
  };
  for (const auto& m : per_role)
    fs.of(m.name, m.type, m.help);
  auto& dead = fs.of("kastor_dead_letters_total", counter,
                     "Records a role wrote to its dead-letter topic, by reason.");
  auto& txs = fs.of("kastor_transactions_total", counter,
                    "Exactly-once transactions of a role, by outcome (committed, aborted).");
  for (const auto& r : roles) {
    for (const auto& m : per_role)
      fs.add(m.name, m.type, m.help, {{"role", r.role}}, m.value(r.stats));
    // Every reason at 0 from the start: a counter that appears with its
    // first dead letter would show no rate() for it.
    auto reasons = r.stats.dead_letter_reasons;
    for (const auto& why : dead_letter_classes())
      reasons.try_emplace(why, 0);
    for (const auto& [why, n] : reasons) {
      ClientMetric c;
      c.label = {{"reason", why}, {"role", r.role}};
      c.counter.value = double(n);
      dead.metric.push_back(std::move(c));
    }
    for (auto [outcome, n] : {std::pair{"committed", r.stats.transactions},
                              std::pair{"aborted", r.stats.aborts}}) {
      ClientMetric c;
      c.label = {{"outcome", outcome}, {"role", r.role}};
      c.counter.value = double(n);
      txs.metric.push_back(std::move(c));
    }
  }
  // Per partition: kafka-lag-exporter's and Kafka's own consumer metrics.
  const char* in_flight = "kastor_partition_records_in_flight";
  const char* quarantined = "kastor_partition_records_quarantined";
  const char* committed = "kastor_partition_committed_offset";
  const char* position = "kastor_partition_position";
  const char* high = "kastor_partition_high_watermark";
  const char* lag = "kastor_partition_lag";
  const char* records_lag = "kastor_partition_records_lag";
  fs.of(in_flight, gauge, "Records of a partition a role holds, taken and not finished.");
  fs.of(quarantined, gauge,
        "Records of a partition waiting behind a failed record of their key (quarantine).");
  fs.of(committed, gauge, "The offset a role committed (or stored to commit) on a partition.");
  fs.of(position, gauge, "The next offset a role's consumer fetches from a partition.");
  fs.of(high, gauge, "A partition's high watermark, as the role's consumer last fetched it.");
  fs.of(lag, gauge, "High watermark minus committed offset: what a role has not finished yet.");
  fs.of(records_lag, gauge, "High watermark minus position: what a role has not fetched yet.");
  for (const auto& r : roles)
    for (const auto& p : r.partitions) {
      std::vector<ClientMetric::Label> l = {
        {"partition", std::to_string(p.partition)}, {"role", r.role}, {"topic", p.topic}};
      fs.add(in_flight, gauge, "", l, double(p.in_flight));
      fs.add(quarantined, gauge, "", l, double(p.quarantined));
      if (p.committed >= 0)
        fs.add(committed, gauge, "", l, double(p.committed));
      if (p.position >= 0)
        fs.add(position, gauge, "", l, double(p.position));
      if (p.high_watermark >= 0)
        fs.add(high, gauge, "", l, double(p.high_watermark));
      if (p.lag() >= 0)
        fs.add(lag, gauge, "", l, double(p.lag()));
      if (p.high_watermark >= 0 && p.position >= 0)
        fs.add(records_lag, gauge, "", l, double(std::max<int64_t>(0, p.high_watermark - p.position)));
    }
  // librdkafka's statistics, per client (kafka.statistics-interval-ms).
  const char* queue_messages = "kastor_kafka_queue_messages";
  const char* queue_bytes = "kastor_kafka_queue_bytes";
  const char* rtt_avg = "kastor_kafka_broker_rtt_avg_seconds";
  const char* rtt_p99 = "kastor_kafka_broker_rtt_p99_seconds";
  const char* queued = "kastor_kafka_broker_requests_queued";
  const char* waiting = "kastor_kafka_broker_requests_waiting";
  fs.of(queue_messages, gauge, "Records in a Kafka client's queue (librdkafka's msg_cnt).");
  fs.of(queue_bytes, gauge, "Bytes of the records in a Kafka client's queue (msg_size).");
  fs.of(rtt_avg, gauge, "A client's round-trip time to a broker, mean over the last interval.");
  fs.of(rtt_p99, gauge, "A client's round-trip time to a broker, 99th percentile.");
  fs.of(queued, gauge, "A client's requests to a broker waiting to be sent (outbuf_cnt).");
  fs.of(waiting, gauge, "A client's requests to a broker waiting for their answer (waitresp_cnt).");
  for (const auto& c : clients) {
    fs.add(queue_messages, gauge, "", {{"client", c.client}, {"type", c.type}},
           double(c.queue_messages));
    fs.add(queue_bytes, gauge, "", {{"client", c.client}, {"type", c.type}},
           double(c.queue_bytes));
    for (const auto& b : c.brokers) {
      std::vector<ClientMetric::Label> l = {{"broker", b.broker}, {"client", c.client}};
      fs.add(rtt_avg, gauge, "", l, b.rtt_avg_seconds);
      fs.add(rtt_p99, gauge, "", l, b.rtt_p99_seconds);
      fs.add(queued, gauge, "", l, double(b.requests_queued));
      fs.add(waiting, gauge, "", l, double(b.requests_waiting));
    }
  }
  for (const auto* r : registries)
    fs.merge(r->collect());
  return prometheus::TextSerializer{}.Serialize(fs.all());
}

}  // namespace kastor::bridges
