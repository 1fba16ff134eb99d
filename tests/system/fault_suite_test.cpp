// The fault suite (deploy/local/chaos.sh, kastor ctl load/check): the short
// schedule on a cluster of its own (3 brokers, 3 nodes, one added), and the
// checker shown to name the orders that break an invariant.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <string>

#include "kastor/actors/messages.hpp"
#include "kastor/apps/idempotency.hpp"
#include "kastor/apps/process.hpp"
#include "kastor/bridges/producer.hpp"
#include "support/command.hpp"
#include "support/kafka.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

// A command's exit code, and its output (stdout and stderr) in `out`.
int run(const std::string& cmd, std::string& out) {
  return test::run_command(cmd, &out);
}

}  // namespace

TEST(FaultSuite, CheckerNamesTheOrdersThatBreakAnInvariant) {
  auto brokers = test::system_brokers();
  if (brokers.empty())
    GTEST_SKIP() << "system test: run through `make test`";
  std::string out;
  ASSERT_EQ(run(std::string{KASTOR_BIN} + " topics create --brokers " + brokers, out), 0) << out;
  auto tag = std::to_string(getpid());
  auto dir = std::filesystem::temp_directory_path() / ("kastor-check-" + tag);
  std::filesystem::create_directories(dir);
  auto never_written = apps::order_id_for_key("lost-" + tag);
  auto failed_but_written = apps::order_id_for_key("failed-" + tag);
  auto charged_twice = apps::order_id_for_key("twice-" + tag);
  // Given a request that "failed" whose order was written after all
  bridges::producer_options po;
  po.brokers = brokers;
  auto producer = *bridges::kafka_publisher::make(po);
  actors::order_created order;
  order.order_id = failed_but_written;
  order.customer_id = "c-1";
  order.items = {{"p-1", "Mug", 500, 1, 500}};
  order.total_cents = 500;
  std::promise<runtime::publish_outcome> written;
  producer->publish({order}, nullptr,
                    [&](const runtime::publish_outcome& o) { written.set_value(o); });
  ASSERT_TRUE(written.get_future().get().ok());
  // And an acknowledged order that never reached Kafka, and one charged twice
  {
    std::ofstream h{dir / "history"};
    h << "lost-" << tag << '\t' << never_written << "\tok\tgw\t1\t2\t\n";
    h << "failed-" << tag << '\t' << failed_but_written << "\tfailed\tgw\t1\t2\t503\n";
    h << "twice-" << tag << '\t' << charged_twice << "\tunknown\tgw\t1\t2\ttimeout\n";
    h << "twice-" << tag << '\t' << charged_twice << "\tunknown\tgw\t3\t4\ttimeout\n";
    std::ofstream l{dir / "payment-ledger.jsonl"};
    for (int i = 0; i < 2; ++i)
      l << R"({"orderId":")" << charged_twice << R"(","status":"SUCCEEDED"})" << '\n';
    // and lag samples, one of them over the bound; memory sampled never
    std::ofstream{dir / "lag"} << "1000 order 12\n2000 payment 5000\n";
    std::ofstream{dir / "rss"};
  }
  // When the checker runs
  int rc = run(std::string{KASTOR_BIN} + " ctl check --brokers " + brokers + " --history "
                 + (dir / "history").string() + " --ledgers " + dir.string() + " --wait 0"
                 + " --lag-samples " + (dir / "lag").string() + " --max-lag 100"
                 + " --rss-samples " + (dir / "rss").string(),
               out);
  // Then it fails and names each order with what broke
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("FAIL acknowledged orders reach a terminal state: 1 checked, 1 broken"),
            std::string::npos) << out;
  EXPECT_NE(out.find(never_written + " (no state)"), std::string::npos) << out;
  EXPECT_NE(out.find("FAIL no effect for a request that definitely failed: 1 checked, 1 broken"),
            std::string::npos) << out;
  EXPECT_NE(out.find("       " + failed_but_written), std::string::npos) << out;
  EXPECT_NE(out.find(charged_twice + " (2 charges)"), std::string::npos) << out;
  // (a request whose outcome was unknown, tried twice: one key, its order charged twice)
  EXPECT_NE(out.find("FAIL requests whose outcome was unknown: at most one order and one charge "
                     "per key, and finished if written: 1 checked, 1 broken"),
            std::string::npos) << out;
  EXPECT_NE(out.find(charged_twice + " (key twice-" + tag + ": 2 charges, 0 emails)"),
            std::string::npos) << out;
  EXPECT_NE(out.find("FAIL lag stays bounded during the run: 2 checked, 1 broken"),
            std::string::npos) << out;
  EXPECT_NE(out.find("payment lag 5000 over 100 at epoch ms 2000"), std::string::npos) << out;
  EXPECT_NE(out.find("lag during the run: max order 12, payment 5000 records (2 samples, bound 100)"),
            std::string::npos) << out;
  EXPECT_NE(out.find("FAIL node memory stays bounded: 0 checked, 1 broken"), std::string::npos)
    << out;
  EXPECT_NE(out.find("result: FAIL"), std::string::npos) << out;
  // And bad input is a usage error: no history, a malformed one, no ledger folder
  auto check = std::string{KASTOR_BIN} + " ctl check --wait 0 --brokers " + brokers;
  EXPECT_EQ(run(check + " --history /nonexistent/history --ledgers " + dir.string(), out), 2)
    << out;
  std::ofstream{dir / "bad"} << "k\tid\tok\tgw\tnot-a-time\t2\t\n";
  EXPECT_EQ(run(check + " --history " + (dir / "bad").string() + " --ledgers " + dir.string(), out),
            2) << out;
  EXPECT_NE(out.find("bad times"), std::string::npos) << out;
  EXPECT_EQ(run(check + " --history " + (dir / "history").string() + " --ledgers /nonexistent",
                out), 2) << out;
  std::filesystem::remove_all(dir);
}

