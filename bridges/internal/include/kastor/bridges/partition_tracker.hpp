// The records of one assigned partition between being taken from Kafka and
// being finished, with no broker in sight: records in, decisions out. A
// mailbox keeps one per partition and does what it says (deliver to the
// actor, dead-letter, commit).
//
// - Prefix commits: commit_position() is the first unfinished offset (or one
//   past the last record taken), never beyond it, whatever order records
//   finish in.
// - Per-key quarantine: when the actor's handler failed on a record and the
//   actor goes on, fail() parks its key; when the actor died, rebind() parks the key of every
//   record it failed on (the key's first failing record is its head; later
//   records of the key wait behind it, every other key flows), says which
//   records go to the new incarnation again, and which keys reached
//   max_attempts (their head and the records behind it go to the DLQ, in
//   order: dead_letter_key()). due() hands out a parked head again once its
//   backoff passed; finishing a head releases its key and hands out the
//   records that waited.
// A record without a Kafka key is parked under itself ("@<offset>").
//
// `Extra` is what the mailbox keeps beside each record (its raw bytes, its
// dead-letter copy, its transaction flags); the tracker never looks inside.
// Thread-safety: none; the mailbox's poll thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kastor/runtime/message.hpp"

namespace kastor::bridges {

// The key a record is parked under: its Kafka key, or (without one) itself.
inline std::string park_key(const runtime::record_meta& m) {
  return m.key.empty() ? "@" + std::to_string(m.offset) : m.key;
}

template <class Extra>
class partition_tracker {
public:
  using clock = std::chrono::steady_clock;

  struct record {
    runtime::record_meta meta;
    std::optional<runtime::message> message;  // empty: on its way to the DLQ, never handed out again
    int failures = 0;  // times its handler failed on it or its actor died (as last counted)
    Extra extra{};
  };

  // What rebind() decided. `redeliver` never holds a record of a key in
  // `dead_letter` (those are at or behind their parked head), so
  // dead-lettering those keys first leaves it as it is.
  struct rebind_plan {
    std::vector<std::string> dead_letter;  // keys past max_attempts (dead_letter_key() each)
    std::vector<record*> redeliver;        // to the new incarnation, in offset order
  };

  // A record taken: in flight until finish(). Taking an offset again
  // returns the record already there.
  record& take(int64_t offset) {
    passed(offset);
    return in_flight_[offset];
  }
  // A record taken and done with at once (e.g. a request answered).
  void passed(int64_t offset) { next_offset_ = std::max(next_offset_, offset + 1); }

  record* find(int64_t offset) {
    auto it = in_flight_.find(offset);
    return it == in_flight_.end() ? nullptr : &it->second;
  }

  // Whether `r` may go to the actor now: not being dead-lettered, and its
  // key not in quarantine.
  bool deliverable(const record& r) const {
    return r.message && (parked_.empty() || parked_.count(park_key(r.meta)) == 0);
  }

  // `offset` finished (false when it was not in flight). When it was a
  // parked key's head, the key is released and its waiting records, in
  // order, are appended to `released`.
  bool finish(int64_t offset, std::vector<record*>* released = nullptr) {
    auto it = in_flight_.find(offset);
    if (it == in_flight_.end())
      return false;
    if (parked_.empty()) {  // the common case: no key in quarantine
      in_flight_.erase(it);
      return true;
    }
    auto key = park_key(it->second.meta);
    in_flight_.erase(it);
    auto pk = parked_.find(key);
    if (pk == parked_.end() || pk->second.head != offset)
      return true;
    parked_.erase(pk);
    if (released)
      for (auto& [o, rec] : in_flight_)
        if (o > offset && rec.message && park_key(rec.meta) == key)
          released->push_back(&rec);
    return true;
  }

  // Where the committed position may move to: the first unfinished record,
  // or one past the last one taken; nullopt when that is not past what was
  // returned last (nothing new to commit).
  std::optional<int64_t> commit_position() {
    if (next_offset_ < 0)
      return std::nullopt;
    int64_t at = in_flight_.empty() ? next_offset_ : in_flight_.begin()->first;
    if (at <= stored_)
      return std::nullopt;
    stored_ = at;
    return at;
  }

