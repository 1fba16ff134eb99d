// The thin CAF adapter around a role's state class.
//
// A role's logic is a plain class with, for each message type T it consumes,
//   std::vector<any_message> handle(const record_meta&, const T&, int64_t now_ms);
// The adapter receives (record_meta, T) from the inbound mailbox, calls
// handle(), publishes what it returns, and tells the mailbox the record is
// finished only after the broker acknowledged every published message. A
// publish that fails makes the actor exit with the error: its supervisor
// restarts it and the mailbox delivers the unfinished records again.
// The state object is owned by the role, not the actor, so it survives
// restarts; it is only ever touched by the current incarnation.
//
// A handler that throws runtime::rejection (runtime::reject) has rejected the
// record: it is dead-lettered at once, and the actor goes on.
//
// Fault injection (role_io::chaos, from `--chaos`): before handle() the actor
// may hang (it stops answering anything, until the mailbox's turn deadline
// kills it) or crash; after handle() returned (its side effect is done) and
// before its outputs are published, it may crash. A crash is an abnormal exit
// (runtime_errc::crashed) that its supervisor handles like any other.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "kastor/runtime/atoms.hpp"
#include "kastor/runtime/chaos.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/messages.hpp"
#include "kastor/runtime/ports.hpp"
#include "kastor/runtime/reject.hpp"
#include "kastor/runtime/schema.hpp"

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
};

// Registers every message type of messages.hpp with CAF.
void register_message_types(caf::actor_system_config& cfg);

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
  std::shared_ptr<delay_slots> slots = std::make_shared<delay_slots>();

  template <class T>
  void handle(const record_meta& m, const T& x) const {
    if constexpr (requires(State& s) { s.handle(m, x, int64_t{0}); }) {
      if (!io.acks->try_start(m))
        return;  // revoked meanwhile: its new owner handles it
      if (io.chaos && inject_before(m))
        return;
      std::vector<any_message> out;
      try {
        out = state->handle(m, x, io.now_ms());
      } catch (const rejection& r) {  // never succeeds: dead-lettered, no crash
        io.acks->turn_done(m);
        io.acks->rejected(m, r.what());
        return;
      }
      io.acks->turn_done(m);
      for (const auto& o : out)
        if (auto violation = schema_violation(o)) {
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
    } else {
      io.acks->finished(m);  // not for this role: nothing to do
    }
  }

  static std::string where(const record_meta& m) {
    return m.topic + "/" + std::to_string(m.partition) + "@" + std::to_string(m.offset);
  }

  // True when a fault fired: the record is not handled by this incarnation.
  bool inject_before(const record_meta& m) const {
    if (io.chaos->fires(chaos_fault::hang, m)) {
      // Unresponsive from now on: everything sent to it is dropped (the
      // mailbox delivers the unfinished records again to the next one).
      self->set_default_handler(caf::drop);
      self->become(caf::behavior{[](process_atom, process_atom) {}});
      return true;
    }
    if (io.chaos->fires(chaos_fault::crash, m)) {
      self->quit(make_error(runtime_errc::crashed, "chaos: crash before handling " + where(m)));
      return true;
    }
    return false;
  }

  template <class T>
  auto receive() const {
    auto ctx = *this;
    return [ctx](const record_meta& m, const T& x) {
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

  template <class T>
  void start_delay(const record_meta& m, const T& x) const {
    ++slots->busy;
    self->delayed_send(self, io.handle_delay, process_atom::value, m, x);
  }

  template <class T>
  auto delayed() const {
    auto ctx = *this;
    return [ctx](process_atom, const record_meta& m, const T& x) {
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

// The behavior of a role actor; `extra` adds role-specific requests (queries).
template <class State>
caf::behavior role_behavior(caf::event_based_actor* self, std::shared_ptr<State> state,
                            role_io io, caf::message_handler extra = {}) {
  // A handler that throws crashes the actor with the exception's message.
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& eptr) -> caf::error {
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& e) {
      return make_error(runtime_errc::exception, e.what());
    } catch (...) {
      return make_error(runtime_errc::exception, "unknown exception");
    }
  });
  detail::role_context<State> ctx{self, std::move(state), std::move(io)};
  caf::message_handler core{
    ctx.template receive<order_created>(),      ctx.template receive<payment_request>(),
    ctx.template receive<payment_result>(),     ctx.template receive<notification_event>(),
    ctx.template receive<email_sent>(),         ctx.template receive<order_snapshot>(),
    ctx.template delayed<order_created>(),      ctx.template delayed<payment_request>(),
    ctx.template delayed<payment_result>(),     ctx.template delayed<notification_event>(),
    ctx.template delayed<email_sent>(),         ctx.template delayed<order_snapshot>(),
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
  if (extra)
    return caf::behavior{extra.or_else(core)};
  return caf::behavior{core};
}

}  // namespace kastor::runtime
