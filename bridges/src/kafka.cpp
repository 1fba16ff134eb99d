#include "kastor/bridges/kafka.hpp"

#include <algorithm>
#include <set>
#include <thread>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>  // after rdkafka.h

#include "kastor/bridges/kafka_statistics.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/logging.hpp"
#include "kastor/runtime/role_actor.hpp"

namespace kastor::bridges {

void rk_deleter::operator()(rd_kafka_t* rk) const {
  rd_kafka_destroy(rk);
}

void message_deleter::operator()(rd_kafka_message_t* m) const {
  rd_kafka_message_destroy(m);
}

void partition_list_deleter::operator()(rd_kafka_topic_partition_list_t* l) const {
  rd_kafka_topic_partition_list_destroy(l);
}

using runtime::bridge_errc;
using runtime::make_error;

caf::expected<conf_ptr> make_conf(const kafka_properties& props) {
  conf_ptr conf{rd_kafka_conf_new()};
  // Reported only by a client whose statistics.interval.ms is set.
  rd_kafka_conf_set_stats_cb(conf.get(), [](rd_kafka_t*, char* json, size_t len, void*) {
    record_statistics({json, len});
    return 0;  // librdkafka frees it
  });
  char err[512];
  for (const auto& [k, v] : props)
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof(err))
        != RD_KAFKA_CONF_OK)
      return make_error(bridge_errc::kafka_fatal, "kafka property " + k + "=" + v + ": " + err);
  return conf;
}

void enable_log_queue(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set(conf, "log.queue", "true", nullptr, 0);
}

void forward_logs(rd_kafka_t* rk, rd_kafka_queue_t* log_queue) {
  static auto log = runtime::logger("kastor.kafka");
  (void) rk;
  while (auto* ev = rd_kafka_queue_poll(log_queue, 0)) {
    const char *fac = nullptr, *str = nullptr;
    int level = 6;
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_LOG
        && rd_kafka_event_log(ev, &fac, &str, &level) == 0) {
      // A broker that went away (a restart, a network blip) is reconnected
      // to by librdkafka on its own: a warning, not an error per client.
      const std::string_view facility = fac != nullptr ? fac : "";
      const std::string_view text = str != nullptr ? str : "";
      const bool transient =
        facility == "FAIL" || facility == "BROKERFAIL" || facility == "CONNECT"
        || facility == "DISCONN" || facility == "REQTMOUT"
        || (facility == "ERROR"  // the same failures, reported once more as errors
            && (text.find("Connect to ") != std::string_view::npos
                || text.find("Disconnected") != std::string_view::npos
                || text.find("brokers are down") != std::string_view::npos));
      if (level <= 3 && !transient)
        log->error("librdkafka fac={} {}", fac, str);
      else if (level <= 4)
        log->warn("librdkafka fac={} {}", fac, str);
      else
        log->debug("librdkafka fac={} {}", fac, str);
    }
    rd_kafka_event_destroy(ev);
  }
}

bool is_retriable(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    // Purged by an abort or a stop: the record is not at fault.
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
      return true;
    default:
      return false;
  }
}

bool is_record_refused(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:  // local (message.max.bytes) or the broker's
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
      return true;
    default:
      return false;
  }
}

caf::error kafka_error(rd_kafka_resp_err_t err, const std::string& what) {
  return make_error(is_retriable(err) ? bridge_errc::kafka_retriable : bridge_errc::kafka_fatal,
                    what + ": " + rd_kafka_err2str(err));
}

caf::expected<rk_ptr> make_consumer(conf_ptr conf, rd_kafka_queue_t** log_queue,
                                    const std::string& what) {
  enable_log_queue(conf.get());
  char errstr[512];
  rk_ptr rk{rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr))};
  if (!rk)
    return runtime::make_error(runtime::bridge_errc::kafka_fatal, what + ": " + errstr);
  (void) conf.release();  // owned by the handle now
  *log_queue = rd_kafka_queue_new(rk.get());
  rd_kafka_set_log_queue(rk.get(), *log_queue);
  rd_kafka_poll_set_consumer(rk.get());
  return rk;
}

