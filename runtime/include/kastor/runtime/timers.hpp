// Durable timers of keyed entities: time is a message.
//
// A handler of an entity (entity<E>, entity.hpp) schedules a message to its
// own key by returning a timer among its outputs, and cancels one the same
// way:
//
//   outputs seat::handle(const record_meta&, const hold& h, int64_t now) {
//     ...
//     return {seat_held{...},
//             timer_after("expiry", std::chrono::minutes{15}, hold_expired{h.seat})};
//   }
//   outputs seat::handle(const record_meta&, const hold_expired& e, int64_t) {...}
//   ... return {cancel_timer("expiry")};   // e.g. when the hold is paid
//
// A timer has a name per key: scheduling the name again replaces it. Its
// message must be of a declared type the entity consumes, addressed to the
// entity's own key (else the record is rejected to the DLQ and nothing of the
// turn is kept).
//
// What the runtime guarantees:
// - Timers are stored with their entity: in a header of its snapshot record
//   (kastor-timers) in the changelog, written in the same turn (and, with
//   exactly-once, the same transaction) as the state that scheduled them,
//   restored with it on every assignment, fenced by its epoch, dropped with
//   its partition. They survive crashes, restarts and partition moves.
// - A due timer fires by publishing its message to the entity's input topic
//   with a tag (kastor-timer: "<seq>:<name>"). The entity handles a tagged
//   record only while that very timer is still scheduled, and the turn that
//   handles it removes it; a second copy (fired again after a move, or after
//   no answer within a while) is dropped. So a timer's message is handled at
//   least once at-least-once, and exactly once with exactly-once (the
//   removal commits with the handler's outputs).
// - Late, never lost: a timer due while its partition moves fires on its new
//   owner; timers missed while the cluster was down fire once each when it
//   is back, at most `timers_per_tick` per tick (role_actor.hpp: no flood).
// - A fired timer that does not come back within 30 s (its record stuck
//   behind lag or a parked key, or lost) fires again; the copies are dropped
//   by the entity, but other readers of the message's topic see them.
//
// timer_book is the bookkeeping, without Kafka: per key a table of timers,
// an index by due time, and the tags of fired timers.
// Thread-safety: none; the entity's book owns it (one actor).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "kastor/runtime/message.hpp"

namespace kastor::runtime {

// A timer command among a handler's outputs (not a message of any topic).
struct timer_command {
  bool cancel = false;
  std::string name;
  int64_t due_ms = -1;    // absolute (epoch ms), or
  int64_t after_ms = -1;  // relative to the turn's now
  message msg;
  static const message_type& internal_type();
};

// Schedules `msg` to this entity at `due_ms` (epoch ms; a past time fires at
// once).
message timer_at(std::string name, int64_t due_ms, message msg);
// Schedules `msg` to this entity `delay` after the turn's now.
message timer_after(std::string name, std::chrono::milliseconds delay, message msg);
// Cancels the timer `name` of this entity (none: nothing happens).
message cancel_timer(std::string name);

class timer_book {
public:
  struct timer {
    int64_t due_ms = 0;
    uint64_t seq = 0;
    message msg;
    int64_t fired_at_ms = 0;  // 0: not fired yet
  };
  struct key_timers {
    int32_t partition = -1;
    uint64_t next_seq = 1;  // the next timer's; at least the clock's ms * 1000
    std::map<std::string, timer> timers;  // by name
  };

  // A fired timer that has not come back within this long fires again (a
  // copy the entity drops if the first one was handled meanwhile).
  explicit timer_book(std::chrono::milliseconds refire_after = std::chrono::seconds{30})
      : refire_after_ms_(refire_after.count()) {}

  // The key's timers as the kastor-timers header holds them; empty when it
  // has none.
  std::string encode(const std::string& key) const;
  // Replaces the key's timers by those of its snapshot's header (`text`
  // empty: none). An error (the header unreadable, a type not declared) is
  // logged and returned, and the key keeps no timers.
  std::optional<std::string> restore(const std::string& key, int32_t partition,
                                     std::string_view text);

  // Applies a handler's command for `key`; now_ms resolves `after_ms`. An
  // error says why the command cannot be taken (nothing changed then).
  std::optional<std::string> apply(const std::string& key, int32_t partition,
                                   const timer_command& c, int64_t now_ms);

  // Whether a record tagged `tag` (record_meta::timer) for `key` is to be
  // handled: its timer is still scheduled (it is removed now), or it is the
  // same record handed out again (`where`: topic/partition@offset). False: a
  // copy of a timer that fired and was handled, replaced or cancelled.
  bool take(const std::string& key, int32_t partition, const std::string& tag,
            const std::string& where);

  // Timers due at now_ms, at most `max`, each as the message to publish
  // (tagged); marked fired. A fired timer not back after refire_after fires
  // again.
  std::vector<message> due(int64_t now_ms, size_t max);

  // The key's timers, to put back when its turn is undone.
  std::optional<key_timers> save(const std::string& key) const;
  void put_back(const std::string& key, std::optional<key_timers> saved);

  // Every timer of these partitions goes.
  void release(const std::vector<int32_t>& partitions);

  size_t size() const { return index_.size(); }
  bool has(const std::string& key, const std::string& name) const;
  std::optional<int64_t> next_due() const;

private:
  std::optional<std::string> read(const std::string& key, int32_t partition,
                                  std::string_view text);
  void unindex(const std::string& key);
  void index(const std::string& key);
  void forget_if_empty(std::unordered_map<std::string, key_timers>::iterator it);

  int64_t refire_after_ms_;
  std::unordered_map<std::string, key_timers> keys_;
  // (due, key, name): the due order across keys; re-armed when fired.
  std::set<std::tuple<int64_t, std::string, std::string>> index_;
  // key -> the fired timers it took last (a redelivery of one of those
  // records is handled again), the newest last, at most handled_per_key.
  struct handled {
    int32_t partition = -1;
    std::vector<std::pair<std::string, std::string>> records;  // tag, where
  };
  static constexpr size_t handled_per_key = 16;
  std::unordered_map<std::string, handled> handled_;
};

}  // namespace kastor::runtime
