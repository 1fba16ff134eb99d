// kastor ctl dlq: dead-letter topics, read and redriven straight on Kafka.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <set>

#include <unistd.h>

#include "kastor/apps/commands.hpp"
#include "kastor/apps/dlq_replay.hpp"
#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/json_text.hpp"
#include "kastor/runtime/role_actor.hpp"

namespace kastor::apps {

namespace {

using runtime::make_error;
using runtime::runtime_errc;

// Replays are recorded here, one record per replayed dead letter, keyed
// "<dlq topic>/<partition>@<offset>", written in the same transaction as the
// replayed record: a re-run skips what is in it.
constexpr const char* replay_log_topic = "kastor.dlq-replays";
constexpr auto timeout = std::chrono::seconds{30};

// A dead letter as stored; what a replay is recorded under: the origin record
// ("topic/partition@offset" from kastor-dlq-origin), so that one record
// dead-lettered twice is replayed once; its own position when the origin is
// unknown.
using dlq_record = bridges::stored_record;
std::string replay_key(const dlq_record& r) {
  auto origin = r.header("kastor-dlq-origin");
  return origin.empty() ? r.id() : origin;
}

caf::expected<bridges::rk_ptr> make_client(rd_kafka_type_t type, bridges::kafka_properties props) {
  auto conf = bridges::make_conf(props);
  if (!conf)
    return conf.error();
  char err[512];
  bridges::rk_ptr rk{rd_kafka_new(type, conf->release(), err, sizeof(err))};
  if (!rk)
    return make_error(runtime_errc::invalid_config, err);
  return rk;
}

using bridges::partitions_of;

// Every topic whose name ends in ".dlq", sorted.
caf::expected<std::vector<std::string>> dlq_topics(rd_kafka_t* rk) {
  const rd_kafka_metadata_t* md = nullptr;
  auto err = rd_kafka_metadata(rk, 1, nullptr, &md, 10000);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return bridges::kafka_error(err, "metadata");
  std::set<std::string> names;
  for (int i = 0; i < md->topic_cnt; ++i) {
    std::string name = md->topics[i].topic;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".dlq") == 0)
      names.insert(name);
  }
  rd_kafka_metadata_destroy(md);
  return std::vector<std::string>{names.begin(), names.end()};
}

caf::expected<std::vector<dlq_record>> read_all(const std::string& brokers,
                                                const std::string& topic) {
  return bridges::read_topic(brokers, topic, {}, timeout);
}