caf::error txn_error(rd_kafka_error_t* e, const std::string& what) {
  using runtime::bridge_errc;
  if (e == nullptr)
    return {};
  auto code = rd_kafka_error_is_fatal(e)                 ? bridge_errc::kafka_fatal
              : rd_kafka_error_txn_requires_abort(e)     ? bridge_errc::kafka_abortable
                                                         : bridge_errc::kafka_retriable;
  auto msg = what + ": " + rd_kafka_error_name(e) + ": " + rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  return runtime::make_error(code, msg);
}

header_list read_headers(rd_kafka_message_t* msg) {
  header_list out;
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || hdrs == nullptr)
    return out;
  out.reserve(rd_kafka_header_cnt(hdrs));
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size)
                     == RD_KAFKA_RESP_ERR_NO_ERROR;
       ++i)
    out.push_back({name, value ? std::string{static_cast<const char*>(value), size} : ""});
  return out;
}

caf::expected<int> partitions_of(rd_kafka_t* rk, const std::string& topic,
                                 std::chrono::milliseconds timeout) {
  auto* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  auto err = rd_kafka_metadata(rk, 0, rkt, &md, static_cast<int>(timeout.count()));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka_error(err, "metadata of " + topic);
  int n = 0;
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
    n = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  return n;
}

std::optional<int32_t> key_partition(const std::string& partitioner, std::string_view key,
                                     int32_t count) {
  using fn = int32_t (*)(const rd_kafka_topic_t*, const void*, size_t, int32_t, void*, void*);
  static const std::map<std::string, fn, std::less<>> placements{
    // The *_random ones differ only for records without a key.
    {"murmur2_random", &rd_kafka_msg_partitioner_murmur2},
    {"murmur2", &rd_kafka_msg_partitioner_murmur2},
    {"consistent_random", &rd_kafka_msg_partitioner_consistent},
    {"consistent", &rd_kafka_msg_partitioner_consistent},
    {"fnv1a_random", &rd_kafka_msg_partitioner_fnv1a},
    {"fnv1a", &rd_kafka_msg_partitioner_fnv1a},
  };
  auto it = placements.find(partitioner);
  if (key.empty() || count < 1 || it == placements.end())
    return std::nullopt;
  // None of these reads the topic or the opaques.
  return it->second(nullptr, key.data(), key.size(), count, nullptr, nullptr);
}

std::string stored_record::header(std::string_view name) const {
  const auto* h = runtime::find_header(headers, name);  // (the last one counts)
  return h != nullptr ? h->value : std::string{};
}

