// Waiting on events in tests: poll a condition until it holds or a deadline
// passes (no fixed sleeps that hope something happened).
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace kastor::test {

inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds deadline = std::chrono::seconds{30}) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until)
      return cond();
    std::this_thread::yield();
    std::this_thread::sleep_until(std::chrono::steady_clock::now()
                                  + std::chrono::milliseconds{5});
  }
  return true;
}

}  // namespace kastor::test
