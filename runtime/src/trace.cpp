#include "kastor/runtime/trace.hpp"

#include <array>
#include <random>

namespace kastor::runtime {

namespace {

bool lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

bool all_zero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

std::string hex(uint64_t v, size_t digits) {
  static constexpr char d[] = "0123456789abcdef";
  std::string out(digits, '0');
  for (size_t i = digits; i-- > 0; v >>= 4)
    out[i] = d[v & 0xF];
  return out;
}

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

std::optional<trace_context> parse_traceparent(std::string_view h) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2
  constexpr size_t length = 55;
  if (h.size() < length || h[2] != '-' || h[35] != '-' || h[52] != '-')
    return std::nullopt;
  const auto version = h.substr(0, 2);
  if (!lower_hex(version) || version == "ff")
    return std::nullopt;
  if (version == "00" ? h.size() != length : (h.size() > length && h[length] != '-'))
    return std::nullopt;
  const auto trace = h.substr(3, 32);
  const auto span = h.substr(36, 16);
  const auto flags = h.substr(53, 2);
  if (!lower_hex(trace) || !lower_hex(span) || !lower_hex(flags) || all_zero(trace)
      || all_zero(span))
    return std::nullopt;
  trace_context out;
  out.trace_id = std::string{trace};
  out.span_id = std::string{span};
  out.flags = static_cast<uint8_t>(std::stoi(std::string{flags}, nullptr, 16));
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
  return {parent.trace_id, hex(random64(), 16), parent.flags};
}

}  // namespace kastor::runtime
