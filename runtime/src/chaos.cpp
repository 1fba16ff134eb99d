#include "kastor/runtime/chaos.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "kastor/runtime/errors.hpp"

namespace kastor::runtime {

namespace {

constexpr std::string_view blanks = " \t\r\n\f\v";

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(blanks);
  if (first == std::string_view::npos)
    return {};
  return s.substr(first, s.find_last_not_of(blanks) - first + 1);
}

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs) {
    if (!out.empty())
      out += ", ";
    out += x;
  }
  return out;
}

caf::error bad_entry(std::string_view entry, const std::string& why) {
  return make_error(runtime_errc::invalid_config,
                    "chaos entry '" + std::string{entry} + "': " + why);
}

// The canonical fault names.
struct fault_name {
  std::string_view name;
  chaos_fault fault;
};

constexpr std::array<fault_name, 3> fault_names{{
  {"crash", chaos_fault::crash},
  {"crash-after", chaos_fault::crash_after},
  {"hang", chaos_fault::hang},
}};

// "crash, crash-after, hang; crash-after-debit for accounts" (aliases last).
std::string known_faults(const std::vector<chaos_alias>& aliases) {
  std::string out = "crash, crash-after, hang";
  for (size_t i = 0; i < aliases.size(); ++i)
    out += (i == 0 ? "; " : ", ") + aliases[i].name + " for " + aliases[i].role;
  return out;
}

// A rate: a decimal number (digits, at most one '.', no exponent) in [0,1].
// A leading '-' is read so that "-0.1" is reported as out of range.
std::optional<std::string> parse_rate(std::string_view text, double& out) {
  if (text.empty())
    return "rate is missing (expected a decimal number from 0 to 1)";
  const char c = text.front();
  const bool starts_like_number = (c >= '0' && c <= '9') || c == '.' || c == '-';
  double v = 0;
  const auto [end, ec] =
    std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::fixed);
  if (!starts_like_number || ec == std::errc::invalid_argument || std::isnan(v))
    return "rate '" + std::string{text} + "' is not a number";
  if (end != text.data() + text.size())
    return "rate '" + std::string{text} + "' has trailing characters '" +
           std::string{end, text.data() + text.size()} + "'";
  // result_out_of_range leaves `v` unset: the magnitude is beyond a double
  // (a nonzero digit before the point) or too small for one.
  if (ec == std::errc::result_out_of_range) {
    const auto integral = text.substr(0, text.find('.'));
    if (integral.find_first_of("123456789") != std::string_view::npos)
      return "rate " + std::string{text} + " must be between 0 and 1";
    return "rate " + std::string{text} + " is too small to represent (use 0)";
  }
  if (!(v >= 0 && v <= 1))
    return "rate " + std::string{text} + " must be between 0 and 1";
  out = v == 0 ? 0.0 : v;  // -0 is 0
  return std::nullopt;
}

// A stable 64-bit hash: FNV-1a over the bytes, integers little-endian so the
// value is the same on every platform, then splitmix64's finaliser, which
// spreads FNV's weak low bits over the whole word.
class stable_hash {
public:
  stable_hash& bytes(std::string_view s) {
    integer(s.size());  // length prefix: ("ab","c") and ("a","bc") differ
    for (unsigned char c : s)
      byte(c);
    return *this;
  }

  stable_hash& integer(uint64_t x) {
    for (int i = 0; i < 8; ++i)
      byte(static_cast<unsigned char>(x >> (8 * i)));
    return *this;
  }

  uint64_t done() const {
    uint64_t z = h_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

private:
  void byte(unsigned char c) {
    h_ ^= c;
    h_ *= 0x100000001b3ULL;
  }

  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace

std::string_view to_string(chaos_fault f) {
  switch (f) {
    case chaos_fault::crash: return "crash";
    case chaos_fault::crash_after: return "crash-after";
    case chaos_fault::hang: return "hang";
  }
  return "unknown";
}

double chaos_spec::rate(std::string_view role, chaos_fault f) const {
  for (const auto& r : rules)
    if (r.role == role && r.fault == f)
      return r.rate;
  return 0;
}

std::string chaos_spec::to_string() const {
  std::string out;
  for (const auto& r : rules) {
    if (!out.empty())
      out += ',';
    out += r.role;
    out += '.';
    out += runtime::to_string(r.fault);
    out += '=';
    // Shortest text that reads back as the same double: 0.05, not 0.050000.
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), r.rate);
    out.append(buf, ec == std::errc{} ? end : buf);
  }
  return out;
}

