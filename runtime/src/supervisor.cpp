#include "kastor/runtime/supervisor.hpp"

#include <algorithm>
#include <random>

#include <caf/all.hpp>

#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/json_text.hpp"
#include "kastor/runtime/logging.hpp"

namespace kastor::runtime {

std::string_view to_string(strategy s) {
  switch (s) {
    case strategy::one_for_one: return "one_for_one";
    case strategy::one_for_all: return "one_for_all";
    case strategy::rest_for_one: return "rest_for_one";
    case strategy::simple_one_for_one: return "simple_one_for_one";
  }
  return "unknown";
}

std::string_view to_string(restart_type r) {
  switch (r) {
    case restart_type::permanent: return "permanent";
    case restart_type::transient: return "transient";
    case restart_type::temporary: return "temporary";
  }
  return "unknown";
}

std::chrono::milliseconds backoff_delay(const backoff_policy& b, int n) {
  auto d = b.min;
  for (int i = 0; i < n && d < b.max; ++i)
    d = d.count() == 0 ? std::chrono::milliseconds{1} : d * 2;
  return std::min(d, std::max(b.max, b.min));
}

// -- supervision_log ----------------------------------------------------------

void supervision_log::count_into(metric_registry& r) {
  auto restarts = r.counter("kastor_supervisor_restarts_total",
                            "Restarts of a supervised actor, by its path and the class of the "
                            "exit reason that caused them.",
                            {"path", "reason"});
  auto gave_up = r.counter("kastor_supervisor_gave_up_total",
                           "Supervisors that gave up (past their restart limit) and escalated "
                           "to their parent, by path.",
                           {"path"});
  std::lock_guard<std::mutex> guard{mtx_};
  restarts_counter_ = restarts;
  gave_up_counter_ = gave_up;
}

std::string supervision_log::reason_class(const std::string& reason) {
  auto end = reason.find_first_of(":( ");
  auto out = reason.substr(0, std::min<size_t>(end == std::string::npos ? reason.size() : end, 48));
  return out.empty() ? std::string{"unknown"} : out;
}

void supervision_log::record(event e) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (e.what == "restarted") {
    ++restarts_[e.path];
    restarts_counter_.with({e.path, reason_class(e.reason)}).inc();
  } else if (e.what == "escalated") {  // noted for the child: the supervisor is its parent
    gave_up_counter_.with({e.path.substr(0, e.path.rfind('/'))}).inc();
  }
  ++counts_[e.what];
  events_.push_back(std::move(e));
  if (events_.size() > kept_events)
    events_.pop_front();
}

void supervision_log::update(supervisor_view v) {
  std::lock_guard<std::mutex> guard{mtx_};
  gave_up_counter_.with({v.path});  // at 0 from the start: its first give-up has a rate
  auto path = v.path;
  supervisors_[path] = std::move(v);
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

std::map<std::string, int64_t> supervision_log::counts() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return counts_;
}

std::vector<supervision_log::event> supervision_log::events() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return {events_.begin(), events_.end()};
}

namespace {

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string{} : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

}  // namespace

caf::actor supervision_log::find(const std::string& path) const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto s = supervisors_.find(path); s != supervisors_.end() && s->second.state != "exited")
    return caf::actor_cast<caf::actor>(s->second.addr);
  if (auto p = supervisors_.find(parent_of(path)); p != supervisors_.end()) {
    if (p->second.state == "exited")
      return nullptr;
    auto name = name_of(path);
    for (const auto& c : p->second.children)
      if (c.name == name && c.addr)
        return caf::actor_cast<caf::actor>(c.addr);
  }
  return nullptr;
}

std::string supervision_log::last_exit_reason(const std::string& path) const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto p = supervisors_.find(parent_of(path)); p != supervisors_.end())
    for (const auto& c : p->second.children)
      if (c.name == name_of(path))
        return c.last_exit_reason;
  return {};
}

