// The whole pipeline in one node on librdkafka's mock cluster, driven over
// HTTP like a user would.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "kastor/actors/roles.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/mailbox.hpp"

#include <filesystem>
#include <future>
#include <set>

#include "kastor/actors/ledger.hpp"
#include "kastor/apps/driver.hpp"
#include "kastor/apps/http_client.hpp"
#include "kastor/apps/node.hpp"
#include "kastor/apps/topics.hpp"
#include "kastor/apps/idempotency.hpp"
#include "kastor/bridges/codec.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/runtime/trace.hpp"
#include "support/kafka.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

class PipelineTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    auto m = bridges::mock_cluster::start(3);
    ASSERT_TRUE(m);
    mock_ = std::move(*m);
    for (const auto& t : apps::pipeline_topics(3, 3))
      ASSERT_FALSE(mock_->create_topic(t));
    data_dir_ = std::filesystem::temp_directory_path()
                / ("kastor-pipeline-test-" + std::to_string(getpid()));
    auto cfg = runtime::make_config({}, actors::shop_app());
    ASSERT_TRUE(cfg);
    cfg->brokers = mock_->bootstrap();
    cfg->http_port = 0;
    cfg->ops_port = 0;
    cfg->data_dir = data_dir_.string();
    cfg->session_timeout_ms = 6000;
    cfg->fetch_wait_max_ms = 5;  // the mock does not wake a waiting fetch
    cfg->log_level = "warn";
    // (the node's admin call to create it does not work on the mock)
    ASSERT_FALSE(mock_->create_topic({"kastor-replies." + cfg->node_id, 1, 1, false}));
    auto n = apps::node::start(*cfg);
    ASSERT_TRUE(n) << runtime::describe(n.error());
    node_ = std::move(*n);
    ASSERT_TRUE(test::eventually([] { return node_->ready(); }, 60s));
  }

  static void TearDownTestSuite() {
    node_.reset();
    mock_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  // Records in order-created, over all partitions.
  static int64_t order_created_records() {
    auto conf = bridges::make_conf({{"bootstrap.servers", mock_->bootstrap()}});
    char err[512];
    bridges::rk_ptr rk{rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), err, sizeof(err))};
    int64_t sum = 0;
    for (int p = 0; p < 3; ++p) {
      int64_t lo = 0, hi = 0;
      EXPECT_EQ(rd_kafka_query_watermark_offsets(rk.get(), "order-created", p, &lo, &hi, 10000),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      sum += hi;
    }
    return sum;
  }

  std::string ledger() const { return (data_dir_ / "payment-ledger.jsonl").string(); }
  std::string outbox() const { return (data_dir_ / "email-outbox.jsonl").string(); }

  static std::unique_ptr<bridges::mock_cluster> mock_;
  static std::unique_ptr<apps::node> node_;
  static std::filesystem::path data_dir_;
};

std::unique_ptr<bridges::mock_cluster> PipelineTest::mock_;
std::unique_ptr<apps::node> PipelineTest::node_;
std::filesystem::path PipelineTest::data_dir_;

TEST_F(PipelineTest, EveryOrderBecomesTerminalWithOneChargeAndOneEmail) {
  // Given a running node; when 150 sample orders arrive over HTTP
  apps::drive_options d;
  d.port = node_->http_port();
  d.orders = 150;
  auto drove = apps::drive_orders(d);
  ASSERT_EQ(drove.accepted.size(), 150u);
  // Then each one is NOTIFIED, charged once and emailed once, and the
  // declined ones are exactly those the rules decline
  auto check = apps::check_orders("127.0.0.1", d.port, drove.accepted, {ledger()}, {outbox()}, 90s);
  EXPECT_EQ(check.terminal, 150u);
  EXPECT_EQ(check.charge_anomalies, 0u);
  EXPECT_EQ(check.email_anomalies, 0u);
  size_t declined = 0;
  for (int i : drove.accepted_index)
    declined += apps::sample_order_declined(i) ? 1 : 0;
  EXPECT_EQ(check.declined, declined);
  // And the analytics saw every one of them
  apps::http_client c{"127.0.0.1", d.port};
  ASSERT_TRUE(test::eventually([&] {
    auto r = c.get("/api/analytics");
    if (!r || r->status != 200)
      return false;
    auto all = boost::json::parse(r->body).at("allTime");
    return all.at("emailsSent").to_number<int64_t>() >= 150;
  }));
}

