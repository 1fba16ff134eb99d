// Idempotency-Key handling of one gateway node: the first request with a key
// makes the order, concurrent and later ones with the same key and body get
// its answer, ones with another body a conflict.
//
// The order id is derived from the key (a name-based UUID, RFC 4122 v5), so
// every node makes the same id for the same key: a retry that reaches another
// node writes the same order again, which the order, payment, email and
// analytics actors already treat as one (they keep state per order id).
// Thread-safety: every member may be called from any thread; callbacks run
// outside the lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kastor/actors/messages.hpp"
#include "kastor/gateway/server.hpp"

namespace kastor::apps {

// The order id for an idempotency key: a UUID v5 of "kastor:idempotency-key:" + key.
std::string order_id_for_key(const std::string& key);

// What makes two requests "the same body": customer, items (every field)
// and total, as a name-based UUID (SHA-1) of their canonical form. It travels
// with the order (order_created::request_fingerprint), so that any node can
// tell a retry from another request with the same key.
std::string order_fingerprint(const actors::order_created& order);

class idempotency_table {
public:
  using callback = std::function<void(gateway::submit_result)>;

  explicit idempotency_table(size_t capacity = 100000) : capacity_(capacity) {}

  enum class claim {
    first,     // the caller makes the order, then calls finish()
    answered,  // `done` was called (the earlier answer, or a conflict)
    waiting,   // `done` will be called by the first request's finish()
  };
  claim begin(const std::string& key, const std::string& fingerprint, callback done);

  // The first request's outcome, to every waiter (and `done` of begin()). A
  // failed write (or a conflict found later) forgets the key, so a retry
  // tries again; an accepted order is remembered.
  void finish(const std::string& key, const gateway::submit_result& result);

  size_t size() const;

private:
  struct entry {
    std::string fingerprint;
    std::optional<gateway::submit_result> result;
    std::vector<callback> waiters;
  };
  mutable std::mutex mtx_;
  size_t capacity_;
  std::map<std::string, entry> entries_;
  std::deque<std::string> answered_;  // oldest first, for eviction
};

}  // namespace kastor::apps
