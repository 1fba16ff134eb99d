// The thin CAF adapter around a role's state class.
//
// A role's logic is a plain class with, for each message type T it consumes,
//   runtime::outputs handle(const record_meta&, const T&, int64_t now_ms);
// (or one handle(const record_meta&, const message&, int64_t) that takes
// every type). Which types a role takes is declared with handlers<State>
// (consumes<State, T...>()). The adapter receives (record_meta, message)
// from the inbound mailbox, calls the type's handle(), publishes what it
// returns, and tells the mailbox the record is
// finished only after the broker acknowledged every published message. A
// publish that fails makes the actor exit with the error: its supervisor
// restarts it and the mailbox delivers the unfinished records again.
// The state object is owned by the role, not the actor, so it survives
// restarts; it is only ever touched by the current incarnation.
//
// A handler that throws runtime::rejection (runtime::reject) has rejected the
// record: it is dead-lettered at once, and the actor goes on. So is a record
// of a type the role has no handler for (never silently acknowledged). Any
// other exception is a failure of that record alone (completion_sink::
// failed): its key is retried after a backoff and dead-lettered after the
// last attempt, the actor goes on, and nothing counts against the role's
// restart intensity (a poison key costs one key). Only where the sink
// cannot take it does the actor die for it.
//
// Fault injection (role_io::chaos, from `--chaos`): before handle() the actor
// may hang (it stops answering anything, until the mailbox's turn deadline
// kills it) or crash; after handle() returned (its side effect is done) and
// before its outputs are published, it may crash. A crash is an abnormal exit
// (runtime_errc::crashed) that its supervisor handles like any other.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "kastor/runtime/atoms.hpp"
#include "kastor/runtime/chaos.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/message.hpp"
#include "kastor/runtime/ports.hpp"
#include "kastor/runtime/reject.hpp"

namespace kastor::runtime {

struct role_io {
  std::shared_ptr<publisher> out;
  std::shared_ptr<completion_sink> acks;
  std::function<int64_t()> now_ms;          // injectable clock
  std::chrono::milliseconds handle_delay{0};  // simulated service latency
  std::shared_ptr<chaos_injector> chaos;      // null: no fault injection
  // With handle_delay: at most this many records in their delay at once (a
  // provider client with that many calls in flight); later ones wait their
  // turn in order. 0: no limit (every record's delay overlaps the others').
  int max_concurrent = 0;
  // Where an entity's due timers are published (timers.hpp): the node's
  // producer, never a record's transaction (a timer fires outside any
  // record's turn). Null: `out`.
  std::shared_ptr<publisher> timers_out = nullptr;
};

// How often a role's actor looks for due timers.
inline constexpr std::chrono::milliseconds timer_tick_interval{100};
// At most this many timers fire per tick (the rest on the next ones).
inline constexpr size_t timers_per_tick = 1000;

namespace detail {
// A timer publish that failed (they fire again later).
void report_timers_unpublished(size_t n, const std::string& error);
}  // namespace detail

// Registers what the runtime sends between actors with CAF (record_meta;
// runtime::message needs no registration: it never leaves the process).
void register_message_types(caf::actor_system_config& cfg);

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

int64_t wall_clock_ms();

namespace detail {

// Records waiting for a free slot of a bounded simulated service (role_io::
// max_concurrent), each as "start its delay unless it was revoked meanwhile".
struct delay_slots {
  int busy = 0;
  std::deque<std::function<bool()>> waiting;
};

template <class State>
struct role_context {
  caf::event_based_actor* self;
  std::shared_ptr<State> state;
  role_io io;
  std::shared_ptr<const handlers<State>> table;
  std::shared_ptr<delay_slots> slots = std::make_shared<delay_slots>();

  void handle(const record_meta& m, const message& x) const {
    if (!io.acks->try_start(m))
      return;  // revoked meanwhile: its new owner handles it
    const auto* fn = table->find(x.type());
    if (fn == nullptr) {  // a type no handler of the role takes: never silently acknowledged
      io.acks->turn_done(m);
      io.acks->rejected(m, "no handler of this role takes message type '"
                             + (x.type() ? x.type()->name : std::string{"?"}) + "'");
      return;
    }
    if (io.chaos && inject_before(m))
      return;
    outputs out;
    try {
      out = (*fn)(*state, m, x, io.now_ms());
    } catch (const rejection& r) {  // never succeeds: dead-lettered, no crash
      io.acks->turn_done(m);
      io.acks->rejected(m, r.what());
      return;
    } catch (const std::exception& e) {  // this record's failure, not the actor's
      io.acks->turn_done(m);
      if (io.acks->failed(m, e.what()))
        return;
      throw;
    } catch (...) {
      io.acks->turn_done(m);
      if (io.acks->failed(m, "unknown exception"))
        return;
      throw;
    }
    io.acks->turn_done(m);
    for (const auto& o : out)
      if (!o) {  // a bug in the handler; this record's output can never be written
        io.acks->rejected(m, "its output holds an empty message");
        return;
      } else if (auto violation = o.violation()) {
        // This output can never be written: the record goes to the DLQ
        // (the state may have changed; its effects are idempotent).
        io.acks->rejected(m, "its output violates the schema: " + *violation);
        return;
      }
    if (io.chaos && io.chaos->fires(chaos_fault::crash_after, m)) {
      self->quit(make_error(runtime_errc::crashed, "chaos: crash after handling " + where(m)));
      return;
    }
    if (out.empty()) {
      io.acks->finished(m);
      return;
    }
    auto hdl = caf::actor_cast<caf::actor>(self);
    io.out->publish(std::move(out), &m,
                    [acks = io.acks, m, hdl](const publish_outcome& o) {
                      if (o.ok())
                        acks->finished(m);
                      else if (acks->current(m))  // else rewound or revoked: redone anyway
                        caf::anon_send(hdl, publish_failed_atom::value, m, o.error,
                                       o.retriable);
                    });
  }