TEST_F(PipelineTest, GetAsksTheOrderActorThatOwnsTheKeyThroughKafka) {
  // Given a fresh order (not finished yet, so not answered from the view alone)
  apps::http_client c{"127.0.0.1", node_->http_port()};
  // When an order nobody knows is asked for
  auto missing = c.get("/api/orders/nobody-ordered-this");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  // Then the question went to its owner as a request record keyed by the id,
  // with this node's reply topic and a deadline
  auto requests = test::read_topic(mock_->bootstrap(), "kastor.order-requests", 3, 1000, 3s);
  const test::kafka_record* asked = nullptr;
  for (const auto& r : requests)
    if (r.key == "nobody-ordered-this")
      asked = &r;
  ASSERT_NE(asked, nullptr);
  EXPECT_EQ(asked->headers.at("kastor-type"), "get");
  EXPECT_EQ(asked->headers.at("kastor-reply-to"), "kastor-replies." + node_->config().node_id);
  EXPECT_FALSE(asked->headers.at("kastor-deadline").empty());
  // and the owner's answer came back on the reply topic (one partition: the
  // node creates it): not found
  // (the owner's first reply to a node waits for the reply topic's metadata)
  auto id = asked->headers.at("kastor-correlation-id");
  std::vector<test::kafka_record> replies;
  auto reply = [&]() -> const test::kafka_record* {
    for (const auto& r : replies)
      if (r.key == id)
        return &r;
    return nullptr;
  };
  ASSERT_TRUE(test::eventually([&] {
    replies = test::read_topic(mock_->bootstrap(), "kastor-replies." + node_->config().node_id,
                               1, 1000, 2s);
    return reply() != nullptr;
  }, 20s));
  EXPECT_EQ(reply()->headers.at("kastor-reply-status"), "not_found");
  EXPECT_EQ(reply()->headers.at("kastor-node"), node_->config().node_id);
}

