// Supervisors in simulated time (CAF's test_coordinator: one thread, a manual
// clock), modelled on the cases of OTP's supervisor_SUITE: which children each
// strategy restarts and in what order, restart types on normal and abnormal
// exits, intensity and escalation, backoff, shutdown deadlines, dynamic
// children, and the live tree.
#include <map>
#include <set>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <gtest/gtest.h>

#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/logging.hpp"
#include "kastor/runtime/supervisor.hpp"

using namespace kastor::runtime;
using namespace std::chrono_literals;

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;

// What happened to the children, in order ("start a", "stop b", ...), and the
// current incarnation of each.
struct journal {
  std::vector<std::string> lines;
  std::map<std::string, caf::actor> current;
  std::map<std::string, int> starts;
};

// A worker: `crash` exits abnormally, `finish` exits normally. With
// `ignore_shutdown` it does not stop when asked (only a kill ends it).
child_spec worker(const std::string& name, std::shared_ptr<journal> j,
                  restart_type restart = restart_type::permanent, bool ignore_shutdown = false) {
  child_spec c;
  c.name = name;
  c.restart = restart;
  c.shutdown = 1000ms;
  c.start = [=](caf::local_actor* parent) {
    j->lines.push_back("start " + name);
    ++j->starts[name];
    auto a = parent->system().spawn([=](caf::event_based_actor* self) -> caf::behavior {
      self->attach_functor([=](const caf::error&) { j->lines.push_back("stop " + name); });
      if (ignore_shutdown)
        self->set_exit_handler([](caf::exit_msg&) {});
      return {
        [self](crash_atom) { self->quit(make_error(runtime_errc::crashed, "boom")); },
        [self](finish_atom) { self->quit(caf::exit_reason::normal); },
      };
    });
    j->current[name] = a;
    return a;
  };
  return c;
}

struct SupervisorTest : ::testing::Test {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<journal> j = std::make_shared<journal>();
  std::shared_ptr<supervision_log> log = std::make_shared<supervision_log>();

  SupervisorTest() {
    set_log_level("off");
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    sched->clock().current_time += 1h;  // not zero
  }
  ~SupervisorTest() override { run(); }

  void run() { sched->run(); }
  // Moves the simulated clock and lets everything that became due run.
  void advance(std::chrono::milliseconds d) {
    sched->clock().advance_time(d);
    run();
  }
  void send(const std::string& child, caf::atom_value what) {
    if (what == crash_atom::value)
      caf::anon_send(j->current.at(child), crash_atom::value);
    else
      caf::anon_send(j->current.at(child), finish_atom::value);
    run();
  }
  // Records the exit reason of `a` (nullopt while it runs).
  std::shared_ptr<std::optional<caf::error>> watch(const caf::actor& a) {
    auto out = std::make_shared<std::optional<caf::error>>();
    caf::actor_cast<caf::abstract_actor*>(a)->attach_functor(
      [out](const caf::error& reason) { *out = reason; });
    return out;
  }
  supervisor_spec spec(strategy s, std::vector<child_spec> children, int max_restarts = 10) {
    supervisor_spec sp;
    sp.path = "root";
    sp.strat = s;
    sp.max_restarts = max_restarts;
    sp.period = 10s;
    sp.children = std::move(children);
    sp.log = log;
    sp.seed = 7;
    return sp;
  }
  caf::actor start(supervisor_spec sp) {
    auto a = spawn_supervisor(*sys, std::move(sp));
    run();
    j->lines.clear();
    return a;
  }
  caf::actor start_child(const caf::actor& sup, const std::string& key) {
    auto out = std::make_shared<caf::actor>();
    sys->spawn([=](caf::event_based_actor* self) {
      self->request(sup, std::chrono::seconds{86400}, start_child_atom::value, key)
        .then([=](const caf::actor& a) { *out = a; }, [](caf::error&) {});
    });
    run();
    return *out;
  }
  using lines = std::vector<std::string>;
};

// -- strategies ----------------------------------------------------------------

