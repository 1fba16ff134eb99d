// An entity's memory of its last answers: the runtime's idempotency for
// at-least-once delivery (entity<E>(name).remember(n)).
//
// At-least-once, a record is handed out again after a crash or a
// rebalance, and a turn's outputs and snapshot are not written atomically:
// the snapshot may be durable while an output is lost, or an output written
// twice. An entity that remembers its last N inputs by message id answers
// one of them handed out again with exactly the outputs it gave the first
// time, without running its handler; and every output of a remembering
// entity carries an id derived from its cause ("<input id>/<n>"), so the
// same answer sent twice is the same message twice, and its receiver, if it
// remembers too, answers it once. What is remembered is written in the
// entity's snapshot (header kastor-recent) with the state it goes with, and
// restored, fenced and released with it.
//
// The window is N inputs per key: a copy older than that is handled as new
// (size N for how far back a redelivery reaches: the records of one
// uncommitted batch per key, typically a few). A turn that changed nothing
// and answered nothing is not remembered (a copy of it does nothing again).
//
// Thread-safety: none; the entity's book owns it (one actor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kastor/runtime/message.hpp"

namespace kastor::runtime {

class recent_turns {
public:
  struct turn {
    std::string input;             // the input's message id
    std::vector<message> outputs;  // what the entity answered, ids given
  };
  struct key_turns {
    int32_t partition = -1;
    std::deque<turn> turns;  // oldest first
  };

  // `per_key` 0: nothing is remembered.
  explicit recent_turns(size_t per_key = 0) : per_key_(per_key) {}
  size_t per_key() const { return per_key_; }

  // The outputs `key` gave the input `id`, when it is among its last N.
  const std::vector<message>* find(const std::string& key, const std::string& id) const;
  // `key` answered `id` with `outputs`: remembered (its oldest past N goes).
  void remember(const std::string& key, int32_t partition, std::string id,
                std::vector<message> outputs);

  // The key's memory as the kastor-recent header holds it; empty: none.
  std::string encode(const std::string& key) const;
  // Replaces the key's memory by its snapshot's header (`text` empty: none).
  // An unreadable header is logged and returned; the key then remembers
  // nothing (its copies are handled as new, as without memory).
  std::optional<std::string> restore(const std::string& key, int32_t partition,
                                     std::string_view text);

  // The key's memory, to put back when its turn is undone.
  std::optional<key_turns> save(const std::string& key) const;
  void put_back(const std::string& key, std::optional<key_turns> saved);
  // Every key of these partitions is forgotten.
  void release(const std::vector<int32_t>& partitions);

  size_t keys() const { return keys_.size(); }

private:
  size_t per_key_;
  std::unordered_map<std::string, key_turns> keys_;
};

// The id of a remembering entity's n-th output (from 0) for input `id`.
std::string derived_message_id(const std::string& input_id, size_t n);

}  // namespace kastor::runtime
