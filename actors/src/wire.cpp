// seed 002's wire format for the shop's messages, and their declaration to
// the runtime (declare_messages): topics, keys, JSON both ways, schemas.
//
// The record value is the seed 002 JSON payload (camelCase fields, money as
// decimal numbers, timestamps as epoch milliseconds, `at` as ISO 8601), the
// way the seed's Node.js services write it, so kastor's records are
// indistinguishable from theirs (and byte-stable for equal messages). What
// seed 002 has no field for travels in headers: an order snapshot's emailed
// mark (kastor-order-emailed) and its writer's epoch (kastor-epoch).
#include "kastor/actors/wire.hpp"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "kastor/actors/schema.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/json_text.hpp"

namespace kastor::actors {

namespace json = boost::json;
using runtime::bridge_errc;
using runtime::format_cents;
using runtime::header_list;

namespace {

// The largest amount in cents a JavaScript service (doubles) holds exactly:
// Number.MAX_SAFE_INTEGER. Beyond it a cent cannot be told from the next.
constexpr int64_t max_abs_cents = (int64_t{1} << 53) - 1;

// Whether `cents`, written as format_cents() writes it, reads back as itself.
// A whole amount is read as an integer, exact up to max_abs_cents; one with
// cents is read as a double, which tells a cent from the next only below
// 2^45 whole units (about 3.5 * 10^13): above, its ulp is 1/128 or more and a
// reading could land on the neighbouring cent.
bool money_reads_back(int64_t cents) {
  if (cents > max_abs_cents || cents < -max_abs_cents)
    return false;
  constexpr int64_t exact_with_cents = (int64_t{1} << 45) * 100;
  return cents % 100 == 0 || (cents < exact_with_cents && cents > -exact_with_cents);
}

// Epoch milliseconds as JavaScript's Date.toISOString() writes them:
// 2026-12-02T14:05:09.120Z.
std::string format_iso8601_ms(int64_t ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds{ms}};
  const auto day = floor<days>(t);
  const year_month_day date{day};
  const hh_mm_ss<milliseconds> time{t - day};
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int{date.year()},
                unsigned{date.month()}, unsigned{date.day()}, static_cast<int>(time.hours().count()),
                static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count()),
                static_cast<int>(time.subseconds().count()));
  return buf;
}

// -- Encoding ------------------------------------------------------------------

// Field order is the seed 002 order (orderId first); every field is always
// written, so equal messages give equal bytes.

void write(std::string& out, const order_item& x) {
  runtime::json_object_writer(out)
    .text("productId", x.product_id)
    .text("name", x.name)
    .money("price", x.price_cents)
    .integer("quantity", x.quantity)
    .money("subtotal", x.subtotal_cents)
    .close();
}

void write(std::string& out, const order_created& x) {
  runtime::json_object_writer(out)
    .text("orderId", x.order_id)
    .text("customerId", x.customer_id)
    .array("items", x.items,
           [](std::string& o, const order_item& item) { write(o, item); })
    .money("totalAmount", x.total_cents)
    .text("status", x.status)
    .integer("createdAt", x.created_at_ms)
    .close();
}

// `amount` too: seed 002's billing service reads the amount from there.
void write(std::string& out, const payment_request& x) {
  runtime::json_object_writer(out)
    .text("orderId", x.order_id)
    .text("customerId", x.customer_id)
    .money("totalAmount", x.total_cents)
    .money("amount", x.total_cents)
    .close();
}

void write(std::string& out, const payment_result& x) {
  runtime::json_object_writer(out)
    .text("orderId", x.order_id)
    .text("customerId", x.customer_id)
    .money("totalAmount", x.total_cents)
    .text("status", x.status)
    .text("reason", x.reason)
    .text("transactionId", x.transaction_id)
    .integer("processedAt", x.processed_at_ms)
    .close();
}

// An amount that was never known is left out rather than written as 0;
// `at` is an ISO 8601 time, as seed 002's billing service writes it.
void write(std::string& out, const notification_event& x) {
  runtime::json_object_writer w(out);
  w.text("orderId", x.order_id).text("customerId", x.customer_id).text("type", x.type);
  if (x.amount_known)
    w.money("totalAmount", x.total_cents);
  w.text("message", x.message);
  if (x.at_ms != 0)
    w.text("at", format_iso8601_ms(x.at_ms));
  w.close();
}

