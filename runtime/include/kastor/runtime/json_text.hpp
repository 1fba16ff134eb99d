// Writing JSON text, the way JavaScript's JSON.stringify does: strings
// escaped (invalid UTF-8 replaced by U+FFFD, so the text is always valid),
// integers as digits, money as the exact decimal of its cents. One writer for
// every JSON kastor produces (Kafka record values, ledger lines, reports).
// Thread-safety: pure functions; a writer is used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

namespace kastor::runtime {

// Any JSON value as text: numbers the way JavaScript prints them (99.98, 1e21
// only when needed), not Boost.JSON's exponent form (9.998E1).
std::string to_json_text(const boost::json::value& v);

// Appends `s` as a quoted, escaped JSON string.
void append_json_string(std::string& out, std::string_view s);

// Cents as a JSON number, shortest form: 9998 -> "99.98", 150 -> "1.5",
// 100 -> "1", -250 -> "-2.5", 5 -> "0.05".
std::string format_cents(int64_t cents);

// Writes one JSON object, field by field, in call order.
class json_object_writer {
public:
  json_object_writer() : out_(&own_) { own_ += '{'; }           // into its own text: done()
  explicit json_object_writer(std::string& out) : out_(&out) { *out_ += '{'; }  // appends: close()
  json_object_writer(const json_object_writer&) = delete;
  json_object_writer& operator=(const json_object_writer&) = delete;

  json_object_writer& text(std::string_view key, std::string_view value);
  json_object_writer& integer(std::string_view key, int64_t value);
  json_object_writer& money(std::string_view key, int64_t cents);
  // `json` must already be valid JSON text (a nested object, a number, null).
  json_object_writer& raw(std::string_view key, std::string_view json);

  template <class T, class F>
  json_object_writer& array(std::string_view key, const std::vector<T>& xs, F write_element) {
    name(key);
    *out_ += '[';
    for (size_t i = 0; i < xs.size(); ++i) {
      if (i > 0)
        *out_ += ',';
      write_element(*out_, xs[i]);
    }
    *out_ += ']';
    return *this;
  }

  // Closes the object (appending writer).
  void close() { *out_ += '}'; }
  // Closes the object and hands out its text (owning writer); spent afterwards.
  std::string done() {
    close();
    return std::move(own_);
  }

private:
  void name(std::string_view key);

  std::string own_;
  std::string* out_;
  bool first_ = true;
};

}  // namespace kastor::runtime
