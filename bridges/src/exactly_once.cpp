// The mailbox's exactly-once delivery mode.
//
// The consumer reads read_committed; a transactional producer per assigned
// partition set (its transactional.id is stable per group and set, so a new
// owner of the same set fences a zombie and aborts what it left open) carries
// the actor's outputs, dead letters, forwards and the consumed offsets in one
// transaction. Every commit_interval nothing new goes out, the records out
// finish, and the transaction commits. A worker that dies, or an abortable
// error, aborts it and delivers everything since the last commit again; a
// commit whose outcome is unknown re-creates the producer (which resolves
// it) and rewinds to the group's committed offsets; a fatal or fenced error
// fails the mailbox, so that its bridge restarts.
#include <algorithm>
#include <cstdio>

#include <caf/all.hpp>

#include "kastor/bridges/consumer_calls.hpp"
#include "kastor/runtime/errors.hpp"
#include "mailbox_delivery.hpp"

namespace kastor::bridges {

using mailbox_detail::log;

namespace {

constexpr std::chrono::milliseconds txn_call_timeout{30000};

// FNV-1a: a stable name for a set of partitions.
std::string fingerprint(const std::vector<std::string>& items) {
  uint64_t h = 1469598103934665603ULL;
  for (const auto& s : items) {
    for (unsigned char c : s + ",") {
      h ^= c;
      h *= 1099511628211ULL;
    }
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

class kafka_mailbox::exactly_once final : public kafka_mailbox::delivery {
public:
  // `mb` is owned by a shared_ptr already (its publisher holds it weakly).
  explicit exactly_once(kafka_mailbox& mb);

  caf::error configure(kafka_properties& props) const override {
    if (!mb_.opts_.commit)
      return runtime::make_error(runtime::runtime_errc::invalid_config,
                                 "exactly-once needs a committing consumer group, not a view");
    // Offsets are committed by the transactions only; only committed input is read.
    props.emplace_back("isolation.level", "read_committed");
    props.emplace_back("enable.auto.commit", "false");
    return {};
  }

  // Before the assignment fetches the committed offsets: fencing the last
  // producer of this partition set aborts what it left open.
  void assigned(const rd_kafka_topic_partition_list_t* parts) override { start(parts); }

  // Every record in the open transaction is waited for, so that it can
  // commit (the actor goes on with them).
  void begin_handoff() override {}

  size_t awaited() const override {
    if (failed_.load() || mb_.failure().has_value())
      return 0;  // it aborts: nothing to wait for
    return sent_unfinished();
  }

  // Commits only when every record in the transaction finished, never when lost.
  void release(bool lost) override { end(lost); }

  bool admit(const partition_state& ps, in_flight_record& rec) override {
    if (std::chrono::steady_clock::now() < ps.blocked_until || !ensure_transaction())
      return false;  // held until the transaction commits (or the partition's DLQ works)
    rec.extra.sent = true;
    count_sent();
    return true;
  }

  // In the transaction, with the offsets it finishes. A record sent in the
  // open transaction (then rejected) has its dead letter in that
  // transaction: were it held, records after it could commit their outputs
  // while the offsets stop before it.
  kafka_publisher* copy_sink(in_flight_record& rec) override {
    bool in_open = rec.extra.sent && state_ == state::open;
    if (!in_open && !admit(*mb_.parts_.at({rec.meta.topic, rec.meta.partition}), rec))
      return nullptr;
    return producer_.get();
  }

  bool can_copy() const override { return true; }

  // The transaction cannot commit: step() aborts it, and the rewind writes
  // the copy again (cut down, or as a dead letter, when it can never be
  // written as it was).
  void copy_failed() override { failed_ = true; }

  // Finished in the transaction; kept until it commits.
  bool finished(in_flight_record& rec) override {
    if (rec.extra.sent)
      rec.extra.done = true;
    return false;
  }

  // What the dead actor wrote is in the open transaction: abort it, and
  // everything since the last commit goes to the new incarnation.
  void rebound(bool first_bind) override {
    if (first_bind)
      send_held();
    else
      abort_and_rewind("its worker was replaced");
  }

  // What the actor wrote since the last commit may hold this record's
  // effects: the transaction is aborted and everything since goes out again
  // (a record at max_attempts to the DLQ instead).
  void record_failed(partition_state&, in_flight_record& rec, int, const std::string& reason)
    override {
    abort_and_rewind("its handler failed on " + rec.meta.topic + "/"
                     + std::to_string(rec.meta.partition) + "@" + std::to_string(rec.meta.offset)
                     + ": " + reason);
  }

  void step() override;

  std::shared_ptr<runtime::publisher> publisher() const override { return gate_; }

  bool guards_stalls() const override { return false; }  // fencing guards a zombie

  // The bound actor's publish (through gate_): into the open transaction
  // only if its cause is a record of the current incarnation (not rewound
  // or revoked since); the check and the produce happen under the lock that
  // commits and aborts take, so no write slips past either.
  void publish(std::vector<runtime::message> batch, const runtime::record_meta* cause,
               runtime::publish_callback done);

private:
  enum class state { none, open, committing };

  class gate;

  size_t sent_unfinished() const;
  bool holding() const;
  bool ensure_transaction();
  void count_sent();
  void fail(const std::string& why);
  void send_held();
  void settle_failed_copies();
  caf::error commit_now();
  void abort_and_rewind(const std::string& why);
  void rewind();
  bool reinit(const std::string& why);
  caf::expected<std::shared_ptr<kafka_publisher>> make_producer() const;
  bool start(const rd_kafka_topic_partition_list_t* parts);
  void end(bool lost);

  // The producer of the current partition set (replaced under mtx_, read by
  // publish()), and the transaction's state.
  std::shared_ptr<kafka_publisher> producer_;
  std::string id_;
  state state_ = state::none;
  std::chrono::steady_clock::time_point since_{};
  bool due_ = false;   // commit now: no new records go out until it is done
  size_t sent_ = 0;    // records (and dead letters) sent in the open transaction
  size_t budget_ = 0;  // how many it may take (see max_transaction_records)
  std::atomic<bool> failed_{false};  // a write in the transaction failed: abort it
  mutable std::mutex mtx_;
  std::shared_ptr<runtime::publisher> gate_;
};

// The bound actor's publisher: the mailbox's exactly_once, while it lives.
class kafka_mailbox::exactly_once::gate : public runtime::publisher {
public:
  gate(std::weak_ptr<kafka_mailbox> mb, exactly_once* eos) : mb_(std::move(mb)), eos_(eos) {}

  void publish(std::vector<runtime::message> batch, const runtime::record_meta* cause,
               runtime::publish_callback done) override {
    if (auto mb = mb_.lock()) {  // eos_ lives as long as its mailbox
      eos_->publish(std::move(batch), cause, std::move(done));
      return;
    }
    if (done)
      done({"not in the open transaction (its mailbox is gone)", false, true});
  }

private:
  std::weak_ptr<kafka_mailbox> mb_;
  exactly_once* eos_;
};

kafka_mailbox::exactly_once::exactly_once(kafka_mailbox& mb)
  : delivery(mb), gate_(std::make_shared<gate>(mb.weak_from_this(), this)) {}

std::unique_ptr<kafka_mailbox::delivery> kafka_mailbox::exactly_once_delivery(kafka_mailbox& mb) {
  return std::make_unique<exactly_once>(mb);
}

void kafka_mailbox::exactly_once::publish(std::vector<runtime::message> batch,
                                          const runtime::record_meta* cause,
                                          runtime::publish_callback done) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (cause != nullptr && cause->incarnation == mb_.incarnation_.load() && producer_
        && state_ == state::open) {
      std::weak_ptr<kafka_mailbox> weak = mb_.weak_from_this();
      producer_->publish(std::move(batch), cause,
                         [weak, this, done = std::move(done)](const runtime::publish_outcome& o) {
                           if (!o.ok())
                             if (auto self = weak.lock())
                               failed_ = true;  // the transaction cannot commit
                           if (done)
                             done(o);
                         });
      return;
    }
  }
  if (done)
    done({"not in the open transaction (its record was rewound or revoked)", false, true});
}

size_t kafka_mailbox::exactly_once::sent_unfinished() const {
  size_t open = 0;
  for (const auto& [tp, ps] : mb_.parts_)
    for (const auto& [offset, rec] : ps->tracker.records())
      if (rec.extra.sent && !rec.extra.done)
        ++open;
  return open;
}

bool kafka_mailbox::exactly_once::holding() const {
  return !producer_ || due_ || state_ == state::committing;
}

// True when records may go out now: the transaction is open (begun here if
// none was) and not about to commit.
bool kafka_mailbox::exactly_once::ensure_transaction() {
  if (holding())
    return false;
  if (state_ == state::open)
    return true;
  if (auto err = producer_->begin_transaction()) {
    fail(runtime::describe(err));
    return false;
  }
  std::lock_guard<std::mutex> guard{mtx_};
  state_ = state::open;
  since_ = std::chrono::steady_clock::now();
  sent_ = 0;
  return true;
}

void kafka_mailbox::exactly_once::count_sent() {
  if (budget_ == 0)
    budget_ = std::max<size_t>(1, mb_.opts_.max_transaction_records);
  if (++sent_ >= budget_)
    due_ = true;  // full: the rest waits for the next transaction
}

void kafka_mailbox::exactly_once::fail(const std::string& why) {
  log()->error("mailbox group={} event=transaction_failed error={}: the bridge restarts",
               mb_.opts_.group_id, why);
  due_ = true;  // nothing more goes out
  std::lock_guard<std::mutex> guard{mb_.mtx_};
  mb_.failure_ = why;
}

// Records and dead letters that waited for the transaction to commit.
void kafka_mailbox::exactly_once::send_held() {
  for (auto& [tp, ps] : mb_.parts_)
    for (auto& [offset, rec] : ps->tracker.records()) {
      if (rec.extra.sent || rec.extra.done)
        continue;
      if (rec.extra.copy_out)
        mb_.send_copy(rec);
      else
        mb_.deliver(*ps, rec);
      if (holding())
        return;
    }
}

void kafka_mailbox::exactly_once::step() {
  if (!producer_ || mb_.failure().has_value())
    return;
  if (failed_.exchange(false) && state_ == state::open) {
    abort_and_rewind("a write in the transaction failed");
    return;
  }
  // Before the broker aborts it (and fences this producer), e.g. while a
  // worker hangs or waits to be restarted.
  if (state_ == state::open
      && std::chrono::steady_clock::now() - since_
           > mb_.opts_.transactional.transaction_timeout / 2) {
    abort_and_rewind("open for half its transaction timeout");
    return;
  }
  if (state_ == state::none) {
    send_held();
    return;
  }
  if (!due_ && std::chrono::steady_clock::now() - since_ >= mb_.opts_.commit_interval)
    due_ = true;  // from now on records wait for the commit
  if (!due_ || sent_unfinished() > 0)
    return;  // still being handled (or its worker is down: then it is rewound)
  auto err = commit_now();
  if (!err) {
    send_held();
    return;
  }
  if (err.code() == static_cast<uint8_t>(runtime::bridge_errc::kafka_abortable))
    abort_and_rewind(runtime::describe(err));
  else if (err.code() == static_cast<uint8_t>(runtime::bridge_errc::kafka_retriable))
    reinit(runtime::describe(err));  // the commit's outcome is unknown
  else
    fail(runtime::describe(err));
}

// Before a rewind: copies refused for good are rewritten (cut down, or a
// dead letter instead of a forward), and partitions whose copy could not be
// written wait 1 s, 2 s ... 60 s before anything of theirs goes out again;
// the others go on.
void kafka_mailbox::exactly_once::settle_failed_copies() {
  mb_.rewrite_unwritable();  // sent again by the rewind
  std::vector<completion> failed;
  {
    std::lock_guard<std::mutex> guard{mb_.mtx_};
    failed.swap(mb_.dead_letter_retries_);
  }
  auto now = std::chrono::steady_clock::now();
  for (const auto& f : failed) {
    auto it = mb_.parts_.find({f.topic, f.partition});
    if (it == mb_.parts_.end())
      continue;
    auto& ps = *it->second;
    ps.block = std::min(std::chrono::milliseconds{60000},
                        std::max(std::chrono::milliseconds{1000}, ps.block * 2));
    ps.blocked_until = now + ps.block;
  }
}

// Commits the open transaction with the offsets of the finished prefix of
// each partition (every record sent in it is finished).
caf::error kafka_mailbox::exactly_once::commit_now() {
  auto& parts = mb_.parts_;
  partition_list_ptr offsets{rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()))};
  for (auto& [tp, ps] : parts) {
    if (ps->tracker.next_offset() < 0)
      continue;
    int64_t commit = ps->tracker.next_offset();
    for (const auto& [offset, rec] : ps->tracker.records())
      if (!rec.extra.done) {
        commit = offset;
        break;
      }
    // Outputs past the offsets would be written again after a rewind.
    for (auto r = ps->tracker.records().lower_bound(commit); r != ps->tracker.records().end(); ++r)
      if (r->second.extra.sent || r->second.extra.done)
        return runtime::make_error(runtime::bridge_errc::kafka_abortable,
                                   "record " + tp.first + "/" + std::to_string(tp.second) + "@"
                                     + std::to_string(r->first)
                                     + " is in the transaction past an unfinished record");
    if (commit > ps->tracker.stored_at())
      rd_kafka_topic_partition_list_add(offsets.get(), tp.first.c_str(), tp.second)->offset =
        commit;
  }
  {
    std::lock_guard<std::mutex> guard{mtx_};
    state_ = state::committing;  // no publish joins it from here on
  }
  auto* group = rd_kafka_consumer_group_metadata(mb_.rk_.get());
  auto err = producer_->commit_transaction(offsets.get(), group, txn_call_timeout);
  rd_kafka_consumer_group_metadata_destroy(group);
  if (err)
    return err;
  uint64_t n = 0;
  const auto& failures = mb_.opts_.failures;
  for (auto& [tp, ps] : parts) {
    for (auto r = ps->tracker.records().begin();
         r != ps->tracker.records().end() && r->second.extra.done;) {
      if (!failures->empty())
        failures->erase(tp.first, tp.second, r->first);
      r = ps->tracker.records().erase(r);
      ++n;
    }
  }
  for (int i = 0; i < offsets->cnt; ++i) {
    auto& ps = *parts[{offsets->elems[i].topic, offsets->elems[i].partition}];
    ps.tracker.set_stored(offsets->elems[i].offset);
    ps.block = std::chrono::milliseconds{0};  // it moves again
  }
  mb_.in_flight_ = mb_.in_flight_count();
  {
    std::lock_guard<std::mutex> guard{mtx_};
    state_ = state::none;
  }
  due_ = false;
  budget_ = std::min(std::max<size_t>(1, mb_.opts_.max_transaction_records),
                     std::max<size_t>(1, budget_) * 2);
  std::lock_guard<std::mutex> guard{mb_.mtx_};
  mb_.stats_.dead_letters_failing = 0;
  ++mb_.stats_.transactions;
  mb_.stats_.finished += n;
  mb_.stats_.in_flight = mb_.in_flight_;
  return {};
}

