#include "kastor/bridges/producer.hpp"

#include <cstdlib>
#include <mutex>
#include <random>

#include "kastor/bridges/codec.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/producer_calls.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/logging.hpp"
#include "kastor/runtime/trace.hpp"

namespace kastor::bridges {

namespace {

// Shared by every record of one publish() call. `remaining` doubles as its
// reference count: each record's delivery report (or immediate failure)
// completes one; the last one calls `done` and frees the state.
struct batch_state {
  std::atomic<size_t> remaining;
  std::mutex mtx;
  runtime::publish_outcome outcome;
  runtime::publish_callback done;

  static batch_state* make(size_t n, runtime::publish_callback cb) {
    auto* b = new batch_state;
    b->remaining = n;
    b->done = std::move(cb);
    return b;
  }

  void complete_one(const runtime::publish_outcome& o) {
    if (!o.ok()) {
      std::lock_guard<std::mutex> guard{mtx};
      if (outcome.ok())
        outcome = o;
    }
    if (remaining.fetch_sub(1) == 1) {
      if (done)
        done(outcome);  // every other record is complete: no lock needed
      delete this;
    }
  }
};

struct delivery_counters {
  std::atomic<uint64_t>* delivered;
  std::atomic<uint64_t>* failed;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* counters = static_cast<delivery_counters*>(opaque);
  auto* batch = static_cast<batch_state*>(msg->_private);
  runtime::publish_outcome o;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    o.error = std::string{rd_kafka_err2str(msg->err)};
    o.possibly_persisted = rd_kafka_message_status(msg) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED;
    o.retriable = is_retriable(msg->err);
    o.record_refused = is_record_refused(msg->err);
    counters->failed->fetch_add(1);
  } else {
    counters->delivered->fetch_add(1);
  }
  if (batch != nullptr)
    batch->complete_one(o);
}

rd_kafka_headers_t* to_rd_headers(const header_list& headers) {
  auto* h = rd_kafka_headers_new(headers.size());
  for (const auto& x : headers)
    rd_kafka_header_add(h, x.name.data(), static_cast<ssize_t>(x.name.size()), x.value.data(),
                        static_cast<ssize_t>(x.value.size()));
  return h;
}

}  // namespace

std::optional<std::string> compression_not_portable(const std::string& codec) {
  if (codec == "none" || codec == "gzip")
    return std::nullopt;
  if (codec == "lz4")
    return "KafkaJS has no LZ4 codec (its consumers fail on every such record) and kafka-python "
           "needs the lz4 package";
  if (codec == "snappy")
    return "KafkaJS needs the kafkajs-snappy codec and kafka-python the python-snappy package";
  if (codec == "zstd")
    return "KafkaJS needs a zstd codec package and kafka-python the zstandard package";
  return "'" + codec + "' is not a codec every client knows";
}