std::string supervision_log::tree_json() const {
  std::lock_guard<std::mutex> guard{mtx_};
  // Writes the supervisor at `path`; `as_child` is how its parent sees it.
  std::function<void(std::string&, const std::string&, const child_view*)> write_supervisor;
  auto write_child = [&](std::string& out, const std::string& parent, const child_view& c) {
    auto path = parent + "/" + c.name;
    if (c.kind == child_kind::supervisor && supervisors_.count(path)) {
      write_supervisor(out, path, &c);
      return;
    }
    json_object_writer w{out};
    w.text("path", path).text("name", c.name).text("kind", "worker");
    w.text("restartType", to_string(c.restart)).text("state", c.state);
    w.integer("restarts", c.restarts).text("lastExitReason", c.last_exit_reason);
    w.close();
  };
  write_supervisor = [&](std::string& out, const std::string& path, const child_view* as_child) {
    const auto& s = supervisors_.at(path);
    json_object_writer w{out};
    w.text("path", path).text("name", name_of(path)).text("kind", "supervisor");
    w.text("strategy", to_string(s.strat));
    std::string intensity;
    json_object_writer{intensity}
      .integer("maxRestarts", s.max_restarts)
      .integer("periodMs", s.period.count())
      .close();
    w.raw("intensity", intensity);
    w.text("restartType", as_child ? to_string(as_child->restart) : "permanent");
    w.text("state", as_child && as_child->state != "running" ? as_child->state : s.state);
    w.integer("restarts", as_child ? as_child->restarts : 0);
    w.text("lastExitReason", as_child ? as_child->last_exit_reason : "");
    w.array("children", s.children,
            [&](std::string& o, const child_view& c) { write_child(o, path, c); });
    w.close();
  };
  std::string out;
  json_object_writer top{out};
  std::string root;
  for (const auto& [path, s] : supervisors_)
    if (!supervisors_.count(parent_of(path))) {
      if (root.empty() || path == "root")
        root = path;
    }
  if (root.empty()) {
    top.raw("tree", "null");
  } else {
    std::string tree;
    write_supervisor(tree, root, nullptr);
    top.raw("tree", tree);
  }
  std::string counts;
  json_object_writer c{counts};
  for (const auto& [what, n] : counts_)
    c.integer(what, n);
  c.close();
  top.raw("counts", counts);
  std::vector<event> recent(events_.size() > 20 ? events_.end() - 20 : events_.begin(),
                            events_.end());
  top.array("recentEvents", recent, [](std::string& o, const event& e) {
    json_object_writer{o}.text("path", e.path).text("event", e.what).text("reason", e.reason).close();
  });
  top.close();
  return out;
}

// -- the supervisor actor -----------------------------------------------------

namespace {

using kill_atom = caf::atom_constant<caf::atom("killchild")>;
using restart_atom = caf::atom_constant<caf::atom("restartch")>;
using clock_type = caf::actor_clock::clock_type;

enum class child_state { running, restarting, stopping, stopped };

std::string_view to_string(child_state s) {
  switch (s) {
    case child_state::running: return "running";
    case child_state::restarting: return "restarting";
    case child_state::stopping: return "stopping";
    case child_state::stopped: return "stopped";
  }
  return "unknown";
}

struct child {
  uint64_t id = 0;
  std::string name;
  child_spec spec;
  caf::actor handle;
  child_state state = child_state::stopped;
  bool terminating = false;  // terminate_child asked for it: no restart
  int64_t restarts = 0;
  std::string last_reason;
  int consecutive = 0;  // failures without a quiet period (backoff exponent)
  bool has_failed = false;
  caf::actor_clock::time_point last_failure{};
};

std::string reason_text(const caf::error& err) {
  if (err == caf::exit_reason::normal)
    return "normal";
  if (err == caf::exit_reason::user_shutdown)
    return "shutdown";
  if (err == caf::exit_reason::kill)
    return "killed";
  return describe(err);
}

bool abnormal(const caf::error& err) {
  return err && err != caf::exit_reason::normal && err != caf::exit_reason::user_shutdown;
}

class supervisor {
public:
  supervisor(caf::event_based_actor* self, supervisor_spec spec)
    : self_(self), spec_(std::move(spec)),
      rng_(spec_.seed != 0 ? spec_.seed : std::random_device{}()) {}