caf::expected<std::vector<stored_record>> read_topic(const std::string& brokers,
                                                     const std::string& topic,
                                                     const std::map<int32_t, int64_t>& from,
                                                     std::chrono::milliseconds timeout,
                                                     std::map<int32_t, int64_t>* ends,
                                                     read_end until_end) {
  auto reader = [&](const char* isolation) -> caf::expected<rk_ptr> {
    auto conf = make_conf({{"bootstrap.servers", brokers},
                           {"client.id", "kastor-reader"},
                           {"group.id", "kastor-reader"},  // required by the consumer; never joined
                           {"enable.auto.commit", "false"},
                           {"enable.partition.eof", "true"},
                           {"isolation.level", isolation}});
    if (!conf)
      return conf.error();
    char errstr[512];
    rk_ptr rk{rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof(errstr))};
    if (!rk)
      return runtime::make_error(runtime::bridge_errc::kafka_fatal,
                                 std::string{"reader: "} + errstr);
    (void) conf->release();
    return rk;
  };
  auto made = reader("read_committed");
  if (!made)
    return made.error();
  auto rk = std::move(*made);
  // Settled: the high watermarks (a read_uncommitted client's "end"), which
  // the committed end must reach.
  rk_ptr hw;
  if (until_end == read_end::settled) {
    auto other = reader("read_uncommitted");
    if (!other)
      return other.error();
    hw = std::move(*other);
  }
  auto until = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    return static_cast<int>(std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now())
           .count()));
  };
  auto n = partitions_of(rk.get(), topic, std::chrono::milliseconds{left()});
  if (!n)
    return n.error();
  if (*n == 0)
    return runtime::make_error(runtime::runtime_errc::invalid_config, "no topic '" + topic + "'");
  auto wanted = from;
  if (wanted.empty())
    for (int32_t p = 0; p < *n; ++p)
      wanted[p] = -1;
  partition_list_ptr parts{rd_kafka_topic_partition_list_new(static_cast<int>(wanted.size()))};
  std::map<int32_t, int64_t> settle_at;  // settled: partition -> its high watermark
  size_t pending = 0;
  for (auto [p, first] : wanted) {
    if (p < 0 || p >= *n)
      return runtime::make_error(runtime::runtime_errc::invalid_config,
                                 topic + " has no partition " + std::to_string(p));
    // (the query answers as its client reads: read_committed, the last
    // stable offset, which an open transaction holds back)
    int64_t lo = 0, hi = 0;
    if (auto err = rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &lo, &hi, left()))
      return kafka_error(err, "offsets of " + topic);
    if (hw) {
      int64_t hw_lo = 0, high = 0;
      if (auto err = rd_kafka_query_watermark_offsets(hw.get(), topic.c_str(), p, &hw_lo, &high,
                                                      left()))
        return kafka_error(err, "high watermark of " + topic);
      settle_at[p] = high;
      hi = std::max(hi, high);
    }
    auto start = std::max(first, lo);
    if (ends != nullptr)
      (*ends)[p] = start;  // moved on at the partition's end
    if (hi > start) {
      rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), p)->offset = start;
      ++pending;
    }
  }
  std::vector<stored_record> out;
  std::set<int32_t> at_end;
  if (pending > 0)
    rd_kafka_assign(rk.get(), parts.get());
  while (pending > 0) {
    if (std::chrono::steady_clock::now() > until) {
      std::string held;
      for (int i = 0; i < parts->cnt; ++i)
        if (auto p = parts->elems[i].partition; hw && !at_end.count(p))
          held += (held.empty() ? "" : ", ") + std::to_string(p) + " (to offset "
                  + std::to_string(settle_at[p]) + ")";
      return runtime::make_error(
        runtime::runtime_errc::timeout,
        "reading " + topic + " took longer than " + std::to_string(timeout.count()) + " ms"
          + (held.empty() ? ""
                          : "; partitions not read to their high watermark: " + held
                              + " (a transaction not yet ended keeps a read short of it; one "
                                "that never ends, which Kafka before KIP-890 can leave, is "
                                "ended with kafka-transactions.sh abort)"));
    }
    message_ptr msg{rd_kafka_consumer_poll(rk.get(), 200)};
    if (!msg)
      continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // (sent again whenever a partition's end moves on: count each once)
      if (at_end.count(msg->partition))
        continue;
      if (hw && msg->offset < settle_at[msg->partition])
        continue;  // a transaction is open: its outcome moves the end on
      at_end.insert(msg->partition);
      if (ends != nullptr)
        (*ends)[msg->partition] = msg->offset;
      --pending;
      continue;
    }
    if (msg->err)
      return kafka_error(msg->err, "reading " + topic);
    stored_record r;
    r.topic = topic;
    r.partition = msg->partition;
    r.offset = msg->offset;
    r.timestamp_ms = rd_kafka_message_timestamp(msg.get(), nullptr);
    if (msg->key)
      r.key.assign(static_cast<const char*>(msg->key), msg->key_len);
    if (msg->payload)
      r.value.assign(static_cast<const char*>(msg->payload), msg->len);
    r.headers = read_headers(msg.get());
    out.push_back(std::move(r));
  }
  std::stable_sort(out.begin(), out.end(), [](const stored_record& a, const stored_record& b) {
    return a.partition < b.partition;
  });
  return out;
}

