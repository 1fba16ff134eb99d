// A node told to stop exits in bounded time whatever its brokers do: here
// with its only broker killed at the moment of the stop (a second signal
// exiting at once: tests/unit/runtime_shutdown_test.cpp). A Kafka of its own
// through deploy/local/cluster.sh, on ports of its own, beside the suite's.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "kastor/apps/driver.hpp"
#include "kastor/apps/http_client.hpp"
#include "kastor/apps/process.hpp"
#include "support/command.hpp"
#include "support/kafka.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

class NodeStop : public ::testing::Test {
protected:
  void SetUp() override {
    if (test::system_brokers().empty())
      GTEST_SKIP() << "system test: run through `make test`";
    dir_ = std::filesystem::temp_directory_path() / ("kastor-stop-" + std::to_string(getpid()));
    env_ = "KASTOR_BIN=" + std::string{KASTOR_BIN} + " KASTOR_CLUSTER_DIR=" + dir_.string()
           + " KASTOR_CLUSTER_HTTP_BASE=28600 KASTOR_CLUSTER_PORT_BASE=28700";
  }

  void TearDown() override {
    if (!dir_.empty()) {
      run("down");
      if (!HasFailure())
        std::filesystem::remove_all(dir_);
    }
  }

  int run(const std::string& args, std::string* out = nullptr) {
    return test::run_command(env_ + " bash " KASTOR_SOURCE_DIR "/deploy/local/cluster.sh " + args,
                             out);
  }

  pid_t node_pid() {
    std::ifstream in{dir_ / "node-1" / "pid"};
    pid_t pid = 0;
    in >> pid;
    return pid;
  }

  // Running: neither gone nor a zombie (the node is not our child).
  static bool alive(pid_t pid) {
    if (::kill(pid, 0) != 0)
      return false;
    std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    return close != std::string::npos && line.size() > close + 2 && line[close + 2] != 'Z';
  }

  std::string node_log() {
    std::ifstream in{dir_ / "node-1" / "node.log"};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::filesystem::path dir_;
  std::string env_;
};

TEST_F(NodeStop, ExitsWithinItsStopTimeoutWhenItsBrokerDiesAtTheStop) {
  std::string out;
  ASSERT_EQ(run("up --brokers 1 --nodes 1 -- --log-level info --set node.stop-timeout-ms=6000"
                " --set exactly-once=order,payment",
                &out),
            0) << out;
  // Given a node taking orders
  auto pid = node_pid();
  ASSERT_GT(pid, 0);
  std::atomic<bool> done{false};
  std::atomic<int> accepted{0};
  std::thread load{[&] {
    apps::http_client c{"127.0.0.1", 28601};
    for (int i = 0; !done.load(); ++i) {
      auto r = c.post_json("/api/orders", apps::sample_order_json(i));
      if (r && r->status == 202)
        ++accepted;
    }
  }};
  bool taking = test::eventually([&] { return accepted.load() >= 20; }, 30s);
  if (!taking) {
    done = true;
    load.join();
  }
  ASSERT_TRUE(taking) << "orders accepted: " << accepted.load();
  // When its only broker dies (kill -9) and it is told to stop at that moment
  ASSERT_EQ(run("kill-broker 1", &out), 0) << out;
  ::kill(pid, SIGTERM);
  auto stopped_at = std::chrono::steady_clock::now();
  // Then it exits within its stop timeout (6 s; 3 s more for a loaded machine)
  bool exited = test::eventually([&] { return !alive(pid); }, 9s);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - stopped_at);
  done = true;
  load.join();
  ASSERT_TRUE(exited) << "still up " << took.count() << " ms after SIGTERM\n" << node_log();
  std::printf("stopped in %lld ms with its broker killed at the stop\n",
              static_cast<long long>(took.count()));
  // And it said how it ended: stopped (naming what it could not commit), or
  // cut short at the deadline naming the step that hung
  auto log = node_log();
  EXPECT_TRUE(log.find("node stopped node=node-1") != std::string::npos
              || log.find("event=stop_timeout") != std::string::npos)
    << log;
}

}  // namespace