  caf::behavior make_behavior() {
    self_->set_exit_handler([this](caf::exit_msg& em) {
      begin_shutdown(em.reason ? em.reason : caf::error{caf::exit_reason::user_shutdown});
    });
    self_->set_down_handler([this](caf::down_msg& dm) { on_down(dm); });
    self_->attach_functor([this](const caf::error& reason) { on_exit(reason); });
    if (spec_.strat != strategy::simple_one_for_one) {
      for (const auto& cs : spec_.children) {
        auto& c = add_child(cs.name, cs);
        if (!start(c)) {
          auto name = c.name;
          auto why = c.last_reason;
          children_.pop_back();  // never ran: nothing to stop
          note(name, "start_failed", why);
          begin_shutdown(make_error(runtime_errc::start_failed, spec_.path + "/" + name + ": " + why));
          break;
        }
        note(c.name, "started", "");
      }
    }
    publish();
    return {
      [this](restart_atom, uint64_t token) { on_restart_timer(token); },
      [this](kill_atom, const caf::actor_addr& who) { on_kill_timer(who); },
      [this](start_child_atom, const std::string& key) -> caf::result<caf::actor> {
        return start_dynamic(key);
      },
      [this](terminate_child_atom, const std::string& name) -> caf::result<void> {
        auto c = by_name(name);
        if (!c)
          return make_error(runtime_errc::invalid_config, "no child '" + name + "'");
        c->terminating = true;
        if (c->handle && c->state == child_state::running)
          request_stop(*c);
        else if (!c->handle)
          settle_not_restarted(*c);
        publish();
        return caf::unit;
      },
    };
  }

private:
  // -- bookkeeping ----------------------------------------------------------

  child& add_child(const std::string& name, const child_spec& cs) {
    child c;
    c.id = next_id_++;
    c.name = name;
    c.spec = cs;
    children_.push_back(std::move(c));
    return children_.back();
  }

  child* by_id(uint64_t id) {
    for (auto& c : children_)
      if (c.id == id)
        return &c;
    return nullptr;
  }

  child* by_addr(const caf::actor_addr& a) {
    for (auto& c : children_)
      if (c.handle && c.handle.address() == a)
        return &c;
    return nullptr;
  }

  child* by_name(const std::string& name) {
    for (auto& c : children_)
      if (c.name == name)
        return &c;
    return nullptr;
  }

  void erase(uint64_t id) {
    children_.erase(std::remove_if(children_.begin(), children_.end(),
                                   [id](const child& c) { return c.id == id; }),
                    children_.end());
  }

  void note(const std::string& child_name, const std::string& what, const std::string& reason) {
    auto path = child_name.empty() ? spec_.path : spec_.path + "/" + child_name;
    if (what == "escalated" || what == "start_failed" || what == "restart_failed")
      log_->error("supervision path={} event={} reason={}", path, what, reason);
    else if (what == "exited" || what == "killed")
      log_->warn("supervision path={} event={} reason={}", path, what, reason);
    else
      log_->info("supervision path={} event={} reason={}", path, what, reason);
    if (spec_.log)
      spec_.log->record({path, what, reason});
  }

  void publish(const char* state = nullptr) {
    if (!spec_.log)
      return;
    supervision_log::supervisor_view v;
    v.path = spec_.path;
    v.strat = spec_.strat;
    v.max_restarts = spec_.max_restarts;
    v.period = spec_.period;
    v.state = state ? state : shutting_down_ ? "stopping" : "running";
    v.addr = self_->address();
    for (const auto& c : children_)
      v.children.push_back({c.name, c.spec.kind, c.spec.restart, std::string{to_string(c.state)},
                            c.restarts, c.last_reason,
                            c.handle ? c.handle.address() : caf::actor_addr{}});
    spec_.log->update(std::move(v));
  }

  // -- starting and stopping children ---------------------------------------

  bool start(child& c) {
    caf::actor h;
    try {
      h = c.spec.start(self_);
      if (!h)
        c.last_reason = "start function returned no actor";
    } catch (const std::exception& e) {
      c.last_reason = std::string{"start function threw: "} + e.what();
    }
    if (!h)
      return false;
    self_->monitor(h);
    c.handle = std::move(h);
    c.state = child_state::running;
    return true;
  }

