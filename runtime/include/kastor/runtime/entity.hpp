// Keyed entities (virtual actors): one activation per key in the cluster,
// living with its key's partition.
//
// A keyed role's state is an entity_store: the node restores it from the
// role's changelog (a compacted topic of the entities' snapshots) whenever
// partitions are assigned, before any record of them is handled, and drops
// what goes with partitions that are taken away. Each owner of a partition
// writes its snapshots with an epoch above every epoch read in it, so that a
// restore skips the late writes of an earlier owner (a paused node's queued
// output).
//
// entity_book<E> is that store for an entity class E written per key:
//
//   struct account {
//     using snapshot_type = account_state;            // declared, compacted topic
//     explicit account(const std::string& id);        // a key never seen
//     explicit account(const account_state& restored);
//     account_state snapshot() const;
//     outputs handle(const record_meta&, const deposit&, int64_t now);  // per type taken
//   };
//
// An entity that needs settings or dependencies (a hold's length, a client)
// is made by a factory instead, given its key and, when it is restored, its
// snapshot (entity<E>::make in role.hpp):
//
//   entity<seat>("seats").make([hold_ms](const std::string& key, const seat_state* restored) {
//     return restored ? seat{*restored, hold_ms} : seat{key, hold_ms};
//   });
//
// An entity schedules messages to itself with timers (timers.hpp): returned
// among its outputs, kept by the book with its key, written with its
// snapshot, restored and released with its partition, fired by the role's
// actor when due (due_timers()).
//
// An entity that remembers (entity<E>(name).remember(n), recent.hpp) answers
// an input handed out again with what it answered it before, under the same
// message ids, without running its handler: at-least-once, it needs no
// "answered" memory of its own.
//
// Two optional hooks let an entity say what the book cannot know:
//
//   // Whether a snapshot read from the changelog replaces the one held (on
//   // every adoption, in offset order). Default: always, the last one wins.
//   // An entity whose state only moves forward keeps the furthest along, so
//   // a stale write (a lost owner's, or one of an older partition layout)
//   // never moves a key back.
//   // When it keeps what is held, the key's next turn writes it again.
//   static bool supersedes(const snapshot_type& restored, const snapshot_type& held);
//   // Whether an idle activation may be passivated now. Default: always.
//   bool may_passivate() const;
//
// The book routes each record to its key's activation (the message's declared
// key), activating it from its restored snapshot or fresh, and writes the
// entity's snapshot after every record that changed it (its state or its
// timers), and after every record handed out again (attempt > 1: the first
// turn's write may be lost); a first delivery that changed nothing writes
// none. An activation idle for `passivate_after` is
// passivated: the entity object goes, its last snapshot stays, and the next
// record for the key activates it again from that snapshot.
// A handle() that throws leaves its entity as its last snapshot was: the
// book drops the activation and the key's next record activates it again
// from that snapshot. runtime::reject dead-letters the record; any other
// exception is a failure of the record alone (tried again after a backoff,
// dead-lettered after the last attempt; role_actor.hpp).
//
// Thread-safety: one actor owns an entity_book; adopt() and release() may be
// called from any thread (the mailbox's rebalance) and take effect before the
// next handle() or find().
#pragma once

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "kastor/runtime/message.hpp"
#include "kastor/runtime/recent.hpp"
#include "kastor/runtime/reject.hpp"
#include "kastor/runtime/timers.hpp"
#include "kastor/runtime/trace.hpp"

namespace kastor::runtime {

class entity_store {
public:
  virtual ~entity_store() = default;
  // `partition` is this store's now: its entities as the changelog holds
  // them (snapshots in the partition's offset order, late writes of earlier
  // owners left out; all of the partition on a first adoption, what was
  // written since on a later one, to be laid over what is held). Snapshots of the partition carry `epoch` from now on.
  virtual void adopt(int32_t partition, const std::vector<message>& snapshots, int64_t epoch) = 0;
  // These partitions are someone else's now; their entities go.
  virtual void release(const std::vector<int32_t>& partitions) = 0;
  // The current snapshot of `key` as this node knows it first-hand; empty
  // when it holds no such entity (request/reply's `get`).
  virtual message lookup(const std::string& key) const = 0;
};

template <class E>
class entity_book final : public entity_store {
public:
  using snapshot_type = typename E::snapshot_type;
  // Makes the activation of `key`: restored from its snapshot, or (null) a
  // key never seen.
  using factory = std::function<E(const std::string& key, const snapshot_type* restored)>;

