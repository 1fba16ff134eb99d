// The inbound mailbox on librdkafka's mock cluster: redelivery to a restarted
// actor, commits that never pass an unfinished record, dead letters, and
// backpressure.
#include <atomic>
#include <future>
#include <limits>
#include <mutex>
#include <set>

#include <caf/all.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "kastor/actors/messages.hpp"
#include "kastor/bridges/changelog.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/mailbox.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/bridges/role.hpp"
#include "kastor/runtime/role_actor.hpp"
#include "kastor/runtime/supervisor.hpp"
#include "support/kafka.hpp"
#include "support/quarantine.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

// A payment-like state that crashes (throws) the first time it sees each
// order listed in `crash_once`, and records every successful handling.
struct flaky_state {
  std::set<std::string> crash_once;
  std::mutex mtx;
  std::multiset<std::string> handled;
  std::vector<int32_t> attempts_of_crashed;

  std::vector<runtime::message> handle(const runtime::record_meta& m,
                                           const actors::payment_request& r, int64_t) {
    std::lock_guard<std::mutex> guard{mtx};
    if (crash_once.erase(r.order_id) > 0)
      throw std::runtime_error("injected crash for " + r.order_id);
    if (m.attempt > 1)
      attempts_of_crashed.push_back(m.attempt);
    handled.insert(r.order_id);
    return {};
  }
};

struct MailboxTest : ::testing::Test {
  std::unique_ptr<bridges::mock_cluster> mock;
  std::shared_ptr<bridges::kafka_publisher> producer;

  void SetUp() override {
    auto m = bridges::mock_cluster::start(1);
    ASSERT_TRUE(m);
    mock = std::move(*m);
    ASSERT_FALSE(mock->create_topic({"payment-requests", 3, 1, false}));
    ASSERT_FALSE(mock->create_topic({"payment-requests.dlq", 3, 1, false}));
    bridges::producer_options po;
    po.brokers = mock->bootstrap();
    auto p = bridges::kafka_publisher::make(po);
    ASSERT_TRUE(p);
    producer = *p;
  }

  void TearDown() override {
    if (producer)
      producer->stop(5s);
  }

  bridges::mailbox_options options(const std::string& group) {
    bridges::mailbox_options o;
    o.brokers = mock->bootstrap();
    o.group_id = group;
    o.topics = {"payment-requests"};
    o.session_timeout_ms = 6000;
    o.fetch_wait_max_ms = 5;
    o.dead_letters = producer;
    return o;
  }

  void publish_requests(int n, const std::string& prefix = "o-") {
    std::vector<runtime::message> batch;
    for (int i = 0; i < n; ++i)
      batch.push_back(actors::payment_request{prefix + std::to_string(i), "c", 1000});
    std::promise<runtime::publish_outcome> done;
    producer->publish(std::move(batch), nullptr,
                      [&](const runtime::publish_outcome& o) { done.set_value(o); });
    auto f = done.get_future();
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    ASSERT_TRUE(f.get().ok());
  }

  template <class State>
  caf::actor supervise_role(caf::actor_system& sys, std::shared_ptr<State> state,
                            runtime::role_io io, std::shared_ptr<bridges::kafka_mailbox> mailbox,
                            std::shared_ptr<runtime::supervision_log> log, int max_restarts) {
    return test::supervise_role(sys, std::move(state), std::move(io), std::move(mailbox),
                                std::move(log), max_restarts);
  }

  std::vector<test::kafka_record> read_topic(const std::string& topic, size_t n) {
    return test::read_topic(mock->bootstrap(), topic, 3, n);
  }

  // Sum of the committed offsets of `group` on payment-requests.
  int64_t committed(const std::string& group) {
    return test::committed(mock->bootstrap(), group, "payment-requests", 3);
  }
};

