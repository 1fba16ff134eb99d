// The gateway node's Idempotency-Key table.
#include <gtest/gtest.h>

#include "kastor/apps/idempotency.hpp"

using namespace kastor;
using apps::idempotency_table;

namespace {

actors::order_created order(const std::string& customer, int64_t total) {
  actors::order_created o;
  o.customer_id = customer;
  o.items.push_back({"p-1", "Thing", total, 1, total});
  o.total_cents = total;
  return o;
}

TEST(Idempotency, TheOrderIdIsAStableUuidOfTheKey) {
  auto id = apps::order_id_for_key("k-1");
  EXPECT_EQ(id, apps::order_id_for_key("k-1"));
  EXPECT_NE(id, apps::order_id_for_key("k-2"));
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '5');  // version 5 (name-based, SHA-1)
}

TEST(Idempotency, TheFingerprintCoversCustomerItemsAndTotal) {
  auto a = order("c", 100);
  EXPECT_EQ(apps::order_fingerprint(a), apps::order_fingerprint(order("c", 100)));
  EXPECT_NE(apps::order_fingerprint(a), apps::order_fingerprint(order("d", 100)));
  EXPECT_NE(apps::order_fingerprint(a), apps::order_fingerprint(order("c", 200)));
  auto b = a;
  b.items[0].name = "Other";
  EXPECT_NE(apps::order_fingerprint(a), apps::order_fingerprint(b));
  auto c = a;
  c.order_id = "set-by-server";  // not part of the body
  c.created_at_ms = 42;
  EXPECT_EQ(apps::order_fingerprint(a), apps::order_fingerprint(c));
}

// Issue 14, defect 2: customer and total alone made another body with the
// same key look like the same request on a node that had not seen the key.
TEST(Idempotency, TheFingerprintTellsBodiesWithTheSameCustomerAndTotalApart) {
  auto a = order("c", 100);
  auto b = order("c", 100);
  b.items[0] = {"p-2", "Thing", 50, 2, 100};  // other items, same customer and total
  EXPECT_NE(apps::order_fingerprint(a), apps::order_fingerprint(b));
  // and fields cannot bleed into each other
  auto x = order("c", 100);
  x.items[0].product_id = "ab";
  x.items[0].name = "c";
  auto y = order("c", 100);
  y.items[0].product_id = "a";
  y.items[0].name = "bc";
  EXPECT_NE(apps::order_fingerprint(x), apps::order_fingerprint(y));
}

TEST(Idempotency, ConcurrentRequestsWaitForTheFirstAndGetItsAnswer) {
  idempotency_table t;
  std::vector<gateway::submit_result> answers;
  auto record = [&](gateway::submit_result r) { answers.push_back(r); };
  EXPECT_EQ(t.begin("k", "f1", record), idempotency_table::claim::first);
  EXPECT_EQ(t.begin("k", "f1", record), idempotency_table::claim::waiting);
  EXPECT_EQ(t.begin("k", "f1", record), idempotency_table::claim::waiting);
  EXPECT_TRUE(answers.empty());
  t.finish("k", {true, "order-1", "", false});
  ASSERT_EQ(answers.size(), 3u);
  for (const auto& a : answers)
    EXPECT_EQ(a.order_id, "order-1");
  // and a later one is answered at once, the same way
  EXPECT_EQ(t.begin("k", "f1", record), idempotency_table::claim::answered);
  EXPECT_EQ(answers.back().order_id, "order-1");
  EXPECT_TRUE(answers.back().ok);
}

TEST(Idempotency, AnotherBodyWithTheSameKeyIsAConflict) {
  idempotency_table t;
  std::optional<gateway::submit_result> got;
  EXPECT_EQ(t.begin("k", "f1", [](gateway::submit_result) {}), idempotency_table::claim::first);
  EXPECT_EQ(t.begin("k", "f2", [&](gateway::submit_result r) { got = r; }),
            idempotency_table::claim::answered);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->key_conflict);
  EXPECT_FALSE(got->ok);
}

TEST(Idempotency, AFailedWriteIsForgottenSoThatARetryTriesAgain) {
  idempotency_table t;
  int failures = 0;
  t.begin("k", "f1", [&](gateway::submit_result r) { failures += !r.ok; });
  t.begin("k", "f1", [&](gateway::submit_result r) { failures += !r.ok; });
  t.finish("k", {false, "", "broker down", false});
  EXPECT_EQ(failures, 2);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.begin("k", "f1", [](gateway::submit_result) {}), idempotency_table::claim::first);
}

TEST(Idempotency, TheOldestAnsweredKeysAreForgottenPastCapacity) {
  idempotency_table t{2};
  for (auto k : {"a", "b", "c"}) {
    t.begin(k, "f1", [](gateway::submit_result) {});
    t.finish(k, {true, k, "", false});
  }
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.begin("a", "f1", [](gateway::submit_result) {}), idempotency_table::claim::first);
  EXPECT_EQ(t.begin("c", "f1", [](gateway::submit_result) {}), idempotency_table::claim::answered);
}

}  // namespace