void kafka_mailbox::exactly_once::abort_and_rewind(const std::string& why) {
  settle_failed_copies();
  bool open = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    open = producer_ != nullptr && state_ != state::none;
    state_ = state::committing;
    ++mb_.incarnation_;  // what the old records' actors still report is ignored
  }
  {
    std::lock_guard<std::mutex> guard{mb_.mtx_};
    mb_.blocked_.clear();  // everything goes out again, in order
  }
  if (open) {
    log()->warn("mailbox group={} event=transaction_aborted reason={}", mb_.opts_.group_id, why);
    if (auto err = producer_->abort_transaction(txn_call_timeout)) {
      if (err.code() == static_cast<uint8_t>(runtime::bridge_errc::kafka_fatal))
        fail(runtime::describe(err));
      else
        reinit(runtime::describe(err));
      return;
    }
    // The next transaction is smaller: a record that keeps failing is soon
    // alone in it, and the others get through.
    budget_ = std::max<size_t>(1, std::min(budget_, sent_) / 2);
    std::lock_guard<std::mutex> guard{mb_.mtx_};
    ++mb_.stats_.aborts;
  }
  {
    std::lock_guard<std::mutex> guard{mtx_};
    state_ = state::none;
  }
  due_ = false;
  failed_ = false;
  rewind();
}

