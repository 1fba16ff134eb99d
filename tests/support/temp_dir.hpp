// A fresh temporary folder per test, removed with everything in it.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

namespace kastor::test {

class temp_dir {
public:
  explicit temp_dir(const std::string& prefix = "kastor-test") {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path()
            / (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd()) + "-"
               + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

}  // namespace kastor::test
