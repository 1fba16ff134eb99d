#include "kastor/gateway/validation.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include <boost/json.hpp>

#include "kastor/bridges/codec.hpp"

namespace kastor::gateway {

namespace json = boost::json;

namespace {

using result = std::variant<actors::order_created, http_error>;

http_error unprocessable(std::string code, std::string field, std::string message) {
  return http_error{422, std::move(code), std::move(message), std::move(field)};
}

http_error missing(const std::string& field) {
  return unprocessable("missing_field", field, "field '" + field + "' is required");
}

http_error wrong_type(const std::string& field, std::string_view expected) {
  return unprocessable("wrong_type", field,
                       "field '" + field + "' must be " + std::string{expected});
}

http_error invalid(const std::string& field, std::string_view why) {
  return unprocessable("invalid_value", field,
                       "field '" + field + "' " + std::string{why});
}

// Code points of a string the JSON parser already validated as UTF-8.
size_t utf8_length(std::string_view s) {
  return static_cast<size_t>(
    std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

enum class money_problem { not_a_number, out_of_range, too_many_decimals };

// The text of every number of the document: a double cannot tell
// 123456789.12001 from 123456789.12, the text can.
using number_texts = std::unordered_map<const json::value*, std::string_view>;

// The number literals of a JSON text (already parsed, so well-formed), in
// document order; `duplicate` gets a key that appears twice in one object
// (the parser keeps one of them, and the order of the numbers would no
// longer match the text's).
std::vector<std::string_view> number_literals(std::string_view text, std::string* duplicate) {
  std::vector<std::string_view> out;
  std::vector<std::optional<std::set<std::string>>> open;  // per nesting: an object's keys
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '{' || c == '[') {
      open.emplace_back(c == '{' ? std::optional<std::set<std::string>>{std::set<std::string>{}}
                                 : std::nullopt);
      ++i;
    } else if (c == '}' || c == ']') {
      if (!open.empty())
        open.pop_back();
      ++i;
    } else if (c == '"') {
      const auto start = i;
      for (++i; i < text.size() && text[i] != '"'; ++i)
        if (text[i] == '\\')
          ++i;
      ++i;
      auto after = text.find_first_not_of(" \t\r\n", i);
      if (after != std::string_view::npos && text[after] == ':' && !open.empty() && open.back()) {
        json::error_code ec;  // the key as the parser reads it (escapes and all)
        auto key = json::parse(text.substr(start, i - start), ec);
        if (!ec && key.is_string()
            && !open.back()->insert(std::string{key.get_string()}).second && duplicate) {
          *duplicate = std::string{key.get_string()};
          return out;
        }
      }
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const auto start = i;
      while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) != 0
                                 || text[i] == '-' || text[i] == '+' || text[i] == '.'
                                 || text[i] == 'e' || text[i] == 'E'))
        ++i;
      out.push_back(text.substr(start, i - start));
    } else {
      ++i;
    }
  }
  return out;
}

void collect_numbers(const json::value& v, std::vector<const json::value*>& out) {
  if (v.is_number())
    out.push_back(&v);
  else if (const auto* a = v.if_array())
    for (const auto& x : *a)
      collect_numbers(x, out);
  else if (const auto* o = v.if_object())
    for (const auto& m : *o)
      collect_numbers(m.value(), out);
}

// Decimal places of a JSON number literal: digits D, value D x 10^-scale.
// (A parsed literal is well-formed; the exponent is clamped.)
int64_t decimal_places(std::string_view literal) {
  std::string digits;
  int64_t scale = 0;
  size_t i = literal.empty() || literal[0] != '-' ? 0 : 1;
  for (; i < literal.size() && std::isdigit(static_cast<unsigned char>(literal[i])) != 0; ++i)
    digits += literal[i];
  if (i < literal.size() && literal[i] == '.')
    for (++i; i < literal.size() && std::isdigit(static_cast<unsigned char>(literal[i])) != 0; ++i) {
      digits += literal[i];
      ++scale;
    }
  if (i < literal.size() && (literal[i] == 'e' || literal[i] == 'E')) {
    ++i;
    const bool negative = i < literal.size() && literal[i] == '-';
    if (i < literal.size() && (literal[i] == '-' || literal[i] == '+'))
      ++i;
    int64_t e = 0;
    for (; i < literal.size() && std::isdigit(static_cast<unsigned char>(literal[i])) != 0; ++i)
      e = std::min<int64_t>(e * 10 + (literal[i] - '0'), 100000);
    scale += negative ? e : -e;
  }
  while (!digits.empty() && digits.back() == '0' && scale > 0) {
    digits.pop_back();
    --scale;
  }
  if (digits.find_first_not_of('0') == std::string::npos)
    return 0;
  return std::max<int64_t>(0, scale);
}