TEST(FaultSuite, ShortScheduleKeepsEveryInvariant) {
  if (test::system_brokers().empty())
    GTEST_SKIP() << "system test: run through `make test`";
  auto dir = std::filesystem::temp_directory_path() / ("kastor-chaos-" + std::to_string(getpid()));
  // Its own 3 brokers (28400..) and nodes (28301..), beside the suite's Kafka.
  std::string env = "KASTOR_BIN=" + std::string{KASTOR_BIN} + " KASTOR_CLUSTER_DIR=" + dir.string()
                    + " KASTOR_CLUSTER_HTTP_BASE=28300 KASTOR_CLUSTER_PORT_BASE=28400";
  std::string out;
  int rc = run(env + " bash " KASTOR_SOURCE_DIR "/deploy/local/chaos.sh --duration 90 --rate 25"
                     " -- --log-level warn",
               out);
  auto report = out.find("== kastor fault suite report ==");
  std::cout << (report == std::string::npos ? out : out.substr(report)) << std::flush;
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("result: PASS"), std::string::npos) << out;
  // Every kind of fault ran
  for (auto fault : {"kill -9 node", "pause node", "resume node", "leader of order-created",
                     "add node", "coordinator of the order group"})
    EXPECT_NE(out.find(fault), std::string::npos) << fault;
  // And the network cut, where network namespaces can be had (root), or the
  // report says why not; never both
  bool cut = out.find("cut node 1 off the network") != std::string::npos
             && out.find("heal node 1's network") != std::string::npos;
  bool not_cut = out.find("(not injected: a network cut: ") != std::string::npos;
  EXPECT_NE(cut, not_cut) << out;
  if (geteuid() == 0 && !cut)
    std::cout << "note: no network cut although running as root\n";
  // And the run was healed and drained, with its lag sampled
  EXPECT_NE(out.find("ok   every role's group commits all its input"), std::string::npos) << out;
  EXPECT_NE(out.find("ok   lag stays bounded during the run"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir)) << "chaos.sh leaves no cluster behind";
  EXPECT_TRUE(std::filesystem::exists(dir.string() + "-report/history"));
  if (!HasFailure())
    std::filesystem::remove_all(dir.string() + "-report");
}

TEST(FaultSuite, OverlappingFaultsKeepEveryInvariantAndTheReportMeasuresLiveness) {
  if (test::system_brokers().empty())
    GTEST_SKIP() << "system test: run through `make test`";
  auto dir = std::filesystem::temp_directory_path() / ("kastor-overlap-" + std::to_string(getpid()));
  // Its own 3 brokers (28460..) and nodes (28351..), beside the suite's Kafka.
  std::string env = "KASTOR_BIN=" + std::string{KASTOR_BIN} + " KASTOR_CLUSTER_DIR=" + dir.string()
                    + " KASTOR_CLUSTER_HTTP_BASE=28350 KASTOR_CLUSTER_PORT_BASE=28460";
  std::string out;
  int rc = run(env + " bash " KASTOR_SOURCE_DIR "/deploy/local/chaos.sh --duration 60 --rate 25"
                     " --schedule overlapping -- --log-level warn",
               out);
  auto report = out.find("== kastor fault suite report ==");
  std::cout << (report == std::string::npos ? out : out.substr(report)) << std::flush;
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("result: PASS"), std::string::npos) << out;
  // The faults overlapped as scheduled, each with its liveness figures
  for (auto fault : {"(coordinator of the order group)", "during the rebalance",
                     "kill -9 node 2 as node 3 resumes", "restart node 2"})
    EXPECT_NE(out.find(fault), std::string::npos) << fault;
  EXPECT_NE(out.find("no NOTIFIED"), std::string::npos) << out;
  EXPECT_NE(out.find("longest time orders waited and none reached NOTIFIED: "), std::string::npos)
    << out;
  // And requests whose outcome was unknown were checked
  EXPECT_NE(out.find("requests whose outcome was unknown"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir)) << "chaos.sh leaves no cluster behind";
  if (!HasFailure())
    std::filesystem::remove_all(dir.string() + "-report");
}
