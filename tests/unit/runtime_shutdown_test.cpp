// A stop in bounded time: the deadline ends a stop that hangs, and a second
// stop signal ends the process at once.
#include <gtest/gtest.h>

#include <csignal>
#include <future>

#include "kastor/runtime/shutdown.hpp"

using namespace kastor::runtime;
using namespace std::chrono_literals;

namespace {

void hanging_stop() {
  stop_deadline d{200ms, [] { return "still committing role accounts"; }, 3};
  std::promise<void> never;
  never.get_future().wait();  // a stop that never finishes
}

void signalled_twice() {
  static std::atomic<bool> stop{false};
  install_stop_signals(stop);
  std::raise(SIGTERM);
  if (!stop.load())
    std::_Exit(10);  // the first signal did not ask to stop
  std::raise(SIGINT);
  std::_Exit(11);  // the second did not end the process
}

}  // namespace

TEST(StopDeadline, EndsTheProcessWhenTheStopHangsNamingWhereItHung) {
  EXPECT_EXIT(hanging_stop(),
    testing::ExitedWithCode(3),
    "stop did not finish within 200 ms \\(still committing role accounts\\): exiting now");
}

TEST(StopDeadline, AStopThatFinishesInTimeGoesOn) {
  auto began = std::chrono::steady_clock::now();
  {
    stop_deadline d{30s, [] { return "never asked"; }};
  }
  // Destroyed at once (the watch does not wait out its limit)
  EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);
}

TEST(StopSignals, TheFirstSignalAsksToStopTheSecondExitsAtOnce) {
  EXPECT_EXIT(signalled_twice(), testing::ExitedWithCode(128 + SIGINT), "second stop signal: exiting at once");
}