std::string iso_time(int64_t ms) {
  if (ms <= 0)
    return "-";
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The ids of dead letters replayed so far (empty if none ever was).
caf::expected<std::set<std::string>> replayed_ids(const std::string& brokers) {
  std::set<std::string> ids;
  auto all = read_all(brokers, replay_log_topic);
  if (!all) {
    // No replay yet: the topic does not exist.
    if (runtime::describe(all.error()).find("no topic") != std::string::npos)
      return ids;
    return all.error();
  }
  for (const auto& r : *all)
    ids.insert(r.key);
  return ids;
}

std::vector<std::string> topics_for(rd_kafka_t* rk, const dlq_options& o) {
  if (!o.topic.empty())
    return {o.topic};
  auto all = dlq_topics(rk);
  return all ? *all : std::vector<std::string>{};
}

int fail(const std::string& what) {
  std::fprintf(stderr, "kastor ctl dlq: %s\n", what.c_str());
  return 1;
}

int list(const dlq_options& o, rd_kafka_t* rk) {
  auto topics = topics_for(rk, o);
  auto replayed = replayed_ids(o.brokers);
  if (!replayed)
    return fail(runtime::describe(replayed.error()));
  for (const auto& t : topics) {
    auto records = read_all(o.brokers, t);
    if (!records)
      return fail(runtime::describe(records.error()));
    int64_t oldest = 0;
    size_t done = 0;
    std::map<std::string, size_t> reasons;
    for (const auto& r : *records) {
      if (oldest == 0 || (r.timestamp_ms > 0 && r.timestamp_ms < oldest))
        oldest = r.timestamp_ms;
      done += replayed->count(replay_key(r));
      auto reason = r.header("kastor-dlq-reason");
      ++reasons[reason.size() > 100 ? reason.substr(0, 97) + "..." : reason];
    }
    std::printf("%s  count=%zu  replayed=%zu  oldest=%s\n", t.c_str(), records->size(), done,
                iso_time(oldest).c_str());
    for (const auto& [reason, n] : reasons)
      std::printf("  %6zu  %s\n", n, reason.empty() ? "(no reason header)" : reason.c_str());
  }
  if (topics.empty())
    std::printf("no dead-letter topics\n");
  return 0;
}

int show(const dlq_options& o) {
  auto records = read_all(o.brokers, o.topic);
  if (!records)
    return fail(runtime::describe(records.error()));
  auto replayed = replayed_ids(o.brokers);
  if (!replayed)
    return fail(runtime::describe(replayed.error()));
  size_t shown = 0;
  for (const auto& r : *records) {
    if (shown == static_cast<size_t>(o.limit))
      break;
    ++shown;
    std::printf("%s  key=%s  time=%s%s\n", r.id().c_str(), r.key.c_str(),
                iso_time(r.timestamp_ms).c_str(), replayed->count(replay_key(r)) ? "  (replayed)" : "");
    for (const auto& h : r.headers)
      if (h.name.rfind("kastor-dlq-", 0) == 0)
        std::printf("  %s: %s\n", h.name.substr(11).c_str(), h.value.c_str());
    std::printf("  value: %s\n", r.value.c_str());
  }
  std::printf("%zu of %zu record(s) shown\n", shown, records->size());
  return 0;
}

// "P@O" -> (partition, offset)
std::optional<std::pair<int32_t, int64_t>> parse_position(const std::string& s) {
  auto at = s.find('@');
  if (at == std::string::npos)
    return std::nullopt;
  int32_t p = 0;
  int64_t off = 0;
  auto [e1, ec1] = std::from_chars(s.data(), s.data() + at, p);
  auto [e2, ec2] = std::from_chars(s.data() + at + 1, s.data() + s.size(), off);
  if (ec1 != std::errc{} || e1 != s.data() + at || ec2 != std::errc{} || e2 != s.data() + s.size()
      || p < 0 || off < 0)
    return std::nullopt;
  return std::pair{p, off};
}

int replay(const dlq_options& o) {
  std::set<std::pair<int32_t, int64_t>> wanted;
  for (const auto& s : o.offsets) {
    auto pos = parse_position(s);
    if (!pos) {
      std::fprintf(stderr, "kastor ctl dlq: --offset '%s': expected PARTITION@OFFSET\n", s.c_str());
      return 2;
    }
    wanted.insert(*pos);
  }
  if (auto err = bridges::ensure_topics(o.brokers, {{replay_log_topic, 1, o.replication, true}},
                                        std::chrono::seconds{30}))
    return fail(runtime::describe(err));
  // One replayer at a time, whatever the topic: a second one fences the
  // first (its open transaction is aborted, so it wrote nothing), and no open
  // transaction holds back what the replay log shows (read_committed stops at
  // the oldest open one).
  auto producer = make_client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", o.brokers},
                                                  {"transactional.id", "kastor-dlq-replay"},
                                                  {"enable.idempotence", "true"}});
  if (!producer)
    return fail(runtime::describe(producer.error()));
  auto* rk = producer->get();
  if (auto* e = rd_kafka_init_transactions(rk, 30000)) {
    std::string msg = std::string{"init transactions: "} + rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
    return fail(msg);
  }
  // Read after init: every earlier replay transaction is finished by now.
  auto replayed = replayed_ids(o.brokers);
  if (!replayed)
    return fail(runtime::describe(replayed.error()));
  auto records = read_all(o.brokers, o.topic);
  if (!records)
    return fail(runtime::describe(records.error()));
  std::vector<std::pair<const dlq_record*, replay_plan>> todo;
  size_t skipped = 0;
  size_t unreplayable = 0;
  std::set<std::pair<int32_t, int64_t>> found;
  for (const auto& r : *records) {
    if (!o.all && !wanted.count({r.partition, r.offset}))
      continue;
    found.insert({r.partition, r.offset});
    auto plan = plan_replay(r);
    if (!plan.error.empty()) {
      if (!o.all)
        return fail(r.id() + " cannot be replayed: " + plan.error + " (nothing replayed)");
      std::printf("%s: not replayable, skipped: %s\n", r.id().c_str(), plan.error.c_str());
      ++unreplayable;
      continue;
    }
    if (!replayed->insert(plan.log_key).second) {  // before, or twice in this topic
      std::printf("%s: %s already replayed, skipped\n", r.id().c_str(), plan.log_key.c_str());
      ++skipped;
      continue;
    }
    todo.push_back({&r, std::move(plan)});
  }
  for (const auto& w : wanted)
    if (!found.count(w))
      return fail("no record " + o.topic + "/" + std::to_string(w.first) + "@"
                  + std::to_string(w.second) + " (nothing replayed)");
  // librdkafka's transactional error rules: a retriable error may be retried;
  // one that requires an abort is aborted (nothing of the chunk is written);
  // a fatal one (e.g. fenced by another replayer) ends the producer.
  auto finish = [&](rd_kafka_error_t* e, const char* what) -> std::string {
    if (e == nullptr)
      return {};
    std::string msg = std::string{what} + ": " + rd_kafka_error_string(e);
    bool abortable = rd_kafka_error_txn_requires_abort(e);
    rd_kafka_error_destroy(e);
    if (abortable)
      if (auto* a = rd_kafka_abort_transaction(rk, 30000))
        rd_kafka_error_destroy(a);
    return msg;
  };
  auto produce = [&](auto&&... args) {
    for (;;) {
      auto err = rd_kafka_producev(rk, args..., RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return err;
      rd_kafka_poll(rk, 100);  // let deliveries drain
    }
  };
  // In transactions of at most 500 records: each record and its mark are
  // written together or not at all.
  constexpr size_t chunk = 500;
  size_t done = 0;
  while (done < todo.size()) {
    if (auto msg = finish(rd_kafka_begin_transaction(rk), "begin transaction"); !msg.empty())
      return fail(msg + " (" + std::to_string(done) + " replayed before this)");
    size_t end = std::min(todo.size(), done + chunk);
    for (size_t i = done; i < end; ++i) {
      const auto& [r, plan] = todo[i];
      // The original record again (see plan_replay); and its mark in the
      // replay log.
      auto* hdrs = rd_kafka_headers_new(plan.headers.size());
      for (const auto& h : plan.headers)
        rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()),
                            h.value.data(), h.value.size());
      auto id = r->id();
      const auto& to = plan.topic;
      auto err = produce(RD_KAFKA_V_TOPIC(to.c_str()), RD_KAFKA_V_KEY(r->key.data(), r->key.size()),
                         RD_KAFKA_V_VALUE(const_cast<char*>(r->value.data()), r->value.size()),
                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs));
      std::string mark;
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        runtime::json_object_writer{mark}
          .text("replayedTo", to)
          .text("from", id)
          .integer("at", runtime::wall_clock_ms())
          .close();
        const auto& key = plan.log_key;
        err = produce(RD_KAFKA_V_TOPIC(replay_log_topic), RD_KAFKA_V_KEY(key.data(), key.size()),
                      RD_KAFKA_V_VALUE(mark.data(), mark.size()),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY));
      } else {
        rd_kafka_headers_destroy(hdrs);
      }
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (auto* a = rd_kafka_abort_transaction(rk, 30000))
          rd_kafka_error_destroy(a);
        return fail(std::string{"replaying "} + id + ": " + rd_kafka_err2str(err) + " ("
                    + std::to_string(done) + " replayed before this)");
      }
    }
    rd_kafka_error_t* e = nullptr;
    for (int tries = 0; tries < 3; ++tries) {
      e = rd_kafka_commit_transaction(rk, 60000);
      if (e == nullptr || !rd_kafka_error_is_retriable(e))
        break;
      rd_kafka_error_destroy(e);  // outcome unknown: committing again is safe
      e = nullptr;
    }
    if (auto msg = finish(e, "commit"); !msg.empty())
      return fail(msg + " (" + std::to_string(done) + " replayed before this)");
    for (size_t i = done; i < end; ++i)
      std::printf("%s -> %s\n", todo[i].first->id().c_str(), todo[i].second.topic.c_str());
    done = end;
  }
  std::printf("replayed %zu record(s), %zu already replayed before", todo.size(), skipped);
  if (unreplayable > 0)
    std::printf(", %zu not replayable", unreplayable);
  std::printf("\n");
  return 0;
}

