#include "kastor/bridges/mailbox.hpp"

#include <algorithm>
#include <limits>
#include <array>

#include <caf/all.hpp>

#include "kastor/bridges/codec.hpp"
#include "kastor/bridges/consumer_calls.hpp"
#include "mailbox_delivery.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/logging.hpp"
#include "kastor/runtime/role_actor.hpp"
#include "kastor/runtime/supervisor.hpp"

namespace kastor::bridges {

int failure_memory::get(const std::string& topic, int32_t partition, int64_t offset) const {
  if (size_.load() == 0)
    return 0;
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = counts_.find({topic, partition, offset});
  return i == counts_.end() ? 0 : i->second;
}

int failure_memory::increment(const std::string& topic, int32_t partition, int64_t offset) {
  std::lock_guard<std::mutex> guard{mtx_};
  int n = ++counts_[{topic, partition, offset}];
  size_ = counts_.size();
  return n;
}

void failure_memory::erase(const std::string& topic, int32_t partition, int64_t offset) {
  std::lock_guard<std::mutex> guard{mtx_};
  counts_.erase({topic, partition, offset});
  size_ = counts_.size();
}

namespace {

// A message's schema check; an application's validation that throws says the
// record is bad (it is dead-lettered), not the node.
std::optional<std::string> validate(const runtime::message& m) {
  try {
    return m.violation();
  } catch (const std::exception& e) {
    return std::string{"its validation threw: "} + e.what();
  }
}

}  // namespace

namespace {

using mailbox_detail::log;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

}  // namespace

std::string forward_topic_of(const std::string& group_id) {
  return group_id + "-repartition";
}

caf::expected<std::shared_ptr<kafka_mailbox>> kafka_mailbox::make(mailbox_options opts) {
  kafka_properties props{
    {"bootstrap.servers", opts.brokers},
    {"group.id", opts.group_id},
    {"client.id", opts.client_id},
    {"auto.offset.reset", "earliest"},
    {"enable.auto.commit", opts.commit ? "true" : "false"},
    {"enable.auto.offset.store", "false"},
    {"auto.commit.interval.ms", "500"},
    {"session.timeout.ms", std::to_string(opts.session_timeout_ms)},
    // Heartbeats are how members learn that a rebalance began (a dead member
    // found, a node added): every second at most, not session / 4.
    {"heartbeat.interval.ms",
     std::to_string(std::clamp(opts.session_timeout_ms / 10, 100, 1000))},
    {"fetch.wait.max.ms", std::to_string(opts.fetch_wait_max_ms)},
    {"queued.max.messages.kbytes", "8192"},
    {"enable.partition.eof", "false"},
  };
  // A keyed role: co-numbered partitions of its inputs go to one member (a
  // key's records, whichever topic they come from, and its requests reach
  // its owner).
  if (!opts.forward_topic.empty())
    props.emplace_back("partition.assignment.strategy", "range");
  if (!opts.group_instance_id.empty())
    props.emplace_back("group.instance.id", opts.group_instance_id);
  std::shared_ptr<kafka_mailbox> self{new kafka_mailbox{std::move(opts)}};
  self->delivery_ = self->opts_.exactly_once ? exactly_once_delivery(*self)
                                             : at_least_once_delivery(*self);
  if (auto err = self->delivery_->configure(props))
    return err;
  props.insert(props.end(), self->opts_.extra.begin(), self->opts_.extra.end());
  auto conf = make_conf(props);
  if (!conf)
    return conf.error();
  rd_kafka_conf_set_opaque(conf->get(), self.get());
  rd_kafka_conf_set_rebalance_cb(
    conf->get(), [](rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                    void* opaque) { static_cast<kafka_mailbox*>(opaque)->rebalance(err, parts); });
  auto rk = make_consumer(std::move(*conf), &self->log_queue_, "consumer");
  if (!rk)
    return rk.error();
  self->rk_ = std::move(*rk);
  if (!self->opts_.join_after && (!self->opts_.standby || self->opts_.standby->load()))
    if (auto err = self->subscribe())
      return err;
  return self;
}

kafka_mailbox::kafka_mailbox(mailbox_options opts) : opts_(std::move(opts)) {
  if (!opts_.calls)
    opts_.calls = std::make_shared<consumer_calls>();
  calls_ = opts_.calls.get();
  if (!opts_.failures)
    opts_.failures = std::make_shared<failure_memory>();
  stats_.standing_by = opts_.standby && !opts_.standby->load();
}

kafka_mailbox::~kafka_mailbox() {
  if (!rk_)
    return;  // make() failed before there was a consumer
  stop();
  if (log_queue_ != nullptr)
    rd_kafka_queue_destroy(log_queue_);
}

void kafka_mailbox::start() {
  poller_ = std::thread{[this] { run(); }};
}

void kafka_mailbox::bind(caf::actor target) {
  std::lock_guard<std::mutex> guard{mtx_};
  target_ = std::move(target);
  rebound_ = true;
}

void kafka_mailbox::finished(const runtime::record_meta& m) {
  std::lock_guard<std::mutex> guard{mtx_};
  completions_.push_back({m.topic, m.partition, m.offset, m.incarnation});
  if (!unfinished_turns_.empty())
    unfinished_turns_.erase({m.topic, m.partition, m.offset});
  if (last_started_ && last_started_->offset == m.offset && last_started_->partition == m.partition
      && last_started_->topic == m.topic)
    last_started_.reset();  // done: a later death is not its fault
}

bool kafka_mailbox::try_start(const runtime::record_meta& m) {
  std::lock_guard<std::mutex> guard{mtx_};  // the lock a hand-off sets handing_off_ under
  if (!current(m))
    return false;
  if (!blocked_.empty()) {
    auto b = blocked_.find({m.topic, m.partition, park_key(m)});
    if (b != blocked_.end() && b->second.head != m.offset) {
      if (m.offset <= b->second.until)
        return false;  // behind its key's failing record: out again after it, or in the DLQ
      blocked_.erase(b);  // a later record: the key's dead letters are behind it
    }
  }
  start_locked(m);
  return true;
}

bool kafka_mailbox::failed(const runtime::record_meta& m, const std::string& reason) {
  if (m.incarnation == 0)
    return false;  // not one of this mailbox's records
  std::lock_guard<std::mutex> guard{mtx_};
  // Counted now: the count outlives this mailbox (a bridge restarting
  // before the poll thread applies it).
  if (m.incarnation == incarnation_.load())
    opts_.failures->increment(m.topic, m.partition, m.offset);
  handler_failures_.emplace_back(completion{m.topic, m.partition, m.offset, m.incarnation},
                                 reason);
  unfinished_turns_.erase({m.topic, m.partition, m.offset});
  if (last_started_ && last_started_->offset == m.offset && last_started_->partition == m.partition
      && last_started_->topic == m.topic)
    last_started_.reset();  // the actor lives on: a later death is not this record's
  // The key's later records the actor holds are not handled meanwhile: they
  // go out again after the failing one (at-least-once), or with the whole
  // rewound transaction (exactly-once, which clears this then).
  if (m.incarnation == incarnation_.load())
    blocked_.try_emplace({m.topic, m.partition, park_key(m)},
                         blocked_key{m.offset, std::numeric_limits<int64_t>::max()});
  return true;
}

// The key's failing record finished (its later records go out again), or
// the key's records up to `dead_lettered_until` went to the DLQ: a copy of
// one of them the actor still holds must never be handled.
void kafka_mailbox::unblock(const std::string& topic, int32_t partition, const std::string& key,
                            int64_t dead_lettered_until) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (blocked_.empty())
    return;
  auto b = blocked_.find({topic, partition, key});
  if (b == blocked_.end())
    return;
  if (dead_lettered_until < 0)
    blocked_.erase(b);
  else
    b->second = {-1, dead_lettered_until};
}