  // E made by its constructors E(key) and E(snapshot) (see constructed()).
  explicit entity_book(std::chrono::milliseconds passivate_after = std::chrono::minutes{1})
      : entity_book(passivate_after, constructed()) {}
  // Throws std::logic_error when `make` is empty.
  entity_book(std::chrono::milliseconds passivate_after, factory make)
      : passivate_after_ms_(passivate_after.count()), make_(std::move(make)) {
    if (!make_)
      throw std::logic_error("kastor: an entity without the constructors E(const std::string& "
                             "key) and E(const snapshot_type&) needs a factory "
                             "(entity<E>(name).make(...))");
  }

  // The factory of E's own constructors; empty when E lacks one of them.
  static factory constructed() {
    if constexpr (std::is_constructible_v<E, const std::string&>
                  && std::is_constructible_v<E, const snapshot_type&>)
      return [](const std::string& key, const snapshot_type* restored) {
        return restored ? E{*restored} : E{key};
      };
    else
      return {};
  }

  template <class T>
  outputs handle(const record_meta& meta, const T& msg, int64_t now_ms) {
    apply_changes();
    auto key = messages().of<T>().key(&msg);
    // A fired timer is taken for good: if its turn fails, the same record is
    // tried again (take() knows it) and the timer does not fire anew.
    if (!meta.timer.empty()
        && !timers_.take(key, meta.partition, meta.timer,
                         meta.topic + "/" + std::to_string(meta.partition) + "@"
                           + std::to_string(meta.offset)))
      return {};  // a copy of a timer that fired and was handled, replaced or cancelled
    auto saved_timers = timers_.save(key);
    activation* turn = nullptr;
    outputs out;
    bool again = false;  // an input this key remembers answering (recent.hpp)
    try {
      turn = &activate(key, meta.partition, now_ms);
      if (const auto* answered = recent_.find(key, meta.message_id)) {
        out = *answered;
        again = true;
      } else {
        out = take_timers(key, turn->partition, turn->entity.handle(meta, msg, now_ms), now_ms,
                          meta.traceparent);
        if (recent_.per_key() > 0 && !meta.message_id.empty())
          for (size_t i = 0; i < out.size(); ++i)
            out[i] = out[i].with_note(std::string{message_id_note},
                                      derived_message_id(meta.message_id, i));
      }
    } catch (...) {
      roll_back(key);
      timers_.put_back(key, std::move(saved_timers));
      throw;
    }
    auto& a = *turn;
    a.last_used_ms = now_ms;
    message next{a.entity.snapshot()};
    auto timers = timers_.encode(key);
    auto written = written_form(next, timers);
    // A first delivery that changed nothing writes no snapshot; a record
    // handed out again always does (its first turn's write may be lost).
    bool unchanged = !a.last_written.empty() && written == a.last_written
                     && meta.attempt <= 1 && meta.timer.empty();
    // What it answered is remembered with the state it goes with (a turn
    // that changed and answered nothing is not: a copy does nothing again).
    if (!again && recent_.per_key() > 0 && !meta.message_id.empty()
        && (!out.empty() || !unchanged)) {
      recent_.remember(key, a.partition, meta.message_id, out);
      unchanged = false;
    }
    a.last = next;
    if (!unchanged) {
      a.last_written = std::move(written);
      auto snapshot = next.with_epoch(epoch_of(a.partition));
      if (!timers.empty())
        snapshot = snapshot.with_note(std::string{timers_header}, std::move(timers));
      if (auto recent = recent_.encode(key); !recent.empty())
        snapshot = snapshot.with_note(std::string{recent_header}, std::move(recent));
      out.push_back(std::move(snapshot));
    }
    passivate(now_ms);
    return out;
  }

  // Remembers each key's last `n` inputs and what it answered them
  // (recent.hpp); 0, the default: nothing.
  void remember(size_t n) { recent_ = recent_turns{n}; }
  size_t remembers() const { return recent_.per_key(); }

  // Timers due at now_ms (at most `max`), as the tagged messages to publish
  // (timers.hpp); the role's actor asks every tick.
  std::vector<message> due_timers(int64_t now_ms, size_t max) {
    apply_changes();
    return timers_.due(now_ms, max);
  }
  // The declared types the entity's role consumes: a timer's message must be
  // one of them.
  void accepts(std::vector<const message_type*> types) { accepts_ = std::move(types); }
  const timer_book& timers() const {
    apply_changes();
    return timers_;
  }

