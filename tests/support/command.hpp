// Running a shell command from a system test: its exit code, and its output
// (stdout and stderr together).
#pragma once

#include <string>

#include "kastor/apps/process.hpp"

namespace kastor::test {

// -1 when the exit code cannot be read back.
inline int run_command(const std::string& cmd, std::string* out = nullptr) {
  auto text = apps::run_capture(cmd + " 2>&1; echo \"rc=$?\"");
  auto rc = text.rfind("rc=");
  if (out)
    *out = text.substr(0, rc);
  return rc == std::string::npos ? -1 : std::stoi(text.substr(rc + 3));
}

}  // namespace kastor::test