TEST_F(MailboxTest, ARecordWhoseHandlerThrewIsTriedAgainWithoutARestart) {
  // Given a supervised actor whose handler throws on three of 60 records
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  auto state = std::make_shared<flaky_state>();
  state->crash_once = {"o-5", "o-17", "o-42"};
  auto mb = bridges::kafka_mailbox::make(options("redelivery"));
  ASSERT_TRUE(mb);
  auto mailbox = *mb;
  runtime::role_io io{producer, mailbox, &runtime::wall_clock_ms, 0ms, nullptr, 0};
  auto log = std::make_shared<runtime::supervision_log>();
  auto sup = supervise_role(sys, state, io, mailbox, log, 10);
  // When 60 requests arrive
  publish_requests(60);
  // Then every request is handled exactly once, the failed ones on attempt 2
  ASSERT_TRUE(test::eventually([&] {
    std::lock_guard<std::mutex> guard{state->mtx};
    return state->handled.size() >= 60;
  }, 60s));
  ASSERT_TRUE(test::eventually([&] { return mailbox->stats().in_flight == 0; }));
  {
    std::lock_guard<std::mutex> guard{state->mtx};
    std::set<std::string> distinct(state->handled.begin(), state->handled.end());
    EXPECT_EQ(distinct.size(), 60u);
    EXPECT_EQ(state->handled.count("o-17"), 1u);
    EXPECT_FALSE(state->attempts_of_crashed.empty());
    // attempt counts deliveries: a record waiting behind a crash is delivered again too
    for (auto a : state->attempts_of_crashed)
      EXPECT_GE(a, 2);
  }
  // and the actor never restarted: a handler's failure is its record's
  EXPECT_EQ(log->restarts()["root/payment/worker"], 0);
  // And after a clean stop every offset is committed: nothing lost, none skipped
  mailbox->stop();
  EXPECT_EQ(committed("redelivery"), 60);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(MailboxTest, APoisonRecordGoesToTheDeadLetterTopicAndThePartitionMovesOn) {
  // Given an actor that always crashes on one record
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  struct poison_state {
    std::atomic<int> ok{0};
    std::vector<runtime::message> handle(const runtime::record_meta&,
                                             const actors::payment_request& r, int64_t) {
      if (r.order_id == "p-3")
        throw std::runtime_error("poison");
      ++ok;
      return {};
    }
  };
  auto state = std::make_shared<poison_state>();
  auto opts = options("poison");
  opts.max_attempts = 3;
  opts.supervisor_path = "root/payment";
  opts.node_id = "node-a";
  auto log = std::make_shared<runtime::supervision_log>();
  opts.last_exit_reason = [log] { return log->last_exit_reason("root/payment/worker"); };
  auto mailbox = *bridges::kafka_mailbox::make(opts);
  runtime::role_io io{producer, mailbox, &runtime::wall_clock_ms, 0ms, nullptr, 0};
  auto sup = supervise_role(sys, state, io, mailbox, log, 10);
  // When 10 requests arrive
  publish_requests(10, "p-");
  // Then the nine others are handled, the poison one is dead-lettered
  ASSERT_TRUE(test::eventually([&] {
    return state->ok.load() == 9 && mailbox->stats().dead_lettered == 1
           && mailbox->stats().in_flight == 0;
  }, 60s));
  mailbox->stop();
  EXPECT_EQ(committed("poison"), 10);
  EXPECT_EQ(log->restarts()["root/payment/worker"], 0);  // a poison record costs no restart
  // And the dead letter keeps the original key and value and says why, from
  // where, after how many attempts, under which supervisor, on which node
  auto dlq = read_topic("payment-requests.dlq", 1);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].key, "p-3");
  EXPECT_NE(dlq[0].value.find("\"orderId\":\"p-3\""), std::string::npos) << dlq[0].value;
  auto& h = dlq[0].headers;
  EXPECT_NE(h["kastor-dlq-reason"].find("failed 3 times"), std::string::npos) << h["kastor-dlq-reason"];
  EXPECT_NE(h["kastor-dlq-reason"].find("poison"), std::string::npos) << h["kastor-dlq-reason"];
  EXPECT_EQ(h["kastor-dlq-origin"].rfind("payment-requests/", 0), 0u) << h["kastor-dlq-origin"];
  EXPECT_EQ(h["kastor-dlq-attempts"], "3");
  EXPECT_EQ(h["kastor-dlq-supervisor"], "root/payment");
  EXPECT_EQ(h["kastor-dlq-node"], "node-a");
  EXPECT_EQ(h["kastor-type"], "payment_request");  // the original headers are kept
  EXPECT_FALSE(h["kastor-dlq-time"].empty());
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(MailboxTest, ARecordOfATypeNoHandlerTakesIsDeadLetteredNeverSilentlyCommitted) {
  // Given a role that takes payment requests only, from their topic and from
  // a topic that is no type's home (it carries any type, typed by header)
  ASSERT_FALSE(mock->create_topic({"mixed", 3, 1, false}));
  ASSERT_FALSE(mock->create_topic({"mixed.dlq", 3, 1, false}));
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  struct payments_only {
    std::atomic<int> handled{0};
    runtime::outputs handle(const runtime::record_meta&, const actors::payment_request&,
                            int64_t) {
      ++handled;
      return {};
    }
  };
  auto state = std::make_shared<payments_only>();
  auto opts = options("no-handler");
  opts.topics = {"payment-requests", "mixed"};
  opts.accepts = {"payment_request"};
  auto mailbox = *bridges::kafka_mailbox::make(opts);
  runtime::role_io io{producer, mailbox, &runtime::wall_clock_ms, 0ms, nullptr, 0};
  auto sup = supervise_role(sys, state, io, mailbox, std::make_shared<runtime::supervision_log>(), 10);
  // When an email_sent (a declared type, typed by its header) lands on the
  // mixed topic, and another is forged onto the payment requests' topic,
  // between payment requests
  publish_requests(3, "n-");
  runtime::message stray{actors::email_sent{"n-x", "c", actors::notify_payment_succeeded, 1}};
  auto record = bridges::encode(stray, bridges::outgoing_meta{"m-x", "", 1, ""});
  for (const char* topic : {"mixed", "payment-requests"}) {
    std::promise<runtime::publish_outcome> done;
    producer->produce(topic, "n-x", record.value, record.headers,
                      [&](const runtime::publish_outcome& o) { done.set_value(o); });
    ASSERT_TRUE(done.get_future().get().ok());
  }
  publish_requests(3, "m-");
  // Then the six requests are handled, both strays are dead-lettered with
  // their reasons, and every offset is committed
  ASSERT_TRUE(test::eventually([&] {
    return state->handled.load() == 6 && mailbox->stats().dead_lettered == 2
           && mailbox->stats().in_flight == 0;
  }, 60s));
  mailbox->stop();
  EXPECT_EQ(committed("no-handler"), 7);
  EXPECT_EQ(test::committed(mock->bootstrap(), "no-handler", "mixed", 3), 1);
  auto dlq = read_topic("mixed.dlq", 1);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].key, "n-x");
  auto& reason = dlq[0].headers["kastor-dlq-reason"];
  EXPECT_NE(reason.find("no_handler"), std::string::npos) << reason;
  EXPECT_NE(reason.find("'email_sent'"), std::string::npos) << reason;
  // Issue 14, defect 6: the type header cannot make a topic carry a type
  // that is not its own
  dlq = read_topic("payment-requests.dlq", 1);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].headers["kastor-dlq-reason"],
            "bridge.wrong_type: topic 'payment-requests' carries payment_request, not "
            "'email_sent' (header kastor-type)");
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