// Everything not committed goes out again, in order, to the current actor:
// records whose actor failed max_attempts times to the DLQ instead.
void kafka_mailbox::exactly_once::rewind() {
  const auto& opts = mb_.opts_;
  uint64_t n = 0;
  for (auto& [tp, ps] : mb_.parts_)
    for (auto& [offset, rec] : ps->tracker.records()) {
      bool again = rec.extra.sent || rec.extra.done;
      rec.extra.sent = rec.extra.done = false;
      rec.meta.incarnation = mb_.incarnation_;
      if (rec.extra.copy_out) {
        mb_.send_copy(rec);
        continue;
      }
      if (!rec.message)
        continue;
      rec.failures = opts.failures->get(tp.first, tp.second, offset);
      if (rec.failures >= opts.max_attempts) {
        auto reason = "it failed " + std::to_string(opts.max_attempts)
                      + " times (its handler threw, or its actor died handling it)";
        if (opts.last_exit_reason)
          reason += " (last exit: " + opts.last_exit_reason() + ")";
        mb_.dead_letter_in_flight(rec.meta, reason);
        continue;
      }
      if (again)
        ++rec.meta.attempt;
      mb_.deliver(*ps, rec);
      ++n;
    }
  if (n > 0) {
    std::lock_guard<std::mutex> guard{mb_.mtx_};
    mb_.stats_.redelivered += n;
  }
}