int purge(const dlq_options& o, rd_kafka_t* rk) {
  if (!o.yes) {
    std::fprintf(stderr, "kastor ctl dlq purge: deletes every record of %s; add --yes to do it\n",
                 o.topic.c_str());
    return 2;
  }
  auto n = partitions_of(rk, o.topic);
  if (!n)
    return fail(runtime::describe(n.error()));
  if (*n == 0)
    return fail("no topic '" + o.topic + "'");
  bridges::partition_list_ptr parts{rd_kafka_topic_partition_list_new(*n)};
  int64_t total = 0;
  for (int p = 0; p < *n; ++p) {
    int64_t lo = 0, hi = 0;
    if (auto err = rd_kafka_query_watermark_offsets(rk, o.topic.c_str(), p, &lo, &hi, 10000))
      return fail(std::string{"offsets: "} + rd_kafka_err2str(err));
    total += hi - lo;
    rd_kafka_topic_partition_list_add(parts.get(), o.topic.c_str(), p)->offset = hi;
  }
  auto* del = rd_kafka_DeleteRecords_new(parts.get());
  auto* queue = rd_kafka_queue_new(rk);
  rd_kafka_DeleteRecords(rk, &del, 1, nullptr, queue);
  rd_kafka_DeleteRecords_destroy(del);
  auto* ev = rd_kafka_queue_poll(queue, 60000);
  std::string error;
  if (ev == nullptr)
    error = "no answer within 60 s";
  else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR)
    error = rd_kafka_event_error_string(ev);
  else if (const auto* res = rd_kafka_event_DeleteRecords_result(ev)) {
    const auto* offsets = rd_kafka_DeleteRecords_result_offsets(res);
    for (int i = 0; offsets && i < offsets->cnt; ++i)
      if (offsets->elems[i].err)
        error = std::string{"partition "} + std::to_string(offsets->elems[i].partition) + ": "
                + rd_kafka_err2str(offsets->elems[i].err);
  }
  if (ev)
    rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(queue);
  if (!error.empty())
    return fail("purge " + o.topic + ": " + error);
  std::printf("purged %lld record(s) from %s\n", static_cast<long long>(total), o.topic.c_str());
  return 0;
}

}  // namespace