// A JSON number as integer cents: round(x*100), refusing a third nonzero
// decimal. Boost.JSON's number parsing may be off by an ulp, so the check
// allows a relative error far below a cent but far above double rounding.
std::variant<int64_t, money_problem> to_cents(const json::value& v, const number_texts& texts) {
  if (auto t = texts.find(&v); t != texts.end() && decimal_places(t->second) > 2)
    return money_problem::too_many_decimals;
  if (v.is_int64()) {
    const auto x = v.get_int64();
    if (x < -max_money_cents / 100 || x > max_money_cents / 100)
      return money_problem::out_of_range;
    return x * 100;
  }
  if (v.is_uint64())
    return money_problem::out_of_range;  // > INT64_MAX
  if (!v.is_double())
    return money_problem::not_a_number;
  const double scaled = v.get_double() * 100.0;
  if (!std::isfinite(scaled) || std::abs(scaled) > static_cast<double>(max_money_cents))
    return money_problem::out_of_range;
  const double rounded = std::round(scaled);
  const double tolerance = 1e-9 + std::abs(scaled) * 1e-13;
  if (std::abs(scaled - rounded) > tolerance)
    return money_problem::too_many_decimals;
  return static_cast<int64_t>(rounded);
}

// A money field that must be present, a number, and >= 0 (or > 0).
std::variant<int64_t, http_error> money_field(const json::object& obj, std::string_view key,
                                              const std::string& path, bool positive,
                                              const number_texts& texts) {
  const auto* v = obj.if_contains(key);
  if (v == nullptr)
    return missing(path);
  const auto cents = to_cents(*v, texts);
  if (const auto* problem = std::get_if<money_problem>(&cents)) {
    switch (*problem) {
      case money_problem::not_a_number:
        return wrong_type(path, "a number");
      case money_problem::out_of_range:
        return invalid(path, "is out of range (at most " +
                              runtime::format_cents(max_money_cents) + ")");
      case money_problem::too_many_decimals:
        return invalid(path, "must have at most two decimals");
    }
  }
  const auto c = std::get<int64_t>(cents);
  if (positive && c <= 0)
    return invalid(path, "must be greater than 0");
  if (!positive && c < 0)
    return invalid(path, "must not be negative");
  return c;
}

// The first member of `obj` whose key is not in `allowed` (unknown_field), or
// is in `read_only` (read_only_field).
template <size_t N, size_t M>
std::optional<http_error> check_members(const json::object& obj, const std::string& prefix,
                                        const std::array<std::string_view, N>& allowed,
                                        const std::array<std::string_view, M>& read_only) {
  for (const auto& member : obj) {
    const std::string_view key = member.key();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end())
      continue;
    const auto path = prefix + std::string{key};
    if (std::find(read_only.begin(), read_only.end(), key) != read_only.end())
      return unprocessable("read_only_field", path,
                           "field '" + path + "' is set by the server and cannot be sent");
    return unprocessable("unknown_field", path, "unknown field '" + path + "'");
  }
  return std::nullopt;
}

constexpr std::array<std::string_view, 3> order_fields{"customerId", "items", "totalAmount"};
constexpr std::array<std::string_view, 5> server_owned_fields{
  "status", "orderId", "createdAt", "paymentStatus", "transactionId"};
constexpr std::array<std::string_view, 5> item_fields{"productId", "name", "price",
                                                      "quantity", "subtotal"};
constexpr std::array<std::string_view, 0> no_fields{};

std::variant<actors::order_item, http_error> parse_item(const json::value& v,
                                                         const std::string& path,
                                                         const number_texts& texts) {
  const auto* obj = v.if_object();
  if (obj == nullptr)
    return wrong_type(path, "an object");
  if (auto err = check_members(*obj, path + ".", item_fields, no_fields))
    return *err;
  actors::order_item item;

  const auto product_path = path + ".productId";
  const auto* product = obj->if_contains("productId");
  if (product == nullptr)
    return missing(product_path);
  if (!product->is_string())
    return wrong_type(product_path, "a string");
  if (product->get_string().empty())
    return invalid(product_path, "must not be empty");
  if (utf8_length(product->get_string()) > max_customer_id_chars)
    return invalid(product_path, "must be at most " + std::to_string(max_customer_id_chars) +
                                   " characters");
  item.product_id = product->get_string();

  const auto name_path = path + ".name";
  const auto* name = obj->if_contains("name");
  if (name == nullptr)
    return missing(name_path);
  if (!name->is_string())
    return wrong_type(name_path, "a string");
  item.name = name->get_string();

  auto price = money_field(*obj, "price", path + ".price", true, texts);
  if (auto* err = std::get_if<http_error>(&price))
    return std::move(*err);
  item.price_cents = std::get<int64_t>(price);

  const auto quantity_path = path + ".quantity";
  const auto* quantity = obj->if_contains("quantity");
  if (quantity == nullptr)
    return missing(quantity_path);
  if (quantity->is_int64()) {
    item.quantity = quantity->get_int64();
  } else if (quantity->is_uint64()) {
    item.quantity = max_quantity + 1;  // beyond any limit
  } else if (quantity->is_double()) {
    // JSON has one number type: 2.0 is the integer 2, 2.5 is not an integer.
    const double q = quantity->get_double();
    if (!std::isfinite(q) || std::trunc(q) != q)
      return wrong_type(quantity_path, "an integer");
    item.quantity = std::abs(q) > static_cast<double>(max_quantity)
                      ? (q < 0 ? -1 : max_quantity + 1)
                      : static_cast<int64_t>(q);
  } else {
    return wrong_type(quantity_path, "an integer");
  }
  if (item.quantity <= 0)
    return invalid(quantity_path, "must be greater than 0");
  if (item.quantity > max_quantity)
    return invalid(quantity_path, "must be at most " + std::to_string(max_quantity));

  const auto subtotal_path = path + ".subtotal";
  auto subtotal = money_field(*obj, "subtotal", subtotal_path, false, texts);
  if (auto* err = std::get_if<http_error>(&subtotal))
    return std::move(*err);
  item.subtotal_cents = std::get<int64_t>(subtotal);
  // price <= 1e11 and quantity <= 1e6: the product fits in int64.
  const int64_t expected = item.price_cents * item.quantity;
  if (item.subtotal_cents != expected)
    return unprocessable("amount_mismatch", subtotal_path,
                         "field '" + subtotal_path + "' is " +
                           runtime::format_cents(item.subtotal_cents) +
                           " but price x quantity is " + runtime::format_cents(expected));
  return item;
}

}  // namespace