// The commit timed out: it may or may not have happened. A new producer with
// the same transactional.id resolves it (init waits for it to complete or
// aborts it); then the group's committed offsets tell what is done.
bool kafka_mailbox::exactly_once::reinit(const std::string& why) {
  log()->warn("mailbox group={} event=transaction_reinit reason={}", mb_.opts_.group_id, why);
  settle_failed_copies();
  std::shared_ptr<kafka_publisher> old;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    state_ = state::committing;
    ++mb_.incarnation_;
    old.swap(producer_);
  }
  if (old)
    old->stop(std::chrono::milliseconds{1000});
  old.reset();
  auto made = make_producer();
  if (!made) {
    fail(runtime::describe(made.error()));
    return false;
  }
  auto& parts = mb_.parts_;
  partition_list_ptr list{rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()))};
  for (const auto& [tp, ps] : parts)
    rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second);
  if (auto err = mb_.calls_->committed(mb_.rk_.get(), list.get(),
                                       static_cast<int>(txn_call_timeout.count()))) {
    fail(std::string{"committed offsets after an unknown commit: "} + rd_kafka_err2str(err));
    return false;
  }
  for (int i = 0; i < list->cnt; ++i) {
    auto committed = list->elems[i].offset;
    auto& ps = *parts[{list->elems[i].topic, list->elems[i].partition}];
    if (committed < 0)
      continue;
    while (!ps.tracker.records().empty() && ps.tracker.records().begin()->first < committed)
      ps.tracker.records().erase(ps.tracker.records().begin());  // that commit happened
    ps.tracker.set_stored(std::max(ps.tracker.stored_at(), committed));
  }
  mb_.in_flight_ = mb_.in_flight_count();
  {
    std::lock_guard<std::mutex> guard{mtx_};
    producer_ = *made;
    state_ = state::none;
  }
  due_ = false;
  failed_ = false;
  rewind();
  return true;
}