  void request_stop(child& c) {
    c.state = child_state::stopping;
    if (c.spec.shutdown.count() <= 0) {
      self_->send_exit(c.handle, caf::exit_reason::kill);
      return;
    }
    self_->send_exit(c.handle, caf::exit_reason::user_shutdown);
    self_->delayed_send(self_, c.spec.shutdown, kill_atom::value, c.handle.address());
  }

  void on_kill_timer(const caf::actor_addr& who) {
    auto c = by_addr(who);
    if (c && c->state == child_state::stopping) {
      note(c->name, "killed", "shutdown deadline of " + std::to_string(c->spec.shutdown.count())
                                + " ms passed");
      self_->send_exit(c->handle, caf::exit_reason::kill);
    }
  }

  // A child that exited and is not to be restarted: temporary and dynamic
  // children are forgotten, the others stay in the tree as stopped.
  void settle_not_restarted(child& c) {
    c.handle = nullptr;
    if (c.spec.restart == restart_type::temporary || spec_.strat == strategy::simple_one_for_one)
      erase(c.id);
    else
      c.state = child_state::stopped;
  }

  caf::result<caf::actor> start_dynamic(const std::string& key) {
    if (spec_.strat != strategy::simple_one_for_one || spec_.children.size() != 1)
      return make_error(runtime_errc::invalid_config,
                        spec_.path + " is not a simple_one_for_one supervisor");
    if (shutting_down_)
      return make_error(runtime_errc::start_failed, spec_.path + " is shutting down");
    if (auto c = by_name(key)) {
      if (c->handle && c->state == child_state::running)
        return c->handle;
      return make_error(runtime_errc::start_failed,
                        spec_.path + "/" + key + " is " + std::string{to_string(c->state)});
    }
    auto& c = add_child(key, spec_.children.front());
    if (!start(c)) {
      auto why = c.last_reason;
      note(key, "start_failed", why);
      erase(c.id);
      return make_error(runtime_errc::start_failed, spec_.path + "/" + key + ": " + why);
    }
    note(key, "started", "");
    publish();
    return c.handle;
  }

  // -- failures and restarts -------------------------------------------------

  void on_down(caf::down_msg& dm) {
    if (shutting_down_) {
      if (auto c = by_addr(dm.source)) {
        c->handle = nullptr;
        c->state = child_state::stopped;
        if (awaiting_ > 0)
          --awaiting_;
        note(c->name, "stopped", reason_text(dm.reason));
        publish();
        if (awaiting_ == 0)
          stop_next();
      }
      return;
    }
    auto c = by_addr(dm.source);
    if (!c)
      return;
    auto reason = reason_text(dm.reason);
    if (c->state == child_state::stopping) {
      // Stopped on purpose: by terminate_child, or as a sibling in a group restart.
      c->handle = nullptr;
      note(c->name, "stopped", reason);
      if (c->terminating)
        settle_not_restarted(*c);
      else if (c->spec.restart == restart_type::temporary)
        erase(c->id);
      else
        c->state = child_state::restarting;
      publish();
      continue_group();
      return;
    }
    if (group_active_) {
      auto pending = std::find(to_stop_.begin(), to_stop_.end(), c->id);
      if (pending != to_stop_.end()) {  // about to be stopped anyway
        to_stop_.erase(pending);
        c->handle = nullptr;
        c->last_reason = reason;
        c->state = child_state::restarting;
        note(c->name, "exited", reason);
        publish();
        return;
      }
      // Another failure while a group restart is under way: handled when
      // it is done. The child is gone already, so shutdown does not wait for it.
      c->handle = nullptr;
      c->last_reason = reason;
      c->state = child_state::stopped;
      note(c->name, "exited", reason);
      deferred_.emplace_back(c->id, std::move(dm.reason));
      publish();
      return;
    }
    note(c->name, "exited", reason);
    c->last_reason = reason;
    c->handle = nullptr;
    fail(*c, dm.reason);
  }