std::vector<live_snapshot> live_snapshots(const std::vector<stored_record>& records,
                                          std::map<int32_t, int64_t>& max_epoch,
                                          std::vector<std::string>* skipped,
                                          std::vector<unusable_record>* unusable,
                                          int64_t now_ms) {
  if (now_ms < 0)
    now_ms = runtime::wall_clock_ms();
  auto reject = [&](const stored_record& r, std::string why) {
    if (unusable)
      unusable->push_back({&r, std::move(why)});
  };
  std::vector<live_snapshot> out;
  for (const auto& r : records) {
    if (r.value.empty())
      continue;  // a tombstone
    // Typed as decode_record types it, but decoded whatever its schema
    // version: a restore keeps what a newer writer wrote.
    const auto* h = find_header(r.headers, hdr_type);
    const auto* type = h != nullptr ? runtime::messages().by_name(h->value)
                                    : runtime::messages().by_topic(r.topic);
    if (type == nullptr) {
      reject(r, h != nullptr ? "unknown message type '" + h->value + "' in header "
                                 + std::string{hdr_type}
                             : "no " + std::string{hdr_type} + " header and topic '" + r.topic
                                 + "' carries no single known message type");
      continue;
    }
    caf::expected<runtime::message> snapshot{caf::error{}};
    try {
      snapshot = type->decode(r.value, r.headers);
    } catch (const std::exception& e) {
      reject(r, "decoding " + type->name + " threw: " + e.what());
      continue;
    }
    if (!snapshot) {
      reject(r, runtime::describe(snapshot.error()));
      continue;
    }
    // Its entity's timers and last answers are restored with it (timers.hpp,
    // recent.hpp).
    for (auto name : {runtime::timers_header, runtime::recent_header})
      if (const auto* t = find_header(r.headers, name))
        *snapshot = snapshot->with_note(t->name, t->value);
    auto epoch = runtime::epoch_of(r.headers);
    auto& seen = max_epoch[r.partition];
    if (epoch > now_ms + max_epoch_ahead_ms) {
      // Its content is its writer's latest (a partition written since such
      // an epoch holds nothing else), but the epoch does not count: it
      // neither makes later snapshots stale nor raises the next owner's.
      reject(r, "implausible " + std::string{hdr_epoch} + " " + std::to_string(epoch)
                  + ": more than a day past this node's clock (" + std::to_string(now_ms)
                  + "); its snapshot was restored with the epoch ignored");
      out.push_back({&r, std::move(*snapshot), seen});
      continue;
    }
    if (epoch < seen) {
      if (skipped)
        skipped->push_back(r.id());
      continue;
    }
    seen = epoch;
    out.push_back({&r, std::move(*snapshot), epoch});
  }
  return out;
}

namespace {

// Kafka's ConsumerProtocol assignment: int16 version, then [topic, [partition]].
std::map<std::string, std::vector<int32_t>> parse_assignment(const void* data, size_t size) {
  std::map<std::string, std::vector<int32_t>> out;
  const auto* p = static_cast<const unsigned char*>(data);
  size_t pos = 0;
  auto need = [&](size_t n) { return p != nullptr && pos + n <= size; };
  auto i16 = [&] {
    int16_t v = static_cast<int16_t>((p[pos] << 8) | p[pos + 1]);
    pos += 2;
    return v;
  };
  auto i32 = [&] {
    int32_t v = static_cast<int32_t>((uint32_t{p[pos]} << 24) | (uint32_t{p[pos + 1]} << 16)
                                     | (uint32_t{p[pos + 2]} << 8) | uint32_t{p[pos + 3]});
    pos += 4;
    return v;
  };
  if (!need(6))
    return out;
  i16();  // version
  for (int32_t topics = i32(); topics > 0 && need(2); --topics) {
    auto len = i16();
    if (len < 0 || !need(static_cast<size_t>(len) + 4))
      return out;
    std::string topic{reinterpret_cast<const char*>(p + pos), static_cast<size_t>(len)};
    pos += static_cast<size_t>(len);
    auto& parts = out[topic];
    for (int32_t n = i32(); n > 0 && need(4); --n)
      parts.push_back(i32());
  }
  return out;
}

}  // namespace

