#include "kastor/runtime/schema.hpp"

#include <initializer_list>

namespace kastor::runtime {

namespace {

struct checker {
  std::string type;
  std::optional<std::string> error;

  void fail(const std::string& field, const std::string& what) {
    if (!error)
      error = type + "." + field + " " + what;
  }
  void id(const std::string& field, const std::string& v) {
    if (v.empty())
      fail(field, "must not be empty");
    else if (v.size() > schema_max_id_chars)
      fail(field, "must be at most " + std::to_string(schema_max_id_chars) + " characters");
  }
  void range(const std::string& field, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi)
      fail(field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got "
                    + std::to_string(v));
  }
  void money(const std::string& field, int64_t cents, bool may_be_negative = false) {
    range(field, cents, may_be_negative ? -schema_max_cents : 0, schema_max_cents);
  }
  void one_of(const std::string& field, const std::string& v, std::initializer_list<const char*> allowed,
              bool may_be_empty = false) {
    if (may_be_empty && v.empty())
      return;
    std::string list;
    for (const char* a : allowed) {
      if (v == a)
        return;
      list += (list.empty() ? "" : ", ") + std::string{a};
    }
    fail(field, "must be one of " + list + ", got '" + v + "'");
  }
};

void check(checker& c, const order_created& x) {
  c.id("orderId", x.order_id);
  c.id("customerId", x.customer_id);
  if (x.items.empty())
    c.fail("items", "must not be empty");
  int64_t sum = 0;
  for (size_t i = 0; i < x.items.size(); ++i) {
    const auto& it = x.items[i];
    auto at = "items[" + std::to_string(i) + "].";
    c.id(at + "productId", it.product_id);
    c.money(at + "price", it.price_cents);
    c.range(at + "quantity", it.quantity, 1, schema_max_quantity);
    c.money(at + "subtotal", it.subtotal_cents);
    sum += it.subtotal_cents;  // each at most schema_max_cents: no overflow for any sane count
  }
  c.money("totalAmount", x.total_cents);
  if (!c.error && sum != x.total_cents)
    c.fail("totalAmount", "must be the sum of the subtotals (" + std::to_string(sum) + " cents), got "
                            + std::to_string(x.total_cents));
  c.one_of("status", x.status, {status_pending, status_paid, status_payment_failed, status_notified});
}

void check(checker& c, const payment_request& x) {
  c.id("orderId", x.order_id);
  // A non-positive amount is a request the payment rules decline, not a bad record.
  c.money("totalAmount", x.total_cents, true);
}

void check(checker& c, const payment_result& x) {
  c.id("orderId", x.order_id);
  c.money("totalAmount", x.total_cents, true);
  c.one_of("status", x.status, {payment_succeeded, payment_declined});
}

void check(checker& c, const notification_event& x) {
  c.id("orderId", x.order_id);
  c.one_of("type", x.type, {notify_payment_succeeded, notify_payment_failed});
  c.money("totalAmount", x.total_cents, true);
}

void check(checker& c, const email_sent& x) {
  c.id("orderId", x.order_id);
  c.one_of("kind", x.kind, {notify_payment_succeeded, notify_payment_failed});
}

void check(checker& c, const order_snapshot& x) {
  c.id("orderId", x.order_id);
  c.one_of("status", x.status, {status_pending, status_paid, status_payment_failed, status_notified});
  c.one_of("paymentStatus", x.payment_status, {payment_succeeded, payment_declined}, true);
  c.range("itemCount", x.item_count, 0, schema_max_quantity * 1000);
  c.money("totalAmount", x.total_cents, true);
}

}  // namespace

std::optional<std::string> schema_violation(const any_message& m) {
  return std::visit(
    [](const auto& x) -> std::optional<std::string> {
      using T = std::decay_t<decltype(x)>;
      checker c;
      if constexpr (std::is_same_v<T, order_created>)
        c.type = "order_created";
      else if constexpr (std::is_same_v<T, payment_request>)
        c.type = "payment_request";
      else if constexpr (std::is_same_v<T, payment_result>)
        c.type = "payment_result";
      else if constexpr (std::is_same_v<T, notification_event>)
        c.type = "notification_event";
      else if constexpr (std::is_same_v<T, email_sent>)
        c.type = "email_sent";
      else
        c.type = "order_snapshot";
      check(c, x);
      return c.error;
    },
    m);
}

}  // namespace kastor::runtime