TEST_F(SupervisorTest, OneForOneRestartsOnlyTheChildThatCrashed) {
  auto sup = start(spec(strategy::one_for_one, {worker("a", j), worker("b", j), worker("c", j)}));
  send("b", crash_atom::value);
  EXPECT_EQ(j->lines, (lines{"stop b", "start b"}));
  EXPECT_EQ(log->restarts(), (std::map<std::string, int64_t>{{"root/b", 1}}));
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(SupervisorTest, OneForAllStopsTheOthersInReverseOrderThenStartsAllInOrder) {
  auto sup = start(spec(strategy::one_for_all, {worker("a", j), worker("b", j), worker("c", j)}));
  send("b", crash_atom::value);
  EXPECT_EQ(j->lines, (lines{"stop b", "stop c", "stop a", "start a", "start b", "start c"}));
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(SupervisorTest, RestForOneRestartsTheChildAndThoseStartedAfterIt) {
  auto sup = start(spec(strategy::rest_for_one, {worker("a", j), worker("b", j), worker("c", j)}));
  send("b", crash_atom::value);
  EXPECT_EQ(j->lines, (lines{"stop b", "stop c", "start b", "start c"}));
  j->lines.clear();
  send("c", crash_atom::value);  // the last one: alone
  EXPECT_EQ(j->lines, (lines{"stop c", "start c"}));
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(SupervisorTest, AGroupRestartSupersedesARestartStillWaitingForItsBackoff) {
  // Given a rest_for_one [a, b] whose b waits 100 ms to restart
  auto sp = spec(strategy::rest_for_one, {worker("a", j), worker("b", j)});
  sp.backoff = {100ms, 100ms, 0.0, 10s};
  auto sup = start(sp);
  send("b", crash_atom::value);
  advance(50ms);
  // When a crashes meanwhile
  send("a", crash_atom::value);
  advance(200ms);
  // Then a starts first, then b, each once (OTP: b restarts after a)
  EXPECT_EQ(j->lines, (lines{"stop b", "stop a", "start a", "start b"}));
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(SupervisorTest, AFailureDuringAGroupRestartIsHandledAfterItAndShutdownStillEnds) {
  // Given rest_for_one [a, b, c] where c takes its whole deadline to stop
  auto sup = start(spec(strategy::rest_for_one,
                        {worker("a", j), worker("b", j), worker("c", j, restart_type::permanent, true)}));
  auto exit = watch(sup);
  send("b", crash_atom::value);  // the group [b, c] waits for c to stop
  send("a", crash_atom::value);  // a fails while it waits
  EXPECT_EQ(j->lines, (lines{"stop b", "stop a"}));
  advance(1000ms);  // c is killed at its deadline; b and c restart
  EXPECT_EQ(j->lines, (lines{"stop b", "stop a", "stop c", "start b", "start c"}));
  advance(1000ms);  // then a's failure: c (killed again) and b stop, a, b, c start
  EXPECT_EQ(j->lines, (lines{"stop b", "stop a", "stop c", "start b", "start c", "stop c", "stop b",
                             "start a", "start b", "start c"}));
  j->lines.clear();
  // And a shutdown that comes in the middle of such a sequence ends
  send("b", crash_atom::value);
  send("a", crash_atom::value);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  run();
  advance(2000ms);
  EXPECT_TRUE(exit->has_value()) << ::testing::PrintToString(j->lines);
}

TEST_F(SupervisorTest, OneForAllDoesNotRestartATemporarySibling) {
  auto sup = start(spec(strategy::one_for_all,
                        {worker("a", j), worker("t", j, restart_type::temporary), worker("c", j)}));
  send("a", crash_atom::value);
  EXPECT_EQ(j->lines, (lines{"stop a", "stop c", "stop t", "start a", "start c"}));
  auto tree = log->tree_json();
  EXPECT_EQ(tree.find("\"name\":\"t\""), std::string::npos) << tree;
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

// -- restart types ---------------------------------------------------------------

struct restart_case {
  restart_type type;
  bool abnormal;
  bool restarted;
};

class RestartTypeTest : public SupervisorTest,
                        public ::testing::WithParamInterface<restart_case> {};

TEST_P(RestartTypeTest, RestartsAsOtpSays) {
  auto p = GetParam();
  auto sup = start(spec(strategy::one_for_one, {worker("x", j, p.type), worker("y", j)}));
  send("x", p.abnormal ? caf::atom_value{crash_atom::value} : caf::atom_value{finish_atom::value});
  if (p.restarted)
    EXPECT_EQ(j->lines, (lines{"stop x", "start x"}));
  else
    EXPECT_EQ(j->lines, (lines{"stop x"}));  // and y is untouched
  auto tree = log->tree_json();
  bool listed = tree.find("\"name\":\"x\"") != std::string::npos;
  EXPECT_EQ(listed, p.type != restart_type::temporary) << tree;
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

INSTANTIATE_TEST_SUITE_P(
  Otp, RestartTypeTest,
  ::testing::Values(restart_case{restart_type::permanent, false, true},
                    restart_case{restart_type::permanent, true, true},
                    restart_case{restart_type::transient, false, false},
                    restart_case{restart_type::transient, true, true},
                    restart_case{restart_type::temporary, false, false},
                    restart_case{restart_type::temporary, true, false}));

// -- intensity and escalation ----------------------------------------------------------

TEST_F(SupervisorTest, IntensityExceededStopsChildrenInReverseOrderAndExits) {
  auto sup = start(spec(strategy::one_for_one, {worker("a", j), worker("b", j), worker("c", j)}, 2));
  auto exit = watch(sup);
  send("a", crash_atom::value);
  send("a", crash_atom::value);
  EXPECT_FALSE(exit->has_value());
  j->lines.clear();
  send("a", crash_atom::value);  // the third within the period
  EXPECT_EQ(j->lines, (lines{"stop a", "stop c", "stop b"}));
  ASSERT_TRUE(exit->has_value());
  EXPECT_EQ(exit->value().category(), runtime_category);
  EXPECT_EQ(exit->value().code(), static_cast<uint8_t>(runtime_errc::restart_limit_exceeded));
  EXPECT_EQ(log->counts()["escalated"], 1);
}

TEST_F(SupervisorTest, RestartsOutsideThePeriodDoNotAddUp) {
  auto sup = start(spec(strategy::one_for_one, {worker("a", j)}, 2));
  auto exit = watch(sup);
  for (int i = 0; i < 10; ++i) {
    send("a", crash_atom::value);
    advance(6s);  // two within any 10 s window
  }
  EXPECT_FALSE(exit->has_value());
  EXPECT_EQ(j->starts["a"], 11);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(SupervisorTest, EscalationReachesTheParentWhichRestartsTheChildSupervisor) {
  auto inner = spec(strategy::one_for_one, {worker("w", j)}, 1);
  inner.path = "root/inner";
  auto outer = spec(strategy::one_for_one, {supervisor_child(inner, 5s)}, 5);
  auto root = start(outer);
  auto first = j->current.at("w");
  send("w", crash_atom::value);  // inner restarts w
  send("w", crash_atom::value);  // inner gives up; root restarts inner, which starts w
  EXPECT_EQ(j->lines, (lines{"stop w", "start w", "stop w", "start w"}));
  EXPECT_NE(j->current.at("w"), first);
  EXPECT_EQ(log->restarts()["root/inner"], 1);
  EXPECT_EQ(log->counts()["escalated"], 1);
  caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  run();
}

TEST_F(SupervisorTest, AChildThatAlwaysFailsToStartCannotMakeARestartLoopSpin) {
  int starts = 0;
  child_spec flaky;
  flaky.name = "flaky";
  flaky.start = [&](caf::local_actor* parent) -> caf::actor {
    if (++starts > 1)
      throw std::runtime_error("cannot connect");
    return worker("flaky", j).start(parent);
  };
  auto sp = spec(strategy::one_for_one, {flaky}, 3);
  sp.backoff = {10ms, 1s, 0.0, 10s};
  auto sup = start(sp);
  auto exit = watch(sup);
  send("flaky", crash_atom::value);
  for (int i = 0; i < 10 && !exit->has_value(); ++i)
    advance(1s);
  ASSERT_TRUE(exit->has_value());
  EXPECT_EQ(exit->value().code(), static_cast<uint8_t>(runtime_errc::restart_limit_exceeded));
  EXPECT_EQ(starts, 4);  // the first start and 3 failed restarts, then it gave up
  EXPECT_EQ(log->counts()["restart_failed"], 3);
}

TEST_F(SupervisorTest, AFailedStartAtStartUpStopsTheStartedChildrenAndFails) {
  child_spec broken;
  broken.name = "broken";
  broken.start = [](caf::local_actor*) { return caf::actor{}; };
  auto sup = spawn_supervisor(*sys, spec(strategy::one_for_one, {worker("a", j), broken, worker("c", j)}));
  auto exit = watch(sup);
  run();
  EXPECT_EQ(j->lines, (lines{"start a", "stop a"}));
  ASSERT_TRUE(exit->has_value());
  EXPECT_EQ(exit->value().code(), static_cast<uint8_t>(runtime_errc::start_failed));
}

// -- backoff -----------------------------------------------------------------------

TEST_F(SupervisorTest, BackoffDelaysGrowUpToTheMaximumAndResetAfterAQuietPeriod) {
  auto sp = spec(strategy::one_for_one, {worker("a", j)}, 100);
  sp.backoff = {100ms, 1000ms, 0.0, 30s};
  auto sup = start(sp);
  for (auto expected : {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms}) {
    send("a", crash_atom::value);
    int before = j->starts["a"];
    advance(expected - 1ms);
    EXPECT_EQ(j->starts["a"], before) << "restarted before " << expected.count() << " ms";
    advance(1ms);
    EXPECT_EQ(j->starts["a"], before + 1) << "not restarted at " << expected.count() << " ms";
  }
  advance(31s);  // quiet
  send("a", crash_atom::value);
  int before = j->starts["a"];
  advance(100ms);
  EXPECT_EQ(j->starts["a"], before + 1);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(SupervisorTest, JitterKeepsDelaysBetweenHalfAndTheFullDelay) {
  auto sp = spec(strategy::one_for_one, {worker("a", j)}, 1000);
  sp.backoff = {200ms, 200ms, 0.5, 30s};
  auto sup = start(sp);
  std::set<int64_t> seen;
  for (int i = 0; i < 20; ++i) {
    send("a", crash_atom::value);
    int before = j->starts["a"];
    int64_t waited = 0;
    while (j->starts["a"] == before && waited < 300) {
      advance(1ms);
      ++waited;
    }
    EXPECT_GE(waited, 100);
    EXPECT_LE(waited, 200);
    seen.insert(waited);
  }
  EXPECT_GT(seen.size(), 3u);  // actually jittered
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(SupervisorTest, BackoffDelayFormula) {
  backoff_policy b{10ms, 100ms, 0.0, 1s};
  EXPECT_EQ(backoff_delay(b, 0), 10ms);
  EXPECT_EQ(backoff_delay(b, 1), 20ms);
  EXPECT_EQ(backoff_delay(b, 3), 80ms);
  EXPECT_EQ(backoff_delay(b, 4), 100ms);
  EXPECT_EQ(backoff_delay(b, 60), 100ms);
  EXPECT_EQ(backoff_delay(backoff_policy{}, 5), 0ms);  // no backoff configured
}

// -- shutdown ------------------------------------------------------------------------

TEST_F(SupervisorTest, ShutdownStopsChildrenInReverseStartOrder) {
  auto sup = start(spec(strategy::one_for_one, {worker("a", j), worker("b", j), worker("c", j)}));
  auto exit = watch(sup);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  run();
  EXPECT_EQ(j->lines, (lines{"stop c", "stop b", "stop a"}));
  ASSERT_TRUE(exit->has_value());
  EXPECT_EQ(exit->value(), caf::exit_reason::user_shutdown);
}

TEST_F(SupervisorTest, AChildThatHangsOnShutdownIsKilledAtItsDeadline) {
  auto sup = start(spec(strategy::one_for_one,
                        {worker("a", j), worker("stuck", j, restart_type::permanent, true)}));
  auto exit = watch(sup);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  run();
  EXPECT_TRUE(j->lines.empty());  // stuck ignores the request; a waits its turn
  advance(999ms);
  EXPECT_TRUE(j->lines.empty());
  advance(1ms);  // its 1000 ms deadline
  EXPECT_EQ(j->lines, (lines{"stop stuck", "stop a"}));
  EXPECT_TRUE(exit->has_value());
  EXPECT_EQ(log->counts()["killed"], 1);
}

TEST_F(SupervisorTest, ShutdownCancelsPendingRestarts) {
  auto sp = spec(strategy::one_for_one, {worker("a", j), worker("b", j)});
  sp.backoff = {1s, 1s, 0.0, 10s};
  auto sup = start(sp);
  send("a", crash_atom::value);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  run();
  advance(2s);
  EXPECT_EQ(j->lines, (lines{"stop a", "stop b"}));  // a never came back
}

// -- dynamic children (simple_one_for_one) ------------------------------------------

TEST_F(SupervisorTest, SimpleOneForOneStartsOneChildPerKeyAndRestartsThemAlone) {
  auto sp = spec(strategy::simple_one_for_one, {worker("order", j, restart_type::transient)});
  sp.path = "root/orders";
  auto sup = start(sp);
  auto k1 = start_child(sup, "k1");
  auto k2 = start_child(sup, "k2");
  ASSERT_TRUE(k1);
  ASSERT_TRUE(k2);
  EXPECT_NE(k1, k2);
  EXPECT_EQ(start_child(sup, "k1"), k1);  // the running one
  EXPECT_EQ(log->find("root/orders/k1"), k1);
  caf::anon_send(k1, crash_atom::value);
  run();
  auto k1b = log->find("root/orders/k1");
  ASSERT_TRUE(k1b);
  EXPECT_NE(k1b, k1);
  EXPECT_EQ(log->find("root/orders/k2"), k2);
  caf::anon_send(k2, finish_atom::value);  // transient, normal: gone
  run();
  EXPECT_FALSE(log->find("root/orders/k2"));
  EXPECT_EQ(log->tree_json().find("\"name\":\"k2\""), std::string::npos);
  auto exit = watch(sup);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  run();
  EXPECT_TRUE(exit->has_value());
}

TEST_F(SupervisorTest, StartChildOnAStaticSupervisorIsAnError) {
  auto sup = start(spec(strategy::one_for_one, {worker("a", j)}));
  EXPECT_FALSE(start_child(sup, "k"));
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

// -- the live tree -------------------------------------------------------------------

TEST_F(SupervisorTest, TheTreeShowsPathsStrategiesStatesRestartsAndReasons) {
  auto inner = spec(strategy::rest_for_one, {worker("bridge", j), worker("worker", j)});
  inner.path = "root/payment";
  auto root = start(spec(strategy::one_for_one, {supervisor_child(inner, 5s)}));
  send("worker", crash_atom::value);
  auto tree = log->tree_json();
  for (auto part : {"\"path\":\"root\"", "\"strategy\":\"one_for_one\"",
                    "\"path\":\"root/payment\"", "\"strategy\":\"rest_for_one\"",
                    "\"path\":\"root/payment/worker\"", "\"kind\":\"worker\"", "\"restarts\":1",
                    "\"state\":\"running\"", "runtime.crashed", "\"restarted\":1"})
    EXPECT_NE(tree.find(part), std::string::npos) << part << " in " << tree;
  EXPECT_EQ(log->find("root/payment/worker"), j->current.at("worker"));
  EXPECT_TRUE(log->find("root/payment"));
  EXPECT_TRUE(log->find("root"));
  EXPECT_FALSE(log->find("root/nope"));
  caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  run();
  EXPECT_FALSE(log->find("root/payment/worker"));
}

}  // namespace