  void adopt(int32_t partition, const std::vector<message>& snapshots, int64_t epoch) override {
    std::lock_guard<std::mutex> guard{mtx_};
    changes_.push_back({true, {partition}, snapshots, epoch});
  }
  void release(const std::vector<int32_t>& partitions) override {
    std::lock_guard<std::mutex> guard{mtx_};
    changes_.push_back({false, partitions, {}, 0});
  }
  message lookup(const std::string& key) const override {
    auto s = find(key);
    return s ? message{*s} : message{};
  }

  // The snapshot of `key`, active or passivated; nullopt if not held here.
  std::optional<snapshot_type> find(const std::string& key) const {
    apply_changes();
    if (auto it = active_.find(key); it != active_.end())
      return it->second.entity.snapshot();
    if (auto it = dormant_.find(key); it != dormant_.end())
      return it->second.snapshot;
    return std::nullopt;
  }
  size_t active() const {
    apply_changes();
    return active_.size();
  }
  size_t passivated() const {
    apply_changes();
    return dormant_.size();
  }

private:
  struct activation {
    E entity;
    int32_t partition;
    int64_t last_used_ms;
    message last;  // its last snapshot (written, or restored from); empty: none yet
    std::string last_written;  // what the changelog holds of it (value and timers); empty: nothing
  };
  struct stored {
    snapshot_type snapshot;
    int32_t partition;
    // The changelog holds this snapshot as its key's last word (restored
    // from it, or passivated after it was written): a first delivery that
    // leaves it so need not write it again. False: written at the next turn.
    bool as_written = false;
  };
  struct change {
    bool adopt;
    std::vector<int32_t> partitions;
    std::vector<message> snapshots;
    int64_t epoch;
  };

  activation& activate(const std::string& key, int32_t partition, int64_t now_ms) {
    if (auto it = active_.find(key); it != active_.end())
      return it->second;
    if (auto it = dormant_.find(key); it != dormant_.end()) {
      // Made before the dormant entry goes: a factory that throws loses nothing.
      message last{it->second.snapshot};
      E made = make_(key, &last.get<snapshot_type>());
      const auto partition = it->second.partition;
      // What the changelog holds, as the entity tells it: a first delivery
      // that leaves it so writes nothing.
      auto written = it->second.as_written
                       ? written_form(message{made.snapshot()}, timers_.encode(key))
                       : std::string{};
      dormant_.erase(it);
      return active_.try_emplace(key, activation{std::move(made), partition, now_ms,
                                                 std::move(last), std::move(written)})
        .first->second;
    }
    return active_.try_emplace(key, activation{make_(key, nullptr), partition, now_ms, {}, {}})
      .first->second;
  }

  // The handler's timer commands applied to its key's timers; the rest of
  // its outputs. A command that cannot be taken rejects the record.
  // A timer's record carries the trace of the record whose turn set it.
  outputs take_timers(const std::string& key, int32_t partition, outputs out, int64_t now_ms,
                      const std::string& traceparent) {
    if (std::none_of(out.begin(), out.end(),
                     [](const message& m) { return m.is<timer_command>(); }))
      return out;
    outputs rest;
    for (auto& m : out) {
      const auto* c = m.get_if<timer_command>();
      if (c == nullptr) {
        rest.push_back(std::move(m));
        continue;
      }
      if (!c->cancel && c->msg && !accepts_.empty()
          && std::find(accepts_.begin(), accepts_.end(), c->msg.type()) == accepts_.end())
        reject("timer '" + c->name + "': this entity does not consume " + c->msg.type()->name);
      auto command = *c;
      if (!command.cancel && command.msg)
        if (auto cause = parse_traceparent(traceparent))
          command.msg = command.msg.with_note(std::string{traceparent_header},
                                              child_of(*cause).header());
      if (auto why = timers_.apply(key, partition, command, now_ms))
        reject(*why);
    }
    return rest;
  }

  // A handler threw: whatever it changed goes; the key is back at its last
  // snapshot (dormant, activated again by its next record), or unknown here
  // when it never had one.
  void roll_back(const std::string& key) {
    auto it = active_.find(key);
    if (it == active_.end())
      return;
    if (it->second.last)  // (its timers may not be the snapshot's: written again)
      dormant_.insert_or_assign(key, stored{it->second.last.template get<snapshot_type>(),
                                            it->second.partition, false});
    active_.erase(it);
  }

