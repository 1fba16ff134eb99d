#include "kastor/runtime/role_actor.hpp"

#include <deque>

#include "kastor/runtime/logging.hpp"
#include "kastor/runtime/role.hpp"

namespace kastor::runtime {

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<record_meta>("record_meta");
}

int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace detail {

void report_timers_unpublished(size_t n, const std::string& error) {
  static auto log = logger("kastor.timers");
  log->warn("event=timers_unpublished timers={} error={}: they fire again later", n, error);
}

}  // namespace detail

namespace detail {

spdlog::logger& turn_log() {  // (a reference: no refcount per turn)
  static auto log = logger("kastor.turn");
  return *log;
}

// Records waiting for a free slot of a bounded simulated service (role_io::
// max_concurrent), each as "start its delay unless it was revoked meanwhile".
struct delay_slots {
  int busy = 0;
  std::deque<std::function<bool()>> waiting;
};

struct role_context {
  caf::event_based_actor* self;
  std::shared_ptr<const role_program> program;
  role_io io;
  std::shared_ptr<delay_slots> slots = std::make_shared<delay_slots>();

  void handle(const record_meta& m, const message& x) const {
    if (!io.acks->try_start(m))
      return;  // revoked meanwhile: its new owner handles it
    // Every line logged during the turn (the handler's own too) names the
    // record and its trace.
    // (a record's traceparent is "00-<trace>-<span>-<flags>", as decoded)
    const std::string_view tp = m.traceparent;
    const bool traced = tp.size() == 55;
    scoped_log_context context{{io.role, m.key, m.topic, m.partition, m.offset,
                                traced ? tp.substr(3, 32) : std::string_view{},
                                traced ? tp.substr(36, 16) : std::string_view{}}};
    turn_log().debug("event=turn type={} attempt={}", x.type() ? x.type()->name : "?", m.attempt);
    const auto* fn = program->find(x.type());
    if (fn == nullptr) {  // a type no handler of the role takes: never silently acknowledged
      io.acks->turn_done(m);
      io.acks->rejected(m, "no handler of this role takes message type '"
                             + (x.type() ? x.type()->name : std::string{"?"}) + "'");
      return;
    }
    if (io.chaos && inject_before(m))
      return;
    outputs out;
    struct timed {  // the turn's duration, however it ends
      const histogram* h;
      std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
      ~timed() {
        if (h)
          h->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    } turn{io.turns ? &io.turns->of(x.type()) : nullptr};
    try {
      out = (*fn)(m, x, io.now_ms());
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

caf::behavior role_behavior(caf::event_based_actor* self,
                            std::shared_ptr<const role_program> program, role_io io,
                            caf::message_handler extra) {
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
  detail::role_context ctx{self, std::move(program), std::move(io)};
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
  if (ctx.program->due_timers) {
    // An entity's timers: every tick, the due ones are published (each to
    // its key's input; the entity takes it while the timer stands).
    auto out = ctx.io.timers_out ? ctx.io.timers_out : ctx.io.out;
    core = core.or_else(caf::message_handler{
      [self, program = ctx.program, out, now = ctx.io.now_ms](timer_tick_atom) {
        auto due = program->due_timers(now(), timers_per_tick);
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

caf::actor role_spec::spawn(caf::actor_system& sys, role_io io) const {
  caf::message_handler extra;
  if (queries)
    queries(extra);
  if (kind == role_kind::entity && store) {
    // Request/reply's `get`: the key's snapshot as this node knows it.
    caf::message_handler lookup{
      [store = store](lookup_atom, const std::string& key) { return store->lookup(key); }};
    extra = extra ? extra.or_else(lookup) : lookup;
  }
  return sys.spawn(&role_behavior, program, std::move(io), std::move(extra));
}

}  // namespace kastor::runtime
