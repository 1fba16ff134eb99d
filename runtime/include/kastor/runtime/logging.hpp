// One named spdlog logger per component ("kastor.bridge", "kastor.accounts",
// ...), all writing to stderr through one shared sink. Fields as key=value.
// Thread-safety: logger() and set_log_level() may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace kastor::runtime {

std::shared_ptr<spdlog::logger> logger(const std::string& component);

// "trace".."off"; applies to existing and future loggers.
void set_log_level(const std::string& level);

}  // namespace kastor::runtime
