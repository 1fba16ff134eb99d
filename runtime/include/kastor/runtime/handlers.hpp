// What a role's state class handles, and that class's handlers bound to one
// state object: what its actor runs (role_actor.hpp), without CAF.
//
// A role's logic is a plain class with, for each message type T it consumes,
//   runtime::outputs handle(const record_meta&, const T&, int64_t now_ms);
// (or one handle(const record_meta&, const message&, int64_t) that takes
// every type). handlers<State> lists them (consumes<State, T...>());
// role_program is that list bound to the role's state, type-erased, so the
// actor that runs it is compiled once, in the runtime library.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kastor/runtime/message.hpp"

namespace kastor::runtime {

// What a role's state class handles: one entry per declared message type.
template <class State>
class handlers {
public:
  using fn = std::function<outputs(State&, const record_meta&, const message&, int64_t)>;

  // T must be declared (runtime::declare), State must have
  // handle(const record_meta&, const T&, int64_t).
  template <class T>
  handlers& on() {
    entries_.push_back({&messages().of<T>(), [](State& s, const record_meta& m,
                                                 const message& x, int64_t now) {
                          return outputs(s.handle(m, x.get<T>(), now));
                        }});
    return *this;
  }
  // Every type (a copy stage): State has handle(const record_meta&, const message&, int64_t).
  handlers& any() {
    any_ = [](State& s, const record_meta& m, const message& x, int64_t now) {
      return outputs(s.handle(m, x, now));
    };
    return *this;
  }

  // The handler of `type`; null when the role takes no such message.
  const fn* find(const message_type* type) const {
    for (const auto& e : entries_)
      if (e.type == type)
        return &e.handle;
    return any_ ? &any_ : nullptr;
  }
  bool takes_any() const { return static_cast<bool>(any_); }
  // The declared types it takes, in declaration order.
  std::vector<const message_type*> types() const {
    std::vector<const message_type*> out;
    for (const auto& e : entries_)
      out.push_back(e.type);
    return out;
  }
  // The topics of those types, once each.
  std::vector<std::string> topics() const {
    std::vector<std::string> out;
    for (const auto& e : entries_)
      if (std::find(out.begin(), out.end(), e.type->topic) == out.end())
        out.push_back(e.type->topic);
    return out;
  }

private:
  struct entry {
    const message_type* type;
    fn handle;
  };
  std::vector<entry> entries_;
  fn any_;
};

// handlers<State> taking T... (each by State::handle).
template <class State, class... Ts>
handlers<State> consumes() {
  handlers<State> h;
  (h.template on<Ts>(), ...);
  return h;
}

// A role's handlers bound to its state object (shared by every incarnation
// of its actor), and an entity's timers.
struct role_program {
  using fn = std::function<outputs(const record_meta&, const message&, int64_t)>;
  std::vector<std::pair<const message_type*, fn>> on;  // per declared type
  fn any;                                               // every type (a copy stage)
  // An entity's due timers at `now_ms`, at most `max` (entity_book::due_timers);
  // empty for a role that has none.
  std::function<outputs(int64_t now_ms, size_t max)> due_timers;

  // The handler of `type`; null when the role takes no such message.
  const fn* find(const message_type* type) const {
    for (const auto& [t, f] : on)
      if (t == type)
        return &f;
    return any ? &any : nullptr;
  }

  template <class State>
  static std::shared_ptr<role_program> of(std::shared_ptr<State> state,
                                          const handlers<State>& table) {
    auto p = std::make_shared<role_program>();
    for (const auto* t : table.types())
      p->on.emplace_back(t, [state, h = *table.find(t)](const record_meta& m, const message& x,
                                                        int64_t now) { return h(*state, m, x, now); });
    if (table.takes_any())
      p->any = [state, h = *table.find(nullptr)](const record_meta& m, const message& x,
                                                 int64_t now) { return h(*state, m, x, now); };
    if constexpr (requires(State& s) { s.due_timers(int64_t{0}, size_t{0}); })
      p->due_timers = [state](int64_t now, size_t max) { return state->due_timers(now, max); };
    return p;
  }
};

}  // namespace kastor::runtime