void write(std::string& out, const payment_timeout& x) {
  runtime::json_object_writer(out)
    .text("orderId", x.order_id)
    .integer("timeoutMs", x.timeout_ms)
    .close();
}

void write(std::string& out, const payment_cancel& x) {
  runtime::json_object_writer(out)
    .text("orderId", x.order_id)
    .text("customerId", x.customer_id)
    .money("totalAmount", x.total_cents)
    .text("reason", x.reason)
    .close();
}

void write(std::string& out, const email_sent& x) {
  runtime::json_object_writer(out)
    .text("orderId", x.order_id)
    .text("customerId", x.customer_id)
    .text("kind", x.kind)
    .integer("sentAt", x.sent_at_ms)
    .close();
}

void write(std::string& out, const order_snapshot& x) {
  runtime::json_object_writer(out)
    .text("orderId", x.order_id)
    .text("customerId", x.customer_id)
    .money("totalAmount", x.total_cents)
    .integer("itemCount", x.item_count)
    .text("status", x.status)
    .text("paymentStatus", x.payment_status)
    .text("reason", x.reason)
    .text("transactionId", x.transaction_id)
    .integer("createdAt", x.created_at_ms)
    .integer("updatedAt", x.updated_at_ms)
    .close();
}

// -- Decoding ------------------------------------------------------------------


const char* kind_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return "unknown";
}

std::string number_text(const json::value& v) {
  return runtime::to_json_text(v);
}

