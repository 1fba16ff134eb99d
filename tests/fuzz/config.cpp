// libFuzzer: the configuration file parser and the checks of every value.
// Any text is either a configuration or a clear error; nothing else.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "kastor/runtime/config.hpp"
#include "kastor/runtime/errors.hpp"

using namespace kastor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = [] {
    char name[] = "/tmp/kastor-fuzz-config-XXXXXX";
    int fd = mkstemp(name);
    if (fd >= 0)
      close(fd);
    return std::string{name};
  }();
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  } else {
    return 0;
  }
  runtime::config_layers layers;
  if (auto err = runtime::load_config_file(path, layers)) {
    if (runtime::describe(err).empty())
      std::abort();  // an error must say what is wrong
    return 0;
  }
  auto cfg = runtime::make_config(layers);
  if (!cfg && runtime::describe(cfg.error()).empty())
    std::abort();
  return 0;
}