  // `c` is no longer running: decide whether and how to restart it.
  void fail(child& c, const caf::error& reason) {
    bool restart = c.spec.restart == restart_type::permanent
                   || (c.spec.restart == restart_type::transient && abnormal(reason));
    if (!restart || c.terminating) {
      settle_not_restarted(c);
      publish();
      return;
    }
    auto now = self_->clock().now();
    restart_times_.push_back(now);
    while (!restart_times_.empty() && now - restart_times_.front() > spec_.period)
      restart_times_.pop_front();
    if (static_cast<int>(restart_times_.size()) > spec_.max_restarts) {
      note(c.name, "escalated", c.last_reason);
      c.state = child_state::stopped;
      begin_shutdown(make_error(runtime_errc::restart_limit_exceeded,
                                spec_.path + ": more than " + std::to_string(spec_.max_restarts)
                                  + " restarts in " + std::to_string(spec_.period.count())
                                  + " ms (last: " + c.name + " exited with " + c.last_reason
                                  + ")"));
      return;
    }
    if (c.has_failed && now - c.last_failure > spec_.backoff.reset_after)
      c.consecutive = 0;
    auto delay = backoff_delay(spec_.backoff, c.consecutive);
    if (spec_.backoff.jitter > 0 && delay.count() > 0) {
      std::uniform_real_distribution<double> factor{1.0 - std::min(spec_.backoff.jitter, 1.0),
                                                     1.0};
      delay = std::chrono::milliseconds{
        static_cast<int64_t>(static_cast<double>(delay.count()) * factor(rng_))};
    }
    ++c.consecutive;
    c.has_failed = true;
    c.last_failure = now;
    c.state = child_state::restarting;
    std::vector<uint64_t> group;
    switch (spec_.strat) {
      case strategy::one_for_one:
      case strategy::simple_one_for_one:
        group.push_back(c.id);
        break;
      case strategy::one_for_all:
        for (const auto& x : children_)
          group.push_back(x.id);
        break;
      case strategy::rest_for_one: {
        bool after = false;
        for (const auto& x : children_) {
          after = after || x.id == c.id;
          if (after)
            group.push_back(x.id);
        }
        break;
      }
    }
    // Siblings in the group stop first, last started first; then all of the
    // group (but temporary siblings) starts again in start order.
    to_stop_.clear();
    for (auto i = group.rbegin(); i != group.rend(); ++i)
      if (auto x = by_id(*i); x && x->id != c.id && x->handle && x->state == child_state::running)
        to_stop_.push_back(x->id);
    // A restart of any of them still waiting for its backoff is superseded
    // by this one (else it would start them early and out of order).
    for (auto i = pending_.begin(); i != pending_.end();) {
      auto& ids = i->second;
      ids.erase(std::remove_if(ids.begin(), ids.end(),
                               [&](uint64_t id) {
                                 return std::find(group.begin(), group.end(), id) != group.end();
                               }),
                ids.end());
      i = ids.empty() ? pending_.erase(i) : std::next(i);
    }
    to_restart_ = group;
    group_delay_ = delay;
    group_active_ = true;
    publish();
    continue_group();
  }

  void continue_group() {
    if (!group_active_)
      return;
    while (!to_stop_.empty()) {
      auto c = by_id(to_stop_.front());
      to_stop_.pop_front();
      if (c && c->handle && c->state == child_state::running) {
        request_stop(*c);
        publish();
        return;  // on_down continues
      }
    }
    for (const auto& c : children_)
      if (c.state == child_state::stopping)
        return;  // still waiting for one
    group_active_ = false;
    std::vector<uint64_t> ids;
    for (auto id : to_restart_)
      if (auto c = by_id(id); c && c->state == child_state::restarting)
        ids.push_back(id);
    to_restart_.clear();
    if (group_delay_.count() <= 0) {
      restart(ids);
    } else {
      auto token = next_token_++;
      pending_[token] = std::move(ids);
      self_->delayed_send(self_, group_delay_, restart_atom::value, token);
    }
    // Failures that arrived while the group was being stopped.
    while (!group_active_ && !shutting_down_ && !deferred_.empty()) {
      auto [id, reason] = std::move(deferred_.front());
      deferred_.pop_front();
      if (auto c = by_id(id); c && !c->handle && c->state == child_state::stopped)
        fail(*c, reason);
    }
  }

  void on_restart_timer(uint64_t token) {
    auto i = pending_.find(token);
    if (i == pending_.end() || shutting_down_)
      return;
    auto ids = std::move(i->second);
    pending_.erase(i);
    restart(ids);
  }

