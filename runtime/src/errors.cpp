#include "kastor/runtime/errors.hpp"

namespace kastor::runtime {

std::string to_string(runtime_errc x) {
  switch (x) {
    case runtime_errc::invalid_config: return "invalid_config";
    case runtime_errc::restart_limit_exceeded: return "restart_limit_exceeded";
    case runtime_errc::timeout: return "timeout";
    case runtime_errc::start_failed: return "start_failed";
    case runtime_errc::crashed: return "crashed";
    case runtime_errc::hung: return "hung";
    case runtime_errc::exception: return "exception";
  }
  return "unknown";
}

std::string to_string(bridge_errc x) {
  switch (x) {
    case bridge_errc::malformed_json: return "malformed_json";
    case bridge_errc::missing_field: return "missing_field";
    case bridge_errc::wrong_type: return "wrong_type";
    case bridge_errc::unknown_type: return "unknown_type";
    case bridge_errc::unsupported_version: return "unsupported_version";
    case bridge_errc::kafka_retriable: return "kafka_retriable";
    case bridge_errc::kafka_fatal: return "kafka_fatal";
    case bridge_errc::kafka_abortable: return "kafka_abortable";
    case bridge_errc::schema_violation: return "schema_violation";
    case bridge_errc::no_handler: return "no_handler";
  }
  return "unknown";
}

std::string describe(const caf::error& err) {
  if (!err)
    return "none";
  std::string code;
  if (err.category() == runtime_category)
    code = "runtime." + to_string(static_cast<runtime_errc>(err.code()));
  else if (err.category() == bridge_category)
    code = "bridge." + to_string(static_cast<bridge_errc>(err.code()));
  else
    return caf::to_string(err);
  const auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return code + ": " + ctx.get_as<std::string>(0);
  return code;
}

}  // namespace kastor::runtime
