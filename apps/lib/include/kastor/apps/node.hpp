// A kastor node: one CAF actor system running the configured roles under a
// root supervisor (one_for_one) -> one supervisor per role (rest_for_one) ->
// the role's mailbox bridge (its Kafka consumer group) and its worker (the
// role actor), publishing through the node's producer, plus the HTTP gateway
// when the `gateway` role is on. A role that is down (restarting, backing off)
// leaves its records waiting in Kafka; the others go on. When the root gives
// up, the node turns not ready and run() returns 1.
//
// start() brings everything up in order; stop() takes it down in reverse:
// gateway, mailboxes (finish, commit, leave the groups), actors, producer
// (flush with a deadline, report what was left).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "kastor/bridges/mailbox.hpp"
#include "kastor/gateway/server.hpp"
#include "kastor/runtime/config.hpp"
#include "kastor/runtime/supervisor.hpp"

namespace kastor::actors {
class jsonl_ledger;
}

namespace kastor::apps {

class node {
public:
  static caf::expected<std::unique_ptr<node>> start(runtime::node_config cfg);
  ~node();

  // Blocks until `stop_requested` turns true (returns 0) or the root
  // supervisor gave up: then it logs why, answers /readyz with 503 for a
  // second, and returns 1.
  int run(const std::atomic<bool>& stop_requested);

  void stop();

  // Every mailbox has received its group assignment.
  bool ready() const;
  // The gateway's bound port (0 without the gateway role).
  uint16_t http_port() const;
  // The node's ops listener's bound port (0: off, or the gateway's serves them).
  uint16_t ops_port() const;
  // The API the gateway serves, for in-process callers (null without gateway).
  std::shared_ptr<gateway::backend> api() const;
  const runtime::node_config& config() const;
  std::shared_ptr<runtime::supervision_log> supervision() const;
  std::vector<std::pair<std::string, bridges::mailbox_stats>> mailboxes() const;
  // Injected faults so far: role -> fault ("crash", "crash-after", "hang") -> count.
  std::map<std::string, std::map<std::string, int64_t>> chaos_fired() const;
  // Side-effect records (null when the role is not on this node).
  std::shared_ptr<actors::jsonl_ledger> payment_ledger() const;
  std::shared_ptr<actors::jsonl_ledger> payment_refunds() const;
  std::shared_ptr<actors::jsonl_ledger> email_outbox() const;

  struct impl;

private:
  explicit node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace kastor::apps
