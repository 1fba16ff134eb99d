#include "kastor/runtime/json_text.hpp"

#include <charconv>
#include <cmath>
#include <string>

#include <boost/json/value.hpp>

namespace kastor::runtime {

namespace {

void append_hex_escape(std::string& out, unsigned char c) {
  static constexpr char hex[] = "0123456789abcdef";
  out += "\\u00";
  out += hex[c >> 4];
  out += hex[c & 0x0F];
}

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if the bytes
// there are not one (RFC 3629: no overlongs, no surrogates, max U+10FFFF).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto in = [](unsigned char c, unsigned char lo, unsigned char hi) {
    return c >= lo && c <= hi;
  };
  const auto c = byte(i);
  const size_t left = s.size() - i;
  if (in(c, 0xC2, 0xDF))
    return left >= 2 && in(byte(i + 1), 0x80, 0xBF) ? 2 : 0;
  if (in(c, 0xE0, 0xEF)) {
    if (left < 3)
      return 0;
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
    return in(byte(i + 1), lo, hi) && in(byte(i + 2), 0x80, 0xBF) ? 3 : 0;
  }
  if (in(c, 0xF0, 0xF4)) {
    if (left < 4)
      return 0;
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    return in(byte(i + 1), lo, hi) && in(byte(i + 2), 0x80, 0xBF)
               && in(byte(i + 3), 0x80, 0xBF)
             ? 4
             : 0;
  }
  return 0;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  for (size_t i = 0; i < s.size();) {
    // Plain ASCII that needs no escape goes out as one run (the usual case).
    size_t run = i;
    while (run < s.size()) {
      const auto r = static_cast<unsigned char>(s[run]);
      if (r < 0x20 || r >= 0x80 || r == '"' || r == '\\')
        break;
      ++run;
    }
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20)
            append_hex_escape(out, c);
          else
            out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    if (auto n = utf8_sequence_length(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      // A std::string may hold any bytes; a JSON text must be UTF-8. Replace
      // the byte as a UTF-8 decoder would, so consumers never get invalid JSON.
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  out += '"';
}


std::string format_cents(int64_t cents) {
  // Through unsigned arithmetic so that INT64_MIN has a magnitude too.
  const bool negative = cents < 0;
  const uint64_t magnitude
    = negative ? uint64_t{0} - static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude / 100);
  if (const auto fraction = magnitude % 100; fraction != 0) {
    out += '.';
    out += static_cast<char>('0' + fraction / 10);
    if (fraction % 10 != 0)
      out += static_cast<char>('0' + fraction % 10);
  }
  return out;
}

void json_object_writer::name(std::string_view key) {
  if (!first_)
    *out_ += ',';
  first_ = false;
  append_json_string(*out_, key);
  *out_ += ':';
}

json_object_writer& json_object_writer::text(std::string_view key, std::string_view value) {
  name(key);
  append_json_string(*out_, value);
  return *this;
}

json_object_writer& json_object_writer::integer(std::string_view key, int64_t value) {
  name(key);
  *out_ += std::to_string(value);
  return *this;
}

json_object_writer& json_object_writer::money(std::string_view key, int64_t cents) {
  name(key);
  *out_ += format_cents(cents);
  return *this;
}

json_object_writer& json_object_writer::raw(std::string_view key, std::string_view json) {
  name(key);
  *out_ += json;
  return *this;
}

namespace {

// -- JSON text, the way JavaScript's JSON.stringify writes it ------------------

// Seed services are Node.js; printing like JSON.stringify keeps kastor's
// records indistinguishable from theirs (and byte-stable for equal messages).

template <class Integer>
void append_integer(std::string& out, Integer v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, res.ptr);
}

// Number.prototype.toString (ECMA-262, Number::toString): the shortest digits
// that round-trip, laid out without exponent for 1e-7 < |v| < 1e21.
void append_double(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";  // what JSON.stringify writes for NaN and Infinity
    return;
  }
  if (v == 0) {
    out += '0';  // also for -0, as JavaScript does
    return;
  }
  char buf[40];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));  // -d.ddde+XX
  if (sci.front() == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  const auto e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos))
    if (c != '.')
      digits += c;
  int exponent = 0;
  auto exp_text = sci.substr(e_pos + 1);
  if (exp_text.front() == '+')
    exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  // v = 0.digits * 10^n, with k digits.
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<size_t>(n));
    out += '.';
    out.append(digits, static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += n - 1 >= 0 ? '+' : '-';
    append_integer(out, std::abs(n - 1));
  }
}

void append_value(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: out += "null"; break;
    case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case boost::json::kind::int64: append_integer(out, v.get_int64()); break;
    case boost::json::kind::uint64: append_integer(out, v.get_uint64()); break;
    case boost::json::kind::double_: append_double(out, v.get_double()); break;
    case boost::json::kind::string: {
      const auto& s = v.get_string();
      append_json_string(out, std::string_view{s.data(), s.size()});
      break;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& element : v.get_array()) {
        if (!first)
          out += ',';
        first = false;
        append_value(out, element);
      }
      out += ']';
      break;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first)
          out += ',';
        first = false;
        append_json_string(out, std::string_view{kv.key().data(), kv.key().size()});
        out += ':';
        append_value(out, kv.value());
      }
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string to_json_text(const boost::json::value& v) {
  std::string out;
  append_value(out, v);
  return out;
}

}  // namespace kastor::runtime