// Issue 14, defect 1: a record near the size limit could never be
// dead-lettered (its DLQ copy's headers made it too large), so its offset
// was never committed and the partition stood still for good.
// broker_refuses: the dead-letter producer's own limit is raised (it sends
// the copy), and the broker refuses it for good (MSG_SIZE_TOO_LARGE).
void expect_a_record_too_large_for_the_dlq_leaves_its_partition(MailboxTest& t, bool eos,
                                                                bool broker_refuses) {
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  struct payments {
    std::atomic<int> handled{0};
    runtime::outputs handle(const runtime::record_meta&, const actors::payment_request&,
                            int64_t) {
      ++handled;
      return {};
    }
  };
  // Given a 999,906-byte record that is no payment request (it cannot be
  // decoded) between two requests, all on one partition
  auto produce = [&](const std::string& key, const std::string& value,
                     const bridges::header_list& headers) {
    std::promise<runtime::publish_outcome> done;
    t.producer->produce("payment-requests", key, value, headers,
                        [&](const runtime::publish_outcome& o) { done.set_value(o); }, 0);
    auto o = done.get_future().get();
    ASSERT_TRUE(o.ok()) << o.error;
  };
  auto request = [](const std::string& id) {
    return bridges::encode(runtime::message{actors::payment_request{id, "c", 1000}},
                           bridges::outgoing_meta{"m-" + id, "", 1, ""});
  };
  auto r1 = request("t-1");
  produce("t-1", r1.value, r1.headers);
  produce("big", std::string(999906, 'x'), {});
  auto r2 = request("t-2");
  produce("t-2", r2.value, r2.headers);
  const std::string group = std::string{"too-large"} + (eos ? "-eos" : "")
                            + (broker_refuses ? "-refused" : "");
  auto opts = t.options(group);
  const bridges::kafka_properties raised{{"message.max.bytes", "2000000"}};
  if (broker_refuses) {
    bridges::producer_options po;
    po.brokers = t.mock->bootstrap();
    po.extra = raised;
    opts.dead_letters = *bridges::kafka_publisher::make(po);
    t.mock->push_request_errors(0, {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE});  // 0: Produce
  }
  if (eos) {
    opts.exactly_once = true;
    opts.transactional.brokers = t.mock->bootstrap();
    if (broker_refuses)
      opts.transactional.extra = raised;
  }
  // When a role's mailbox reads them
  auto state = std::make_shared<payments>();
  auto mailbox = *bridges::kafka_mailbox::make(opts);
  std::shared_ptr<runtime::publisher> out = t.producer;
  if (eos)
    out = mailbox->transactional_out();
  runtime::role_io io{out, mailbox, &runtime::wall_clock_ms, 0ms, nullptr, 0};
  auto sup = t.supervise_role(sys, state, io, mailbox,
                              std::make_shared<runtime::supervision_log>(), 10);
  // Then the big one is dead-lettered cut down, the request after it is
  // handled, and every offset is committed (exactly-once, an aborted
  // transaction's records are handled again: only their outputs are
  // written once)
  ASSERT_TRUE(test::eventually([&] {
    return (eos ? state->handled.load() >= 2 : state->handled.load() == 2)
           && mailbox->stats().dead_lettered == 1 && mailbox->stats().in_flight == 0;
  }, 60s)) << "dead_lettered=" << mailbox->stats().dead_lettered
           << " in_flight=" << mailbox->stats().in_flight;
  if (eos) {  // the mock's TxnOffsetCommit stores nothing: the transactions tell
    EXPECT_GE(mailbox->stats().transactions, 1u);
  }
  mailbox->stop();
  if (!eos) {
    EXPECT_EQ(t.committed(group), 3);
  }
  EXPECT_EQ(mailbox->stats().finished, 3u);
  auto dlq = t.read_topic("payment-requests.dlq", 1);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].key, "big");
  EXPECT_EQ(dlq[0].value.size(), 4096u);
  EXPECT_TRUE(dlq[0].value == std::string(4096, 'x'));
  auto& h = dlq[0].headers;
  EXPECT_EQ(h["kastor-dlq-origin"], "payment-requests/0@1");
  EXPECT_NE(h["kastor-dlq-reason"].find("malformed_json"), std::string::npos)
    << h["kastor-dlq-reason"];
  const auto& cut = h["kastor-dlq-truncated"];
  EXPECT_NE(cut.find("value of 999906 bytes cut to 4096"), std::string::npos) << cut;
  EXPECT_NE(cut.find(broker_refuses ? "the DLQ refused it: " : "message.max.bytes (1000000)"),
            std::string::npos)
    << cut;
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  if (broker_refuses)
    opts.dead_letters->stop(5s);
}

