#include "kastor/actors/schema.hpp"

#include <initializer_list>
#include <limits>

namespace kastor::actors {

namespace {

// Checks fields; builds text only for the first violation (the common case,
// a valid message, allocates nothing).
struct checker {
  const char* type;
  std::optional<std::string> error;

  // "items[2].quantity" for (field "quantity", index 2, parent "items").
  void fail(const char* field, int index, const char* parent, const std::string& what) {
    if (error)
      return;
    std::string name = type;
    name += '.';
    if (parent != nullptr)
      name += std::string{parent} + "[" + std::to_string(index) + "].";
    error = name + field + " " + what;
  }
  void id(const std::string& v, const char* field, int index = -1, const char* parent = nullptr) {
    if (v.empty())
      fail(field, index, parent, "must not be empty");
    else if (v.size() > schema_max_id_bytes)
      fail(field, index, parent, "must be at most " + std::to_string(schema_max_id_bytes) + " bytes");
  }
  void range(int64_t v, int64_t lo, int64_t hi, const char* field, int index = -1,
             const char* parent = nullptr) {
    if (v < lo || v > hi)
      fail(field, index, parent,
           "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got "
             + std::to_string(v));
  }
  void money(int64_t cents, const char* field, bool may_be_negative = false, int index = -1,
             const char* parent = nullptr) {
    range(cents, may_be_negative ? -schema_max_cents : 0, schema_max_cents, field, index, parent);
  }
  void one_of(const std::string& v, std::initializer_list<const char*> allowed, const char* field,
              bool may_be_empty = false) {
    if (may_be_empty && v.empty())
      return;
    for (const char* a : allowed)
      if (v == a)
        return;
    std::string list;
    for (const char* a : allowed)
      list += (list.empty() ? "" : ", ") + std::string{a};
    fail(field, -1, nullptr, "must be one of " + list + ", got '" + v + "'");
  }
};

void check(checker& c, const order_created& x) {
  c.id(x.order_id, "orderId");
  c.id(x.customer_id, "customerId");
  if (x.items.empty())
    c.fail("items", -1, nullptr, "must not be empty");
  int64_t sum = 0;
  for (size_t i = 0; i < x.items.size(); ++i) {
    const auto& it = x.items[i];
    int n = static_cast<int>(i);
    c.id(it.product_id, "productId", n, "items");
    c.money(it.price_cents, "price", false, n, "items");
    c.range(it.quantity, 1, schema_max_quantity, "quantity", n, "items");
    c.money(it.subtotal_cents, "subtotal", false, n, "items");
    sum += it.subtotal_cents;  // each within schema_max_cents once valid: no overflow
  }
  c.money(x.total_cents, "totalAmount");
  if (!c.error && sum != x.total_cents)
    c.fail("totalAmount", -1, nullptr,
           "must be the sum of the subtotals (" + std::to_string(sum) + " cents), got "
             + std::to_string(x.total_cents));
  c.one_of(x.status, {status_pending, status_paid, status_payment_failed, status_notified}, "status");
}

void check(checker& c, const payment_timeout& x) {
  c.id(x.order_id, "orderId");
  c.range(x.timeout_ms, 0, std::numeric_limits<int64_t>::max(), "timeoutMs");
}

void check(checker& c, const payment_cancel& x) {
  c.id(x.order_id, "orderId");
  c.money(x.total_cents, "totalAmount", true);
}

void check(checker& c, const payment_request& x) {
  c.id(x.order_id, "orderId");
  // A non-positive amount is a request the payment rules decline, not a bad record.
  c.money(x.total_cents, "totalAmount", true);
}

void check(checker& c, const payment_result& x) {
  c.id(x.order_id, "orderId");
  c.money(x.total_cents, "totalAmount", true);
  c.one_of(x.status, {payment_succeeded, payment_declined}, "status");
}

void check(checker& c, const notification_event& x) {
  c.id(x.order_id, "orderId");
  c.one_of(x.type, {notify_payment_succeeded, notify_payment_failed, notify_order_cancelled,
                    notify_payment_refunded}, "type");
  c.money(x.total_cents, "totalAmount", true);
}

void check(checker& c, const email_sent& x) {
  c.id(x.order_id, "orderId");
  c.one_of(x.kind, {notify_payment_succeeded, notify_payment_failed, notify_order_cancelled,
                    notify_payment_refunded}, "kind");
}

void check(checker& c, const order_snapshot& x) {
  c.id(x.order_id, "orderId");
  c.one_of(x.status, {status_pending, status_paid, status_payment_failed, status_payment_timeout,
                      status_notified}, "status");
  c.one_of(x.payment_status, {payment_succeeded, payment_declined, payment_timed_out},
           "paymentStatus", true);
  c.range(x.item_count, 0, schema_max_quantity * 1000, "itemCount");
  c.money(x.total_cents, "totalAmount", true);
}

template <class T>
constexpr const char* type_of() {
  if constexpr (std::is_same_v<T, order_created>)
    return "order_created";
  else if constexpr (std::is_same_v<T, payment_request>)
    return "payment_request";
  else if constexpr (std::is_same_v<T, payment_result>)
    return "payment_result";
  else if constexpr (std::is_same_v<T, notification_event>)
    return "notification_event";
  else if constexpr (std::is_same_v<T, email_sent>)
    return "email_sent";
  else if constexpr (std::is_same_v<T, payment_timeout>)
    return "payment_timeout";
  else if constexpr (std::is_same_v<T, payment_cancel>)
    return "payment_cancel";
  else
    return "order_snapshot";
}

template <class T>
std::optional<std::string> check(const T& x) {
  checker c{type_of<T>(), std::nullopt};
  check(c, x);
  return c.error;
}

}  // namespace

std::optional<std::string> schema_violation(const runtime::message& m) {
  return m.violation();
}

std::optional<std::string> check_schema(const order_created& x) { return check(x); }
std::optional<std::string> check_schema(const payment_request& x) { return check(x); }
std::optional<std::string> check_schema(const payment_result& x) { return check(x); }
std::optional<std::string> check_schema(const notification_event& x) { return check(x); }
std::optional<std::string> check_schema(const email_sent& x) { return check(x); }
std::optional<std::string> check_schema(const order_snapshot& x) { return check(x); }
std::optional<std::string> check_schema(const payment_timeout& x) { return check(x); }
std::optional<std::string> check_schema(const payment_cancel& x) { return check(x); }

}  // namespace kastor::actors
