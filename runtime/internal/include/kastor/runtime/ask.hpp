// Asking an actor from outside CAF without blocking: a short-lived actor
// sends the request and hands the answer (or nullopt: no actor, an error, no
// answer within `timeout`) to a callback, on a CAF thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <caf/all.hpp>

namespace kastor::runtime {

template <class Result, class... Ts>
void ask(caf::actor_system& sys, caf::actor target, std::chrono::milliseconds timeout,
         std::function<void(std::optional<Result>)> cb, Ts... xs) {
  if (!target) {
    cb(std::nullopt);
    return;
  }
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(target, timeout, xs...)
      .then([=](const Result& r) { cb(r); }, [=](caf::error&) { cb(std::nullopt); });
  });
}

}  // namespace kastor::runtime