TEST_F(MailboxTest, ARecordTooLargeForTheDlqIsDeadLetteredCutDownAndItsPartitionMovesOn) {
  expect_a_record_too_large_for_the_dlq_leaves_its_partition(*this, false, false);
}

TEST_F(MailboxTest, ADeadLetterTheBrokerRefusesForGoodIsCutDownAndItsPartitionMovesOn) {
  expect_a_record_too_large_for_the_dlq_leaves_its_partition(*this, false, true);
}

TEST_F(MailboxTest, ADeadLetterTheBrokerRefusesForGoodLeavesItsPartitionExactlyOnceToo) {
  expect_a_record_too_large_for_the_dlq_leaves_its_partition(*this, true, true);
}

// Issue 14, defects 5 and 6: one snapshot with kastor-epoch = INT64_MAX
// made every later snapshot of its partition stale (and max + 1 overflowed);
// malformed changelog records were logged but never reached the DLQ.
TEST_F(MailboxTest, AChangelogRecordNoRestoreCanUseIsLeftOutAndDeadLetteredOnce) {
  ASSERT_FALSE(mock->create_topic({"order-state", 1, 1, true}));
  ASSERT_FALSE(mock->create_topic({"order-state.dlq", 1, 1, false}));
  struct captured_store : runtime::entity_store {
    std::vector<runtime::message> adopted;
    int64_t epoch = 0;
    void adopt(int32_t, const std::vector<runtime::message>& snapshots, int64_t e) override {
      adopted.insert(adopted.end(), snapshots.begin(), snapshots.end());
      epoch = e;
    }
    void release(const std::vector<int32_t>&) override {}
    runtime::message lookup(const std::string&) const override { return {}; }
  };
  // Given a changelog: a good snapshot, a malformed one, one from the far
  // future (epoch INT64_MAX), and a good one after it
  auto write = [&](const std::string& key, const std::string& value,
                   const bridges::header_list& headers) {
    std::promise<runtime::publish_outcome> done;
    producer->produce("order-state", key, value, headers,
                      [&](const runtime::publish_outcome& o) { done.set_value(o); }, 0);
    ASSERT_TRUE(done.get_future().get().ok());
  };
  auto snapshot = [&](const std::string& id, int64_t epoch) {
    actors::order_snapshot x;
    x.order_id = id;
    x.customer_id = "c";
    x.status = "PENDING";
    x.epoch = epoch;
    auto r = bridges::encode(runtime::message{x}, bridges::outgoing_meta{"m-" + id, "", 1, ""});
    write(id, r.value, r.headers);
  };
  const auto now = runtime::wall_clock_ms();
  snapshot("o-1", now - 1000);
  write("o-2", "{not json", {{"kastor-type", "order_snapshot"}});
  snapshot("o-3", std::numeric_limits<int64_t>::max());
  snapshot("o-4", now - 500);
  // When a node restores the partition
  auto store = std::make_shared<captured_store>();
  bridges::entity_changelog changelog{store, mock->bootstrap(), "order-state", "node-a", producer};
  ASSERT_TRUE(changelog.assigned(this, {0}));
  // Then the decodable snapshots are restored (the far-future one with its
  // epoch ignored), none taken as stale, and the node's epoch is its
  // clock's, not past INT64_MAX
  ASSERT_EQ(store->adopted.size(), 3u);
  EXPECT_EQ(store->adopted[0].get<actors::order_snapshot>().order_id, "o-1");
  EXPECT_EQ(store->adopted[1].get<actors::order_snapshot>().order_id, "o-3");
  EXPECT_EQ(store->adopted[2].get<actors::order_snapshot>().order_id, "o-4");
  EXPECT_GE(store->epoch, now);
  EXPECT_LT(store->epoch, now + bridges::max_epoch_ahead_ms);
  // And the two unusable records are in the DLQ with their reasons
  auto dlq = test::read_topic(mock->bootstrap(), "order-state.dlq", 1, 2);
  ASSERT_EQ(dlq.size(), 2u);
  EXPECT_EQ(dlq[0].key, "o-2");
  EXPECT_EQ(dlq[0].headers["kastor-dlq-origin"], "order-state/0@1");
  EXPECT_NE(dlq[0].headers["kastor-dlq-reason"].find("JSON"), std::string::npos)
    << dlq[0].headers["kastor-dlq-reason"];
  EXPECT_EQ(dlq[1].key, "o-3");
  EXPECT_NE(dlq[1].headers["kastor-dlq-reason"].find("implausible kastor-epoch"),
            std::string::npos)
    << dlq[1].headers["kastor-dlq-reason"];
  // When another node (or this one restarted) restores it again: no new
  // dead letters
  auto again = std::make_shared<captured_store>();
  bridges::entity_changelog other{again, mock->bootstrap(), "order-state", "node-b", producer};
  ASSERT_TRUE(other.assigned(this, {0}));
  EXPECT_EQ(again->adopted.size(), 3u);
  EXPECT_EQ(test::read_topic(mock->bootstrap(), "order-state.dlq", 1, 3, 3s).size(), 2u);
}