TEST_F(PipelineTest, ARequestWhoseReplyTopicNobodyMadeIsNotAnsweredAndCreatesNoTopic) {
  const std::string forged = "kastor-replies.nobody-" + std::to_string(getpid());
  const std::string mine = "kastor-replies." + node_->config().node_id;
  bridges::producer_options po;
  po.brokers = mock_->bootstrap();
  auto producer = *bridges::kafka_publisher::make(po);
  auto deadline = std::to_string(runtime::wall_clock_ms() + 60000);
  auto ask = [&](const std::string& to, const std::string& id) {
    std::promise<runtime::publish_outcome> written;
    producer->produce("kastor.order-requests", "asked-twice", "",
                      {{"kastor-type", "get"}, {"kastor-correlation-id", id},
                       {"kastor-reply-to", to}, {"kastor-deadline", deadline}},
                      [&](const runtime::publish_outcome& o) { written.set_value(o); });
    return written.get_future().get().ok();
  };
  auto answered = [&](const std::string& id) {
    for (const auto& r : test::read_topic(mock_->bootstrap(), mine, 1, 1000, 2s))
      if (r.key == id)
        return true;
    return false;
  };
  // Given the key's owner answers requests (a responder reads a partition
  // from its end the first time: asked until one is answered)
  int warm = 0;
  ASSERT_TRUE(test::eventually([&] {
    return ask(mine, "warm-" + std::to_string(++warm)) && answered("warm-" + std::to_string(warm));
  }, 30s));
  // When two requests for one key follow (one partition, read in order):
  // the first names a reply topic no node made, the second this node's
  ASSERT_TRUE(ask(forged, "forged-1"));
  ASSERT_TRUE(ask(mine, "mine-1"));
  producer->stop(5s);
  // And the second is answered (so the first was taken before it)
  ASSERT_TRUE(test::eventually([&] { return answered("mine-1"); }, 20s));
  // Then the first made no topic: a reply goes only to a topic that exists
  auto conf = bridges::make_conf({{"bootstrap.servers", mock_->bootstrap()}});
  char err[512];
  bridges::rk_ptr rk{rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), err, sizeof(err))};
  ASSERT_TRUE(rk) << err;
  const rd_kafka_metadata_t* md = nullptr;
  ASSERT_EQ(rd_kafka_metadata(rk.get(), 1, nullptr, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::set<std::string> topics;
  for (int i = 0; i < md->topic_cnt; ++i)
    topics.insert(md->topics[i].topic);
  rd_kafka_metadata_destroy(md);
  EXPECT_TRUE(topics.count(mine));
  EXPECT_FALSE(topics.count(forged));
}

// Issue 22: one order's trace through every hop. The caller's traceparent
// is the order's trace; every record of the order, in every topic, carries
// it with a span of its own.
TEST_F(PipelineTest, AnOrdersTraceIsOnEveryRecordOfItInEveryTopic) {
  apps::http_client c{"127.0.0.1", node_->http_port()};
  const std::string trace = "0af7651916cd43dd8448eb211c80319c";
  auto r = c.post_json("/api/orders", apps::sample_order_json(2),
                       {{"traceparent", "00-" + trace + "-b7ad6b7169203331-01"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202u) << r->body;
  const auto returned = runtime::parse_traceparent(r->header("traceparent"));
  ASSERT_TRUE(returned) << r->header("traceparent");
  EXPECT_EQ(returned->trace_id, trace);
  const std::string id{boost::json::parse(r->body).at("orderId").as_string()};
  ASSERT_TRUE(test::eventually([&] {
    auto g = c.get("/api/orders/" + id);
    return g && g->status == 200
           && boost::json::parse(g->body).at("status").as_string() == "NOTIFIED";
  }, 60s));
  std::set<std::string> spans;
  for (const char* topic : {"order-created", "payment-requests", "payment-results",
                            "notification-events", "email-sent", "order-state"}) {
    int seen = 0;
    for (const auto& rec : test::read_topic(mock_->bootstrap(), topic, 3, 1000, 3s)) {
      if (rec.key != id)
        continue;
      ++seen;
      ASSERT_TRUE(rec.headers.count("traceparent")) << topic;
      auto t = runtime::parse_traceparent(rec.headers.at("traceparent"));
      ASSERT_TRUE(t) << topic << ": " << rec.headers.at("traceparent");
      EXPECT_EQ(t->trace_id, trace) << topic;
      spans.insert(t->span_id);
    }
    EXPECT_GT(seen, 0) << "no record of order " << id << " in " << topic;
  }
  EXPECT_GT(spans.size(), 5u);  // a span per record written
  EXPECT_EQ(spans.count("b7ad6b7169203331"), 0u);  // none is the caller's own
}

TEST_F(PipelineTest, AHeaderlessRecordInPaymentRequestsIsProcessed) {
  // Given a record as kcat would write it: JSON value, key, no headers
  bridges::producer_options po;
  po.brokers = mock_->bootstrap();
  auto producer = *bridges::kafka_publisher::make(po);
  std::promise<runtime::publish_outcome> written;
  producer->produce("payment-requests", "kcat-order-1",
                    R"({"orderId":"kcat-order-1","customerId":"kcat-customer","totalAmount":12.5})",
                    {}, [&](const runtime::publish_outcome& o) { written.set_value(o); });
  ASSERT_TRUE(written.get_future().get().ok());
  producer->stop(5s);
  // Then payment charges it once and the order ends NOTIFIED
  actors::jsonl_ledger charges{ledger(), "orderId"};
  ASSERT_TRUE(test::eventually([&] { return charges.count("kcat-order-1") == 1; }, 60s));
  apps::http_client c{"127.0.0.1", node_->http_port()};
  ASSERT_TRUE(test::eventually([&] {
    auto r = c.get("/api/orders/kcat-order-1");
    return r && r->status == 200
           && boost::json::parse(r->body).at("status").as_string() == "NOTIFIED";
  }, 60s));
  auto r = c.get("/api/orders/kcat-order-1");
  auto v = boost::json::parse(r->body);
  EXPECT_EQ(v.at("paymentStatus").as_string(), "SUCCEEDED");
  EXPECT_EQ(v.at("totalAmount").to_number<double>(), 12.5);
  // and its trace starts at its first kastor hop: its result and its email
  // carry one trace
  std::set<std::string> traces;
  for (const char* topic : {"payment-results", "notification-events", "email-sent"})
    for (const auto& rec : test::read_topic(mock_->bootstrap(), topic, 3, 1000, 3s))
      if (rec.key == "kcat-order-1") {
        ASSERT_TRUE(rec.headers.count("traceparent")) << topic;
        auto t = runtime::parse_traceparent(rec.headers.at("traceparent"));
        ASSERT_TRUE(t) << topic << ": " << rec.headers.at("traceparent");
        traces.insert(t->trace_id);
      }
  EXPECT_EQ(traces.size(), 1u);
}

TEST_F(PipelineTest, TheSamePostWithTheSameIdempotencyKeyAHundredTimesMakesOneOrder) {
  auto before = order_created_records();
  auto key = "idem-" + std::to_string(getpid());
  auto body = apps::sample_order_json(5);
  // When 100 identical POSTs with one Idempotency-Key arrive at once
  std::vector<std::future<std::pair<unsigned, std::string>>> calls;
  for (int i = 0; i < 100; ++i)
    calls.push_back(std::async(std::launch::async, [&] {
      apps::http_client c{"127.0.0.1", node_->http_port()};
      auto r = c.post_json("/api/orders", body, {{"Idempotency-Key", key}});
      if (!r)
        return std::pair<unsigned, std::string>{0, ""};
      return std::pair{r->status, std::string{boost::json::parse(r->body).at("orderId").as_string()}};
    }));
  std::set<std::string> ids;
  for (auto& f : calls) {
    auto [status, id] = f.get();
    EXPECT_EQ(status, 202u);
    ids.insert(id);
  }
  // Then all got the same order id, one record was written, and it is
  // charged once and ends NOTIFIED
  ASSERT_EQ(ids.size(), 1u);
  auto id = *ids.begin();
  EXPECT_EQ(order_created_records(), before + 1);
  auto check = apps::check_orders("127.0.0.1", node_->http_port(), {id}, {ledger()}, {outbox()}, 60s);
  EXPECT_EQ(check.terminal, 1u);
  EXPECT_EQ(check.charge_anomalies, 0u);
  EXPECT_EQ(check.email_anomalies, 0u);
  // And the key with another body is a 422; with the same body, the same answer
  apps::http_client c{"127.0.0.1", node_->http_port()};
  auto other = c.post_json("/api/orders", apps::sample_order_json(6), {{"Idempotency-Key", key}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 422u);
  EXPECT_NE(other->body.find("idempotency_conflict"), std::string::npos);
  auto again = c.post_json("/api/orders", body, {{"Idempotency-Key", key}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 202u);
  EXPECT_NE(again->body.find(id), std::string::npos);
  EXPECT_EQ(order_created_records(), before + 1);
}

// Issue 14, defect 2: the order id of a key is predictable (a UUID v5 of
// it); a forged payment result for it made the view know the order, and a
// POST with the key then got 202 while no order record was ever written.
TEST_F(PipelineTest, AKeyWhoseOrderIsKnownOnlyFromAForgedResultStillWritesTheOrder) {
  auto key = "forged-" + std::to_string(getpid());
  auto id = apps::order_id_for_key(key);
  auto before = order_created_records();
  // Given a payment result for the key's order id, with no order behind it
  // (the customer and total of the body posted below, as a forger would)
  bridges::producer_options po;
  po.brokers = mock_->bootstrap();
  auto producer = *bridges::kafka_publisher::make(po);
  std::promise<runtime::publish_outcome> written;
  auto forged = bridges::encode(
    runtime::message{actors::payment_result{id, "customer-3", 7799, actors::payment_succeeded, "",
                                            "tx-forged"}},
    bridges::outgoing_meta{"m-forged", "", 1, ""});
  producer->produce("payment-results", id, forged.value, forged.headers,
                    [&](const runtime::publish_outcome& o) { written.set_value(o); });
  ASSERT_TRUE(written.get_future().get().ok());
  producer->stop(5s);
  apps::http_client c{"127.0.0.1", node_->http_port()};
  ASSERT_TRUE(test::eventually([&] {
    auto r = c.get("/api/orders/" + id);
    return r && r->status == 200;
  }, 30s));
  // When the key is used
  auto r = c.post_json("/api/orders", apps::sample_order_json(3), {{"Idempotency-Key", key}});
  // Then the 202 comes with the order record written
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202u) << r->body;
  EXPECT_NE(r->body.find(id), std::string::npos) << r->body;
  EXPECT_EQ(order_created_records(), before + 1);
}

TEST_F(PipelineTest, SchemaInvalidAndUnknownVersionRecordsGoToTheDlqWithoutACrash) {
  // Given a record out of its schema (a status no reader knows) and one of a
  // schema version this build cannot read
  auto restarts_before = node_->supervision()->total_restarts();
  bridges::producer_options po;
  po.brokers = mock_->bootstrap();
  auto producer = *bridges::kafka_publisher::make(po);
  auto write = [&](const std::string& topic, const std::string& key, const std::string& value,
                   bridges::header_list headers) {
    std::promise<runtime::publish_outcome> written;
    producer->produce(topic, key, value, headers,
                      [&](const runtime::publish_outcome& o) { written.set_value(o); });
    ASSERT_TRUE(written.get_future().get().ok());
  };
  auto tag = std::to_string(getpid());
  write("payment-results", "schema-" + tag,
        R"({"orderId":"schema-)" + tag + R"(","status":"MAYBE","totalAmount":1})", {});
  write("payment-requests", "version-" + tag,
        R"({"orderId":"version-)" + tag + R"(","customerId":"c","totalAmount":1})",
        {{"kastor-type", "payment_request"}, {"kastor-schema", "99"}});
  producer->stop(5s);
  // Then each is in its topic's DLQ with the reason, and no actor crashed
  auto find = [&](const std::string& dlq, const std::string& key) -> std::string {
    for (const auto& r : test::read_topic(mock_->bootstrap(), dlq, 3, 1000, 3s))
      if (r.key == key)
        return r.headers.count("kastor-dlq-reason") ? r.headers.at("kastor-dlq-reason") : "?";
    return "";
  };
  std::string schema_reason, version_reason;
  ASSERT_TRUE(test::eventually([&] {
    schema_reason = find("payment-results.dlq", "schema-" + tag);
    version_reason = find("payment-requests.dlq", "version-" + tag);
    return !schema_reason.empty() && !version_reason.empty();
  }, 60s));
  EXPECT_NE(schema_reason.find("schema_violation: payment_result.status must be one of"),
            std::string::npos) << schema_reason;
  EXPECT_NE(version_reason.find("unsupported_version"), std::string::npos) << version_reason;
  EXPECT_EQ(node_->supervision()->total_restarts(), restarts_before);
  actors::jsonl_ledger charges{ledger(), "orderId"};
  EXPECT_EQ(charges.count("version-" + tag), 0u);
}

TEST_F(PipelineTest, BadRequestsGetTheirStatusAndWriteNothing) {
  apps::http_client c{"127.0.0.1", node_->http_port()};
  auto before = order_created_records();
  struct case_t {
    std::string body;
    unsigned status;
  };
  std::vector<case_t> cases{
    {"{not json", 400},
    {R"({"customerId":"c","items":[],"totalAmount":0})", 422},
    {R"({"customerId":"c","items":[{"productId":"p","name":"n","price":-1,"quantity":1,"subtotal":-1}],"totalAmount":-1})", 422},
    {R"({"customerId":"c","items":[{"productId":"p","name":"n","price":1,"quantity":2,"subtotal":3}],"totalAmount":3})", 422},
    {R"({"customerId":"c","items":[{"productId":"p","name":"n","price":1,"quantity":1,"subtotal":1}],"totalAmount":1,"status":"PAID"})", 422},
    {std::string(70 * 1024, ' '), 413},
  };
  for (const auto& k : cases) {
    auto r = c.post_json("/api/orders", k.body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, k.status) << k.body.substr(0, 80);
    if (r->status != 413) {
      EXPECT_TRUE(boost::json::parse(r->body).as_object().contains("error"));
    }
  }
  // One valid order afterwards proves the comparison can see a write.
  auto ok = c.post_json("/api/orders", apps::sample_order_json(1));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 202u);
  EXPECT_EQ(order_created_records(), before + 1);
}

}  // namespace
