#include "kastor/runtime/shutdown.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kastor/runtime/logging.hpp"

namespace kastor::runtime {

namespace {

std::atomic<std::atomic<bool>*> stop_flag{nullptr};

void on_stop_signal(int sig) {
  auto* flag = stop_flag.load();
  if (flag != nullptr && !flag->exchange(true))
    return;
  // Async-signal-safe from here: write(2) and _exit(2) only.
  static const char msg[] = "kastor: second stop signal: exiting at once (what was not "
                            "committed will be delivered again)\n";
  ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof(msg) - 1);
  (void)ignored;
  ::_exit(128 + sig);
}

}  // namespace

void install_stop_signals(std::atomic<bool>& flag) {
  stop_flag = &flag;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

stop_deadline::stop_deadline(std::chrono::milliseconds limit, std::function<std::string()> what,
                             int exit_code)
    : watch_([this, limit, what = std::move(what), exit_code] {
        std::unique_lock<std::mutex> lock{mtx_};
        if (cv_.wait_for(lock, limit, [this] { return done_; }))
          return;
        auto text = "stop did not finish within " + std::to_string(limit.count()) + " ms ("
                    + (what ? what() : std::string{"?"})
                    + "): exiting now; what was not committed will be delivered again";
        logger("kastor.node")->error("event=stop_timeout {}", text);
        logger("kastor.node")->flush();
        std::fprintf(stderr, "kastor: %s\n", text.c_str());
        std::fflush(stderr);
        std::_Exit(exit_code);
      }) {}

stop_deadline::~stop_deadline() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    done_ = true;
  }
  cv_.notify_all();
  watch_.join();
}

}  // namespace kastor::runtime