// A producer with transactional.id id_, ready (an earlier producer with that
// id is fenced, and what it left open is settled).
caf::expected<std::shared_ptr<kafka_publisher>>
kafka_mailbox::exactly_once::make_producer() const {
  auto popts = mb_.opts_.transactional;
  popts.transactional_id = id_;
  auto made = kafka_publisher::make(popts);
  if (!made)
    return made.error();
  if (auto err = (*made)->init_transactions(txn_call_timeout))
    return err;
  return *made;
}

// A producer for this partition set: its transactional.id is stable per
// group and set, so a new owner of the same set fences the old one and
// aborts its open transaction before the committed offsets are read.
bool kafka_mailbox::exactly_once::start(const rd_kafka_topic_partition_list_t* parts) {
  std::vector<std::string> set;
  for (int i = 0; i < parts->cnt; ++i)
    set.push_back(std::string{parts->elems[i].topic} + ":"
                  + std::to_string(parts->elems[i].partition));
  std::sort(set.begin(), set.end());
  id_ = mb_.opts_.group_id + ".eos." + fingerprint(set);
  auto made = make_producer();
  if (!made) {
    fail(runtime::describe(made.error()));
    return false;
  }
  log()->info("mailbox group={} event=transactions_ready transactional_id={} partitions={}",
              mb_.opts_.group_id, id_, parts->cnt);
  std::lock_guard<std::mutex> guard{mtx_};
  producer_ = *made;
  state_ = state::none;
  due_ = false;
  failed_ = false;
  return true;
}

// The partitions go (revoke, stop): a transaction whose records all finished
// commits; anything else aborts (the next owner redoes it).
void kafka_mailbox::exactly_once::end(bool lost) {
  if (!producer_)
    return;
  bool open = false;
  {
    // The worker may still be running: nothing of it joins from here on.
    std::lock_guard<std::mutex> guard{mtx_};
    open = state_ == state::open;
    if (open)
      state_ = state::committing;
    ++mb_.incarnation_;
  }
  if (open && !mb_.failure().has_value()) {
    // A lost assignment is not ours to commit.
    bool all_done = !failed_.load() && !lost && sent_unfinished() == 0;
    caf::error err;
    if (all_done)
      err = commit_now();
    if (!all_done || err) {
      log()->info("mailbox group={} event=transaction_aborted reason={}", mb_.opts_.group_id,
                  err ? runtime::describe(err) : "partitions released with records unfinished");
      if (auto e = producer_->abort_transaction(std::chrono::milliseconds{5000}))
        log()->warn("mailbox group={} abort on release: {}", mb_.opts_.group_id,
                    runtime::describe(e));
    }
  }
  std::shared_ptr<kafka_publisher> old;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    state_ = state::committing;
    old.swap(producer_);
  }
  old->stop(std::chrono::milliseconds{1000});
}

}  // namespace kastor::bridges