  // The actor was replaced. `failures_of(offset)`: how often actors died
  // handling that record so far. A record that failed parks its key (or,
  // when its key is parked already, leads it when it is earlier than the
  // head, or waits behind); a head that failed again waits retry_delay(n)
  // more; a key whose head failed max_attempts times is to be dead-lettered.
  // Every other live record, not behind a parked head, goes to the new
  // incarnation again. `count_failures` false (a first bind, or no failure
  // anywhere): nothing is parked.
  rebind_plan rebind(const std::function<int(int64_t)>& failures_of, int max_attempts,
                     clock::time_point now,
                     const std::function<std::chrono::milliseconds(int)>& retry_delay,
                     bool count_failures,
                     std::vector<std::pair<std::string, int64_t>>* newly_parked = nullptr) {
    rebind_plan plan;
    if (count_failures) {
      for (auto& [offset, rec] : in_flight_) {
        if (!rec.message)
          continue;
        int before = rec.failures;
        rec.failures = failures_of(offset);
        if (rec.failures == 0)
          continue;
        auto key = park_key(rec.meta);
        auto [pk, fresh] = parked_.try_emplace(key);
        if (!fresh && offset > pk->second.head)
          continue;  // waits behind the key's first failing record
        if (!fresh && offset < pk->second.head) {
          pk->second.head = offset;  // an earlier record of the key failed: it leads now
          pk->second.head_out = false;
        }
        if (fresh) {
          pk->second.head = offset;
          if (newly_parked)
            newly_parked->emplace_back(key, offset);
        }
        if (rec.failures >= max_attempts) {
          plan.dead_letter.push_back(key);
          continue;
        }
        if (fresh || rec.failures > before || pk->second.head_out) {
          pk->second.head_out = false;  // lost with the dead incarnation: out again
          pk->second.retry_at = rec.failures > before ? now + retry_delay(rec.failures) : now;
        }
      }
    }
    for (auto& [offset, rec] : in_flight_) {
      if (!rec.message)
        continue;
      if (!parked_.empty()) {
        auto pk = parked_.find(park_key(rec.meta));
        if (pk != parked_.end() && offset >= pk->second.head)
          continue;  // in quarantine: due() hands out the head when its time comes
        // (a record of the key before the head goes out again: it is ahead of it)
      }
      plan.redeliver.push_back(&rec);
    }
    return plan;
  }

  // The actor's handler failed on `offset` and the actor goes on (no
  // rebind): its failure count is now `failures`. Its key is parked with it
  // as the head (or, when the key is parked already behind a later head, it
  // leads now), due() hands it out again after retry_delay(failures), and
  // the key's later records wait. dead_letter: the key reached max_attempts
  // (dead_letter_key() it); ignored: not in flight any more.
  enum class failure_plan { retry, dead_letter, ignored };
  failure_plan fail(int64_t offset, int failures, int max_attempts, clock::time_point now,
                    const std::function<std::chrono::milliseconds(int)>& retry_delay,
                    bool* newly_parked = nullptr) {
    auto it = in_flight_.find(offset);
    if (it == in_flight_.end() || !it->second.message)
      return failure_plan::ignored;
    auto& rec = it->second;
    rec.failures = failures;
    auto [pk, fresh] = parked_.try_emplace(park_key(rec.meta));
    if (newly_parked)
      *newly_parked = fresh;
    if (fresh || offset <= pk->second.head)
      pk->second.head = offset;
    else
      return failure_plan::retry;  // behind the key's head: it goes out after that one
    pk->second.head_out = false;
    if (failures >= max_attempts)
      return failure_plan::dead_letter;
    pk->second.retry_at = now + retry_delay(failures);
    return failure_plan::retry;
  }

  // Parked heads whose retry time came, marked as out (attempt + 1): hand
  // them to the actor.
  std::vector<record*> due(clock::time_point now) {
    std::vector<record*> out;
    for (auto& [key, pk] : parked_) {
      if (pk.head_out || now < pk.retry_at)
        continue;
      auto r = in_flight_.find(pk.head);
      if (r == in_flight_.end() || !r->second.message)
        continue;
      pk.head_out = true;
      ++r->second.meta.attempt;
      out.push_back(&r->second);
    }
    return out;
  }

  // The parked key gives up: its head and every later live record of it, in
  // offset order, to dead-letter (the head first); the key is released.
  // Empty when the key is not parked (released already).
  std::vector<runtime::record_meta> dead_letter_key(const std::string& key) {
    std::vector<runtime::record_meta> out;
    auto pk = parked_.find(key);
    if (pk == parked_.end())
      return out;
    auto head = pk->second.head;
    parked_.erase(pk);
    for (auto& [offset, rec] : in_flight_)
      if (offset >= head && rec.message && park_key(rec.meta) == key)
        out.push_back(rec.meta);
    return out;
  }

  // Heads handed out to an incarnation that is gone (a stall): due() hands
  // them out again.
  void heads_lost() {
    for (auto& [key, pk] : parked_)
      pk.head_out = false;
  }

  // The committed position as last moved (commit_position(), or set_stored()
  // by a mode that commits on its own, e.g. in a transaction).
  int64_t stored_at() const { return stored_; }
  void set_stored(int64_t at) { stored_ = at; }

  bool is_parked(const std::string& key) const { return parked_.count(key) > 0; }
  size_t parked() const { return parked_.size(); }
  size_t size() const { return in_flight_.size(); }
  int64_t next_offset() const { return next_offset_; }
  // Every record in flight, by offset (the exactly-once mode walks them).
  std::map<int64_t, record>& records() { return in_flight_; }
  const std::map<int64_t, record>& records() const { return in_flight_; }

private:
  struct parked_key {
    int64_t head = -1;
    clock::time_point retry_at{};
    bool head_out = false;  // the retry was handed out and has not come back
  };

  std::map<int64_t, record> in_flight_;
  std::map<std::string, parked_key> parked_;
  int64_t next_offset_ = -1;  // one past the highest offset taken
  int64_t stored_ = -1;       // the last commit_position() returned
};

}  // namespace kastor::bridges