TEST_F(MailboxTest, APoisonKeyIsQuarantinedInOrderWhileEveryOtherKeyFlows) {
  // Given 10,000 records of 100 keys (100 in order per key) and an actor that
  // always crashes on the 31st record of key-7
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  auto state = std::make_shared<test::keyed_state>();
  auto opts = options("quarantine");
  opts.retry_backoff_min = 50ms;
  opts.supervisor_path = "root/payment";
  auto mailbox = *bridges::kafka_mailbox::make(opts);
  runtime::role_io io{producer, mailbox, &runtime::wall_clock_ms, 0ms, nullptr, 0};
  auto log = std::make_shared<runtime::supervision_log>();
  auto sup = supervise_role(sys, state, io, mailbox, log, 100);
  std::promise<runtime::publish_outcome> done;
  producer->publish(test::quarantine_records(), nullptr,
                    [&](const runtime::publish_outcome& o) { done.set_value(o); });
  ASSERT_TRUE(done.get_future().get().ok());
  // Then every record is handled or dead-lettered
  ASSERT_TRUE(test::eventually([&] {
    auto s = mailbox->stats();
    return s.finished == 10000 && s.in_flight == 0;
  }, 120s)) << "finished " << mailbox->stats().finished;
  // And key-7's records from the poison one on that waited behind it are in
  // the DLQ, in order; the key's later records flowed once it was released
  auto dead = mailbox->stats().dead_lettered;
  auto dlq = read_topic("payment-requests.dlq", dead);
  ASSERT_EQ(dlq.size(), dead);
  {
    std::lock_guard<std::mutex> guard{state->mtx};
    test::expect_quarantine_outcome(state->seen, dlq);
  }
  EXPECT_EQ(log->restarts()["root/payment/worker"], 0);  // nor a poison key
  mailbox->stop();
  EXPECT_EQ(committed("quarantine"), 10000);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(MailboxTest, ARecordItsActorRejectsIsDeadLetteredAtOnceWithoutACrash) {
  // Given an actor whose business rule can never accept order r-2
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  struct rule_state {
    std::atomic<int> ok{0};
    std::vector<runtime::message> handle(const runtime::record_meta&,
                                             const actors::payment_request& r, int64_t) {
      if (r.order_id == "r-2")
        runtime::reject("customer c is closed for good");
      ++ok;
      return {};
    }
  };
  auto state = std::make_shared<rule_state>();
  auto opts = options("rejected");
  opts.supervisor_path = "root/payment";
  auto mailbox = *bridges::kafka_mailbox::make(opts);
  runtime::role_io io{producer, mailbox, &runtime::wall_clock_ms, 0ms, nullptr, 0};
  auto log = std::make_shared<runtime::supervision_log>();
  auto sup = supervise_role(sys, state, io, mailbox, log, 10);
  // When six requests arrive
  publish_requests(6, "r-");
  // Then five are handled, r-2 is dead-lettered on its first attempt, and
  // the actor never crashed
  ASSERT_TRUE(test::eventually([&] {
    auto s = mailbox->stats();
    return state->ok.load() == 5 && s.dead_lettered == 1 && s.in_flight == 0;
  }, 60s));
  EXPECT_EQ(log->total_restarts(), 0);
  mailbox->stop();
  EXPECT_EQ(committed("rejected"), 6);
  auto dlq = read_topic("payment-requests.dlq", 1);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].key, "r-2");
  EXPECT_EQ(dlq[0].headers["kastor-dlq-reason"],
            "rejected by root/payment/worker: customer c is closed for good");
  EXPECT_EQ(dlq[0].headers["kastor-dlq-actor"], "root/payment/worker");
  EXPECT_EQ(dlq[0].headers["kastor-dlq-attempts"], "1");
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(MailboxTest, AnOutputThatViolatesItsSchemaSendsItsInputToTheDlqUnpublished) {
  ASSERT_FALSE(mock->create_topic({"payment-results", 3, 1, false}));
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  // Given an actor that answers s-1 with a status no reader knows
  struct buggy_state {
    std::vector<runtime::message> handle(const runtime::record_meta&,
                                             const actors::payment_request& r, int64_t) {
      return {actors::payment_result{r.order_id, r.customer_id, r.total_cents,
                                      r.order_id == "s-1" ? "WEIRD" : actors::payment_succeeded,
                                      "", "t", 1}};
    }
  };
  auto opts = options("schema-out");
  opts.supervisor_path = "root/payment";
  auto mailbox = *bridges::kafka_mailbox::make(opts);
  auto log = std::make_shared<runtime::supervision_log>();
  auto sup = supervise_role(sys, std::make_shared<buggy_state>(),
                            runtime::role_io{producer, mailbox, &runtime::wall_clock_ms, 0ms, nullptr, 0},
                            mailbox, log, 10);
  publish_requests(3, "s-");
  // Then s-1 is dead-lettered with the violation, the others answered, no crash
  ASSERT_TRUE(test::eventually([&] {
    auto s = mailbox->stats();
    return s.finished == 3 && s.dead_lettered == 1 && s.in_flight == 0;
  }, 60s));
  EXPECT_EQ(log->total_restarts(), 0);
  auto dlq = read_topic("payment-requests.dlq", 1);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].key, "s-1");
  EXPECT_NE(dlq[0].headers["kastor-dlq-reason"].find(
              "its output violates the schema: payment_result.status must be one of"),
            std::string::npos)
    << dlq[0].headers["kastor-dlq-reason"];
  auto results = test::read_topic(mock->bootstrap(), "payment-results", 3, 3, 3s);
  EXPECT_EQ(results.size(), 2u);  // nothing of s-1 was published
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(MailboxTest, APoisonRecordsFailureCountSurvivesItsBridgeRestarting) {
  // Given a handler that always throws on one record, 3 attempts allowed
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  struct poison_state {
    std::atomic<int> failures{0};
    std::vector<runtime::message> handle(const runtime::record_meta&,
                                             const actors::payment_request& r, int64_t) {
      if (r.order_id == "q-1") {
        ++failures;
        throw std::runtime_error("poison");
      }
      return {};
    }
  };
  auto state = std::make_shared<poison_state>();
  auto slot = std::make_shared<bridges::mailbox_slot>();
  auto opts = options("poison-bridge");
  opts.max_attempts = 3;
  opts.retry_backoff_min = 2s;  // the bridge crashes before the first retry
  opts.failures = slot->failures();
  auto log = std::make_shared<runtime::supervision_log>();
  auto mailbox = *bridges::kafka_mailbox::make(opts);
  runtime::role_io io{producer, nullptr, &runtime::wall_clock_ms, 0ms, nullptr, 0};
  runtime::supervisor_spec spec;
  spec.path = "root/payment";
  spec.max_restarts = 10;
  spec.children = {bridges::mailbox_bridge_child(mailbox, slot),
                   bridges::mailbox_worker_child("worker", state,
                                                 test::shop_handlers<poison_state>(), io, slot)};
  spec.log = log;
  spec.strat = runtime::strategy::rest_for_one;
  auto sup = runtime::spawn_supervisor(sys, spec);
  publish_requests(3, "q-");
  // When the record has failed once, and then the bridge crashes (a new
  // consumer, a new mailbox)
  ASSERT_TRUE(test::eventually([&] { return state->failures.load() >= 1; }, 60s));
  auto bridge = log->find("root/payment/bridge");
  ASSERT_TRUE(bridge);
  runtime::crash_actor(bridge, runtime::make_error(runtime::runtime_errc::crashed, "test"));
  // Then it is dead-lettered after 3 failures in all, not 3 more
  ASSERT_TRUE(test::eventually([&] { return slot->stats().dead_lettered == 1; }, 60s));
  EXPECT_EQ(state->failures.load(), 3);
  EXPECT_EQ(log->restarts()["root/payment/bridge"], 1);
  EXPECT_EQ(log->restarts()["root/payment/worker"], 1);  // restarted after its bridge only
  auto dlq = read_topic("payment-requests.dlq", 1);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].headers["kastor-dlq-attempts"], "3");
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(MailboxTest, ASlowActorMakesTheMailboxPauseAndMemoryStaysBounded) {
  // Given an actor that holds every record until released
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  auto opts = options("slow");
  opts.high_water = 50;
  opts.low_water = 10;
  // Keep librdkafka's own prefetch small so the mailbox's bound is what counts.
  opts.extra = {{"queued.max.messages.kbytes", "64"}};
  auto mailbox = *bridges::kafka_mailbox::make(opts);
  std::mutex mtx;
  std::vector<runtime::record_meta> held;
  std::atomic<bool> release{false};
  auto sink = sys.spawn([&](caf::event_based_actor* self) -> caf::behavior {
    return {[&, self](const runtime::record_meta& m, const runtime::message&) {
              std::lock_guard<std::mutex> guard{mtx};
              if (release.load())
                mailbox->finished(m);
              else
                held.push_back(m);
              (void) self;
            },
            [&](caf::ok_atom) {
              std::lock_guard<std::mutex> guard{mtx};
              release = true;
              for (auto& m : held)
                mailbox->finished(m);
              held.clear();
            }};
  });
  mailbox->bind(sink);
  mailbox->start();
  // When 2,000 records wait in Kafka
  publish_requests(2000, "s-");
  // Then the mailbox pauses with about high-water records in flight, not all
  ASSERT_TRUE(test::eventually([&] { return mailbox->stats().paused; }, 60s))
    << "received=" << mailbox->stats().received << " in_flight=" << mailbox->stats().in_flight;
  auto paused = mailbox->stats();
  EXPECT_GE(paused.in_flight, 50u);
  EXPECT_LT(paused.max_in_flight, 1000u);
  EXPECT_LT(paused.received, 1000u);
  // And once the actor catches up everything flows through
  caf::anon_send(sink, caf::ok_atom::value);
  ASSERT_TRUE(test::eventually([&] { return mailbox->stats().finished == 2000; }, 60s));
  auto s = mailbox->stats();
  EXPECT_FALSE(s.paused);
  EXPECT_GE(s.pauses, 1u);
  EXPECT_LT(s.max_in_flight, 1000u);
  mailbox->stop();
  EXPECT_EQ(committed("slow"), 2000);
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
}