// Records whose handler failed: their key waits and they are tried again
// after a backoff (at-least-once), or the transaction is rewound
// (exactly-once); past max_attempts, the DLQ. The actor goes on.
void kafka_mailbox::apply_failures() {
  std::vector<std::pair<completion, std::string>> failed;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (handler_failures_.empty())
      return;
    failed.swap(handler_failures_);
  }
  for (const auto& [c, reason] : failed) {
    if (c.incarnation != incarnation_)
      continue;  // revoked or rewound meanwhile: handled again from scratch
    auto it = parts_.find({c.topic, c.partition});
    if (it == parts_.end())
      continue;
    auto* rec = it->second->tracker.find(c.offset);
    if (rec == nullptr || !rec->message)
      continue;
    const int n = opts_.failures->get(c.topic, c.partition, c.offset);
    log()->warn("mailbox group={} event=handler_failed topic={} partition={} offset={} key={} "
                "attempt={} of={} error={}", opts_.group_id, c.topic, c.partition, c.offset,
                rec->meta.key, n, opts_.max_attempts, reason);
    delivery_->record_failed(*it->second, *rec, n, reason);
  }
}

void kafka_mailbox::started(const runtime::record_meta& m) {
  std::lock_guard<std::mutex> guard{mtx_};
  start_locked(m);
}

void kafka_mailbox::start_locked(const runtime::record_meta& m) {
  if (m.incarnation != 0)
    unfinished_turns_.insert({m.topic, m.partition, m.offset});
  last_started_ = completion{m.topic, m.partition, m.offset, m.incarnation};
  turn_ = last_started_;
  turn_since_ = std::chrono::steady_clock::now();
  turn_killed_ = false;
}

void kafka_mailbox::turn_done(const runtime::record_meta& m) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (turn_ && turn_->offset == m.offset && turn_->partition == m.partition
      && turn_->topic == m.topic) {
    // Killed as hung but finished after all (a slow handler): the actor
    // dies, but not because of this record.
    if (turn_killed_)
      last_started_.reset();
    turn_.reset();
  }
}

void kafka_mailbox::actor_died() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (last_started_ && last_started_->incarnation == incarnation_.load())
    opts_.failures->increment(last_started_->topic, last_started_->partition,
                              last_started_->offset);
  last_started_.reset();
  turn_.reset();
  unfinished_turns_.clear();  // nothing of the dead actor finishes any more
}

std::optional<std::string> kafka_mailbox::failure() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return failure_;
}

// A turn past its deadline: the actor hangs. It is made to exit; its
// supervisor restarts it, and the new incarnation gets the record again.
void kafka_mailbox::check_turn_deadline() {
  if (opts_.turn_deadline.count() <= 0)
    return;
  caf::actor hung;
  completion turn;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!turn_ || turn_killed_ || !target_ || target_ != delivered_to_
        || std::chrono::steady_clock::now() - turn_since_ < opts_.turn_deadline)
      return;
    turn_killed_ = true;
    hung = target_;
    turn = *turn_;
  }
  auto where = turn.topic + "/" + std::to_string(turn.partition) + "@" + std::to_string(turn.offset);
  log()->error("mailbox group={} event=turn_deadline record={} deadline_ms={}: the actor hangs, "
               "making it exit", opts_.group_id, where, opts_.turn_deadline.count());
  runtime::crash_actor(hung, runtime::make_error(runtime::runtime_errc::hung,
                                                "no progress on " + where + " for "
                                                  + std::to_string(opts_.turn_deadline.count())
                                                  + " ms"));
}

void kafka_mailbox::clear_suspect() {
  std::lock_guard<std::mutex> guard{mtx_};
  last_started_.reset();
}

bool kafka_mailbox::stall_guard() const {
  return delivery_->guards_stalls();
}

std::shared_ptr<runtime::publisher> kafka_mailbox::transactional_out() const {
  return delivery_->publisher();
}

bool kafka_mailbox::current(const runtime::record_meta& m) const {
  if (m.incarnation == 0)
    return true;
  if (m.incarnation != incarnation_.load() || handing_off_.load())
    return false;
  // The poll loop stood still (see check_stall): it may not own this any more.
  auto last = last_tick_ms_.load();
  return !stall_guard() || last == 0 || steady_ms() - last <= stall_limit_ms();
}

mailbox_stats kafka_mailbox::stats() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return stats_;
}

std::vector<partition_stats> kafka_mailbox::partitions() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return partition_snapshot_;
}

// On the poll thread (which owns parts_), at most once a second: the
// positions and high watermarks are librdkafka's cached ones (no broker call).
void kafka_mailbox::snapshot_partitions(bool now) {
  const auto at = steady_ms();
  if (!now && at - snapshot_at_ms_ < 1000)
    return;
  snapshot_at_ms_ = at;
  std::vector<partition_stats> out;
  out.reserve(parts_.size());
  partition_list_ptr list{rd_kafka_topic_partition_list_new(static_cast<int>(parts_.size()) + 1)};
  for (const auto& [tp, ps] : parts_) {
    partition_stats p;
    p.topic = tp.first;
    p.partition = tp.second;
    p.in_flight = ps->tracker.size();
    p.quarantined = ps->tracker.parked();
    p.committed = ps->tracker.stored_at();
    int64_t low = -1;
    int64_t high = -1;
    if (rd_kafka_get_watermark_offsets(rk_.get(), tp.first.c_str(), tp.second, &low, &high)
          == RD_KAFKA_RESP_ERR_NO_ERROR
        && high >= 0) {
      p.low_watermark = low;
      p.high_watermark = high;
    }
    rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second);
    out.push_back(std::move(p));
  }
  if (!out.empty() && rd_kafka_position(rk_.get(), list.get()) == RD_KAFKA_RESP_ERR_NO_ERROR)
    for (int i = 0; i < list->cnt; ++i)
      if (list->elems[i].offset >= 0)
        out[static_cast<size_t>(i)].position = list->elems[i].offset;
  std::lock_guard<std::mutex> guard{mtx_};
  partition_snapshot_ = std::move(out);
}