namespace {

// A topic name Kafka accepts (1..249 of [a-zA-Z0-9._-], not "." or "..").
bool legal_topic(std::string_view t) {
  if (t.empty() || t.size() > 249 || t == "." || t == "..")
    return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

replay_plan plan_replay(const bridges::stored_record& r) {
  replay_plan plan;
  const auto origin = r.header("kastor-dlq-origin");
  // Cut down to fit the DLQ (the original was too large for it): what is
  // here is not the record, and replaying it would write a wrong one.
  if (auto cut = r.header("kastor-dlq-truncated"); !cut.empty()) {
    plan.error = "it was cut down to fit the DLQ (" + cut + "); the original is at "
                 + (origin.empty() ? std::string{"an unknown position"} : origin);
    return plan;
  }
  // A DLQ holds the dead letters of the topic it is named after.
  const auto topic = r.topic.ends_with(".dlq") ? r.topic.substr(0, r.topic.size() - 4) : "";
  if (!legal_topic(topic) || topic.starts_with("__") || topic.ends_with(".dlq")
      || topic == replay_log_topic) {
    plan.error = "'" + r.topic + "' is not the DLQ of a topic a record may go back to";
    return plan;
  }
  if (auto slash = origin.rfind('/');
      !origin.empty() && (slash == std::string::npos || origin.compare(0, slash, topic) != 0)) {
    plan.error = "its origin '" + origin + "' is not a record of " + topic
                 + ", whose dead letters " + r.topic + " holds";
    return plan;
  }
  plan.topic = topic;
  plan.log_key = replay_key(r);
  int64_t attempts = 1;
  const auto text = r.header("kastor-dlq-attempts");
  if (auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), attempts);
      ec != std::errc{} || end != text.data() + text.size() || attempts < 1)
    attempts = 1;  // missing or not a count: the record failed at least once
  // A timer's tag goes too: an entity drops a tagged record whose timer is
  // gone, and a replay is meant to be handled.
  for (const auto& h : r.headers)
    if (h.name.rfind("kastor-dlq-", 0) != 0 && h.name != "kastor-attempt"
        && h.name != "kastor-replay-of" && h.name != runtime::timer_tag_header
        && h.name != runtime::timers_header)
      plan.headers.push_back(h);
  plan.headers.push_back(
    {"kastor-attempt",
     std::to_string(attempts < std::numeric_limits<int64_t>::max() ? attempts + 1 : attempts)});
  plan.headers.push_back({"kastor-replay-of", r.id()});
  return plan;
}

int run_dlq(const dlq_options& o) {
  if (o.brokers.empty()) {
    std::fprintf(stderr, "kastor ctl dlq: --brokers HOST:PORT is required\n");
    return 2;
  }
  bool needs_topic = o.verb != "list";
  if (needs_topic && (o.topic.size() <= 4 || o.topic.compare(o.topic.size() - 4, 4, ".dlq") != 0)) {
    std::fprintf(stderr, "kastor ctl dlq %s: --topic must name a dead-letter topic (*.dlq)\n",
                 o.verb.c_str());
    return 2;
  }
  if (o.verb == "replay" && o.all == !o.offsets.empty()) {
    std::fprintf(stderr, "kastor ctl dlq replay: give either --all or --offset P@O (repeatable)\n");
    return 2;
  }
  auto admin = make_client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", o.brokers}});
  if (!admin)
    return fail(runtime::describe(admin.error()));
  if (o.verb == "list")
    return list(o, admin->get());
  if (o.verb == "show")
    return show(o);
  if (o.verb == "replay")
    return replay(o);
  if (o.verb == "purge")
    return purge(o, admin->get());
  std::fprintf(stderr, "kastor ctl dlq: unknown command '%s'\n", o.verb.c_str());
  return 2;
}

}  // namespace kastor::apps
