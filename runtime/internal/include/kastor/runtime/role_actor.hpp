// The thin CAF adapter around a role's state class: the actor that runs its
// role_program (handlers.hpp: the class's handlers bound to its state).
// Compiled once in the runtime library, whatever the state class; a state
// class or a file that declares roles never needs this (role.hpp does not
// include it); the node does.
//
// The adapter receives (record_meta, message)
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

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "kastor/runtime/atoms.hpp"
#include "kastor/runtime/chaos.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/handlers.hpp"
#include "kastor/runtime/message.hpp"
#include "kastor/runtime/metrics.hpp"
#include "kastor/runtime/ports.hpp"
#include "kastor/runtime/reject.hpp"

namespace kastor::runtime {

// How long a role's turns take, by the type of the record (the node's
// kastor_turn_duration_seconds{role,type}): one histogram per declared type,
// looked up by the type's address (no lock, no label lookup per record).
struct turn_meters {
  std::vector<std::pair<const message_type*, histogram>> by_type;
  histogram other;  // a type the role does not declare
  const histogram& of(const message_type* t) const {
    for (const auto& [type, h] : by_type)
      if (type == t)
        return h;
    return other;
  }
};

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
  // Null: turns are not measured.
  std::shared_ptr<const turn_meters> turns = nullptr;
  // The role's name, on the log lines of its turns (logging.hpp's log_context).
  std::string role = {};
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

int64_t wall_clock_ms();

// The behavior of a role actor running `program`; `extra` adds
// role-specific requests (queries). With program->due_timers, every
// timer_tick_interval the due timers are published (to timers_out).
caf::behavior role_behavior(caf::event_based_actor* self,
                            std::shared_ptr<const role_program> program, role_io io,
                            caf::message_handler extra = {});

}  // namespace kastor::runtime