// Forwards every publish to the real producer except the first one for
// `victim`, which it fails as a broker would (the seam of STYLE.md #3).
class failing_publisher : public runtime::publisher {
public:
  // `always`: every publish for the victim fails, as "too large" (not retriable).
  failing_publisher(std::shared_ptr<runtime::publisher> real, std::string victim,
                    bool always = false)
    : real_(std::move(real)), victim_(std::move(victim)), always_(always) {}
  void publish(std::vector<runtime::message> batch, const runtime::record_meta* cause,
               runtime::publish_callback done) override {
    if (cause != nullptr && cause->key == victim_ && always_) {
      failed_ = true;
      done({"Broker: Message size too large", false, false});
      return;
    }
    if (cause != nullptr && cause->key == victim_ && !failed_.exchange(true)) {
      done({"Local: Message timed out", false, true});
      return;
    }
    real_->publish(std::move(batch), cause, std::move(done));
  }
  std::atomic<bool> failed_{false};

private:
  std::shared_ptr<runtime::publisher> real_;
  std::string victim_;
  bool always_;
};

// Answers each payment request with a payment result (one publish each).
struct answering_state {
  std::mutex mtx;
  std::multiset<std::string> handled;
  std::vector<runtime::message> handle(const runtime::record_meta&,
                                           const actors::payment_request& r, int64_t) {
    std::lock_guard<std::mutex> guard{mtx};
    handled.insert(r.order_id);
    return {actors::payment_result{r.order_id, r.customer_id, r.total_cents, "SUCCEEDED", "",
                                    "tx-" + r.order_id, 0}};
  }
};