caf::expected<group_description> describe_group(rd_kafka_t* rk, const std::string& group,
                                                std::chrono::milliseconds timeout) {
  const rd_kafka_group_list* list = nullptr;
  if (auto err = rd_kafka_list_groups(rk, group.c_str(), &list, static_cast<int>(timeout.count())))
    return kafka_error(err, "describe group " + group);
  group_description out;
  out.state = "Dead";
  if (list->group_cnt > 0 && list->groups[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    auto err = list->groups[0].err;
    rd_kafka_group_list_destroy(list);
    return kafka_error(err, "describe group " + group);
  }
  if (list->group_cnt > 0) {
    const auto& g = list->groups[0];
    out.state = g.state ? g.state : "";
    out.coordinator = g.broker.id;
    for (int i = 0; i < g.member_cnt; ++i) {
      const auto& m = g.members[i];
      group_member gm;
      gm.client_id = m.client_id ? m.client_id : "";
      gm.host = m.client_host ? m.client_host : "";
      gm.assignment = parse_assignment(m.member_assignment, m.member_assignment_size);
      out.members.push_back(std::move(gm));
    }
  }
  rd_kafka_group_list_destroy(list);
  return out;
}

namespace {

// A short-lived client for administration and metadata.
caf::expected<rk_ptr> admin_client(const std::string& brokers) {
  auto conf = make_conf({{"bootstrap.servers", brokers}, {"client.id", "kastor-admin"}});
  if (!conf)
    return conf.error();
  char errstr[512];
  rk_ptr rk{rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof(errstr))};
  if (!rk)
    return make_error(bridge_errc::kafka_fatal, std::string{"admin client: "} + errstr);
  (void) conf->release();  // owned by the handle now
  return rk;
}

}  // namespace

bool topic_exists(const std::string& brokers, const std::string& topic,
                  std::chrono::milliseconds timeout) {
  auto rk = admin_client(brokers);
  if (!rk)
    return false;
  auto n = partitions_of(rk->get(), topic, timeout);
  return n && *n > 0;
}

