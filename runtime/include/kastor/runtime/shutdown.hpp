// Stopping a process in bounded time, whatever its dependencies do.
//
//   std::atomic<bool> stop{false};
//   runtime::install_stop_signals(stop);   // SIGINT, SIGTERM: stop = true
//   ...                                    // a second one: exit at once
//   {
//     runtime::stop_deadline d{20s, [&] { return "committing"; }};
//     node->stop();                        // past 20 s: the process ends
//   }
//
// Thread-safety: install_stop_signals() once, from main; a stop_deadline
// from the thread that stops.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace kastor::runtime {

// SIGINT and SIGTERM set `flag` (whose lifetime must be the process's). A
// second one while it is set ends the process at once with 128 + the
// signal, saying so on stderr: an operator who asks twice is not kept
// waiting for a stop that hangs.
void install_stop_signals(std::atomic<bool>& flag);

// Armed at construction: unless destroyed within `limit`, it logs and
// prints "stop did not finish within N ms (<what()>): exiting now" and ends
// the process with `exit_code` (std::_Exit: no destructors run, since they
// may be what hangs).
class stop_deadline {
public:
  stop_deadline(std::chrono::milliseconds limit, std::function<std::string()> what,
                int exit_code = 1);
  ~stop_deadline();
  stop_deadline(const stop_deadline&) = delete;
  stop_deadline& operator=(const stop_deadline&) = delete;

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread watch_;
};

}  // namespace kastor::runtime
