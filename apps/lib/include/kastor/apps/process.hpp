// Child processes (system tests, `kastor bench`): started with fork/exec,
// stopped by their own pid only (SIGTERM, then SIGKILL after a deadline).
#pragma once

#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace kastor::apps {

class child_process {
public:
  explicit child_process(std::vector<std::string> argv, const std::string& log_path = "") {
    pid_ = fork();
    if (pid_ == 0) {
      if (!log_path.empty()) {
        FILE* f = std::fopen(log_path.c_str(), "w");
        if (f != nullptr) {
          dup2(fileno(f), STDOUT_FILENO);
          dup2(fileno(f), STDERR_FILENO);
        }
      }
      std::vector<char*> args;
      for (auto& a : argv)
        args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~child_process() { stop(std::chrono::seconds{20}); }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }

  // SIGTERM, wait up to `deadline`, then SIGKILL. Returns the exit code
  // (128 + signal if killed by one).
  int stop(std::chrono::milliseconds deadline) {
    if (exit_code_)
      return *exit_code_;
    if (pid_ <= 0)
      return -1;
    ::kill(pid_, SIGTERM);
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (reap(WNOHANG))
        return *exit_code_;
      std::this_thread::yield();
      std::this_thread::sleep_until(std::chrono::steady_clock::now()
                                    + std::chrono::milliseconds{20});
    }
    ::kill(pid_, SIGKILL);
    reap(0);
    return exit_code_.value_or(-1);
  }

  // kill -9: no chance to clean up (a crash, a power cut). Returns 128 + 9.
  int kill_now() {
    if (exit_code_)
      return *exit_code_;
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      reap(0);
    }
    return exit_code_.value_or(-1);
  }

  // Peak resident memory in kB (VmHWM), -1 once it has exited.
  long peak_rss_kb() const {
    FILE* f = std::fopen(("/proc/" + std::to_string(pid_) + "/status").c_str(), "r");
    if (f == nullptr)
      return -1;
    char line[256];
    long kb = -1;
    while (std::fgets(line, sizeof(line), f) != nullptr)
      if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1)
        break;
    std::fclose(f);
    return kb;
  }

  // The exit code if it has exited by itself.
  std::optional<int> exited() {
    if (!exit_code_)
      reap(WNOHANG);
    return exit_code_;
  }

private:
  bool reap(int flags) {
    int status = 0;
    if (waitpid(pid_, &status, flags) != pid_)
      return false;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr)
    return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0)
    out.append(buf, n);
  ::pclose(p);
  return out;
}

}  // namespace kastor::apps