caf::expected<chaos_spec> parse_chaos(std::string_view text, uint64_t seed,
                                      const std::vector<std::string>& roles,
                                      const std::vector<chaos_alias>& aliases) {
  chaos_spec spec;
  spec.seed = seed;
  if (trim(text).empty())
    return spec;
  // Where each rule came from, to name the first entry in a duplicate error.
  std::vector<std::string_view> origins;
  size_t start = 0;
  for (int position = 1;; ++position) {
    const auto comma = text.find(',', start);
    const auto entry = trim(text.substr(start, comma == std::string_view::npos
                                                  ? std::string_view::npos
                                                  : comma - start));
    if (entry.empty())
      return make_error(runtime_errc::invalid_config,
                        "chaos entry " + std::to_string(position) +
                          " is empty (a stray ','); expected ROLE.FAULT=RATE");
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos)
      return bad_entry(entry, "missing '=' (expected ROLE.FAULT=RATE)");
    const auto target = trim(entry.substr(0, eq));
    const auto dot = target.find('.');
    if (dot == std::string_view::npos)
      return bad_entry(entry, "missing '.' between role and fault (expected ROLE.FAULT=RATE)");
    const auto role = trim(target.substr(0, dot));
    const auto fault = trim(target.substr(dot + 1));

    if (std::find(roles.begin(), roles.end(), role) == roles.end())
      return bad_entry(entry,
                       "unknown role '" + std::string{role} + "' (known: " + join(roles) + ")");
    std::optional<chaos_fault> which;
    for (const auto& n : fault_names)
      if (n.name == fault)
        which = n.fault;
    for (const auto& a : aliases) {
      if (which || a.name != fault)
        continue;
      if (a.role != role)
        return bad_entry(entry, "fault '" + std::string{fault} + "' applies to role '" + a.role
                                  + "' only; use '" + std::string{role} + "."
                                  + std::string{runtime::to_string(a.fault)} + "'");
      which = a.fault;
    }
    if (!which)
      return bad_entry(entry, "unknown fault '" + std::string{fault} + "' (known: "
                                + known_faults(aliases) + ")");

    chaos_rule rule{std::string{role}, *which, 0};
    if (auto why = parse_rate(trim(entry.substr(eq + 1)), rule.rate))
      return bad_entry(entry, *why);
    for (size_t i = 0; i < spec.rules.size(); ++i)
      if (spec.rules[i].role == rule.role && spec.rules[i].fault == rule.fault)
        return bad_entry(entry, rule.role + "." + std::string{runtime::to_string(rule.fault)} +
                                  " is already set by '" + std::string{origins[i]} + "'");
    spec.rules.push_back(std::move(rule));
    origins.push_back(entry);

    if (comma == std::string_view::npos)
      break;
    start = comma + 1;
  }
  return spec;
}

chaos_injector::chaos_injector(const chaos_spec& spec, std::string role)
  : role_(std::move(role)), seed_(spec.seed) {
  for (auto f : {chaos_fault::crash, chaos_fault::crash_after, chaos_fault::hang})
    rates_[index(f)] = spec.rate(role_, f);
}

bool chaos_injector::active() const {
  return std::any_of(rates_.begin(), rates_.end(), [](double r) { return r > 0; });
}

bool chaos_injector::fires(chaos_fault f, const record_meta& m) {
  const double rate = rates_[index(f)];
  if (rate <= 0)
    return false;
  const uint64_t h = stable_hash{}
                       .integer(seed_)
                       .bytes(role_)
                       .bytes(runtime::to_string(f))
                       .bytes(m.topic)
                       .integer(static_cast<uint64_t>(static_cast<int64_t>(m.partition)))
                       .integer(static_cast<uint64_t>(m.offset))
                       .integer(static_cast<uint64_t>(static_cast<int64_t>(m.attempt)))
                       .done();
  // The top 53 bits as a double in [0,1): exact, uniform, never 1, so rate 1
  // always fires.
  const double draw = static_cast<double>(h >> 11) * 0x1.0p-53;
  if (draw >= rate)
    return false;
  fired_[index(f)].fetch_add(1, std::memory_order_relaxed);
  return true;
}

int64_t chaos_injector::fired(chaos_fault f) const {
  return fired_[index(f)].load(std::memory_order_relaxed);
}

}  // namespace kastor::runtime