  static std::string where(const record_meta& m) {
    return m.topic + "/" + std::to_string(m.partition) + "@" + std::to_string(m.offset);
  }

  // True when a fault fired: the record is not handled by this incarnation.
  bool inject_before(const record_meta& m) const {
    if (io.chaos->fires(chaos_fault::hang, m)) {
      // Unresponsive from now on: everything sent to it is dropped (the
      // mailbox delivers the unfinished records again to the next one). An
      // entity's timer tick is taken here: dropped, its sender (the actor
      // itself) would get an unexpected_message error back and exit for it,
      // not for the hang its turn deadline finds; so is a delayed record of
      // a role with latency, which it sends itself too.
      self->set_default_handler(caf::drop);
      self->become(caf::behavior{[](process_atom, process_atom) {}, [](timer_tick_atom) {},
                                 [](process_atom, const record_meta&, const message&) {}});
      return true;
    }
    if (io.chaos->fires(chaos_fault::crash, m)) {
      self->quit(make_error(runtime_errc::crashed, "chaos: crash before handling " + where(m)));
      return true;
    }
    return false;
  }

  auto receive() const {
    auto ctx = *this;
    return [ctx](const record_meta& m, const message& x) {
      if (ctx.io.handle_delay.count() <= 0) {
        ctx.handle(m, x);
        return;
      }
      if (ctx.io.max_concurrent > 0 && ctx.slots->busy >= ctx.io.max_concurrent) {
        ctx.slots->waiting.emplace_back([ctx, m, x] {
          if (!ctx.io.acks->current(m))
            return false;  // revoked while waiting: its new owner handles it
          ctx.start_delay(m, x);
          return true;
        });
        return;
      }
      ctx.start_delay(m, x);
    };
  }

  void start_delay(const record_meta& m, const message& x) const {
    ++slots->busy;
    self->delayed_send(self, io.handle_delay, process_atom::value, m, x);
  }

  auto delayed() const {
    auto ctx = *this;
    return [ctx](process_atom, const record_meta& m, const message& x) {
      --ctx.slots->busy;
      ctx.handle(m, x);
      while (!ctx.slots->waiting.empty()
             && (ctx.io.max_concurrent <= 0 || ctx.slots->busy < ctx.io.max_concurrent)) {
        auto next = std::move(ctx.slots->waiting.front());
        ctx.slots->waiting.pop_front();
        next();
      }
    };
  }
};

}  // namespace detail

// The behavior of a role actor taking what `table` declares; `extra` adds
// role-specific requests (queries).
template <class State>
caf::behavior role_behavior(caf::event_based_actor* self, std::shared_ptr<State> state,
                            role_io io, std::shared_ptr<const handlers<State>> table,
                            caf::message_handler extra = {}) {
  // An exception the turn does not take (one thrown outside a handler, or
  // one the completion sink refuses) crashes the actor with its message.
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& eptr) -> caf::error {
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& e) {
      return make_error(runtime_errc::exception, e.what());
    } catch (...) {
      return make_error(runtime_errc::exception, "unknown exception");
    }
  });
  detail::role_context<State> ctx{self, std::move(state), std::move(io), std::move(table)};
  caf::message_handler core{
    ctx.receive(),
    ctx.delayed(),
    [self, acks = ctx.io.acks](publish_failed_atom, const record_meta& m, const std::string& err,
                               bool retriable) {
      if (retriable)
        acks->clear_suspect();  // the broker failed, not this record
      else
        acks->started(m);  // this record's output can never be written: blame it
      self->quit(make_error(runtime_errc::timeout,
                            "publish for " + m.topic + "/" + std::to_string(m.partition) + "@"
                              + std::to_string(m.offset) + " failed: " + err));
    },
  };
  if constexpr (requires(State& s) { s.due_timers(int64_t{0}, size_t{0}); }) {
    // An entity's timers: every tick, the due ones are published (each to
    // its key's input; the entity takes it while the timer stands).
    auto out = ctx.io.timers_out ? ctx.io.timers_out : ctx.io.out;
    core = core.or_else(caf::message_handler{
      [self, state = ctx.state, out, now = ctx.io.now_ms](timer_tick_atom) {
        auto due = state->due_timers(now(), timers_per_tick);
        if (!due.empty()) {
          const auto n = due.size();
          out->publish(std::move(due), nullptr, [n](const publish_outcome& o) {
            if (!o.ok())
              detail::report_timers_unpublished(n, o.error);
          });
        }
        self->delayed_send(self, timer_tick_interval, timer_tick_atom::value);
      }});
    self->delayed_send(self, timer_tick_interval, timer_tick_atom::value);
  }
  if (extra)
    return caf::behavior{extra.or_else(core)};
  return caf::behavior{core};
}

}  // namespace kastor::runtime