TEST_F(MailboxTest, AFailedPublishRestartsTheActorAndTheRecordIsHandledAgain) {
  ASSERT_FALSE(mock->create_topic({"payment-results", 3, 1, false}));
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  // Given a publisher that fails the first publish caused by order f-4
  auto failing = std::make_shared<failing_publisher>(producer, "f-4");
  auto state = std::make_shared<answering_state>();
  auto mailbox = *bridges::kafka_mailbox::make(options("failed-publish"));
  runtime::role_io io{failing, mailbox, &runtime::wall_clock_ms, 0ms, nullptr, 0};
  auto log = std::make_shared<runtime::supervision_log>();
  auto sup = supervise_role(sys, state, io, mailbox, log, 5);
  // When ten requests arrive
  publish_requests(10, "f-");
  // Then f-4 is handled again after the restart, and every record is finished
  ASSERT_TRUE(test::eventually([&] {
    return mailbox->stats().finished == 10 && mailbox->stats().in_flight == 0;
  }, 60s));
  EXPECT_TRUE(failing->failed_.load());
  EXPECT_EQ(log->restarts()["root/payment/worker"], 1);
  {
    std::lock_guard<std::mutex> guard{state->mtx};
    EXPECT_EQ(state->handled.count("f-4"), 2u);
  }
  mailbox->stop();
  EXPECT_EQ(committed("failed-publish"), 10);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(MailboxTest, ARecordWhoseOutputCanNeverBeWrittenIsDeadLetteredAndTheRestFlow) {
  ASSERT_FALSE(mock->create_topic({"payment-results", 3, 1, false}));
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  // Given a publisher that can never write what order g-2 produces
  auto failing = std::make_shared<failing_publisher>(producer, "g-2", true);
  auto state = std::make_shared<answering_state>();
  auto opts = options("never-written");
  opts.max_attempts = 3;
  auto mailbox = *bridges::kafka_mailbox::make(opts);
  runtime::role_io io{failing, mailbox, &runtime::wall_clock_ms, 0ms, nullptr, 0};
  auto sup = supervise_role(sys, state, io, mailbox, nullptr, 10);
  // When eight requests arrive
  publish_requests(8, "g-");
  // Then g-2 is dead-lettered after its three failures and the others finish
  ASSERT_TRUE(test::eventually([&] {
    auto s = mailbox->stats();
    return s.finished == 8 && s.dead_lettered == 1 && s.in_flight == 0;
  }, 60s));
  mailbox->stop();
  EXPECT_EQ(committed("never-written"), 8);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

}  // namespace

// -- Records a foreign producer put off their key's partition --------------------

namespace {
// Records on which partition each order was handled.
struct placement_state {
  std::mutex mtx;
  std::multimap<std::string, int32_t> handled;  // order id -> partition
  std::vector<runtime::message> handle(const runtime::record_meta& m,
                                           const actors::payment_request& r, int64_t) {
    std::lock_guard<std::mutex> guard{mtx};
    handled.emplace(r.order_id, m.partition);
    return {};
  }
};
}  // namespace

TEST_F(MailboxTest, AKeyedRoleForwardsARecordOffItsKeysPartitionAndHandlesItThere) {
  // Given a keyed role's mailbox (its state per key lives with the key's partition)
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  auto state = std::make_shared<placement_state>();
  auto opts = options("forwarding");
  opts.forward_topic = bridges::forward_topic_of("forwarding");
  ASSERT_FALSE(mock->create_topic({opts.forward_topic, 3, 1, false}));
  opts.topics.push_back(opts.forward_topic);
  auto mb = bridges::kafka_mailbox::make(opts);
  ASSERT_TRUE(mb);
  auto mailbox = *mb;
  runtime::role_io io{producer, mailbox, &runtime::wall_clock_ms, 0ms, nullptr, 0};
  auto sup = supervise_role(sys, state, io, mailbox, std::make_shared<runtime::supervision_log>(), 10);
  // When a foreign producer writes 12 keyed records each to the partition after
  // its key's, and 3 header-less records without a key to partition 0
  std::map<std::string, int32_t> home;
  std::atomic<int> acked{0};
  size_t misplaced = 0;
  for (int i = 0; i < 15; ++i) {
    auto id = "f-" + std::to_string(i);
    home[id] = *bridges::key_partition("murmur2_random", id, 3);
    const bool keyless = i >= 12;
    const int32_t to = keyless ? 0 : (home[id] + 1) % 3;
    misplaced += to != home[id] ? 1 : 0;
    producer->produce("payment-requests", keyless ? "" : id,
                      R"({"orderId":")" + id + R"(","customerId":"c","amount":1})", {},
                      [&](const runtime::publish_outcome& o) { acked += o.ok() ? 1 : 0; }, to);
  }
  ASSERT_TRUE(test::eventually([&] { return acked.load() == 15; }));
  // Then each is handled exactly once, on its key's partition
  ASSERT_TRUE(test::eventually([&] {
    std::lock_guard<std::mutex> guard{state->mtx};
    return state->handled.size() >= 15;
  }, 60s));
  ASSERT_TRUE(test::eventually([&] { return mailbox->stats().in_flight == 0; }));
  {
    std::lock_guard<std::mutex> guard{state->mtx};
    EXPECT_EQ(state->handled.size(), 15u);
    for (const auto& [id, p] : state->handled)
      EXPECT_EQ(p, home[id]) << id << " was handled off its key's partition";
  }
  EXPECT_EQ(mailbox->stats().forwarded, misplaced);
  EXPECT_EQ(mailbox->stats().dead_lettered, 0u);
  // And the input topic holds only the originals (its other readers see each
  // record once); the copies, in the group's own topic, carry where they came
  // from, their type and a key
  EXPECT_EQ(test::read_topic(mock->bootstrap(), "payment-requests", 3, 16, 5s).size(), 15u);
  auto copies = read_topic(opts.forward_topic, misplaced);
  ASSERT_EQ(copies.size(), misplaced);
  for (const auto& r : copies) {
    EXPECT_FALSE(r.key.empty());
    EXPECT_EQ(r.headers.at("kastor-type"), "payment_request");
    EXPECT_NE(r.headers.at("kastor-forwarded-from").find("payment-requests/"), std::string::npos);
  }
  // And every original is committed
  EXPECT_TRUE(test::eventually([&] { return committed("forwarding") == 15; }, 30s));
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_F(MailboxTest, APartitionWhoseCommittedOffsetCouldNotBeFetchedIsReadAfterAll) {
  // Given records waiting, and the group's committed offsets answered "Not
  // coordinator" when the mailbox is assigned its partitions (the coordinator
  // moved): librdkafka 2.0.2 then never starts those partitions' fetchers
  caf::actor_system_config cfg;
  runtime::register_message_types(cfg);
  caf::actor_system sys{cfg};
  publish_requests(30);
  mock->push_request_errors(9, {RD_KAFKA_RESP_ERR_NOT_COORDINATOR});  // 9: OffsetFetch
  auto state = std::make_shared<flaky_state>();
  auto mb = bridges::kafka_mailbox::make(options("offset-fetch"));
  ASSERT_TRUE(mb);
  auto mailbox = *mb;
  runtime::role_io io{producer, mailbox, &runtime::wall_clock_ms, 0ms, nullptr, 0};
  auto log = std::make_shared<runtime::supervision_log>();
  auto sup = supervise_role(sys, state, io, mailbox, log, 10);
  // Then every record is handled all the same
  EXPECT_TRUE(test::eventually([&] {
    std::lock_guard<std::mutex> guard{state->mtx};
    return state->handled.size() >= 30;
  }, 60s)) << "handled " << state->handled.size();
  mailbox->stop();
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}
