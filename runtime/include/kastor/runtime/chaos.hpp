// Fault injection for resilience runs: `kastor node --chaos SPEC` makes roles
// crash or hang on a deterministic fraction of the records they handle, so the
// supervision tree, redelivery and idempotence are exercised on purpose.
//
// SPEC is a comma-separated list of ROLE.FAULT=RATE, e.g.
//   charge.crash=0.05,notify.crash=0.02,ledger.hang=0.001
// ROLE is one of the app's roles (app_spec, config.hpp); FAULT is one of
//   crash        the actor fails before the role's side effect (nothing happened)
//   crash-after  the actor fails after the role's handler ran (the effect is
//                done) but before its outputs are published / acknowledged
//   hang         the actor stops responding
// or a name the app gives one of them for one role (chaos_alias).
// RATE is a decimal number in [0,1]: the probability per delivery.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "kastor/runtime/message.hpp"

namespace kastor::runtime {

enum class chaos_fault { crash, crash_after, hang };

// "crash", "crash-after", "hang" (the canonical spelling in a spec).
std::string_view to_string(chaos_fault);

// An application's name for a fault of one role ("crash-after-debit" for
// crash-after of a role that debits accounts); a spec may use either name.
struct chaos_alias {
  std::string name;
  chaos_fault fault = chaos_fault::crash_after;
  std::string role;
};

struct chaos_rule {
  std::string role;
  chaos_fault fault = chaos_fault::crash;
  double rate = 0;  // in [0,1]
  friend bool operator==(const chaos_rule&, const chaos_rule&) = default;
};

// A parsed spec: at most one rule per role and fault, in the order written.
struct chaos_spec {
  std::vector<chaos_rule> rules;
  uint64_t seed = 1;  // makes a run repeatable; another seed, other records

  // No rules at all (chaos is off). A spec of rate-0 rules is not empty.
  bool empty() const { return rules.empty(); }
  // The rate of `f` for `role`; 0 when no rule names them.
  double rate(std::string_view role, chaos_fault f) const;
  // Canonical text, "charge.crash=0.05,charge.crash-after=0.01": aliases in
  // canonical form, rates in their shortest exact form; parses back to the
  // same rules. The seed is not part of it. "" for an empty spec.
  std::string to_string() const;

  friend bool operator==(const chaos_spec&, const chaos_spec&) = default;
};

// Parses a spec; empty or whitespace-only text gives an empty spec. Whitespace
// around every token is allowed. Errors are runtime_errc::invalid_config and
// name the offending entry: "chaos entry 'charge.crash=2': rate must be
// between 0 and 1". An entry may be missing '=' or '.', name an unknown role
// or fault, use an alias with the wrong role, have a rate that is not a
// decimal number, is out of range or has trailing characters, be empty (a
// stray ','), or set a role's fault a second time (aliases count as their
// canonical fault).
// `roles`: the roles a spec may name; `aliases`: the app's fault names.
caf::expected<chaos_spec> parse_chaos(std::string_view text, uint64_t seed,
                                      const std::vector<std::string>& roles,
                                      const std::vector<chaos_alias>& aliases = {});

// Decides, per delivery, whether a fault fires for one role.
//
// Deterministic: the decision is a stable 64-bit hash of (seed, role, fault,
// topic, partition, offset, attempt) mapped to [0,1) and compared with the
// rate, so it does not depend on timing, threads or the process. A
// redelivered record (attempt + 1) gets a fresh draw; the faults of one
// record are drawn independently. Rate 0 never fires, rate 1 always does.
//
// Thread-safety: fires() and fired() may be called from any thread at once
// (the counters are atomics); the rates are immutable after construction.
class chaos_injector {
public:
  // Keeps only the rules of `role`; `spec` need not outlive the injector.
  chaos_injector(const chaos_spec& spec, std::string role);

  chaos_injector(const chaos_injector&) = delete;
  chaos_injector& operator=(const chaos_injector&) = delete;

  const std::string& role() const { return role_; }
  // Whether any fault of this role has a rate above 0.
  bool active() const;
  // The rate of `f` for this role.
  double rate(chaos_fault f) const { return rates_[index(f)]; }
  // Whether `f` fires for the delivery `m`; counts it when it does.
  bool fires(chaos_fault f, const record_meta& m);
  // How often `f` fired so far.
  int64_t fired(chaos_fault f) const;

private:
  static constexpr size_t index(chaos_fault f) { return static_cast<size_t>(f); }

  std::string role_;
  uint64_t seed_;
  std::array<double, 3> rates_{};
  std::array<std::atomic<int64_t>, 3> fired_{};
};

}  // namespace kastor::runtime