caf::expected<cluster_view> describe_cluster(const std::string& brokers,
                                             std::chrono::milliseconds timeout) {
  auto rk = admin_client(brokers);
  if (!rk)
    return rk.error();
  const rd_kafka_metadata_t* md = nullptr;
  auto err = rd_kafka_metadata(rk->get(), 1, nullptr, &md, static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka_error(err, "metadata of the cluster at " + brokers);
  cluster_view view;
  view.brokers = md->broker_cnt;
  for (int i = 0; i < md->topic_cnt; ++i)
    if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
      view.topics[md->topics[i].topic] = md->topics[i].partition_cnt;
  rd_kafka_metadata_destroy(md);
  return view;
}

caf::error ensure_topics(const std::string& brokers, const std::vector<topic_spec>& topics,
                         std::chrono::milliseconds timeout) {
  auto client = admin_client(brokers);
  if (!client)
    return client.error();
  auto& rk = *client;
  char errstr[512];
  int auto_replication = 0;  // min(3, brokers), for a replication of 0
  for (const auto& t : topics)
    if (t.replication <= 0 && auto_replication == 0) {
      const rd_kafka_metadata_t* md = nullptr;
      auto err = rd_kafka_metadata(rk.get(), 0, nullptr, &md, static_cast<int>(timeout.count()));
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return kafka_error(err, "metadata of the cluster at " + brokers);
      auto_replication = std::clamp(md->broker_cnt, 1, 3);
      rd_kafka_metadata_destroy(md);
    }
  std::vector<rd_kafka_NewTopic_t*> news;
  for (const auto& t : topics) {
    auto* nt = rd_kafka_NewTopic_new(t.name.c_str(), t.partitions,
                                      t.replication > 0 ? t.replication : auto_replication, errstr,
                                      sizeof(errstr));
    if (nt == nullptr) {
      for (auto* n : news)
        rd_kafka_NewTopic_destroy(n);
      return make_error(bridge_errc::kafka_fatal, "topic " + t.name + ": " + errstr);
    }
    if (t.compacted)
      rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    news.push_back(nt);
  }
  auto* queue = rd_kafka_queue_new(rk.get());
  auto* opts = rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(opts, static_cast<int>(timeout.count()), errstr,
                                              sizeof(errstr));
  rd_kafka_CreateTopics(rk.get(), news.data(), news.size(), opts, queue);
  caf::error result;
  auto* ev = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
  if (ev == nullptr) {
    result = make_error(bridge_errc::kafka_retriable, "create topics: no answer from " + brokers);
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = kafka_error(rd_kafka_event_error(ev), "create topics");
  } else {
    size_t n = 0;
    const auto* res = rd_kafka_event_CreateTopics_result(ev);
    const auto** results = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n && !result; ++i) {
      auto e = rd_kafka_topic_result_error(results[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        result = kafka_error(e, std::string{"create topic "} + rd_kafka_topic_result_name(results[i]));
    }
  }
  if (ev != nullptr)
    rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opts);
  for (auto* n : news)
    rd_kafka_NewTopic_destroy(n);
  rd_kafka_queue_destroy(queue);
  if (result)
    return result;
  // Wait until every partition has a leader.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const rd_kafka_metadata_t* md = nullptr;
    bool ready = false;
    if (rd_kafka_metadata(rk.get(), 1, nullptr, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ready = true;
      for (const auto& t : topics) {
        bool found = false;
        for (int i = 0; i < md->topic_cnt; ++i) {
          const auto& mt = md->topics[i];
          if (t.name != mt.topic)
            continue;
          found = mt.err == RD_KAFKA_RESP_ERR_NO_ERROR && mt.partition_cnt >= t.partitions;
          for (int p = 0; found && p < mt.partition_cnt; ++p)
            found = mt.partitions[p].leader >= 0;
        }
        ready = ready && found;
      }
      rd_kafka_metadata_destroy(md);
    }
    if (ready)
      return {};
    if (std::chrono::steady_clock::now() > deadline)
      return make_error(bridge_errc::kafka_retriable,
                        "topics created but not all partitions have a leader yet");
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
}

caf::expected<std::unique_ptr<mock_cluster>> mock_cluster::start(int brokers) {
  auto conf = make_conf({{"client.id", "kastor-mock-owner"}, {"log_level", "3"}});
  if (!conf)
    return conf.error();
  char errstr[512];
  std::unique_ptr<mock_cluster> mc{new mock_cluster};
  mc->owner_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof(errstr)));
  if (!mc->owner_)
    return make_error(bridge_errc::kafka_fatal, std::string{"mock cluster: "} + errstr);
  (void) conf->release();  // owned by the handle now
  mc->cluster_ = rd_kafka_mock_cluster_new(mc->owner_.get(), brokers);
  if (mc->cluster_ == nullptr)
    return make_error(bridge_errc::kafka_fatal, "mock cluster: could not start");
  mc->bootstrap_ = rd_kafka_mock_cluster_bootstraps(mc->cluster_);
  return mc;
}

mock_cluster::~mock_cluster() {
  if (cluster_ != nullptr)
    rd_kafka_mock_cluster_destroy(cluster_);
}

caf::error mock_cluster::create_topic(const topic_spec& t) {
  auto err = rd_kafka_mock_topic_create(cluster_, t.name.c_str(), t.partitions,
                                        std::min(t.replication, 3));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka_error(err, "mock topic " + t.name);
  return {};
}

void mock_cluster::push_request_errors(int16_t api_key,
                                       const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(cluster_, api_key, errors.size(), errors.data());
}

void mock_cluster::set_topic_error(const std::string& topic, rd_kafka_resp_err_t err) {
  rd_kafka_mock_topic_set_error(cluster_, topic.c_str(), err);
}

}  // namespace kastor::bridges
