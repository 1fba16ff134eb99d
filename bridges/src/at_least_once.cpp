// The mailbox's default delivery mode: at-least-once.
//
// Every round the finished prefix of each partition is stored as the
// consumer's offset (librdkafka commits it, and the mailbox commits once more
// when its partitions go). A record whose actor died is delivered again to
// the new incarnation; its key is parked meanwhile (quarantine), and after
// max_attempts the key's records go to the DLQ. A dead letter whose write
// failed is written again, backing off.
#include <algorithm>

#include <caf/all.hpp>

#include "kastor/bridges/consumer_calls.hpp"
#include "mailbox_delivery.hpp"

namespace kastor::bridges {

using mailbox_detail::log;

class kafka_mailbox::at_least_once final : public kafka_mailbox::delivery {
public:
  using delivery::delivery;
  using tracker_plan = partition_tracker<record_extra>::failure_plan;

  caf::error configure(kafka_properties&) const override { return {}; }

  void assigned(const rd_kafka_topic_partition_list_t*) override {}

  // Records delivered but not started are skipped by the actor from now on
  // (current() is false): the next owner handles them.
  void begin_handoff() override {
    std::lock_guard<std::mutex> guard{mb_.mtx_};  // no try_start() slips past this
    mb_.handing_off_ = true;
  }

  size_t awaited() const override {
    std::lock_guard<std::mutex> guard{mb_.mtx_};
    return mb_.unfinished_turns_.size();
  }

  void release(bool lost) override {
    if (lost)
      return;  // someone else's already: nothing is committed
    store_offsets();
    if (mb_.opts_.commit && !mb_.parts_.empty())
      mb_.calls_->commit(mb_.rk_.get(), nullptr, 0);
  }

  bool admit(const partition_state&, in_flight_record&) override { return true; }

  kafka_publisher* copy_sink(in_flight_record&) override { return mb_.opts_.dead_letters.get(); }

  bool can_copy() const override { return mb_.opts_.dead_letters != nullptr; }

  void copy_failed() override {}  // written again by step()

  bool finished(in_flight_record&) override { return true; }

  // Its key waits; the record goes out again after a backoff (retry_parked),
  // or, at max_attempts, the key's records go to the DLQ.
  void record_failed(partition_state& ps, in_flight_record& rec, int failures,
                     const std::string& reason) override {
    const auto& opts = mb_.opts_;
    bool parked = false;
    auto plan = ps.tracker.fail(rec.meta.offset, failures, opts.max_attempts,
                                std::chrono::steady_clock::now(),
                                [this](int n) { return mb_.retry_delay(n); }, &parked);
    if (plan == tracker_plan::dead_letter) {
      mb_.dead_letter_key(ps, park_key(rec.meta),
                          "its handler failed " + std::to_string(failures) + " times on it (last: "
                            + reason + ")");
    } else if (parked) {
      log()->warn("mailbox group={} event=key_parked topic={} partition={} offset={} key={}",
                  opts.group_id, rec.meta.topic, rec.meta.partition, rec.meta.offset,
                  rec.meta.key);
    }
  }

  void rebound(bool first_bind) override;

  void step() override {
    store_offsets();
    for (auto* rec : mb_.rewrite_unwritable())
      mb_.send_copy(*rec);  // cut down, or a dead letter now
    retry_copies();
  }

  bool guards_stalls() const override { return mb_.opts_.commit; }

private:
  void store_offsets();
  void retry_copies();