void kafka_mailbox::rebalance(int err, rd_kafka_topic_partition_list_t* parts) {
  suspect_ = false;  // the group has spoken
  struct tick {  // (a hand-off or a restore may take a while: not a stall)
    kafka_mailbox* mb;
    ~tick() { mb->last_tick_ms_ = steady_ms(); }
  } ticked{this};
  last_tick_ms_ = steady_ms();
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    ++incarnation_;
    partition_counts_.clear();  // read again: partitions may have been added
    for (int i = 0; i < parts->cnt; ++i)
      parts_[{parts->elems[i].topic, parts->elems[i].partition}] =
        std::make_unique<partition_state>();
    // Before the role's state is read and the assignment fetches the
    // committed offsets: fencing the last producer of this partition set
    // aborts what it left open (neither then waits for it to time out).
    delivery_->assigned(parts);
    // The role's state for these partitions is in place before any of their
    // records is taken (they are taken on this thread, after this returns).
    if (opts_.on_assign && !opts_.on_assign(this, partition_numbers(parts))) {
      // Without its state the role must not run: nothing is taken, and the
      // bridge restarts (a new consumer, a rebalance, another try).
      log()->error("mailbox group={} event=assign_failed: the role's state could not be "
                   "restored; the bridge restarts", opts_.group_id);
      draining_ = true;
      std::lock_guard<std::mutex> guard{mtx_};
      failure_ = "the role's state for its new partitions could not be restored";
    }
    calls_->assign(rk_.get(), parts);
    // The application pause flag outlives an assignment: set it explicitly.
    if (paused_)
      calls_->pause_partitions(rk_.get(), parts);
    else
      calls_->resume_partitions(rk_.get(), parts);
    auto since = revoked_at_;
    log()->info("mailbox group={} event=assigned partitions={} unassigned_ms={}", opts_.group_id,
                parts->cnt,
                since == std::chrono::steady_clock::time_point{}
                  ? -1
                  : std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - since)
                      .count());
    snapshot_partitions(true);
    std::lock_guard<std::mutex> guard{mtx_};
    stats_.joined = true;
    stats_.assigned_partitions = parts_.size();
  } else {
    // Revoked (eager protocol). Handed off cleanly: nothing new starts, the
    // turns already started finish (up to handoff_deadline), the finished
    // prefix is committed, and only then are the partitions released; the
    // next owner receives the unfinished records again. Lost (this member was
    // too slow and the group moved on): nothing is committed, the records
    // are someone else's already.
    const bool lost = rd_kafka_assignment_lost(rk_.get()) != 0;
    auto began = std::chrono::steady_clock::now();
    size_t waited = 0;
    if (lost) {
      std::lock_guard<std::mutex> guard{mtx_};
      handing_off_ = true;  // nothing more starts: these records are someone else's
    } else {
      waited = hand_off();
    }
    drain_completions();
    delivery_->release(lost);
    ++incarnation_;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      handing_off_ = false;
      unfinished_turns_.clear();  // whatever did not finish is the next owner's
      blocked_.clear();
    }
    parts_.clear();
    snapshot_partitions(true);
    in_flight_ = 0;
    calls_->resume_partitions(rk_.get(), parts);  // clear our pause for the next owner here
    calls_->assign(rk_.get(), nullptr);
    if (opts_.on_revoke)
      opts_.on_revoke(this, partition_numbers(parts), lost);
    revoked_at_ = std::chrono::steady_clock::now();
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(revoked_at_ - began);
    log()->info("mailbox group={} event={} partitions={} handoff_ms={} turns_finished={}",
                opts_.group_id, lost ? "lost" : "revoked", parts->cnt, took.count(), waited);
    std::lock_guard<std::mutex> guard{mtx_};
    stats_.assigned_partitions = 0;
    stats_.in_flight = 0;
    ++stats_.handoffs;
    if (lost)
      ++stats_.lost_assignments;
    stats_.longest_handoff_ms = std::max<int64_t>(stats_.longest_handoff_ms, took.count());
  }
}

