// deploy/local/cluster.sh, as a user drives it: a Kafka of its own and two
// kastor nodes, then each fault command, then down. (It starts its own
// broker on other ports, so it runs beside the suite's Kafka.)
#include <gtest/gtest.h>

#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <regex>

#include "kastor/apps/http_client.hpp"
#include "kastor/apps/process.hpp"
#include "support/command.hpp"
#include "support/kafka.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

class ClusterScript : public ::testing::Test {
protected:
  void SetUp() override {
    if (test::system_brokers().empty())
      GTEST_SKIP() << "system test: run through `make test`";
    dir_ = std::filesystem::temp_directory_path() / ("kastor-cluster-" + std::to_string(getpid()));
    http_base_ = 28100;  // nodes on 28101..; its broker on 28200 (not the suite's ports)
    env_ = "KASTOR_BIN=" + std::string{KASTOR_BIN} + " KASTOR_CLUSTER_DIR=" + dir_.string()
           + " KASTOR_CLUSTER_HTTP_BASE=" + std::to_string(http_base_)
           + " KASTOR_CLUSTER_PORT_BASE=28200";
  }

  void TearDown() override {
    if (!dir_.empty())
      run("down");
  }

  // Runs a cluster.sh command; its exit code, its output in `out`.
  int run(const std::string& args, std::string* out = nullptr) {
    return test::run_command(env_ + " bash " KASTOR_SOURCE_DIR "/deploy/local/cluster.sh " + args,
                             out);
  }

  bool ready(int i) {
    apps::http_client c{"127.0.0.1", static_cast<uint16_t>(http_base_ + i)};
    auto r = c.get("/readyz");
    return r && r->status == 200;
  }

  std::filesystem::path dir_;
  int http_base_ = 0;
  std::string env_;
};

TEST_F(ClusterScript, UpKillPauseRestartAddAndDown) {
  std::string out;
  ASSERT_EQ(run("up --brokers 1 --nodes 2 -- --log-level warn", &out), 0) << out;
  EXPECT_NE(out.find("bootstrap.servers="), std::string::npos) << out;
  EXPECT_TRUE(ready(1));
  EXPECT_TRUE(ready(2));
  // status: both nodes up, and each role's partitions split between them
  ASSERT_EQ(run("status", &out), 0) << out;
  EXPECT_NE(out.find("node-1 pid="), std::string::npos) << out;
  EXPECT_NE(out.find("up http://127.0.0.1:" + std::to_string(http_base_ + 2)), std::string::npos);
  EXPECT_NE(out.find("node node-1"), std::string::npos) << out;  // from `kastor ctl status`
  // kill -9 node 1: it is down, and node 2 ends up owning everything
  ASSERT_EQ(run("kill-node 1", &out), 0) << out;
  ASSERT_EQ(run("status", &out), 0) << out;
  EXPECT_NE(out.find("node-1 pid="), std::string::npos);
  EXPECT_TRUE(std::regex_search(out, std::regex{"node-1 pid=[0-9]+ down"})) << out;
  // pause node 2, then resume it
  ASSERT_EQ(run("pause-node 2", &out), 0) << out;
  ASSERT_EQ(run("status", &out), 0) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex{"node-2 pid=[0-9]+ paused"})) << out;
  ASSERT_EQ(run("resume-node 2", &out), 0) << out;
  EXPECT_TRUE(test::eventually([&] { return ready(2); }, 30s));
  // restart node 1 and add node 3
  ASSERT_EQ(run("restart-node 1", &out), 0) << out;
  EXPECT_TRUE(ready(1));
  ASSERT_EQ(run("add-node", &out), 0) << out;
  EXPECT_TRUE(ready(3));
  // bad input: a clear error and a non-zero exit
  EXPECT_NE(run("kill-node 9", &out), 0);
  EXPECT_NE(out.find("no node '9'"), std::string::npos) << out;
  EXPECT_NE(run("up", &out), 0);
  EXPECT_NE(out.find("holds a cluster already"), std::string::npos) << out;
  // down stops everything it started
  ASSERT_EQ(run("down", &out), 0) << out;
  EXPECT_FALSE(ready(1));
  EXPECT_FALSE(ready(2));
  EXPECT_FALSE(ready(3));
  EXPECT_FALSE(std::filesystem::exists(dir_));
  dir_.clear();
}

// Network namespaces need root; CI and `make test` run as root.
TEST_F(ClusterScript, CutANodeOffTheNetworkAndHealIt) {
  if (geteuid() != 0)
    GTEST_SKIP() << "network namespaces need root";
  std::string out;
  // Given two nodes, each in a network namespace of its own
  ASSERT_EQ(run("up --netns --brokers 1 --nodes 2 -- --log-level warn"
                " --set kafka.session-timeout-ms=6000", &out), 0) << out;
  EXPECT_TRUE(ready(1)) << "the gateway is reached through the node's relay";
  EXPECT_TRUE(ready(2));
  auto members_of_order = [&] {
    std::string s;
    run("status", &s);
    std::smatch m;
    return std::regex_search(s, m, std::regex{"order +group \\S+ +\\S+, ([0-9]+) member"})
             ? std::stoi(m[1]) : -1;
  };
  ASSERT_TRUE(test::eventually([&] { return members_of_order() == 2; }, 60s));
  // When node 1 is cut off the network
  ASSERT_EQ(run("cut-node 1", &out), 0) << out;
  ASSERT_EQ(run("status", &out), 0) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex{"node-1 pid=[0-9]+ up,cut"})) << out;
  // Then it is still running, but every role's group drops it after the
  // session timeout and node 2 takes all its partitions
  EXPECT_TRUE(test::eventually([&] {
    run("status", &out);
    return out.find("node node-1") == std::string::npos
           && out.find("node node-2") != std::string::npos;
  }, 60s)) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex{"node-1 pid=[0-9]+ up,cut"})) << out;
  // And cutting it twice is an error that says why
  EXPECT_NE(run("cut-node 1", &out), 0);
  EXPECT_NE(out.find("cut off already"), std::string::npos) << out;
  // When the network is healed, node 1 rejoins and answers again
  ASSERT_EQ(run("heal-node 1", &out), 0) << out;
  EXPECT_TRUE(test::eventually([&] { return members_of_order() == 2; }, 60s));
  EXPECT_TRUE(test::eventually([&] { return ready(1); }, 30s));
  EXPECT_NE(run("heal-node 1", &out), 0);
  EXPECT_NE(out.find("not cut off"), std::string::npos) << out;
  // The node runs in a namespace of its own; down removes the relays and it
  auto ns = apps::run_capture("ip netns identify \"$(cat " + (dir_ / "node-1" / "pid").string()
                              + ")\"");
  while (!ns.empty() && std::isspace(static_cast<unsigned char>(ns.back())))
    ns.pop_back();
  EXPECT_EQ(ns.rfind("kastor-", 0), 0u) << ns;
  ASSERT_EQ(run("down", &out), 0) << out;
  EXPECT_FALSE(ready(1));
  if (!ns.empty()) {
    auto netns = apps::run_capture("ip netns list");
    EXPECT_EQ(netns.find(ns), std::string::npos) << netns;
  }
  dir_.clear();
}

TEST_F(ClusterScript, CutNodeNeedsAClusterWithNetworkNamespaces) {
  std::string out;
  ASSERT_EQ(run("up --brokers 1 --nodes 1 -- --log-level warn", &out), 0) << out;
  EXPECT_NE(run("cut-node 1", &out), 0);
  EXPECT_NE(out.find("needs a cluster started with up --netns"), std::string::npos) << out;
  EXPECT_TRUE(ready(1));
}

}  // namespace
