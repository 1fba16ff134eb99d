// Declaring a role: what an application writes to have its state class run
// as a supervised, Kafka-backed actor on every node that runs the role.
//
//   // a stateless service (or one with state of its own, shared by none)
//   auto alerts = runtime::role<notifier>("alerts").consumes<threshold_crossed>();
//   // a keyed entity: one activation per key, restored from its changelog
//   auto accounts = runtime::entity<account>("accounts").consumes<debit, credit>();
//   // a broadcast reader: every node reads every record (a per-node view)
//   auto board = runtime::role<leaderboard>("board").consumes<score>().view();
//
// A role reads the topics of the types it consumes; what its handlers
// return goes to the topics of the returned types. The node
// (bridges::actor_node) gives every declared role the same things: a
// supervisor (restarts with backoff), its consumer group, per-key
// quarantine and the dead-letter topic, backpressure, the hand-off of
// partitions, exactly-once and standby when configured for it, `--chaos`
// faults by its name, and request/reply by key for keyed roles.
//
// role<State> takes the state made by `make` (default: a State made with no
// arguments) once per node: it outlives restarts of the role's actor.
//
// No CAF here beyond its forward declarations: the actor that runs a role is
// compiled once in the runtime library (role_actor.hpp), so a file that
// declares roles builds fast. Only `queries` names a CAF type, and only a
// caller of it needs <caf/message_handler.hpp>.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <caf/fwd.hpp>

#include "kastor/runtime/entity.hpp"
#include "kastor/runtime/handlers.hpp"
#include "kastor/runtime/message.hpp"

namespace kastor::runtime {

struct role_io;  // what the node gives a role's actor (role_actor.hpp)

enum class role_kind {
  service,  // a consumer group shares the partitions; no state per key
  entity,   // a keyed role: state per key with its partitions, from a changelog
  view,     // a broadcast reader: every node reads everything, commits nothing
};

// A declared role, type-erased: what a node assembles.
struct role_spec {
  std::string name;
  role_kind kind = role_kind::service;
  std::vector<const message_type*> takes;  // the declared types it consumes
  std::vector<const message_type*> produces;  // the declared types it says it writes
  bool raw = false;  // takes every record as it came (runtime::raw_record), e.g. copy
  const message_type* changelog = nullptr;  // entity: its snapshots' type (and topic)
  std::shared_ptr<entity_store> store;      // entity: restored and released by the node
  std::chrono::milliseconds latency{0};     // simulated service time before each record
  int max_concurrent = 0;                   // records in that latency at once (0: any)
  // Its handlers bound to its state (made once: shared by every incarnation).
  std::shared_ptr<const role_program> program;
  // Adds the application's own requests (role::queries) to a handler; empty: none.
  std::function<void(caf::message_handler&)> queries;

  // Spawns one incarnation of the role's actor (role_behavior running
  // `program`, answering `queries` and, for an entity, lookups by key); the
  // node fills in role_io. Defined in the runtime library.
  caf::actor spawn(caf::actor_system& sys, role_io io) const;

  // The topics of `takes`, once each.
  std::vector<std::string> topics() const {
    std::vector<std::string> out;
    for (const auto* t : takes)
      if (std::find(out.begin(), out.end(), t->topic) == out.end())
        out.push_back(t->topic);
    return out;
  }
};

template <class State>
class role {
public:
  explicit role(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }

  // Each T declared (runtime::declare); State has handle(const record_meta&, const T&, int64_t).
  template <class... Ts>
  role& consumes() {
    (table_.template on<Ts>(), ...);
    return *this;
  }
  // The declared types its handlers return: their topics are created with
  // the role's (a topic of an undeclared output must exist beforehand).
  template <class... Ts>
  role& produces() {
    (produces_.push_back(&messages().of<Ts>()), ...);
    return *this;
  }
  // Every record as it came: State has handle(const record_meta&, const message&, int64_t)
  // and gets runtime::raw_record messages.
  role& consumes_any() {
    table_.any();
    return *this;
  }
  // A broadcast reader (see role_kind::view).
  role& view() {
    kind_ = role_kind::view;
    return *this;
  }
  // A keyed role whose state is restored from Snapshot's changelog into an
  // entity_store: the State itself when it is one, else what `store_of`
  // makes of it (a book of its keys written by hand). See entity<E> for the
  // usual way.
  template <class Snapshot>
  role& keyed(std::function<std::shared_ptr<entity_store>(std::shared_ptr<State>)> store_of = {}) {
    if (!store_of) {
      if constexpr (std::is_base_of_v<entity_store, State>)
        store_of = [](std::shared_ptr<State> s) { return std::shared_ptr<entity_store>{s}; };
      else
        throw std::logic_error("kastor: keyed role '" + name_
                               + "': its state is no entity_store; say how to make one");
    }
    kind_ = role_kind::entity;
    changelog_ = [] { return &messages().of<Snapshot>(); };
    store_of_ = std::move(store_of);
    return *this;
  }
  // The handlers of a list made elsewhere (runtime::consumes<State, T...>()).
  role& consumes(const handlers<State>& h) {
    table_ = h;
    return *this;
  }
  // How the state is made (once per node that runs the role).
  role& make(std::function<std::shared_ptr<State>()> f) {
    make_ = std::move(f);
    return *this;
  }
  // Requests of the application's own the role's actor answers besides
  // records (e.g. a query of its state from an HTTP handler): `f` takes the
  // std::shared_ptr<State> and returns a caf::message_handler; it is called
  // for every incarnation of the role's actor (each restart).
  template <class F>
  role& queries(F f) {
    queries_ = [f = std::move(f)](const std::shared_ptr<State>& s, caf::message_handler& out) {
      out = f(s);
    };
    return *this;
  }
  // Each record waits `d` before it is handled (a simulated provider call),
  // at most `max_concurrent` at once (0: no limit).
  role& latency(std::chrono::milliseconds d, int max_concurrent = 0) {
    latency_ = d;
    max_concurrent_ = max_concurrent;
    return *this;
  }

