// The one_for_one supervisor: restarts, intensity, escalation, shutdown order.
#include <atomic>
#include <mutex>

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/supervisor.hpp"

using namespace kastor::runtime;
using namespace std::chrono_literals;

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;

// A child that crashes on `crash` and records its start and stop.
struct journal {
  std::mutex mtx;
  std::vector<std::string> lines;
  void add(std::string s) {
    std::lock_guard<std::mutex> guard{mtx};
    lines.push_back(std::move(s));
  }
  std::vector<std::string> get() {
    std::lock_guard<std::mutex> guard{mtx};
    return lines;
  }
};

child_spec worker(const std::string& name, std::shared_ptr<journal> j) {
  return {name, [=](caf::local_actor* parent) {
            j->add("start " + name);
            return parent->system().spawn([=](caf::event_based_actor* self) -> caf::behavior {
              self->attach_functor([=](const caf::error&) { j->add("stop " + name); });
              return {[](crash_atom) -> caf::result<void> { throw std::runtime_error("boom"); }};
            });
          }};
}

// Waits for the exit of `who` and returns its reason.
caf::error wait_down(caf::actor_system& sys, const caf::actor& who, std::chrono::seconds deadline) {
  caf::scoped_actor self{sys};
  self->monitor(who);
  caf::error reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(deadline) >> [&] { reason = make_error(runtime_errc::timeout, "no exit"); });
  return reason;
}

struct SupervisorTest : ::testing::Test {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<journal> j = std::make_shared<journal>();
  std::shared_ptr<supervision_log> log = std::make_shared<supervision_log>();
  void SetUp() override {
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

// The current incarnation of a child, found through the journal of starts.
bool wait_for(std::function<bool()> cond) {
  auto until = std::chrono::steady_clock::now() + 10s;
  while (!cond())
    if (std::chrono::steady_clock::now() > until)
      return false;
    else
      std::this_thread::yield();
  return true;
}

TEST_F(SupervisorTest, OneForOneRestartsOnlyTheChildThatCrashed) {
  // Given a supervisor of a and b; when a crashes
  caf::actor a_handle;
  auto spec = supervisor_spec{"root", 5, 10s, {}, log};
  std::mutex mtx;
  spec.children.push_back({"a", [&](caf::local_actor* parent) {
                             auto h = worker("a", j).start(parent);
                             std::lock_guard<std::mutex> guard{mtx};
                             a_handle = h;
                             return h;
                           }});
  spec.children.push_back(worker("b", j));
  auto sup = spawn_supervisor(*sys, spec);
  ASSERT_TRUE(wait_for([&] { return j->get().size() == 2; }));
  {
    std::lock_guard<std::mutex> guard{mtx};
    caf::anon_send(a_handle, crash_atom::value);
  }
  // Then a is started again and b is left alone
  ASSERT_TRUE(wait_for([&] { return log->total_restarts() == 1; }));
  auto lines = j->get();
  EXPECT_EQ(lines, (std::vector<std::string>{"start a", "start b", "stop a", "start a"}));
  EXPECT_EQ(log->restarts()["root/a"], 1);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(SupervisorTest, PastTheIntensityItStopsChildrenInReverseOrderAndEscalates) {
  // Given at most 2 restarts in 10 s; when the child crashes 3 times
  caf::actor current;
  std::mutex mtx;
  auto spec = supervisor_spec{"root/payment", 2, 10s, {}, log};
  spec.children.push_back(worker("first", j));
  spec.children.push_back({"crasher", [&](caf::local_actor* parent) {
                             auto h = worker("crasher", j).start(parent);
                             std::lock_guard<std::mutex> guard{mtx};
                             current = h;
                             return h;
                           }});
  spec.children.push_back(worker("last", j));
  auto sup = spawn_supervisor(*sys, spec);
  ASSERT_TRUE(wait_for([&] { return j->get().size() == 3; }));  // all started
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(wait_for([&] { return log->total_restarts() == i; }));
    std::lock_guard<std::mutex> guard{mtx};
    caf::anon_send(current, crash_atom::value);
  }
  // Then the supervisor exits with restart_limit_exceeded (its parent sees it)
  auto reason = wait_down(*sys, sup, 10s);
  EXPECT_EQ(reason.category(), runtime_category);
  EXPECT_EQ(reason.code(), static_cast<uint8_t>(runtime_errc::restart_limit_exceeded));
  // And its remaining children were stopped, last started first
  ASSERT_TRUE(wait_for([&] {
    auto l = j->get();
    return std::count(l.begin(), l.end(), "stop first") == 1;
  }));
  auto l = j->get();
  auto pos = [&](const std::string& s) { return std::find(l.begin(), l.end(), s) - l.begin(); };
  EXPECT_LT(pos("stop last"), pos("stop first"));
  EXPECT_EQ(log->total_restarts(), 2);
}

TEST_F(SupervisorTest, AChildSupervisorThatGivesUpIsRestartedByItsParent) {
  // Given root -> payment (max 0 restarts) -> crasher
  caf::actor current;
  std::mutex mtx;
  supervisor_spec inner{"root/payment", 0, 10s, {}, log};
  inner.children.push_back({"crasher", [&](caf::local_actor* parent) {
                              auto h = worker("crasher", j).start(parent);
                              std::lock_guard<std::mutex> guard{mtx};
                              current = h;
                              return h;
                            }});
  auto root = spawn_supervisor(*sys, {"root", 5, 10s, {supervisor_child(inner)}, log});
  ASSERT_TRUE(wait_for([&] { return j->get().size() == 1; }));
  // When the crasher crashes once
  {
    std::lock_guard<std::mutex> guard{mtx};
    caf::anon_send(current, crash_atom::value);
  }
  // Then root restarts the payment supervisor, which starts its child afresh
  ASSERT_TRUE(wait_for([&] { return log->restarts()["root/payment"] == 1; }));
  ASSERT_TRUE(wait_for([&] {
    auto l = j->get();
    return std::count(l.begin(), l.end(), "start crasher") == 2;
  }));
  caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  EXPECT_EQ(wait_down(*sys, root, 10s), caf::exit_reason::user_shutdown);
}

}  // namespace

namespace {

TEST_F(SupervisorTest, AChildThatIgnoresShutdownIsKilledAtTheDeadline) {
  // Given a child that traps exit requests and never stops by itself
  supervisor_spec spec{"root", 5, 10s, {}, log};
  spec.shutdown_deadline = 100ms;
  spec.children.push_back({"stubborn", [&](caf::local_actor* parent) {
                             auto jj = j;
                             return parent->system().spawn([jj](caf::event_based_actor* self) -> caf::behavior {
                               self->set_exit_handler([](caf::exit_msg&) {});
                               self->attach_functor([jj](const caf::error& r) {
                                 jj->add(r == caf::exit_reason::kill ? "killed" : "stopped");
                               });
                               return {[](crash_atom) {}};
                             });
                           }});
  auto sup = spawn_supervisor(*sys, spec);
  // When the supervisor is asked to shut down
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  // Then it kills the child after the deadline and exits
  EXPECT_EQ(wait_down(*sys, sup, 10s), caf::exit_reason::user_shutdown);
  ASSERT_TRUE(wait_for([&] { return !j->get().empty(); }));
  EXPECT_EQ(j->get(), std::vector<std::string>{"killed"});
}

}  // namespace
