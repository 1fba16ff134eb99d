#include "kastor/actors/roles.hpp"

#include <charconv>
#include <optional>

namespace kastor::actors {

namespace {

// An amount like 1000.00 (at most two decimals, not negative) as cents.
std::optional<int64_t> amount_cents(const std::string& v) {
  double amount = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), amount);
  if (ec != std::errc{} || p != v.data() + v.size() || !(amount >= 0) || amount > 1e12)
    return std::nullopt;
  return static_cast<int64_t>(amount * 100.0 + 0.5);
}

}  // namespace

runtime::entity<order> order_role(std::chrono::milliseconds passivate_after,
                                  std::chrono::milliseconds pay_within) {
  const int64_t timeout_ms = pay_within.count();
  return runtime::entity<order>("order")
    .consumes<order_created, payment_result, notification_event, email_sent, payment_timeout>()
    .make([timeout_ms](const std::string& id, const order_snapshot* restored) {
      return restored ? order{*restored, timeout_ms} : order{id, timeout_ms};
    })
    .passivate_after(passivate_after);
}

const runtime::app_spec& shop_app() {
  static const runtime::app_spec app = [] {
    runtime::app_spec a;
    a.roles = {"order", "payment", "email", "analytics", "gateway"};
    a.views = {"analytics", "gateway"};
    runtime::config_key decline{"payment.decline-over", "1000.00", {}};
    decline.check = [](const std::string& v) -> std::optional<std::string> {
      if (!amount_cents(v))
        return "expected an amount like 1000.00";
      return std::nullopt;
    };
    a.keys = {
      decline,
      runtime::config_key::integer("payment.latency-ms", 0, 0, 60000),
      runtime::config_key::integer("payment.concurrency", 0, 0, 100000),
      runtime::config_key::integer("order.passivate-after-ms", 60000, 0, 86'400'000),
      runtime::config_key::integer("order.payment-timeout-ms", 0, 0, 86'400'000),
    };
    a.chaos_aliases = {{"crash-after-charge", runtime::chaos_fault::crash_after, "payment"},
                       {"crash-after-send", runtime::chaos_fault::crash_after, "email"}};
    return a;
  }();
  return app;
}

int64_t decline_over_cents(const runtime::node_config& c) {
  return amount_cents(c.setting("payment.decline-over")).value_or(0);  // checked by shop_app()
}

std::vector<std::string> topics_for_role(std::string_view role) {
  if (role == "order")
    return order_role().spec().topics();
  if (role == "payment")
    return payment_handlers().topics();
  if (role == "email")
    return email_handlers().topics();
  if (role == "analytics")
    return analytics_handlers().topics();
  if (role == "gateway")
    return {runtime::messages().of<order_snapshot>().topic};
  return {};
}

}  // namespace kastor::actors