// The partition numbers of an assignment (every topic of a role is
// co-partitioned, so the numbers name the keys).
std::vector<int32_t> kafka_mailbox::partition_numbers(
  const rd_kafka_topic_partition_list_t* parts) {
  std::vector<int32_t> out;
  for (int i = 0; i < parts->cnt; ++i)
    out.push_back(parts->elems[i].partition);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Waits (on the poll thread, inside the revocation) until the records whose
// turn has started are finished, at most handoff_deadline. At-least-once:
// records delivered but not started are skipped by the actor from now on
// (current() is false), the new owner handles them. Exactly-once: every
// record in the open transaction is waited for, so that it can commit.
size_t kafka_mailbox::hand_off() {
  size_t waited = 0;
  delivery_->begin_handoff();
  auto until = std::chrono::steady_clock::now() + opts_.handoff_deadline;
  for (;;) {
    last_tick_ms_ = steady_ms();
    drain_completions();
    apply_rejections();  // a rejected record in the transaction is dead-lettered, then done
    size_t open = delivery_->awaited();
    waited = std::max(waited, open);
    if (open == 0 || failure().has_value())
      break;
    if (std::chrono::steady_clock::now() >= until) {
      log()->warn("mailbox group={} event=handoff_deadline unfinished={} deadline_ms={}: released "
                  "anyway, the next owner handles them again",
                  opts_.group_id, open, opts_.handoff_deadline.count());
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  return waited;
}

// At-least-once: a poll loop that stood still longer than half the session
// timeout (the process was paused, or starved) may have been replaced by the
// group meanwhile: its records may be someone else's already. Until the
// group says (a rebalance), or a session timeout passes without one, nothing
// is handed out and the actor starts nothing (current() is false), so a
// zombie writes nothing. Without a rebalance, the records are taken again.
void kafka_mailbox::check_stall() {
  if (!stall_guard())
    return;
  auto now = steady_ms();
  auto last = last_tick_ms_.exchange(now);
  if (!suspect_ && last != 0 && now - last > stall_limit_ms() && !parts_.empty()) {
    suspect_ = true;
    suspect_since_ms_ = now;
    drain_completions();  // what finished before the pause is not handed out again
    ++incarnation_;  // what the actor was given and has not started is not started
    log()->warn("mailbox group={} event=stalled ms={}: taking nothing until the group confirms "
                "the assignment", opts_.group_id, now - last);
    std::lock_guard<std::mutex> guard{mtx_};
    ++stats_.stalls;
    return;
  }
  if (suspect_ && now - suspect_since_ms_ > opts_.session_timeout_ms + 1000) {
    // Still a member: fetch again from one past the last record taken, and
    // give the actor every unfinished record again.
    suspect_ = false;
    log()->info("mailbox group={} event=stall_cleared: the assignment stood", opts_.group_id);
    partition_list_ptr at{rd_kafka_topic_partition_list_new(static_cast<int>(parts_.size()))};
    for (auto& [tp, ps] : parts_) {
      // From one past the last record taken; a partition that took nothing
      // yet, from the first record dropped while suspect.
      auto from = ps->tracker.next_offset() >= 0 ? ps->tracker.next_offset() : ps->dropped_from;
      if (from >= 0)
        rd_kafka_topic_partition_list_add(at.get(), tp.first.c_str(), tp.second)->offset = from;
      ps->dropped_from = -1;
      ps->tracker.heads_lost();  // retried by retry_parked()
      for (auto& [offset, rec] : ps->tracker.records())
        rec.meta.incarnation = incarnation_;
      for (auto& [offset, rec] : ps->tracker.records()) {
        if (rec.message)
          deliver(*ps, rec);
        else if (rec.extra.copy_out)
          send_copy(rec);  // its first write's report belongs to the old incarnation
      }
    }
    if (at->cnt > 0)
      if (auto* e = calls_->seek_partitions(rk_.get(), at.get(), 0)) {
        log()->warn("mailbox group={} seek after a stall: {}", opts_.group_id,
                    rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
  }
}

caf::error kafka_mailbox::subscribe() {
  partition_list_ptr topics{rd_kafka_topic_partition_list_new(static_cast<int>(opts_.topics.size()))};
  for (const auto& t : opts_.topics)
    rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto err = calls_->subscribe(rk_.get(), topics.get()))
    return kafka_error(err, "subscribe " + opts_.group_id);
  subscribed_ = true;
  std::lock_guard<std::mutex> guard{mtx_};
  stats_.standing_by = false;
  return {};
}

// A standby joins the group while its flag is set and leaves it (a clean
// hand-off: the revocation runs in a later poll) when it is cleared.
void kafka_mailbox::follow_standby() {
  if (!opts_.standby || draining_.load())
    return;
  bool want = opts_.standby->load();
  if (want == subscribed_)
    return;
  if (want) {
    if (auto err = subscribe())
      log()->error("mailbox group={} event=standby_join_failed error={}", opts_.group_id,
                   runtime::describe(err));
    else
      log()->warn("mailbox group={} event=standby_joined", opts_.group_id);
    return;
  }
  calls_->unsubscribe(rk_.get());
  subscribed_ = false;
  log()->warn("mailbox group={} event=standby_left", opts_.group_id);
  std::lock_guard<std::mutex> guard{mtx_};
  stats_.standing_by = true;
  stats_.joined = false;
}

void kafka_mailbox::run() {
  if (opts_.join_after) {  // (make() left the subscription to this thread)
    opts_.join_after(stopping_);
    if (!stopping_.load() && (!opts_.standby || opts_.standby->load()))
      if (auto err = subscribe()) {
        log()->error("mailbox group={} event=subscribe_failed error={}", opts_.group_id,
                     runtime::describe(err));
        std::lock_guard<std::mutex> guard{mtx_};
        failure_ = runtime::describe(err);
      }
  }
  while (!stopping_.load()) {
    follow_standby();
    check_stall();
    redeliver_if_rebound();
    // Seen before the count: every record taken before this point is in the
    // count drain_completions() publishes, and none is taken after it.
    bool draining = draining_.load();
    drain_completions();
    if (draining)
      drain_seen_ = true;
    apply_backpressure();
    apply_rejections();
    apply_failures();
    retry_parked();
    check_turn_deadline();
    if (refetch_at_ms_ != 0 && steady_ms() >= refetch_at_ms_) {
      refetch_at_ms_ = 0;
      restart_fetchers();
    }
    delivery_->step();  // stores or commits what finished
    snapshot_partitions(false);
    // Take what librdkafka has queued (up to a batch) before the next round of
    // housekeeping; wait only for the first record.
    for (int n = 0; n < 500 && !stopping_.load(); ++n) {
      auto* msg = calls_->consumer_poll(rk_.get(), n == 0 ? 20 : 0);
      if (msg == nullptr)
        break;
      message_ptr owned{msg};
      if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        handle(std::move(owned));
      else if (msg->err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        auto code = rd_kafka_fatal_error(rk_.get(), why, sizeof(why));
        std::string what = why;
        if (code == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID)
          what = "another consumer joined group " + opts_.group_id + " with group.instance.id '"
                 + opts_.group_instance_id + "' (" + why + "): two live nodes share a node id, "
                 "and every node needs one of its own";
        log()->error("mailbox group={} event=fatal error={}", opts_.group_id, what);
        std::lock_guard<std::mutex> guard{mtx_};
        failure_ = what;
      } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::string_view why = rd_kafka_message_errstr(msg);
        log()->warn("mailbox group={} consume error={}", opts_.group_id, why);
        if (why.starts_with("Failed to fetch committed offsets") && refetch_at_ms_ == 0)
          refetch_at_ms_ = steady_ms() + 500;  // one restart for a burst of them
      }
      if (!paused_ && in_flight_ >= opts_.high_water)
        break;  // let backpressure act
    }
    forward_logs(rk_.get(), log_queue_);
  }
}

// librdkafka 2.0.2 leaves a partition whose committed offset could not be
// fetched (the group's coordinator moved while it was being assigned: "Not
// coordinator") without a fetcher for good: it is never read and never
// retried (confluentinc/librdkafka#5586; a fault suite run had one partition
// of the order role stand still until the end). Assigning the partitions
// again starts every fetcher: from one past the last record taken, or from
// the committed offset where none was taken yet.
void kafka_mailbox::restart_fetchers() {
  rd_kafka_topic_partition_list_t* assigned = nullptr;
  if (calls_->assignment(rk_.get(), &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return;
  partition_list_ptr guard{assigned};
  if (assigned->cnt == 0)
    return;
  for (int i = 0; i < assigned->cnt; ++i) {
    auto& tp = assigned->elems[i];
    auto it = parts_.find({tp.topic, tp.partition});
    tp.offset = it != parts_.end() && it->second->tracker.next_offset() >= 0
                  ? it->second->tracker.next_offset()
                  : RD_KAFKA_OFFSET_INVALID;  // the committed offset, fetched again
  }
  if (auto err = calls_->assign(rk_.get(), assigned)) {
    log()->warn("mailbox group={} event=fetchers_not_restarted error={}", opts_.group_id,
                rd_kafka_err2str(err));
    return;
  }
  if (paused_)
    calls_->pause_partitions(rk_.get(), assigned);
  log()->warn("mailbox group={} event=fetchers_restarted partitions={}: a committed offset could "
              "not be fetched", opts_.group_id, assigned->cnt);
}

void kafka_mailbox::handle(message_ptr owned) {
  auto* msg = owned.get();
  redeliver_if_rebound();  // before this record joins the in-flight set
  const char* topic = rd_kafka_topic_name(msg->rkt);
  auto it = parts_.find({topic, msg->partition});
  if (it == parts_.end())
    return;  // not (or no longer) assigned
  if (draining_.load())
    return;  // shutting down: not taken, so not committed; the next owner reads it
  auto& ps = *it->second;
  if (suspect_) {  // after a stall: not taken (fetched again if the assignment stood)
    if (ps.dropped_from < 0 || msg->offset < ps.dropped_from)
      ps.dropped_from = msg->offset;
    return;
  }
  ++received_;
  ps.tracker.passed(msg->offset);
  std::string_view key{msg->key ? static_cast<const char*>(msg->key) : "", msg->key_len};
  std::string_view value{msg->payload ? static_cast<const char*>(msg->payload) : "", msg->len};
  auto ts = rd_kafka_message_timestamp(msg, nullptr);
  auto headers = read_headers(msg);
  auto decoded = opts_.raw ? decode_raw_record(topic, msg->partition, msg->offset, key, value,
                                                headers, ts)
                           : decode_record(topic, msg->partition, msg->offset, key, value,
                                           headers, ts);
  if (decoded && !opts_.raw) {  // a type the role takes, in its schema, before any actor sees it
    if (!opts_.accepts.empty()
        && std::find(opts_.accepts.begin(), opts_.accepts.end(), decoded->meta.type)
             == opts_.accepts.end())
      decoded = runtime::make_error(runtime::bridge_errc::no_handler,
                                    "no handler of group " + opts_.group_id
                                      + " takes message type '" + decoded->meta.type + "'");
    else if (auto violation = validate(decoded->message))
      decoded = runtime::make_error(runtime::bridge_errc::schema_violation, *violation);
  }
  if (!decoded) {
    runtime::record_meta meta;
    meta.topic = topic;
    meta.partition = msg->partition;
    meta.offset = msg->offset;
    meta.key = std::string{key};
    meta.incarnation = incarnation_;
    dead_letter(std::string{key}, std::string{value}, std::move(headers),
                runtime::describe(decoded.error()), std::move(meta));
    return;
  }
  decoded->meta.incarnation = incarnation_;
  if (!opts_.forward_topic.empty() && delivery_->can_copy()) {
    if (auto home = home_partition(topic, decoded->meta.key); home && *home != msg->partition) {
      forward(*home, std::string{value}, std::move(headers), std::move(decoded->meta));
      return;
    }
  }
  auto& rec = ps.tracker.take(msg->offset);
  rec.failures = opts_.failures->get(topic, msg->partition, msg->offset);  // earlier consumers'
  rec.meta = std::move(decoded->meta);
  rec.message = std::move(decoded->message);
  rec.extra.raw = std::move(owned);
  ++in_flight_;
  deliver(ps, rec);
}

// Where the partitioner puts `key` in `topic` (nullopt: unknown). The
// partition counts are read once per assignment, at the first record of
// each topic (a count that cannot be read is tried again 10 s later; till
// then nothing is forwarded). The read waits at most 1 s: it holds up the
// poll loop, and one standing still for half the session timeout takes
// itself for a paused zombie (a broker just killed made a 5 s wait do so).
std::optional<int32_t> kafka_mailbox::home_partition(const std::string& topic,
                                                     const std::string& key) {
  auto& known = partition_counts_[topic];
  const auto now = std::chrono::steady_clock::now();
  if (known.count <= 0 && now >= known.retry_at) {
    auto n = partitions_of(rk_.get(), topic,
                           std::min<std::chrono::milliseconds>(
                             std::chrono::seconds{1},
                             std::chrono::milliseconds{stall_limit_ms() / 4}));
    known.count = n ? *n : 0;
    known.retry_at = now + std::chrono::seconds{10};
    if (known.count <= 0)
      log()->warn("mailbox group={} event=partition_count_unknown topic={} error={}: records not "
                  "on their key's partition are handled where they are until it is known",
                  opts_.group_id, topic, n ? "no such topic" : runtime::describe(n.error()));
  }
  if (known.count <= 0)
    return std::nullopt;
  return key_partition(opts_.partitioner, key, known.count);
}

// A record that is not on its key's partition (a foreign producer wrote it
// without a key, with another partitioner or to a partition it chose): this
// role's state for the key lives with the partition the key belongs to, so
// the record goes to that partition of the group's forward topic, byte for
// byte, and its offset here passes once the copy is durable.
void kafka_mailbox::forward(int32_t home, std::string value, header_list headers,
                            runtime::record_meta meta) {
  log()->info("mailbox group={} event=forwarded topic={} partition={} offset={} key={} to={}/{}",
              opts_.group_id, meta.topic, meta.partition, meta.offset, meta.key,
              opts_.forward_topic, home);
  if (find_header(headers, hdr_type) == nullptr)  // typed by its topic until now
    headers.push_back({std::string{hdr_type}, meta.type});
  headers.push_back({"kastor-forwarded-from", meta.topic + "/" + std::to_string(meta.partition)
                                                + "@" + std::to_string(meta.offset)});
  auto& rec = parts_.at({meta.topic, meta.partition})->tracker.take(meta.offset);
  rec.extra.copy_out = copy_out_record{opts_.forward_topic, home, true, meta.key,
                                                   std::move(value), std::move(headers), false, {}};
  rec.meta = std::move(meta);
  send_copy(rec);
}

// A record in flight to the DLQ with its original bytes and headers (not a
// re-encoding).
void kafka_mailbox::dead_letter_in_flight(const runtime::record_meta& meta,
                                          const std::string& reason) {
  auto& rec = parts_.at({meta.topic, meta.partition})->tracker.take(meta.offset);
  std::string value;
  header_list headers;
  if (rec.extra.raw) {
    value.assign(rec.extra.raw->payload ? static_cast<const char*>(rec.extra.raw->payload) : "",
                 rec.extra.raw->len);
    headers = read_headers(rec.extra.raw.get());
    rec.extra.raw.reset();
  }
  dead_letter(meta.key, value, std::move(headers), reason, meta);
}

// Records their actor rejected (runtime::reject): dead-lettered at once.
void kafka_mailbox::apply_rejections() {
  std::vector<std::pair<completion, std::string>> rejected;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (rejections_.empty())
      return;
    rejected.swap(rejections_);
  }
  for (const auto& [c, reason] : rejected) {
    if (c.incarnation != incarnation_)
      continue;  // revoked meanwhile: its new owner decides again
    auto it = parts_.find({c.topic, c.partition});
    if (it == parts_.end())
      continue;
    auto r = it->second->tracker.records().find(c.offset);
    if (r == it->second->tracker.records().end() || !r->second.message)
      continue;  // finished, or on its way to the DLQ already
    auto actor = opts_.supervisor_path.empty() ? std::string{"its actor"}
                                               : opts_.supervisor_path + "/worker";
    dead_letter_in_flight(r->second.meta, "rejected by " + actor + ": " + reason);
  }
}

void kafka_mailbox::rejected(const runtime::record_meta& m, const std::string& reason) {
  std::lock_guard<std::mutex> guard{mtx_};
  rejections_.emplace_back(completion{m.topic, m.partition, m.offset, m.incarnation}, reason);
  unfinished_turns_.erase({m.topic, m.partition, m.offset});
  if (last_started_ && last_started_->offset == m.offset && last_started_->partition == m.partition
      && last_started_->topic == m.topic)
    last_started_.reset();
}

void kafka_mailbox::dead_letter(const std::string& key, const std::string& value,
                                header_list headers, const std::string& reason,
                                runtime::record_meta meta) {
  log()->warn("mailbox group={} event=dead_letter topic={} partition={} offset={} reason={}",
              opts_.group_id, meta.topic, meta.partition, meta.offset, reason);
  auto& rec = parts_.at({meta.topic, meta.partition})->tracker.take(meta.offset);
  rec.meta = meta;
  rec.message.reset();  // never delivered again
  rec.extra.done = false;  // (if it was sent in the open transaction, its dead letter joins that one)
  if (!delivery_->can_copy()) {
    finished(meta);
    return;
  }
  rec.extra.copy_out = dead_letter_copy(key, value, std::move(headers), reason, rec);
  send_copy(rec);
}

// A dead letter's reason as one of a few classes (a metric's label): the
// reasons are this file's own texts.
std::string kafka_mailbox::dead_letter_class(const std::string& reason) {
  if (reason.rfind("bridge.", 0) == 0)  // a decoding error: its code
    return reason.substr(7, reason.find(':') - 7);
  if (reason.rfind("rejected by ", 0) == 0)
    return "rejected";
  if (reason.rfind("behind record ", 0) == 0)
    return "behind_key";
  if (reason.find(" failed ") != std::string::npos && reason.find(" times") != std::string::npos)
    return "max_attempts";
  return "other";
}

// The copy of `rec` for `<topic>.dlq`: the original's key, value and headers
// with the kastor-dlq-* headers that say where it came from and why.
kafka_mailbox::copy_out_record kafka_mailbox::dead_letter_copy(
  const std::string& key, const std::string& value, header_list headers,
  const std::string& reason, const in_flight_record& rec) const {
  const auto& meta = rec.meta;
  headers.push_back({"kastor-dlq-reason", reason});
  headers.push_back({"kastor-dlq-origin", meta.topic + "/" + std::to_string(meta.partition) + "@"
                                            + std::to_string(meta.offset)});
  headers.push_back({"kastor-dlq-group", opts_.group_id});
  headers.push_back({"kastor-dlq-attempts", std::to_string(std::max(rec.failures, 1))});
  if (!opts_.supervisor_path.empty()) {
    headers.push_back({"kastor-dlq-supervisor", opts_.supervisor_path});
    headers.push_back({"kastor-dlq-actor", opts_.supervisor_path + "/worker"});
  }
  if (!opts_.node_id.empty())
    headers.push_back({"kastor-dlq-node", opts_.node_id});
  headers.push_back({"kastor-dlq-time", std::to_string(runtime::wall_clock_ms())});
  return copy_out_record{meta.topic + ".dlq", -1, false, key, value, std::move(headers),
                         false, dead_letter_class(reason)};
}

namespace {

// What a copy weighs against message.max.bytes (librdkafka counts key, value
// and headers; the rest is the record batch's overhead, kept well clear of).
size_t copy_bytes(const std::string& key, const std::string& value, const header_list& headers) {
  size_t n = key.size() + value.size() + 128;
  for (const auto& [name, v] : headers)
    n += name.size() + v.size() + 8;
  return n;
}

}  // namespace

// A dead letter that can never be written as it is (larger than the
// producer's message.max.bytes, or refused by the broker for good) would hold
// its partition forever. What goes to the DLQ instead keeps the original's
// coordinates, reason and kastor headers, the first bytes of its key and
// value, and says in kastor-dlq-truncated what was cut and why.
void kafka_mailbox::cut_down(copy_out_record& copy, const std::string& why) {
  constexpr size_t keep_value = 4096;
  constexpr size_t keep_key = 1024;
  constexpr size_t keep_header = 1024;
  // What says where the record came from and why it is here (the last of
  // each, cut to keep_header); every other header goes, however many the
  // record had, so the copy is small whatever came in.
  static const std::array<std::string_view, 10> keep = {
    "kastor-type",        "kastor-forwarded-from", "kastor-dlq-reason",
    "kastor-dlq-origin",  "kastor-dlq-group",      "kastor-dlq-attempts",
    "kastor-dlq-supervisor", "kastor-dlq-actor",   "kastor-dlq-node",
    "kastor-dlq-time"};
  header_list kept;
  for (auto name : keep)
    if (const auto* h = find_header(copy.headers, name))
      kept.push_back({h->name, h->value.substr(0, keep_header)});
  const size_t dropped_headers = copy.headers.size() - kept.size();
  auto what = "value of " + std::to_string(copy.value.size()) + " bytes cut to "
              + std::to_string(std::min(copy.value.size(), keep_value)) + ", key of "
              + std::to_string(copy.key.size()) + " bytes cut to "
              + std::to_string(std::min(copy.key.size(), keep_key)) + ", "
              + std::to_string(dropped_headers) + " other headers dropped: " + why;
  if (copy.value.size() > keep_value)
    copy.value.resize(keep_value);
  if (copy.key.size() > keep_key)
    copy.key.resize(keep_key);
  kept.push_back({"kastor-dlq-truncated", what});
  copy.headers = std::move(kept);
  copy.cut_down = true;
}

// A copy the broker or the producer refused for good (poll thread). A
// forward becomes a dead letter (the record cannot reach its key's
// partition); a dead letter is cut down; a cut-down dead letter that is
// still refused means the DLQ itself is broken: it is retried, backing off,
// and its partition waits (nothing is dropped).
std::vector<kafka_mailbox::in_flight_record*> kafka_mailbox::rewrite_unwritable() {
  std::vector<std::pair<completion, std::string>> refused;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    refused.swap(unwritable_);
  }
  std::vector<in_flight_record*> rewritten;
  for (const auto& [c, error] : refused) {
    if (c.incarnation != incarnation_.load())
      continue;  // revoked or rewound meanwhile: written again from scratch
    auto it = parts_.find({c.topic, c.partition});
    if (it == parts_.end())
      continue;
    auto* rec = it->second->tracker.find(c.offset);
    if (rec == nullptr || !rec->extra.copy_out)
      continue;
    auto& copy = *rec->extra.copy_out;
    if (copy.forward) {
      auto reason = "it cannot be forwarded to its key's partition (" + copy.topic + "/"
                    + std::to_string(copy.partition) + "): " + error;
      log()->warn("mailbox group={} event=dead_letter topic={} partition={} offset={} reason={}",
                  opts_.group_id, c.topic, c.partition, c.offset, reason);
      copy = dead_letter_copy(copy.key, copy.value, std::move(copy.headers), reason, *rec);
    } else if (!copy.cut_down) {
      cut_down(copy, "the DLQ refused it: " + error);
    } else {
      std::lock_guard<std::mutex> guard{mtx_};
      dead_letter_retries_.push_back(c);
      continue;
    }
    rewritten.push_back(rec);
  }
  return rewritten;
}

// The offset is finished only once the copy (a dead letter, or a forward) is
// durable; a failed write is retried (the record stays in flight, so nothing
// past it is committed).
void kafka_mailbox::send_copy(in_flight_record& rec) {
  std::weak_ptr<kafka_mailbox> weak = weak_from_this();
  auto meta = rec.meta;
  auto* out = delivery_->copy_sink(rec);
  if (out == nullptr)
    return;  // held: this mode sends it later
  auto& copy = *rec.extra.copy_out;
  if (!copy.cut_down && copy_bytes(copy.key, copy.value, copy.headers) > out->max_message_bytes()) {
    auto why = "larger than the producer's message.max.bytes ("
               + std::to_string(out->max_message_bytes()) + ")";
    if (copy.forward) {
      auto reason = "it cannot be forwarded to its key's partition: " + why;
      log()->warn("mailbox group={} event=dead_letter topic={} partition={} offset={} reason={}",
                  opts_.group_id, meta.topic, meta.partition, meta.offset, reason);
      copy = dead_letter_copy(copy.key, copy.value, std::move(copy.headers), reason, rec);
    }
    if (copy_bytes(copy.key, copy.value, copy.headers) > out->max_message_bytes())
      cut_down(copy, why);
  }
  const char* what = copy.forward ? "forward" : "dead_letter";
  out->produce(
    copy.topic, copy.key, copy.value, copy.headers,
    [weak, meta, what, forward = copy.forward,
     why = copy.reason_class](const runtime::publish_outcome& o) {
      auto self = weak.lock();
      if (!self)
        return;
      std::lock_guard<std::mutex> guard{self->mtx_};
      if (o.ok()) {
        ++(forward ? self->stats_.forwarded : self->stats_.dead_lettered);
        if (!forward)
          ++self->stats_.dead_letter_reasons[why];
        self->stats_.dead_letters_failing = 0;
        self->completions_.push_back({meta.topic, meta.partition, meta.offset, meta.incarnation});
      } else {
        ++self->stats_.dead_letters_failing;
        log()->error("mailbox event={}_failed topic={} partition={} offset={} error={} ({})", what,
                     meta.topic, meta.partition, meta.offset, o.error,
                     o.record_refused ? "it can never be written as it is" : "written again");
        // Only a refusal of the record itself changes what is written; any
        // other failure (the broker, the producer's state, a transaction
        // that must abort) writes the same copy again.
        if (o.record_refused)
          self->unwritable_.emplace_back(
            completion{meta.topic, meta.partition, meta.offset, meta.incarnation}, o.error);
        else
          self->dead_letter_retries_.push_back(
            {meta.topic, meta.partition, meta.offset, meta.incarnation});
        self->delivery_->copy_failed();  // as the mode says
      }
    },
    copy.partition);
}

void kafka_mailbox::deliver(const partition_state& ps, in_flight_record& r) {
  // handle() ran redeliver_if_rebound() first, so delivered_to_ is current.
  if (!delivered_to_ || !r.message)
    return;  // no actor bound yet: delivered on bind
  if (!ps.tracker.deliverable(r))
    return;  // its key is in quarantine: it waits behind the failing record
  if (!delivery_->admit(ps, r))
    return;  // held: this mode sends it later
  caf::anon_send(delivered_to_, r.meta, *r.message);
}

std::chrono::milliseconds kafka_mailbox::retry_delay(int failures) const {
  auto d = opts_.retry_backoff_min;
  for (int i = 1; i < failures && d < opts_.retry_backoff_max; ++i)
    d *= 2;
  return std::min(d, opts_.retry_backoff_max);
}

// The failing record and every later record of its key go to the DLQ, in
// offset order; the key is released.
void kafka_mailbox::dead_letter_key(partition_state& ps, const std::string& key,
                                    const std::string& reason) {
  auto metas = ps.tracker.dead_letter_key(key);
  if (metas.empty())
    return;  // released already
  auto head = metas.front().offset;
  unblock(metas.front().topic, metas.front().partition, key, metas.back().offset);
  for (const auto& m : metas)
    dead_letter_in_flight(m, m.offset == head ? reason
                                              : "behind record " + m.topic + "/"
                                                  + std::to_string(m.partition) + "@"
                                                  + std::to_string(head)
                                                  + " of the same key, which was dead-lettered");
}

// Parked keys whose retry time came: their failing record goes out again.
void kafka_mailbox::retry_parked() {
  if (!delivered_to_)
    return;
  auto now = std::chrono::steady_clock::now();
  for (auto& [tp, ps] : parts_)
    for (auto* r : ps->tracker.due(now))
      caf::anon_send(delivered_to_, r->meta, *r->message);
}

void kafka_mailbox::redeliver_if_rebound() {
  if (!rebound_.load())
    return;  // the common case, without taking the lock
  caf::actor target;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    target = target_;
    rebound_ = false;
    if (target != delivered_to_) {
      last_started_.reset();  // the new incarnation has started nothing yet
      turn_.reset();
      blocked_.clear();  // it holds none of the old one's records
    }
  }
  if (target == delivered_to_)
    return;
  // Completions and rejections the dead actor reported are not redelivered;
  // the failures it reported count.
  drain_completions();
  apply_rejections();
  apply_failures();
  bool first_bind = !delivered_to_;
  delivered_to_ = target;
  delivery_->rebound(first_bind);
}

void kafka_mailbox::drain_completions() {
  std::vector<completion> done;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    done.swap(completions_);
  }
  uint64_t n = 0;
  for (const auto& c : done) {
    if (c.incarnation != incarnation_)
      continue;  // from before a rebalance: that record is someone else's now
    auto it = parts_.find({c.topic, c.partition});
    if (it == parts_.end())
      continue;
    auto r = it->second->tracker.records().find(c.offset);
    if (r == it->second->tracker.records().end())
      continue;
    if (!delivery_->finished(r->second))
      continue;  // kept (exactly-once: until its transaction commits)
    if (!opts_.failures->empty())
      opts_.failures->erase(c.topic, c.partition, c.offset);
    auto& ps = *it->second;
    const auto key = ps.tracker.parked() > 0 ? park_key(r->second.meta) : std::string{};
    const bool was_parked = !key.empty() && ps.tracker.is_parked(key);
    std::vector<in_flight_record*> released;
    ps.tracker.finish(c.offset, &released);
    ++n;
    if (was_parked && !ps.tracker.is_parked(key)) {
      // A parked key's failing record finished: the key is released and its
      // waiting records go out, in order.
      log()->info("mailbox group={} event=key_released topic={} partition={} key={}",
                  opts_.group_id, c.topic, c.partition, key);
      unblock(c.topic, c.partition, key);
      for (auto* rec : released)
        deliver(ps, *rec);
    }
  }
  in_flight_ = in_flight_count();
  std::lock_guard<std::mutex> guard{mtx_};
  stats_.finished += n;
  stats_.received = received_;
  stats_.in_flight = in_flight_count();
  stats_.max_in_flight = std::max(stats_.max_in_flight, stats_.in_flight);
}

size_t kafka_mailbox::in_flight_count() const {
  size_t n = 0;
  for (const auto& [tp, ps] : parts_)
    n += ps->tracker.records().size();
  return n;
}

void kafka_mailbox::apply_backpressure() {
  auto n = in_flight_count();
  bool pause = !paused_ && (n >= opts_.high_water || draining_.load());
  bool resume = paused_ && n <= opts_.low_water && !draining_.load();
  if (!pause && !resume)
    return;
  rd_kafka_topic_partition_list_t* assigned = nullptr;
  if (calls_->assignment(rk_.get(), &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return;
  partition_list_ptr guard{assigned};
  if (pause) {
    calls_->pause_partitions(rk_.get(), assigned);
  } else {
    calls_->resume_partitions(rk_.get(), assigned);
    // And fetch from one past the last record taken: once (CI, exactly-once,
    // a backlog past the high-water mark) a resumed partition stayed idle
    // with records behind it; a seek gives the fetcher a definite position.
    partition_list_ptr at{rd_kafka_topic_partition_list_new(assigned->cnt)};
    for (int i = 0; i < assigned->cnt; ++i) {
      auto it = parts_.find({assigned->elems[i].topic, assigned->elems[i].partition});
      if (it != parts_.end() && it->second->tracker.next_offset() >= 0)
        rd_kafka_topic_partition_list_add(at.get(), assigned->elems[i].topic,
                                          assigned->elems[i].partition)
          ->offset = it->second->tracker.next_offset();
    }
    if (at->cnt > 0)
      if (auto* e = calls_->seek_partitions(rk_.get(), at.get(), 0)) {
        log()->warn("mailbox group={} seek on resume: {}", opts_.group_id, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
  }
  paused_ = pause;
  log()->debug("mailbox group={} event={} in_flight={}", opts_.group_id,
               pause ? "paused" : "resumed", n);
  std::lock_guard<std::mutex> g{mtx_};
  stats_.paused = paused_;
  if (pause)
    ++stats_.pauses;
}

void kafka_mailbox::begin_drain() {
  draining_ = true;  // the poll loop pauses and takes no new records
}

bool kafka_mailbox::stop(std::chrono::milliseconds drain, std::chrono::milliseconds close) {
  if (stopped_.exchange(true))
    return true;
  const auto close_by = std::chrono::steady_clock::now() + close;  // drain included
  if (poller_.joinable() && drain.count() > 0) {
    begin_drain();
    auto until = std::chrono::steady_clock::now() + drain;
    // Wait until the poll thread has seen the drain (so the count is final
    // but for completions), then until nothing is in flight.
    while ((!drain_seen_.load() || stats().in_flight > 0)
           && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  begin_drain();
  stopping_ = true;
  if (poller_.joinable())
    poller_.join();
  if (!rk_)
    return true;
  drain_completions();
  delivery_->release(false);
  auto s = stats();
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stats_.unfinished_at_stop = s.in_flight;
  }
  bool closed = close_consumer(std::max(
    std::chrono::duration_cast<std::chrono::milliseconds>(close_by - std::chrono::steady_clock::now()),
    std::chrono::milliseconds{1}));
  log()->info("mailbox group={} event=stopped received={} finished={} unfinished={}",
              opts_.group_id, s.received, s.finished, s.in_flight);
  return closed;
}

// librdkafka's own close waits for the group's coordinator as long as it
// takes (for good when the brokers are gone): closed here through a queue,
// served until closed or `budget` ends.
bool kafka_mailbox::close_consumer(std::chrono::milliseconds budget) {
  const auto until = std::chrono::steady_clock::now() + budget;
  auto left = [&until] {
    return std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                  until - std::chrono::steady_clock::now())
                                  .count());
  };
  // A static member sends no LeaveGroup when it closes (KIP-345: its
  // partitions wait for its restart); one that leaves on stop unsubscribes
  // first, which hands off (the revocation runs in this poll) and leaves.
  if (!opts_.group_instance_id.empty() && opts_.leave_on_stop && subscribed_) {
    calls_->unsubscribe(rk_.get());
    subscribed_ = false;
    // Until librdkafka has sent LeaveGroup (it clears the member id just
    // before): once the close below begins, a static member never sends it.
    while (left() > 0) {
      message_ptr msg{calls_->consumer_poll(rk_.get(), 20)};
      char* member = rd_kafka_memberid(rk_.get());
      bool left_group = member == nullptr || member[0] == '\0';
      if (member != nullptr)
        rd_kafka_mem_free(rk_.get(), member);
      if (left_group)
        break;
    }
  }
  auto* queue = rd_kafka_queue_new(rk_.get());
  bool closed = false, closing = false;
  if (auto* err = rd_kafka_consumer_close_queue(rk_.get(), queue)) {
    log()->warn("mailbox group={} event=close_failed error={}", opts_.group_id,
                rd_kafka_error_string(err));
    rd_kafka_error_destroy(err);
  } else {
    closing = true;
    // The revocation (the final commit) is served here, as an event (with
    // a rebalance callback set, librdkafka hands it out so).
    while (!(closed = rd_kafka_consumer_closed(rk_.get()) != 0) && left() > 0) {
      auto* ev = rd_kafka_queue_poll(queue, static_cast<int>(std::min<int64_t>(left(), 50)));
      if (ev == nullptr)
        continue;
      if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
        rebalance(rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev));
      rd_kafka_event_destroy(ev);
    }
  }
  forward_logs(rk_.get(), log_queue_);
  if (closed) {
    rd_kafka_queue_destroy(queue);
    return true;
  }
  log()->warn("mailbox group={} event=close_timeout after_ms={}: the group was not left and "
              "what was not committed will be delivered again; the brokers drop this member "
              "after its session timeout",
              opts_.group_id, budget.count());
  // Destroying it would wait for the same close: it is let go on a thread of
  // its own with its queues, which serves the close to its end (a revocation
  // answered without this mailbox) and then destroys it; it ends when
  // librdkafka does, or with the process.
  std::thread{[rk = rk_.release(), queue, closing, logs = std::exchange(log_queue_, nullptr)] {
    while (closing && !rd_kafka_consumer_closed(rk)) {
      if (auto* ev = rd_kafka_queue_poll(queue, 100)) {
        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
          rd_kafka_assign(rk, nullptr);
        rd_kafka_event_destroy(ev);
      }
      if (logs != nullptr)
        while (auto* ev = rd_kafka_queue_poll(logs, 0))
          rd_kafka_event_destroy(ev);  // (logged by nobody now)
    }
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (logs != nullptr)
      rd_kafka_queue_destroy(logs);
  }}.detach();
  return false;
}

}  // namespace kastor::bridges