  void passivate(int64_t now_ms) {
    if (now_ms - last_scan_ms_ < passivate_after_ms_ / 2 + 1)
      return;
    last_scan_ms_ = now_ms;
    for (auto it = active_.begin(); it != active_.end();)
      if (now_ms - it->second.last_used_ms >= passivate_after_ms_
          && may_passivate(it->second.entity)) {
        dormant_.insert_or_assign(it->first, stored{it->second.entity.snapshot(),
                                                    it->second.partition,
                                                    !it->second.last_written.empty()});
        it = active_.erase(it);
      } else {
        ++it;
      }
  }

  // What tells one written snapshot from another: its value, the headers
  // its codec writes (a field the JSON has no place for) and its timers.
  static std::string written_form(const message& m, const std::string& timers) {
    header_list extra;
    auto out = m.encode(extra);
    for (const auto& h : extra)
      out.append("\n").append(h.name).append("=").append(h.value);
    return out.append("\n\n").append(timers);
  }

  // Whether `restored` replaces what is held of `key` (E::supersedes).
  bool replaces_held(const std::string& key, const snapshot_type& restored) const {
    if constexpr (requires(const snapshot_type& a) {
                    { E::supersedes(a, a) } -> std::convertible_to<bool>;
                  }) {
      if (auto it = active_.find(key); it != active_.end())
        return E::supersedes(restored, it->second.entity.snapshot());
      if (auto it = dormant_.find(key); it != dormant_.end())
        return E::supersedes(restored, it->second.snapshot);
    }
    return true;
  }

  static bool may_passivate(const E& e) {
    if constexpr (requires { { e.may_passivate() } -> std::convertible_to<bool>; })
      return e.may_passivate();
    else
      return true;
  }

  int64_t epoch_of(int32_t partition) const {
    auto it = epochs_.find(partition);
    return it == epochs_.end() ? 0 : it->second;
  }

  void apply_changes() const {
    std::vector<change> changes;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      changes.swap(changes_);
    }
    for (auto& c : changes) {
      auto mine = [&](int32_t p) {
        return std::find(c.partitions.begin(), c.partitions.end(), p) != c.partitions.end();
      };
      if (!c.adopt) {
        std::erase_if(active_, [&](const auto& kv) { return mine(kv.second.partition); });
        std::erase_if(dormant_, [&](const auto& kv) { return mine(kv.second.partition); });
        timers_.release(c.partitions);
        recent_.release(c.partitions);
        for (auto p : c.partitions)
          epochs_.erase(p);
        continue;
      }
      // What the changelog holds (all of it, or what was written since this
      // node read it last) replaces what is held; in offset order, the last
      // snapshot of a key is its state.
      const auto p = c.partitions.front();
      epochs_[p] = c.epoch;
      for (const auto& m : c.snapshots)
        if (const auto* s = m.template get_if<snapshot_type>()) {
          auto key = m.key();
          if (!replaces_held(key, *s)) {
            // What is held stays, with its timers and memory, now p's; the
            // changelog's last word for the key is the snapshot it kept
            // out, so the key's next turn writes what is held again.
            if (auto it = active_.find(key); it != active_.end()) {
              it->second.partition = p;
              it->second.last_written.clear();
            } else if (auto d = dormant_.find(key); d != dormant_.end()) {
              d->second.partition = p;
              d->second.as_written = false;
            }
            if (auto t = timers_.save(key)) {
              t->partition = p;
              timers_.put_back(key, std::move(t));
            }
            if (auto r = recent_.save(key)) {
              r->partition = p;
              recent_.put_back(key, std::move(r));
            }
            continue;
          }
          active_.erase(key);
          const auto* timers = find_header(m.notes(), timers_header);
          timers_.restore(key, p, timers ? std::string_view{timers->value} : std::string_view{});
          const auto* recent = find_header(m.notes(), recent_header);
          recent_.restore(key, p, recent ? std::string_view{recent->value} : std::string_view{});
          dormant_.insert_or_assign(std::move(key), stored{*s, p, true});
        }
    }
  }

  int64_t passivate_after_ms_;
  factory make_;
  int64_t last_scan_ms_ = 0;
  mutable std::unordered_map<std::string, activation> active_;
  mutable std::unordered_map<std::string, stored> dormant_;
  mutable std::unordered_map<int32_t, int64_t> epochs_;  // partition -> its snapshots' epoch
  mutable timer_book timers_;  // every held key's timers (active or passivated)
  mutable recent_turns recent_;  // every held key's last answers (remember())
  std::vector<const message_type*> accepts_;
  mutable std::mutex mtx_;
  mutable std::vector<change> changes_;
};

}  // namespace kastor::runtime