std::variant<actors::order_created, http_error> parse_order_request(
  std::string_view content_type, std::string_view body) {
  if (!is_json_media_type(content_type))
    return http_error{415, "unsupported_media_type",
                      "Content-Type must be application/json", ""};
  if (body.size() > max_body_bytes)
    return http_error{413, "payload_too_large",
                      "request body is larger than " + std::to_string(max_body_bytes) +
                        " bytes",
                      ""};

  json::error_code ec;
  const json::value doc = json::parse(body, ec);
  if (ec)
    return http_error{400, "malformed_json", "request body is not valid JSON: " + ec.message(),
                      ""};
  const auto* top = doc.if_object();
  if (top == nullptr)
    return http_error{400, "malformed_json", "request body must be a JSON object", ""};
  number_texts texts;
  {
    std::vector<const json::value*> numbers;
    collect_numbers(doc, numbers);
    std::string duplicate;
    const auto literals = number_literals(body, &duplicate);
    if (!duplicate.empty())
      return http_error{400, "malformed_json",
                        "request body has the key '" + duplicate + "' twice in one object", ""};
    if (literals.size() != numbers.size())  // cannot be, with no key twice: refuse, not guess
      return http_error{400, "malformed_json", "request body's numbers could not be read", ""};
    for (size_t i = 0; i < numbers.size(); ++i)
      texts.emplace(numbers[i], literals[i]);
  }

  if (auto err = check_members(*top, "", order_fields, server_owned_fields))
    return *err;

  actors::order_created order;

  const auto* customer = top->if_contains("customerId");
  if (customer == nullptr)
    return missing("customerId");
  if (!customer->is_string())
    return wrong_type("customerId", "a string");
  const auto& customer_id = customer->get_string();
  if (customer_id.empty())
    return invalid("customerId", "must not be empty");
  if (utf8_length(customer_id) > max_customer_id_chars)
    return invalid("customerId", "must be at most " + std::to_string(max_customer_id_chars) +
                                   " characters");
  // It goes into an email's address line and body: no line breaks, NUL or
  // other control characters.
  if (std::any_of(customer_id.begin(), customer_id.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    return invalid("customerId", "must not contain control characters");
  order.customer_id = customer_id;

  const auto* items = top->if_contains("items");
  if (items == nullptr)
    return missing("items");
  if (!items->is_array())
    return wrong_type("items", "an array");
  const auto& arr = items->get_array();
  if (arr.empty())
    return invalid("items", "must contain at least one item");
  if (arr.size() > max_items)
    return invalid("items", "must contain at most " + std::to_string(max_items) + " items");
  order.items.reserve(arr.size());
  int64_t sum = 0;  // <= 1000 * 1e11 cents: no overflow
  for (size_t i = 0; i < arr.size(); ++i) {
    auto item = parse_item(arr[i], "items[" + std::to_string(i) + "]", texts);
    if (auto* err = std::get_if<http_error>(&item))
      return std::move(*err);
    sum += std::get<actors::order_item>(item).subtotal_cents;
    order.items.push_back(std::move(std::get<actors::order_item>(item)));
  }

  auto total = money_field(*top, "totalAmount", "totalAmount", false, texts);
  if (auto* err = std::get_if<http_error>(&total))
    return std::move(*err);
  order.total_cents = std::get<int64_t>(total);
  if (order.total_cents != sum)
    return unprocessable("amount_mismatch", "totalAmount",
                         "field 'totalAmount' is " + runtime::format_cents(order.total_cents) +
                           " but the items add up to " + runtime::format_cents(sum));
  return order;
}

std::string error_json(const http_error& err) {
  return runtime::http_error_body(err.code, err.message, err.field);
}

bool valid_order_id(std::string_view id) {
  if (id.empty() || id.size() > max_order_id_chars)
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

}  // namespace kastor::gateway
