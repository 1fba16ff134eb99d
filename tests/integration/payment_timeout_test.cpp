// The shop's payment timeout end to end on librdkafka's mock cluster: orders
// whose payment does not answer in time are cancelled by their order's
// durable timer, and the payment that comes later charges nothing or refunds
// what it charged; each customer is told once.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "kastor/actors/ledger.hpp"
#include "kastor/actors/payment.hpp"
#include "kastor/actors/roles.hpp"
#include "kastor/apps/driver.hpp"
#include "kastor/apps/http_client.hpp"
#include "kastor/apps/node.hpp"
#include "kastor/apps/topics.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/runtime/trace.hpp"
#include "support/kafka.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<apps::node> start_node(const bridges::mock_cluster& mock, const std::string& id,
                                       const std::string& roles, const std::string& data_dir) {
  runtime::config_layers layers;
  for (auto [k, v] : std::map<std::string, std::string>{{"brokers", mock.bootstrap()},
                                                         {"node.id", id},
                                                         {"roles", roles},
                                                         {"http", "127.0.0.1:0"},
                                                         {"ops.http", "127.0.0.1:0"},
                                                         {"data.dir", data_dir},
                                                         {"order.payment-timeout-ms", "800"},
                                                         {"kafka.session-timeout-ms", "6000"},
                                                         {"kafka.fetch-wait-max-ms", "5"},
                                                         {"log.level", "warn"}})
    layers[k] = {v, "test"};
  auto cfg = runtime::make_config(layers, actors::shop_app());
  EXPECT_TRUE(cfg) << runtime::describe(cfg.error());
  if (!cfg)
    return nullptr;
  auto n = apps::node::start(*cfg);
  EXPECT_TRUE(n) << runtime::describe(n.error());
  if (!n)
    return nullptr;
  EXPECT_TRUE(test::eventually([&] { return (*n)->ready(); }, 60s));
  return std::move(*n);
}

// An order's state as GET /api/orders/{id} answers it ("" when it does not).
std::pair<std::string, std::string> state_of(apps::http_client& c, const std::string& id) {
  auto r = c.get("/api/orders/" + id);
  if (!r || r->status != 200)
    return {};
  auto o = boost::json::parse(r->body).as_object();
  return {std::string{o.at("status").as_string()}, std::string{o.at("paymentStatus").as_string()}};
}

}  // namespace

TEST(PaymentTimeout, OrdersWithoutAPaymentInTimeAreCancelledAndALatePaymentIsRefunded) {
  auto mock = bridges::mock_cluster::start(1);
  ASSERT_TRUE(mock);
  for (const auto& t : apps::pipeline_topics(3, 1))
    ASSERT_FALSE((*mock)->create_topic(t));
  // (a node's admin call to create its reply topic does not work on the mock)
  for (const char* id : {"shop", "billing"})
    ASSERT_FALSE((*mock)->create_topic({std::string{"kastor-replies."} + id, 1, 1, false}));
  const auto dir = std::filesystem::temp_directory_path()
                   / ("kastor-payment-timeout-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "shop");
  std::filesystem::create_directories(dir / "billing");

  // Given a shop whose payment role runs nowhere, with a payment timeout of 0.8 s
  auto shop = start_node(**mock, "shop", "order,email,analytics,gateway", (dir / "shop").string());
  ASSERT_TRUE(shop);
  apps::drive_options d;
  d.port = shop->http_port();
  d.orders = 12;
  auto drove = apps::drive_orders(d);
  ASSERT_EQ(drove.accepted.size(), 12u);
  // Then every order is cancelled for want of a payment outcome
  apps::http_client c{"127.0.0.1", d.port};
  for (const auto& id : drove.accepted)
    EXPECT_TRUE(test::eventually(
      [&] { return state_of(c, id).first == actors::status_payment_timeout; }, 60s))
      << id << " is " << state_of(c, id).first;

  // When payment comes up and finds both the requests and the cancellations
  auto billing = start_node(**mock, "billing", "payment", (dir / "billing").string());
  ASSERT_TRUE(billing);
  // Then each order ends NOTIFIED by its cancellation's email, still timed out
  for (const auto& id : drove.accepted)
    EXPECT_TRUE(test::eventually(
      [&] {
        return state_of(c, id)
               == std::pair<std::string, std::string>{actors::status_notified,
                                                      actors::payment_timed_out};
      },
      60s))
      << id << " is " << state_of(c, id).first << "/" << state_of(c, id).second;
  // And no customer keeps a charge: a charge made late is refunded once, an
  // order sealed first or declined is refunded nothing; each customer is told
  // once, with the email that says which
  auto charges = billing->payment_ledger();
  auto refunds = billing->payment_refunds();
  auto outbox = shop->email_outbox();
  size_t refunded = 0, sealed = 0;
  for (const auto& id : drove.accepted) {
    auto line = charges->find(id);
    ASSERT_TRUE(line) << id;
    auto status = std::string{boost::json::parse(*line).at("status").as_string()};
    const bool charged = status == actors::payment_succeeded;
    refunded += charged ? 1 : 0;
    sealed += status == actors::payment_sealed ? 1 : 0;
    EXPECT_EQ(charges->count(id), 1u) << id;
    EXPECT_EQ(refunds->count(id), charged ? 1u : 0u) << id << " " << status;
    EXPECT_EQ(outbox->count(id + "/" + actors::notify_payment_refunded), charged ? 1u : 0u) << id;
    EXPECT_EQ(outbox->count(id + "/" + actors::notify_order_cancelled), charged ? 0u : 1u) << id;
  }
  std::printf("%zu of 12 orders charged late and refunded, %zu sealed before their request\n",
              refunded, sealed);
  // And the analytics count those refunds and keep none of their revenue
  EXPECT_TRUE(test::eventually(
    [&] {
      auto r = c.get("/api/analytics");
      if (!r || r->status != 200)
        return false;
      const auto all = boost::json::parse(r->body).at("allTime");
      return all.at("refunds").to_number<int64_t>() == static_cast<int64_t>(refunded)
             && all.at("revenue").to_number<double>() == 0.0;
    },
    30s))
    << (c.get("/api/analytics") ? c.get("/api/analytics")->body : "no answer");
  // And the timeout's records (a timer's, fired later) and the cancellations
  // they cause carry the order's trace (issue 22)
  std::map<std::string, std::string> trace_of;  // order id -> its trace id
  for (const auto& rec : test::read_topic((*mock)->bootstrap(), "order-created", 3, 1000, 3s))
    if (auto t = runtime::parse_traceparent(rec.headers.count("traceparent")
                                              ? rec.headers.at("traceparent") : ""))
      trace_of[rec.key] = t->trace_id;
  ASSERT_EQ(trace_of.size(), 12u);
  for (const char* topic : {"order-payment-timeouts", "payment-cancels"}) {
    size_t seen = 0;
    for (const auto& rec : test::read_topic((*mock)->bootstrap(), topic, 3, 1000, 3s)) {
      if (!trace_of.count(rec.key))
        continue;
      ++seen;
      auto t = runtime::parse_traceparent(rec.headers.count("traceparent")
                                            ? rec.headers.at("traceparent") : "");
      ASSERT_TRUE(t) << topic << " " << rec.key;
      EXPECT_EQ(t->trace_id, trace_of[rec.key]) << topic << " " << rec.key;
    }
    EXPECT_GE(seen, 12u) << topic;
  }
  billing.reset();
  shop.reset();
  std::filesystem::remove_all(dir);
}