caf::expected<std::shared_ptr<kafka_publisher>> kafka_publisher::make(producer_options opts) {
  kafka_properties props{
    {"bootstrap.servers", opts.brokers},
    {"client.id", opts.client_id},
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"linger.ms", std::to_string(opts.linger.count())},
    // A transactional producer may not outwait its transaction.
    {"message.timeout.ms",
     std::to_string(opts.transactional_id.empty()
                      ? opts.delivery_timeout.count()
                      : std::min(opts.delivery_timeout, opts.transaction_timeout).count())},
    {"compression.type", opts.compression},
    {"partitioner", opts.partitioner},
    // Backpressure comes from the mailboxes' high-water marks; this only has
    // to hold what they let through.
    {"queue.buffering.max.messages", "1000000"},
  };
  if (!opts.transactional_id.empty()) {
    props.emplace_back("transactional.id", opts.transactional_id);
    props.emplace_back("transaction.timeout.ms",
                       std::to_string(opts.transaction_timeout.count()));
  }
  props.insert(props.end(), opts.extra.begin(), opts.extra.end());
  auto conf = make_conf(props);
  if (!conf)
    return conf.error();
  std::shared_ptr<kafka_publisher> self{new kafka_publisher};
  char limit[32];
  size_t limit_size = sizeof(limit);
  if (rd_kafka_conf_get(conf->get(), "message.max.bytes", limit, &limit_size) == RD_KAFKA_CONF_OK)
    self->max_message_bytes_ = std::strtoull(limit, nullptr, 10);
  self->calls_ = opts.calls ? opts.calls : std::make_shared<producer_calls>();
  // The counters outlive rk_ (destroyed in the destructor before members).
  auto* counters = new delivery_counters{&self->delivered_, &self->failed_};
  rd_kafka_conf_set_opaque(conf->get(), counters);
  rd_kafka_conf_set_dr_msg_cb(conf->get(), on_delivery);
  enable_log_queue(conf->get());
  char errstr[512];
  self->rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof(errstr)));
  if (!self->rk_) {
    delete counters;
    return runtime::make_error(runtime::bridge_errc::kafka_fatal,
                               std::string{"producer: "} + errstr);
  }
  (void) conf->release();  // owned by the handle now
  self->log_queue_ = rd_kafka_queue_new(self->rk_.get());
  rd_kafka_set_log_queue(self->rk_.get(), self->log_queue_);
  std::random_device rd;
  self->id_prefix_ = opts.client_id + "-" + std::to_string(rd() ^ (uint64_t{rd()} << 20)) + "-";
  self->topic_suffix_ = opts.topic_suffix;
  self->topic_ = opts.topic;
  self->poller_ = std::thread{[p = self.get()] { p->run(); }};
  return self;
}

kafka_publisher::~kafka_publisher() {
  if (!rk_)
    return;  // make() failed before there was a producer
  stop(std::chrono::milliseconds{5000});
  auto* counters = static_cast<delivery_counters*>(rd_kafka_opaque(rk_.get()));
  rd_kafka_queue_destroy(log_queue_);
  rk_.reset();  // purged messages' callbacks ran in stop()
  delete counters;
}

void kafka_publisher::run() {
  while (!stopping_.load()) {
    rd_kafka_poll(rk_.get(), 50);
    forward_logs(rk_.get(), log_queue_);
    if (!fatal_.load()) {
      char why[512];
      if (auto err = rd_kafka_fatal_error(rk_.get(), why, sizeof(why))) {
        fatal_ = true;
        runtime::logger("kastor.bridge")->error("producer fatal error={} reason={}",
                                                rd_kafka_err2name(err), why);
      }
    }
  }
}

size_t kafka_publisher::stop(std::chrono::milliseconds deadline) {
  if (stopped_.exchange(true))
    return 0;
  stopping_ = true;
  if (poller_.joinable())
    poller_.join();
  // Flush with a deadline; whatever is left is purged so every callback still
  // runs exactly once (with an error), and reported.
  calls_->flush(rk_.get(), static_cast<int>(deadline.count()));
  auto left = static_cast<size_t>(rd_kafka_outq_len(rk_.get()));
  if (left > 0) {
    runtime::logger("kastor.bridge")->warn("producer stop: undelivered={} (purged)", left);
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk_.get(), 100);
  }
  forward_logs(rk_.get(), log_queue_);
  return left;
}

