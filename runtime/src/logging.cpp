#include "kastor/runtime/logging.hpp"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace kastor::runtime {

namespace {

std::mutex mtx;
spdlog::level::level_enum current = spdlog::level::info;

}  // namespace

std::shared_ptr<spdlog::logger> logger(const std::string& component) {
  std::lock_guard<std::mutex> guard{mtx};
  if (auto existing = spdlog::get(component))
    return existing;
  static auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto log = std::make_shared<spdlog::logger>(component, sink);
  log->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n %v");
  log->set_level(current);
  spdlog::register_logger(log);
  return log;
}

void set_log_level(const std::string& level) {
  std::lock_guard<std::mutex> guard{mtx};
  current = spdlog::level::from_str(level);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(current); });
}

}  // namespace kastor::runtime