// ISO 8601 date-time, as JavaScript's Date.toISOString() or Python's
// isoformat() write it: YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM|-HH:MM|+HHMM].
// Without an offset the time is taken as UTC. Returns epoch milliseconds.
std::optional<int64_t> parse_iso8601_ms(std::string_view s) {
  size_t i = 0;
  auto digits = [&](size_t n, int& out) {
    if (i + n > s.size())
      return false;
    out = 0;
    for (size_t k = 0; k < n; ++k) {
      const char c = s[i + k];
      if (c < '0' || c > '9')
        return false;
      out = out * 10 + (c - '0');
    }
    i += n;
    return true;
  };
  auto literal = [&](char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(4, year) || !literal('-') || !digits(2, month) || !literal('-')
      || !digits(2, day))
    return std::nullopt;
  if (!literal('T') && !literal('t') && !literal(' '))
    return std::nullopt;
  if (!digits(2, hour) || !literal(':') || !digits(2, minute) || !literal(':')
      || !digits(2, second))
    return std::nullopt;
  int millis = 0;
  if (literal('.')) {
    size_t fraction_digits = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++fraction_digits)
      if (fraction_digits < 3)
        millis = millis * 10 + (s[i] - '0');
    if (fraction_digits == 0)
      return std::nullopt;
    for (size_t k = fraction_digits; k < 3; ++k)
      millis *= 10;
  }
  int offset_minutes = 0;
  if (literal('Z') || literal('z')) {
    // UTC
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const int sign = s[i] == '-' ? -1 : 1;
    ++i;
    int oh = 0, om = 0;
    if (!digits(2, oh))
      return std::nullopt;
    literal(':');
    if (!digits(2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
  }
  if (i != s.size() || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  using namespace std::chrono;
  const year_month_day date{std::chrono::year{year},
                            std::chrono::month{static_cast<unsigned>(month)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok())
    return std::nullopt;
  const auto since_epoch = sys_days{date}.time_since_epoch() + hours{hour}
                           + minutes{minute - offset_minutes} + seconds{second}
                           + milliseconds{millis};
  return duration_cast<milliseconds>(since_epoch).count();
}

enum class need { required, optional };

// The name a money field is read from: the first of its names present (seed
// 002's services write `amount` where kastor writes `totalAmount`).
struct money_names {
  std::string_view primary;
  std::string_view alias;
};
constexpr money_names total_amount{"totalAmount", "amount"};

// Reads the fields of one JSON object into a message. The first problem is
// kept in `err` and every later read is skipped, so a decoder reads straight
// through and checks once at the end. Field names in errors are full paths
// ("items[0].price") and end with the message type.
class field_reader {
public:
  field_reader(const json::object& obj, std::string prefix, std::string_view type,
               caf::error& err)
    : obj_(obj), prefix_(std::move(prefix)), type_(type), err_(err) {
  }

  bool ok() const {
    return !err_;
  }

  field_reader nested(const json::object& obj, std::string_view key) const {
    return field_reader{obj, path(key) + ".", type_, err_};
  }

  std::string path(std::string_view key) const {
    return prefix_ + std::string{key};
  }

  void fail(bridge_errc code, std::string what) {
    if (!err_)
      err_ = runtime::make_error(code, std::move(what) + " (" + std::string{type_} + ")");
  }

  void fail_type(std::string_view key, std::string_view expected, const json::value& v) {
    fail(bridge_errc::wrong_type, "field '" + path(key) + "' must be " + std::string{expected}
                                    + ", got " + kind_name(v));
  }

  void fail_value(std::string_view key, std::string_view expected, const json::value& v) {
    fail(bridge_errc::wrong_type, "field '" + path(key) + "' must be " + std::string{expected}
                                    + ", got " + number_text(v));
  }

  // The field's value, or nullptr if it is absent or null (JavaScript
  // producers write null for "no value"). A required field that is absent or
  // null fails with missing_field.
  const json::value* find(std::string_view key, need n) {
    if (!ok())
      return nullptr;
    const auto* v = obj_.if_contains(json::string_view{key.data(), key.size()});
    if (v != nullptr && !v->is_null())
      return v;
    if (n == need::required)
      fail(bridge_errc::missing_field,
           "field '" + path(key) + "' is required" + (v != nullptr ? " but is null" : ""));
    return nullptr;
  }

  // The entity id: a non-empty string.
  bool id(std::string_view key, std::string& out) {
    if (!text(key, out, need::required))
      return false;
    if (out.empty()) {
      fail(bridge_errc::wrong_type, "field '" + path(key) + "' must be a non-empty string");
      return false;
    }
    return true;
  }

  bool text(std::string_view key, std::string& out, need n) {
    const auto* v = find(key, n);
    if (v == nullptr)
      return false;
    if (!v->is_string()) {
      fail_type(key, "a string", *v);
      return false;
    }
    const auto& s = v->get_string();
    out.assign(s.data(), s.size());
    return true;
  }

  // A decimal number with at most two decimals, as integer cents.
  bool money(std::string_view key, int64_t& out, need n) {
    const auto* v = find(key, n);
    if (v == nullptr)
      return false;
    std::optional<int64_t> cents;
    switch (v->kind()) {
      case json::kind::int64:
        if (auto whole = v->get_int64(); whole >= -max_abs_cents / 100
                                         && whole <= max_abs_cents / 100)
          cents = whole * 100;
        break;
      case json::kind::uint64:
        break;  // always beyond max_abs_cents
      case json::kind::double_:
        cents = cents_from_json_number(v->get_double());
        break;
      default:
        fail_type(key, "a number", *v);
        return false;
    }
    if (!cents) {
      fail_value(key, "an amount with at most two decimals within +/-" + format_cents(max_abs_cents)
                        + " (with cents: within +/-" + format_cents((int64_t{1} << 45) * 100) + ")",
                 *v);
      return false;
    }
    out = *cents;
    return true;
  }

  // A money field under either of its names; a required one missing under
  // both fails naming both.
  bool money(money_names names, int64_t& out, need n) {
    if (!ok())
      return false;
    for (auto name : {names.primary, names.alias})
      if (const auto* v = obj_.if_contains(json::string_view{name.data(), name.size()});
          v != nullptr && !v->is_null())
        return money(name, out, need::required);
    if (n == need::required)
      fail(bridge_errc::missing_field, "field '" + path(names.primary) + "' (or '"
                                         + path(names.alias) + "') is required");
    return false;
  }

  // An integer; a double is accepted when it is integral (2.0).
  bool integer(std::string_view key, int64_t& out, need n) {
    const auto* v = find(key, n);
    if (v == nullptr)
      return false;
    switch (v->kind()) {
      case json::kind::int64:
        out = v->get_int64();
        return true;
      case json::kind::double_: {
        const double d = v->get_double();
        // 2^63 is exact in a double; anything below it fits an int64.
        if (std::isfinite(d) && d == std::trunc(d) && d >= -0x1p63 && d < 0x1p63) {
          out = static_cast<int64_t>(d);
          return true;
        }
        fail_value(key, "an integer", *v);
        return false;
      }
      case json::kind::uint64:
        fail_value(key, "an integer within int64", *v);
        return false;
      default:
        fail_type(key, "an integer", *v);
        return false;
    }
  }

  // Epoch milliseconds: a number (a fraction of a millisecond is rounded
  // away), or an ISO 8601 string as JavaScript's Date.toISOString() writes.
  bool timestamp(std::string_view key, int64_t& out) {
    const auto* v = find(key, need::optional);
    if (v == nullptr)
      return false;
    switch (v->kind()) {
      case json::kind::int64:
        out = v->get_int64();
        return true;
      case json::kind::double_: {
        const double d = v->get_double();
        if (std::isfinite(d) && d >= -0x1p62 && d <= 0x1p62) {
          out = std::llround(d);
          return true;
        }
        fail_value(key, "epoch milliseconds", *v);
        return false;
      }
      case json::kind::uint64:
        fail_value(key, "epoch milliseconds", *v);
        return false;
      case json::kind::string: {
        const auto& s = v->get_string();
        if (auto ms = parse_iso8601_ms(std::string_view{s.data(), s.size()})) {
          out = *ms;
          return true;
        }
        fail(bridge_errc::wrong_type, "field '" + path(key)
                                        + "' must be epoch milliseconds or an ISO 8601 "
                                          "date-time, got \""
                                        + std::string{s.data(), s.size()} + "\"");
        return false;
      }
      default:
        fail_type(key, "epoch milliseconds", *v);
        return false;
    }
  }

  const json::array* array(std::string_view key, need n) {
    const auto* v = find(key, n);
    if (v == nullptr)
      return nullptr;
    if (!v->is_array()) {
      fail_type(key, "an array", *v);
      return nullptr;
    }
    return &v->get_array();
  }

private:
  const json::object& obj_;
  std::string prefix_;
  std::string_view type_;
  caf::error& err_;
};

// Required fields: orderId everywhere, plus what a message cannot mean
// anything without. Everything else defaults, so producers may omit it.

void read(field_reader& f, order_item& x) {
  f.text("productId", x.product_id, need::required);
  f.text("name", x.name, need::optional);
  f.money("price", x.price_cents, need::required);
  f.integer("quantity", x.quantity, need::required);
  if (!f.money("subtotal", x.subtotal_cents, need::optional) && f.ok()) {
    // An absent subtotal means what it says: price times quantity.
    // Within the amounts a money field may hold (+/- max_abs_cents, all
    // exact in a double): beyond, its re-encoding could not be read back.
    if (__builtin_mul_overflow(x.price_cents, x.quantity, &x.subtotal_cents)
        || !money_reads_back(x.subtotal_cents))
      f.fail(bridge_errc::wrong_type, "fields '" + f.path("price") + "' times '"
                                        + f.path("quantity") + "' is beyond the amounts held "
                                        "exactly (+/-" + format_cents(max_abs_cents)
                                        + " whole, +/-" + format_cents((int64_t{1} << 45) * 100)
                                        + " with cents)");
  }
}

void read(field_reader& f, order_created& x) {
  f.id("orderId", x.order_id);
  f.text("customerId", x.customer_id, need::required);
  if (const auto* items = f.array("items", need::required)) {
    x.items.reserve(items->size());
    for (size_t i = 0; i < items->size() && f.ok(); ++i) {
      const auto key = "items[" + std::to_string(i) + "]";
      const auto* obj = (*items)[i].if_object();
      if (obj == nullptr) {
        f.fail_type(key, "an object", (*items)[i]);
        break;
      }
      auto item_fields = f.nested(*obj, key);
      order_item item;
      read(item_fields, item);
      x.items.push_back(std::move(item));
    }
  }
  f.money(total_amount, x.total_cents, need::required);
  f.text("status", x.status, need::optional);
  if (x.status == "CREATED")  // seed 002's order service: a new order
    x.status = status_pending;
  f.timestamp("createdAt", x.created_at_ms);
}

void read(field_reader& f, payment_request& x) {
  f.id("orderId", x.order_id);
  f.text("customerId", x.customer_id, need::optional);
  f.money(total_amount, x.total_cents, need::required);
}

void read(field_reader& f, payment_result& x) {
  f.id("orderId", x.order_id);
  f.text("customerId", x.customer_id, need::optional);
  f.money(total_amount, x.total_cents, need::optional);
  f.text("status", x.status, need::required);
  f.text("reason", x.reason, need::optional);
  f.text("transactionId", x.transaction_id, need::optional);
  f.timestamp("processedAt", x.processed_at_ms);
}

void read(field_reader& f, notification_event& x) {
  f.id("orderId", x.order_id);
  f.text("customerId", x.customer_id, need::optional);
  f.text("type", x.type, need::required);
  x.amount_known = f.money(total_amount, x.total_cents, need::optional);
  f.text("message", x.message, need::optional);
  f.timestamp("at", x.at_ms);
}

void read(field_reader& f, payment_timeout& x) {
  f.id("orderId", x.order_id);
  f.integer("timeoutMs", x.timeout_ms, need::optional);
}

void read(field_reader& f, payment_cancel& x) {
  f.id("orderId", x.order_id);
  f.text("customerId", x.customer_id, need::optional);
  f.money(total_amount, x.total_cents, need::optional);
  f.text("reason", x.reason, need::optional);
}

void read(field_reader& f, email_sent& x) {
  f.id("orderId", x.order_id);
  f.text("customerId", x.customer_id, need::optional);
  f.text("kind", x.kind, need::required);
  f.timestamp("sentAt", x.sent_at_ms);
}

void read(field_reader& f, order_snapshot& x) {
  f.id("orderId", x.order_id);
  f.text("customerId", x.customer_id, need::optional);
  f.money("totalAmount", x.total_cents, need::optional);
  f.integer("itemCount", x.item_count, need::optional);
  f.text("status", x.status, need::required);
  f.text("paymentStatus", x.payment_status, need::optional);
  f.text("reason", x.reason, need::optional);
  f.text("transactionId", x.transaction_id, need::optional);
  f.timestamp("createdAt", x.created_at_ms);
  f.timestamp("updatedAt", x.updated_at_ms);
}

// The value of a JSON object, or why it is not one.
caf::expected<json::object> parse_object(std::string_view type, std::string_view value) {
  json::error_code ec;
  auto jv = json::parse(json::string_view{value.data(), value.size()}, ec);
  if (ec)
    return runtime::make_error(bridge_errc::malformed_json,
                               "value is not valid JSON: " + ec.message() + " ("
                                 + std::string{type} + ")");
  if (auto* obj = jv.if_object())
    return std::move(*obj);
  return runtime::make_error(bridge_errc::malformed_json,
                             std::string{"value must be a JSON object, got "} + kind_name(jv)
                               + " (" + std::string{type} + ")");
}

template <class T>
caf::expected<T> decode_as(std::string_view type, std::string_view value) {
  auto obj = parse_object(type, value);
  if (!obj)
    return std::move(obj.error());
  caf::error err;
  field_reader fields{*obj, "", type, err};
  T x;
  read(fields, x);
  if (err)
    return err;
  return x;
}

// An order snapshot's fields that seed 002's JSON has no place for.
void write_snapshot_headers(const order_snapshot& x, header_list& extra) {
  if (x.emailed)
    extra.push_back({std::string{hdr_order_emailed}, "true"});
  if (x.epoch > 0)
    extra.push_back({std::string{runtime::epoch_header}, std::to_string(x.epoch)});
  if (!x.request_fingerprint.empty())
    extra.push_back({std::string{hdr_request_fingerprint}, x.request_fingerprint});
}

void read_snapshot_headers(const header_list& headers, order_snapshot& x) {
  if (const auto* h = runtime::find_header(headers, hdr_order_emailed))
    x.emailed = h->value == "true";
  x.epoch = runtime::epoch_of(headers);
  if (const auto* h = runtime::find_header(headers, hdr_request_fingerprint))
    x.request_fingerprint = h->value;
}

template <class T>
runtime::message_decl<T> wire(std::string_view name, std::string_view topic) {
  runtime::message_decl<T> d;
  d.name = std::string{name};
  d.topic = std::string{topic};
  d.key = &T::order_id;
  d.validate = [](const T& x) { return check_schema(x); };
  d.encode = [](const T& x, header_list&) {
    std::string out;
    write(out, x);
    return out;
  };
  d.decode = [name = d.name](std::string_view value, const header_list&) {
    return decode_as<T>(name, value);
  };
  return d;
}

}  // namespace

std::optional<int64_t> cents_from_json_number(double v) {
  if (!std::isfinite(v))
    return std::nullopt;
  const double scaled = v * 100.0;
  const double rounded = std::round(scaled);
  if (std::abs(rounded) > static_cast<double>(max_abs_cents))
    return std::nullopt;
  // 49.99 is not exactly representable; 49.99 * 100 lands within a few ulps
  // of 4999. A third decimal is at least 0.1 cent away. The tolerance is an
  // absolute 1e-6 cent, widened to ~8 ulps for amounts so large that their
  // ulp exceeds it (above about 10^9 cents).
  const double tolerance = std::max(1e-6, std::abs(rounded) * 0x1p-50);
  if (std::abs(scaled - rounded) > tolerance)
    return std::nullopt;
  // (an amount with cents so large that its cent is a guess is refused too)
  if (!money_reads_back(static_cast<int64_t>(rounded)))
    return std::nullopt;
  return static_cast<int64_t>(rounded);
}

void declare_messages() {
  auto created = wire<order_created>("order_created", topic_order_created);
  created.encode = [](const order_created& x, header_list& extra) {
    if (!x.request_fingerprint.empty())
      extra.push_back({std::string{hdr_request_fingerprint}, x.request_fingerprint});
    std::string out;
    write(out, x);
    return out;
  };
  created.decode = [](std::string_view value,
                      const header_list& headers) -> caf::expected<order_created> {
    auto x = decode_as<order_created>("order_created", value);
    if (x)
      if (const auto* h = runtime::find_header(headers, hdr_request_fingerprint))
        x->request_fingerprint = h->value;
    return x;
  };
  runtime::declare(std::move(created));
  runtime::declare(wire<payment_request>("payment_request", topic_payment_requests));
  runtime::declare(wire<payment_result>("payment_result", topic_payment_results));
  runtime::declare(wire<notification_event>("notification_event", topic_notification_events));
  runtime::declare(wire<email_sent>("email_sent", topic_email_sent));
  runtime::declare(wire<payment_timeout>("payment_timeout", topic_payment_timeouts));
  runtime::declare(wire<payment_cancel>("payment_cancel", topic_payment_cancels));
  // Only the latest state of an order matters to a gateway; an order's
  // snapshots are its changelog, written where its partition's owner reads.
  auto snapshot = wire<order_snapshot>("order_snapshot", topic_order_state);
  snapshot.compacted = true;
  snapshot.follows_cause = true;
  snapshot.encode = [](const order_snapshot& x, header_list& extra) {
    write_snapshot_headers(x, extra);
    std::string out;
    write(out, x);
    return out;
  };
  snapshot.decode = [](std::string_view value,
                       const header_list& headers) -> caf::expected<order_snapshot> {
    auto x = decode_as<order_snapshot>("order_snapshot", value);
    if (x)
      read_snapshot_headers(headers, *x);
    return x;
  };
  runtime::declare(std::move(snapshot));
}

}  // namespace kastor::actors