void kafka_publisher::warm_up(std::chrono::milliseconds timeout,
                              const std::vector<std::string>& extra) {
  // One deadline for all topics: an unreachable cluster costs `timeout` once.
  auto until = std::chrono::steady_clock::now() + timeout;
  std::vector<std::string> names;
  for (const auto& topic : runtime::messages().topics())
    names.push_back(topic + topic_suffix_);
  names.insert(names.end(), extra.begin(), extra.end());
  for (const auto& name : names) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      runtime::logger("kastor.bridge")->warn("producer warm-up: deadline passed, skipping the rest");
      return;
    }
    auto* rkt = rd_kafka_topic_new(rk_.get(), name.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    auto err = rd_kafka_metadata(rk_.get(), 0, rkt, &md, static_cast<int>(left.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      runtime::logger("kastor.bridge")->warn("producer warm-up topic={} error={}", name,
                                              rd_kafka_err2str(err));
    else
      rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
  }
}

caf::error kafka_publisher::init_transactions(std::chrono::milliseconds timeout) {
  return txn_error(calls_->init_transactions(rk_.get(), static_cast<int>(timeout.count())),
                   "init transactions");
}

caf::error kafka_publisher::begin_transaction() {
  return txn_error(calls_->begin_transaction(rk_.get()), "begin transaction");
}

caf::error kafka_publisher::commit_transaction(const rd_kafka_topic_partition_list_t* offsets,
                                               const rd_kafka_consumer_group_metadata_t* group,
                                               std::chrono::milliseconds timeout) {
  if (offsets != nullptr && offsets->cnt > 0)
    if (auto err = txn_error(calls_->send_offsets_to_transaction(
                               rk_.get(), offsets, group, static_cast<int>(timeout.count())),
                             "send offsets to transaction"))
      return err;
  return txn_error(calls_->commit_transaction(rk_.get(), static_cast<int>(timeout.count())),
                   "commit transaction");
}

caf::error kafka_publisher::abort_transaction(std::chrono::milliseconds timeout) {
  return txn_error(calls_->abort_transaction(rk_.get(), static_cast<int>(timeout.count())),
                   "abort transaction");
}

std::string kafka_publisher::next_message_id() {
  return id_prefix_ + std::to_string(seq_.fetch_add(1));
}

void kafka_publisher::produce(const std::string& topic, const std::string& key,
                              const std::string& value, const header_list& headers,
                              runtime::publish_callback done, int32_t partition) {
  produce_one(topic, partition, key, value, headers, batch_state::make(1, std::move(done)));
}

void kafka_publisher::produce_one(const std::string& topic, int32_t partition,
                                  const std::string& key, const std::string& value,
                                  const header_list& headers, void* batch_ptr) {
  auto* batch = static_cast<batch_state*>(batch_ptr);
  if (stopped_.load()) {
    batch->complete_one({"producer stopped", false, true});
    return;
  }
  auto* hdrs = to_rd_headers(headers);
  for (int tries = 0;; ++tries) {
    auto err = calls_->produce(rk_.get(), topic, partition, key, value, hdrs, batch);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
      return;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && tries < 500) {
      // Backpressure from librdkafka's queue: let deliveries drain.
      rd_kafka_poll(rk_.get(), 10);
      continue;
    }
    rd_kafka_headers_destroy(hdrs);
    failed_.fetch_add(1);
    batch->complete_one({std::string{"produce to "} + topic + ": " + rd_kafka_err2str(err),
                         false, is_retriable(err), is_record_refused(err)});
    return;
  }
}

void kafka_publisher::publish(std::vector<runtime::message> batch,
                              const runtime::record_meta* cause,
                              runtime::publish_callback done) {
  if (batch.empty()) {
    if (done)
      done({});
    return;
  }
  if (topic_.empty())
    for (const auto& msg : batch)
      if (msg.is<runtime::raw_record>()) {  // it has no topic of its own
        if (done)
          done({"a raw record needs a publisher with a topic (producer_options::topic)", false,
                false});
        return;
      }
  auto* state = batch_state::make(batch.size(), std::move(done));
  for (const auto& msg : batch) {
    if (const auto* raw = msg.get_if<runtime::raw_record>()) {  // byte for byte
      produce_one(topic_, -1, raw->key, raw->value, raw->headers, state);
      continue;
    }
    outgoing_meta meta;
    const auto* given = runtime::find_header(msg.notes(), runtime::message_id_note);
    meta.message_id = given ? given->value : next_message_id();
    meta.correlation_id = cause && !cause->correlation_id.empty() ? cause->correlation_id
                                                                  : meta.message_id;
    // The cause's trace with a span of this record's own (a traceparent the
    // message carries as a note, e.g. from an HTTP request's, is written as it is).
    if (runtime::find_header(msg.notes(), runtime::traceparent_header) == nullptr)
      meta.traceparent = runtime::next_traceparent(cause ? cause->traceparent : std::string{});
    auto record = encode(msg, meta);
    const auto& type = *msg.type();
    auto topic = topic_.empty() ? type.topic + topic_suffix_ : topic_;
    const int32_t partition = topic_.empty() && type.follows_cause && cause ? cause->partition : -1;
    produce_one(topic, partition, msg.key(), record.value, std::move(record.headers), state);
  }
}

}  // namespace kastor::bridges