  void restart(const std::vector<uint64_t>& ids) {
    for (auto id : ids) {
      auto c = by_id(id);
      if (!c || c->state != child_state::restarting)
        continue;
      if (!start(*c)) {
        note(c->name, "restart_failed", c->last_reason);
        fail(*c, make_error(runtime_errc::start_failed, c->last_reason));
        return;  // fail() restarts the rest of the group as the strategy says
      }
      ++c->restarts;
      note(c->name, "restarted", c->last_reason);
    }
    publish();
  }

  // -- shutdown --------------------------------------------------------------

  void begin_shutdown(caf::error reason) {
    if (shutting_down_)
      return;
    shutting_down_ = true;
    final_reason_ = std::move(reason);
    pending_.clear();
    deferred_.clear();
    group_active_ = false;
    for (auto& c : children_)
      if (!c.handle)
        c.state = child_state::stopped;
    publish();
    stop_next();
  }

  // OTP: children stop in reverse start order, one at a time; the children of
  // a simple_one_for_one supervisor all at once.
  void stop_next() {
    if (spec_.strat == strategy::simple_one_for_one) {
      for (auto& c : children_)
        if (c.handle && c.state != child_state::stopping) {
          request_stop(c);
          ++awaiting_;
        }
    } else {
      for (auto i = children_.rbegin(); i != children_.rend(); ++i)
        if (i->handle) {
          if (i->state != child_state::stopping)  // else its kill timer already runs
            request_stop(*i);
          awaiting_ = 1;
          break;
        }
    }
    publish();
    if (awaiting_ == 0)
      self_->quit(final_reason_);
  }

  void on_exit(const caf::error& reason) {
    // Safety net: if this supervisor is killed outright, its children go too.
    for (auto i = children_.rbegin(); i != children_.rend(); ++i)
      if (i->handle)
        caf::anon_send_exit(i->handle, caf::exit_reason::kill);
    if (abnormal(reason) && reason != caf::exit_reason::kill)
      log_->error("supervision path={} event=exited reason={}", spec_.path, reason_text(reason));
    for (auto& c : children_) {
      c.handle = nullptr;
      c.state = child_state::stopped;
    }
    publish("exited");
  }

  caf::event_based_actor* self_;
  supervisor_spec spec_;
  std::shared_ptr<spdlog::logger> log_ = logger("kastor.supervisor");
  std::vector<child> children_;  // in start order
  uint64_t next_id_ = 1;
  std::deque<caf::actor_clock::time_point> restart_times_;
  std::mt19937_64 rng_;
  // A group restart in progress: siblings still to stop, then who restarts.
  bool group_active_ = false;
  std::deque<uint64_t> to_stop_;
  std::vector<uint64_t> to_restart_;
  std::chrono::milliseconds group_delay_{0};
  std::deque<std::pair<uint64_t, caf::error>> deferred_;  // failures during a group restart
  // Restarts waiting for their backoff delay.
  uint64_t next_token_ = 1;
  std::map<uint64_t, std::vector<uint64_t>> pending_;
  bool shutting_down_ = false;
  size_t awaiting_ = 0;
  caf::error final_reason_;
};

caf::behavior supervisor_actor(caf::event_based_actor* self, supervisor_spec spec) {
  // The handlers capture the state by raw pointer; this attachable owns it.
  // CAF runs every attachable of an exiting actor before destroying any, and
  // no handler runs after that, so the state outlives every use.
  auto st = std::make_shared<supervisor>(self, std::move(spec));
  auto bhvr = st->make_behavior();
  self->attach_functor([st](const caf::error&) {});
  return bhvr;
}

}  // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec) {
  return sys.spawn(supervisor_actor, std::move(spec));
}

void crash_actor(const caf::actor& target, caf::error reason) {
  if (target)
    caf::anon_send(target, caf::exit_msg{target.address(), std::move(reason)});
}

child_spec supervisor_child(supervisor_spec spec, std::chrono::milliseconds shutdown) {
  child_spec c;
  c.name = name_of(spec.path);
  c.start = [spec](caf::local_actor* parent) { return spawn_supervisor(parent->system(), spec); };
  c.shutdown = shutdown;
  c.kind = child_kind::supervisor;
  return c;
}

}  // namespace kastor::runtime