  bool store_failing_ = false;  // offsets_store failed last round
  std::chrono::steady_clock::time_point next_retry_{};
  std::chrono::milliseconds backoff_{0};
};

std::unique_ptr<kafka_mailbox::delivery> kafka_mailbox::at_least_once_delivery(kafka_mailbox& mb) {
  return std::make_unique<at_least_once>(mb);
}

// Every unfinished record goes to the new incarnation, in order, but for the
// quarantine: a record the dead actor failed on parks its key (or, when the
// key is parked already, waits longer); past max_attempts the key's records
// go to the DLQ.
void kafka_mailbox::at_least_once::rebound(bool first_bind) {
  auto& opts = mb_.opts_;
  uint64_t n = 0;
  auto now = std::chrono::steady_clock::now();
  for (auto& [tp, ps] : mb_.parts_) {
    std::vector<std::pair<std::string, int64_t>> parked;  // key, its head
    auto plan = ps->tracker.rebind(
      [&, topic = tp.first, partition = tp.second](int64_t offset) {
        return opts.failures->get(topic, partition, offset);
      },
      opts.max_attempts, now, [this](int failures) { return mb_.retry_delay(failures); },
      !first_bind && !opts.failures->empty(), &parked);
    for (const auto& [key, head] : parked)
      log()->warn("mailbox group={} event=key_parked topic={} partition={} offset={} key={}",
                  opts.group_id, tp.first, tp.second, head, key);
    for (const auto& key : plan.dead_letter) {
      auto reason = "its actor failed " + std::to_string(opts.max_attempts) + " times handling it";
      if (opts.last_exit_reason)
        reason += " (last exit: " + opts.last_exit_reason() + ")";
      mb_.dead_letter_key(*ps, key, reason);
    }
    for (auto* rec : plan.redeliver) {
      if (!first_bind)
        ++rec->meta.attempt;
      caf::anon_send(mb_.delivered_to_, rec->meta, *rec->message);
      ++n;
    }
  }
  if (n > 0) {
    log()->info("mailbox group={} event=redelivered records={}", opts.group_id, n);
    std::lock_guard<std::mutex> guard{mb_.mtx_};
    mb_.stats_.redelivered += n;
  }
}

// Stores the committable prefix of every partition (never past its first
// unfinished record) as the consumer's offset.
void kafka_mailbox::at_least_once::store_offsets() {
  if (!mb_.opts_.commit)
    return;  // a view
  partition_list_ptr list{rd_kafka_topic_partition_list_new(4)};
  std::vector<std::pair<partition_state*, int64_t>> before;  // to go back to if the store fails
  for (auto& [tp, ps] : mb_.parts_) {
    auto was = ps->tracker.stored_at();
    if (auto at = ps->tracker.commit_position()) {
      rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second)->offset = *at;
      before.emplace_back(ps.get(), was);
    }
  }
  if (list->cnt == 0)
    return;
  auto err = mb_.calls_->offsets_store(mb_.rk_.get(), list.get());
  for (int i = 0; i < list->cnt && err == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
    err = list->elems[i].err;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not stored: tried again next round (else these offsets would wait for
    // the next record to finish, and a revocation would commit less).
    for (auto [ps, was] : before)
      ps->tracker.set_stored(was);
    if (!store_failing_)  // once per run of failures, not every round
      log()->warn("mailbox group={} offsets_store error={}: tried again every round",
                  mb_.opts_.group_id, rd_kafka_err2str(err));
    store_failing_ = true;
  } else if (store_failing_) {
    store_failing_ = false;
    log()->info("mailbox group={} event=offsets_stored_again", mb_.opts_.group_id);
  }
}

// Dead letters and forwards whose write failed: written again, 1 s, 2 s ...
// 60 s apart while writes keep failing.
void kafka_mailbox::at_least_once::retry_copies() {
  auto now = std::chrono::steady_clock::now();
  if (now < next_retry_)
    return;
  std::vector<completion> retries;
  {
    std::lock_guard<std::mutex> guard{mb_.mtx_};
    retries.swap(mb_.dead_letter_retries_);
    if (mb_.stats_.dead_letters_failing == 0)
      backoff_ = std::chrono::milliseconds{0};  // writes work again
  }
  if (!retries.empty()) {
    backoff_ = std::min(std::chrono::milliseconds{60000},
                        std::max(std::chrono::milliseconds{1000}, backoff_ * 2));
    next_retry_ = now + backoff_;
  }
  for (const auto& r : retries) {
    if (r.incarnation != mb_.incarnation_.load())
      continue;  // revoked meanwhile: the next owner dead-letters it again
    auto it = mb_.parts_.find({r.topic, r.partition});
    if (it == mb_.parts_.end())
      continue;
    auto rec = it->second->tracker.records().find(r.offset);
    if (rec != it->second->tracker.records().end() && rec->second.extra.copy_out)
      mb_.send_copy(rec->second);
  }
}

}  // namespace kastor::bridges
