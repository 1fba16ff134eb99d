#include "kastor/runtime/trace.hpp"

#include <algorithm>
#include <array>
#include <random>

namespace kastor::runtime {

namespace {

// (every record read and written is checked: a table, not comparisons)
constexpr auto hex_digit = [] {
  std::array<bool, 256> t{};
  for (char c : std::string_view{"0123456789abcdef"})
    t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool lower_hex(std::string_view s) {
  bool ok = true;
  for (char c : s)
    ok &= hex_digit[static_cast<unsigned char>(c)];
  return ok;
}

bool all_zero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

void write_hex(char* out, uint64_t v, size_t digits) {
  static constexpr char d[] = "0123456789abcdef";
  for (size_t i = digits; i-- > 0; v >>= 4)
    out[i] = d[v & 0xF];
}

std::string hex(uint64_t v, size_t digits) {
  std::string out(digits, '0');
  write_hex(out.data(), v, digits);
  return out;
}

int hex_value(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

uint64_t random64() {
  thread_local std::mt19937_64 gen{[] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd();
  }()};
  uint64_t v = 0;
  while (v == 0)
    v = gen();
  return v;
}

// FNV-1a, 64 bits, from `basis`: stable across builds and machines.
uint64_t fnv1a(std::string_view s, uint64_t basis) {
  uint64_t h = basis;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h == 0 ? 1 : h;
}

}  // namespace

std::string trace_context::header() const {
  return "00-" + trace_id + "-" + span_id + "-" + hex(flags, 2);
}

bool valid_traceparent(std::string_view h) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2
  constexpr size_t length = 55;
  if (h.size() < length || h[2] != '-' || h[35] != '-' || h[52] != '-')
    return false;
  const auto version = h.substr(0, 2);
  if (!lower_hex(version) || version == "ff")
    return false;
  if (version == "00" ? h.size() != length : (h.size() > length && h[length] != '-'))
    return false;
  const auto trace = h.substr(3, 32);
  const auto span = h.substr(36, 16);
  return lower_hex(trace) && lower_hex(span) && lower_hex(h.substr(53, 2)) && !all_zero(trace)
         && !all_zero(span);
}

std::optional<trace_context> parse_traceparent(std::string_view h) {
  if (!valid_traceparent(h))
    return std::nullopt;
  trace_context out;
  out.trace_id = std::string{h.substr(3, 32)};
  out.span_id = std::string{h.substr(36, 16)};
  out.flags = static_cast<uint8_t>(hex_value(h[53]) * 16 + hex_value(h[54]));
  return out;
}

std::string next_traceparent(std::string_view cause) {
  std::string out = "00-00000000000000000000000000000000-0000000000000000-01";
  if (valid_traceparent(cause)) {
    std::copy(cause.begin() + 3, cause.begin() + 35, out.begin() + 3);
    out[54] = (hex_value(cause[54]) & 0x01) != 0 ? '1' : '0';  // only "sampled" passes on
  } else {
    write_hex(out.data() + 3, random64(), 16);
    write_hex(out.data() + 19, random64(), 16);
  }
  write_hex(out.data() + 36, random64(), 16);
  return out;
}

trace_context start_trace() {
  return {hex(random64(), 16) + hex(random64(), 16), hex(random64(), 16), 0x01};
}

trace_context trace_from(std::string_view seed) {
  return {hex(fnv1a(seed, 0xcbf29ce484222325ULL), 16) + hex(fnv1a(seed, 0x84222325cbf29ce4ULL), 16),
          hex(fnv1a(seed, 0x6c62272e07bb0142ULL), 16), 0x01};
}

trace_context child_of(const trace_context& parent) {
  // (only the sampled flag is known: unknown ones are not passed on)
  return {parent.trace_id, hex(random64(), 16), static_cast<uint8_t>(parent.flags & 0x01)};
}

}  // namespace kastor::runtime
