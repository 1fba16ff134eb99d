#include "kastor/runtime/supervisor.hpp"

#include <deque>

#include <caf/all.hpp>

#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/logging.hpp"

namespace kastor::runtime {

void supervision_log::record(event e) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (e.what == "restarted")
    ++restarts_[e.path];
  events_.push_back(std::move(e));
}

std::map<std::string, int64_t> supervision_log::restarts() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return restarts_;
}

int64_t supervision_log::total_restarts() const {
  std::lock_guard<std::mutex> guard{mtx_};
  int64_t n = 0;
  for (const auto& [path, count] : restarts_)
    n += count;
  return n;
}

std::vector<supervision_log::event> supervision_log::events() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return events_;
}

namespace {

struct running_child {
  child_spec spec;
  caf::actor handle;  // null once it exited during shutdown
};

using kill_atom = caf::atom_constant<caf::atom("killchild")>;

struct supervisor_state {
  supervisor_spec spec;
  std::vector<running_child> children;
  std::deque<std::chrono::steady_clock::time_point> restarts;
  std::shared_ptr<spdlog::logger> log = logger("kastor.supervisor");
  bool stopping = false;
  caf::error final_reason;

  void note(const std::string& child, const std::string& what, const std::string& reason) {
    auto path = spec.path + "/" + child;
    log->info("supervision path={} event={} reason={}", path, what, reason);
    if (spec.log)
      spec.log->record({path, what, reason});
  }
};

std::string reason_text(const caf::error& err) {
  if (err == caf::exit_reason::normal)
    return "normal";
  return describe(err);
}

// Stops the last still-running child and waits for its exit (killing it after
// the shutdown deadline); when none is left, the supervisor exits with the
// reason that started the shutdown. OTP: children stop in reverse start order.
void stop_next(caf::event_based_actor* self, const std::shared_ptr<supervisor_state>& st) {
  for (auto i = st->children.rbegin(); i != st->children.rend(); ++i) {
    if (!i->handle)
      continue;
    self->send_exit(i->handle, caf::exit_reason::user_shutdown);
    self->delayed_send(self, st->spec.shutdown_deadline, kill_atom::value,
                       caf::actor_cast<caf::actor_addr>(i->handle));
    return;
  }
  self->quit(st->final_reason);
}

void begin_shutdown(caf::event_based_actor* self, const std::shared_ptr<supervisor_state>& st,
                    caf::error reason) {
  if (st->stopping)
    return;
  st->stopping = true;
  st->final_reason = std::move(reason);
  stop_next(self, st);
}

caf::behavior supervisor_actor(caf::event_based_actor* self,
                               std::shared_ptr<supervisor_state> st) {
  for (auto& spec : st->spec.children) {
    auto hdl = spec.start(self);
    self->monitor(hdl);
    st->children.push_back({spec, hdl});
    st->note(spec.name, "started", "");
  }
  // Safety net: if this supervisor is killed outright, its children go too.
  self->attach_functor([st](const caf::error& reason) {
    for (auto i = st->children.rbegin(); i != st->children.rend(); ++i)
      if (i->handle)
        caf::anon_send_exit(i->handle, caf::exit_reason::kill);
    if (reason && reason != caf::exit_reason::user_shutdown
        && reason != caf::exit_reason::normal)
      st->log->error("supervision path={} event=exited reason={}", st->spec.path,
                     reason_text(reason));
  });
  // An exit request (from the parent or the node) is an orderly shutdown.
  self->set_exit_handler([self, st](caf::exit_msg& em) {
    begin_shutdown(self, st, em.reason ? em.reason : caf::error{caf::exit_reason::user_shutdown});
  });
  self->set_down_handler([self, st](caf::down_msg& dm) {
    auto i = std::find_if(st->children.begin(), st->children.end(), [&](const running_child& c) {
      return c.handle && c.handle.address() == dm.source;
    });
    if (i == st->children.end())
      return;
    if (st->stopping) {
      i->handle = nullptr;
      stop_next(self, st);
      return;
    }
    auto reason = reason_text(dm.reason);
    auto now = std::chrono::steady_clock::now();
    st->restarts.push_back(now);
    while (!st->restarts.empty() && now - st->restarts.front() > st->spec.period)
      st->restarts.pop_front();
    if (static_cast<int>(st->restarts.size()) > st->spec.max_restarts) {
      st->note(i->spec.name, "escalated", reason);
      i->handle = nullptr;
      begin_shutdown(self, st,
                     make_error(runtime_errc::restart_limit_exceeded,
                                st->spec.path + ": more than "
                                  + std::to_string(st->spec.max_restarts) + " restarts in "
                                  + std::to_string(st->spec.period.count()) + " ms (last: "
                                  + i->spec.name + " exited with " + reason + ")"));
      return;
    }
    i->handle = i->spec.start(self);
    self->monitor(i->handle);
    st->note(i->spec.name, "restarted", reason);
  });
  return {
    [self, st](kill_atom, const caf::actor_addr& child) {
      // A child that did not stop within the shutdown deadline is killed.
      for (auto& c : st->children)
        if (c.handle && c.handle.address() == child) {
          st->note(c.spec.name, "killed", "shutdown deadline passed");
          self->send_exit(c.handle, caf::exit_reason::kill);
        }
    },
  };
}

}  // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec) {
  auto st = std::make_shared<supervisor_state>();
  st->spec = std::move(spec);
  return sys.spawn(supervisor_actor, st);
}

child_spec supervisor_child(supervisor_spec spec) {
  auto name = spec.path.substr(spec.path.rfind('/') + 1);
  return {name, [spec](caf::local_actor* parent) {
            return spawn_supervisor(parent->system(), spec);
          }};
}

}  // namespace kastor::runtime
