// A counter entity written as if every record came once (no "answered"
// memory of its own), for the tests of entity<E>::remember: add{counter, n}
// answers added{counter, total}; n 0 changes and answers nothing, a negative
// n throws. `handled` counts its handler's runs (all counters).
#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <boost/describe/class.hpp>

#include "kastor/runtime/message.hpp"

namespace counter_entity {

struct add {
  std::string counter;
  int64_t n = 0;
};
BOOST_DESCRIBE_STRUCT(add, (), (counter, n))

struct added {
  std::string counter;
  int64_t total = 0;
};
BOOST_DESCRIBE_STRUCT(added, (), (counter, total))

struct counter_state {
  std::string counter;
  int64_t total = 0;
};
BOOST_DESCRIBE_STRUCT(counter_state, (), (counter, total))

// Topics remember-adds, remember-added and remember-state (compacted).
inline void declare() {
  using kastor::runtime::declare;
  declare<add>({.name = "test.remember.add", .topic = "remember-adds", .key = &add::counter});
  declare<added>(
    {.name = "test.remember.added", .topic = "remember-added", .key = &added::counter});
  declare<counter_state>({.name = "test.remember.state", .topic = "remember-state",
                          .key = &counter_state::counter, .compacted = true,
                          .follows_cause = true});
}

inline std::atomic<int> handled{0};

class counter {
public:
  using snapshot_type = counter_state;
  explicit counter(const std::string& id) { s_.counter = id; }
  explicit counter(const counter_state& restored) : s_(restored) {}
  counter_state snapshot() const { return s_; }
  kastor::runtime::outputs handle(const kastor::runtime::record_meta&, const add& a, int64_t) {
    ++handled;
    if (a.n < 0)
      throw std::runtime_error("negative");
    s_.total += a.n;
    if (a.n == 0)
      return {};  // nothing changed, nothing answered
    return {added{s_.counter, s_.total}};
  }

private:
  counter_state s_;
};

}  // namespace counter_entity
