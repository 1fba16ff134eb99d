// Message schemas beyond field types: ranges, allowed values, sums.
#include <gtest/gtest.h>

#include "kastor/actors/schema.hpp"

using namespace kastor::actors;

namespace {

order_created valid_order() {
  order_created o;
  o.order_id = "o-1";
  o.customer_id = "c-1";
  o.items = {{"p-1", "Thing", 4999, 2, 9998}};
  o.total_cents = 9998;
  return o;
}

std::string violation(const kastor::runtime::message& m) {
  auto v = schema_violation(m);
  return v ? *v : "";
}

TEST(Schema, ValidMessagesPass) {
  EXPECT_EQ(violation(valid_order()), "");
  EXPECT_EQ(violation(payment_request{"o-1", "c-1", -5}), "");  // declined by the rules, not invalid
  EXPECT_EQ(violation(payment_result{"o-1", "c-1", 100, payment_declined, "limit", "", 0}), "");
  EXPECT_EQ(violation(notification_event{"o-1", "c-1", notify_payment_failed, 100, "m"}), "");
  EXPECT_EQ(violation(email_sent{"o-1", "c-1", notify_payment_succeeded, 1}), "");
  order_snapshot s;
  s.order_id = "o-1";
  s.status = status_pending;
  EXPECT_EQ(violation(s), "");
}

TEST(Schema, EachViolationNamesTheTypeAndField) {
  auto o = valid_order();
  o.items[0].quantity = 0;
  EXPECT_EQ(violation(o), "order_created.items[0].quantity must be between 1 and 1000000, got 0");
  o = valid_order();
  o.total_cents = 1;
  EXPECT_EQ(violation(o),
            "order_created.totalAmount must be the sum of the subtotals (9998 cents), got 1");
  o = valid_order();
  o.items.clear();
  o.total_cents = 0;
  EXPECT_EQ(violation(o), "order_created.items must not be empty");
  o = valid_order();
  o.status = "SHIPPED";
  EXPECT_NE(violation(o).find("order_created.status must be one of PENDING"), std::string::npos);
  o = valid_order();
  o.order_id = std::string(513, 'x');
  EXPECT_EQ(violation(o), "order_created.orderId must be at most 512 bytes");
  EXPECT_EQ(violation(payment_request{"", "c", 1}), "payment_request.orderId must not be empty");
  EXPECT_NE(violation(payment_request{"o", "c", schema_max_cents + 1}).find("totalAmount"),
            std::string::npos);
  EXPECT_NE(violation(payment_result{"o", "c", 1, "MAYBE", "", "", 0}).find("payment_result.status"),
            std::string::npos);
  EXPECT_NE(violation(notification_event{"o", "c", "SMS", 1, ""}).find("notification_event.type"),
            std::string::npos);
  EXPECT_NE(violation(email_sent{"o", "c", "", 1}).find("email_sent.kind"), std::string::npos);
  order_snapshot s;
  s.order_id = "o";
  s.status = status_paid;
  s.payment_status = "LATER";
  EXPECT_NE(violation(s).find("order_snapshot.paymentStatus"), std::string::npos);
}

}  // namespace