  // Makes the state (once) and the spec a node assembles.
  role_spec spec() const {
    std::shared_ptr<State> state;
    if (make_)
      state = make_();
    else if constexpr (std::is_default_constructible_v<State>)
      state = std::make_shared<State>();
    if (!state)
      throw std::logic_error("kastor: role '" + name_ + "' has no way to make its state (make())");
    role_spec s;
    s.name = name_;
    s.kind = kind_;
    s.takes = table_.types();
    s.produces = produces_;
    s.raw = table_.takes_any();
    s.latency = latency_;
    s.max_concurrent = max_concurrent_;
    if (kind_ == role_kind::entity) {
      s.changelog = changelog_();
      s.store = store_of_(state);
    }
    s.program = role_program::of(state, table_);
    if (queries_)
      s.queries = [q = queries_, state](caf::message_handler& out) { q(state, out); };
    return s;
  }

private:
  std::string name_;
  role_kind kind_ = role_kind::service;
  handlers<State> table_;
  std::vector<const message_type*> produces_;
  std::function<const message_type*()> changelog_;
  std::function<std::shared_ptr<entity_store>(std::shared_ptr<State>)> store_of_;
  std::function<std::shared_ptr<State>()> make_;
  std::function<void(const std::shared_ptr<State>&, caf::message_handler&)> queries_;
  std::chrono::milliseconds latency_{0};
  int max_concurrent_ = 0;
};

// A keyed entity role over entity_book<E> (see entity.hpp for E's shape).
// E::snapshot_type must be declared with a compacted topic and
// follows_cause: the node restores the role's keys from that topic.
template <class E>
class entity {
public:
  explicit entity(std::string name) : role_(std::move(name)) {
    role_.template keyed<typename E::snapshot_type>();
  }

  const std::string& name() const { return role_.name(); }

  template <class... Ts>
  entity& consumes() {
    role_.template consumes<Ts...>();
    return *this;
  }
  // See role::produces.
  template <class... Ts>
  entity& produces() {
    role_.template produces<Ts...>();
    return *this;
  }
  // An activation idle this long is passivated (default one minute).
  entity& passivate_after(std::chrono::milliseconds d) {
    passivate_after_ = d;
    return *this;
  }
  // Remembers each key's last `n` inputs (by message id) and the outputs it
  // answered them with, in its snapshot, and answers a copy of one with the
  // same outputs again without running the handler (recent.hpp). Default 0.
  entity& remember(size_t n) {
    remember_ = n;
    return *this;
  }
  // Requests of the application's own its actor answers besides records
  // (e.g. a query of the book from an HTTP handler; see role::queries): `f`
  // takes the std::shared_ptr<entity_book<E>>.
  template <class F>
  entity& queries(F f) {
    role_.queries(std::move(f));
    return *this;
  }
  // How an activation is made, given its key and its snapshot when it is
  // restored (null for a key never seen): the way to hand an entity its
  // settings and dependencies. Default: E's constructors E(key), E(snapshot).
  entity& make(typename entity_book<E>::factory f) {
    make_ = std::move(f);
    return *this;
  }

  // Throws std::logic_error when E has neither a factory nor the two
  // constructors.
  role_spec spec() const {
    auto r = role_;
    auto make = make_ ? make_ : entity_book<E>::constructed();
    if (!make)
      throw std::logic_error("kastor: entity '" + name()
                             + "' needs a factory (make()): its class has no constructors "
                               "E(const std::string& key) and E(const snapshot_type&)");
    r.make([d = passivate_after_, make, n = remember_] {
      auto book = std::make_shared<entity_book<E>>(d, make);
      book->remember(n);
      return book;
    });
    auto s = r.spec();
    static_cast<entity_book<E>&>(*s.store).accepts(s.takes);  // what its timers may send
    return s;
  }

private:
  role<entity_book<E>> role_;
  std::chrono::milliseconds passivate_after_ = std::chrono::minutes{1};
  typename entity_book<E>::factory make_;
  size_t remember_ = 0;
};

}  // namespace kastor::runtime
