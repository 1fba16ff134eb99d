// `kastor ctl dlq` on a real Apache Kafka (make test sets KASTOR_BROKERS):
// list, show, replay (at most once per record, however often it runs), purge,
// and the answers to bad arguments.
#include <gtest/gtest.h>

#include <future>

#include <sys/wait.h>

#include "kastor/apps/process.hpp"
#include "kastor/bridges/producer.hpp"
#include "support/kafka.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

using test::system_brokers;

struct ctl_result {
  int code = -1;
  std::string out;
};

ctl_result ctl(const std::string& args) {
  ctl_result r;
  auto path = "/tmp/kastor-dlq-cli-" + std::to_string(getpid()) + ".out";
  auto status = std::system((std::string{KASTOR_BIN} + " ctl dlq " + args + " >" + path + " 2>&1").c_str());
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = apps::run_capture("cat " + path);
  std::remove(path.c_str());
  return r;
}

TEST(DlqCli, ListShowReplayTwicePurge) {
  if (system_brokers().empty())
    GTEST_SKIP() << "needs a real Kafka: run through `make test` (KASTOR_BROKERS)";
  auto origin = "payment-requests.rp" + std::to_string(getpid());
  auto dlq = origin + ".dlq";
  ASSERT_FALSE(bridges::ensure_topics(system_brokers(), {{origin, 3, 1, false}, {dlq, 3, 1, false}}, 60s));
  // Given three dead letters as a mailbox writes them
  bridges::producer_options po;
  po.brokers = system_brokers();
  auto producer = *bridges::kafka_publisher::make(po);
  for (int i = 0; i < 3; ++i) {
    auto key = "order-" + std::to_string(i);
    bridges::header_list h{{"kastor-type", "payment_request"},
                           {"kastor-attempt", "5"},
                           {"kastor-dlq-reason", i == 0 ? "rejected by root/payment/worker: closed"
                                                        : "its actor failed 5 times handling it"},
                           {"kastor-dlq-origin", origin + "/0@" + std::to_string(10 + i)},
                           {"kastor-dlq-attempts", "5"},
                           {"kastor-dlq-supervisor", "root/payment"}};
    std::promise<runtime::publish_outcome> written;
    producer->produce(dlq, key,
                      R"({"orderId":")" + key + R"(","customerId":"c","totalAmount":1})", h,
                      [&](const runtime::publish_outcome& o) { written.set_value(o); });
    ASSERT_TRUE(written.get_future().get().ok());
  }
  producer->stop(10s);
  auto b = "--brokers " + system_brokers() + " --topic " + dlq;
  // list: count and reasons
  auto r = ctl("list " + b);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(dlq + "  count=3  replayed=0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("     2  its actor failed 5 times handling it"), std::string::npos) << r.out;
  // show: each record, readable
  r = ctl("show " + b);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("key=order-0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reason: rejected by root/payment/worker: closed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 of 3 record(s) shown"), std::string::npos) << r.out;
  // --limit 1 shows one and says so (issue 21, trap 7: it said "2 of 2")
  r = ctl("show --limit 1 " + b);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("1 of 3 record(s) shown"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("key=order-"), r.out.rfind("key=order-")) << r.out;  // one record
  // replay --all twice: each record goes back once, with attempt 6
  r = ctl("replay --all " + b);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("replayed 3 record(s), 0 already replayed before"), std::string::npos) << r.out;
  r = ctl("replay --all " + b);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("replayed 0 record(s), 3 already replayed before"), std::string::npos) << r.out;
  auto back = test::read_topic(system_brokers(), origin, 3, 4, 5s);  // a 4th must not come
  ASSERT_EQ(back.size(), 3u);
  for (const auto& rec : back) {
    EXPECT_EQ(rec.headers.count("kastor-dlq-reason"), 0u);
    EXPECT_EQ(rec.headers.at("kastor-attempt"), "6");
    EXPECT_EQ(rec.headers.at("kastor-type"), "payment_request");
    EXPECT_EQ(rec.headers.at("kastor-replay-of").rfind(dlq + "/", 0), 0u);
  }
  r = ctl("list " + b);
  EXPECT_NE(r.out.find("count=3  replayed=3"), std::string::npos) << r.out;
  // Bad arguments: a clear message and exit 2 (or 1 for what Kafka says no to)
  EXPECT_EQ(ctl("replay " + b).code, 2);                      // neither --all nor --offset
  EXPECT_EQ(ctl("replay --offset x " + b).code, 2);           // not P@O
  EXPECT_EQ(ctl("replay --offset 0@999999 " + b).code, 1);    // no such record
  EXPECT_EQ(ctl("show --brokers " + system_brokers() + " --topic " + origin).code, 2);  // not a .dlq
  EXPECT_EQ(ctl("show --brokers " + system_brokers() + " --topic nope.dlq").code, 1);
  EXPECT_EQ(ctl("purge " + b).code, 2);                       // without --yes
  // purge --yes: empty afterwards
  r = ctl("purge --yes " + b);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("purged 3 record(s)"), std::string::npos) << r.out;
  r = ctl("list " + b);
  EXPECT_NE(r.out.find(dlq + "  count=0"), std::string::npos) << r.out;
}

TEST(DlqCli, ACutDownDeadLetterIsNeverReplayed) {
  if (system_brokers().empty())
    GTEST_SKIP() << "needs a real Kafka: run through `make test` (KASTOR_BROKERS)";
  auto origin = "payment-requests.cut" + std::to_string(getpid());
  auto dlq = origin + ".dlq";
  ASSERT_FALSE(bridges::ensure_topics(system_brokers(), {{origin, 1, 1, false}, {dlq, 1, 1, false}}, 60s));
  // Given a dead letter the mailbox cut down (its original was too large)
  bridges::producer_options po;
  po.brokers = system_brokers();
  auto producer = *bridges::kafka_publisher::make(po);
  bridges::header_list h{{"kastor-dlq-reason", "bridge.malformed_json: value is not valid JSON"},
                         {"kastor-dlq-origin", origin + "/0@7"},
                         {"kastor-dlq-truncated", "value of 999906 bytes cut to 4096"}};
  std::promise<runtime::publish_outcome> written;
  producer->produce(dlq, "big", std::string(4096, 'x'), h,
                    [&](const runtime::publish_outcome& o) { written.set_value(o); });
  ASSERT_TRUE(written.get_future().get().ok());
  producer->stop(10s);
  auto b = "--brokers " + system_brokers() + " --topic " + dlq;
  // When it is replayed by its offset: refused, nothing written
  auto r = ctl("replay --offset 0@0 " + b);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("cannot be replayed: it was cut down to fit the DLQ"), std::string::npos)
    << r.out;
  EXPECT_NE(r.out.find(origin + "/0@7"), std::string::npos) << r.out;
  // When every record is replayed: it is skipped and counted
  r = ctl("replay --all " + b);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("replayed 0 record(s), 0 already replayed before, 1 not replayable"),
            std::string::npos)
    << r.out;
  EXPECT_TRUE(test::read_topic(system_brokers(), origin, 1, 1, 3s).empty());
}

}  // namespace
