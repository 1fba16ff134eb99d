// Request/reply across nodes, through Kafka.
//
// An actor is addressed by its role and key ("accounts", an account id). A
// request is a record on the role's `<group.prefix>.<role>-requests` keyed by
// that key (two applications with a role of one name keep apart), so it lands on the partition
// number the key has in the actor's input topics; a keyed role's group
// assigns co-numbered partitions of its inputs to one member (the range
// assignor, with equal partition counts), and that member reads the requests
// partitions of those numbers, so the node that owns the key's actor reads
// the request. Headers: kastor-type (the request kind, e.g. get),
// kastor-correlation-id, kastor-reply-to (the asking node's reply topic,
// `kastor-replies.<node id>`) and kastor-deadline (epoch ms; an owner that
// reads the request later drops it: nobody waits any more).
//
// The owner's request_responder (bridges/internal: a consumer of its own that
// follows the role's assignment) hands the request to its role and writes
// the answer to the reply-to topic, keyed by the correlation id, with
// kastor-reply-status (ok, not_found or error) and kastor-node. A requester
// whose deadline passes gets runtime_errc::timeout. Requests are at most once:
// a request whose owner dies before answering is not answered.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/producer.hpp"

namespace kastor::bridges {

inline constexpr std::string_view hdr_deadline = "kastor-deadline";
inline constexpr std::string_view hdr_reply_status = "kastor-reply-status";
inline constexpr std::string_view hdr_node = "kastor-node";

// The requests topic of a role's consumer group ("<group.prefix>.<role>"):
// "kastor.accounts" -> "kastor.accounts-requests".
std::string request_topic(std::string_view group_id);
// The reply topic of a node: "kastor-replies.<node id>" (one partition).
std::string reply_topic(std::string_view node_id);

// A request as its owner reads it.
struct inbound_request {
  std::string kind;
  std::string key;
  std::string body;
  std::string correlation_id;
  std::string reply_to;
  int64_t deadline_ms = 0;
};

// The request in a record; an error naming what is missing or malformed.
caf::expected<inbound_request> parse_request(std::string_view key, std::string_view value,
                                             const header_list& headers);

struct remote_reply {
  std::string status;  // ok, not_found or error
  std::string body;    // ok: the answer (e.g. an entity snapshot's JSON); error: why
  std::string node;    // the node that answered
};

// Answers a request: call exactly once, from any thread.
using reply_fn = std::function<void(const std::string& status, const std::string& body)>;

// The headers of a reply record.
header_list reply_headers(const std::string& correlation_id, const std::string& status,
                          const std::string& node);

// One per node: sends requests and matches the replies on its reply topic
// (made when missing; read from its end when the requester starts).
// Thread-safety: request() from any thread; callbacks run on the requester's
// thread and must not block, nor drop the last reference to the requester.
// Call stop() before letting go of it (pending requests fail at once).
class remote_requester : public std::enable_shared_from_this<remote_requester> {
public:
  struct options {
    std::string brokers;
    std::string node_id;
    std::shared_ptr<kafka_publisher> producer;
    std::string group_prefix = "kastor";  // the addressed roles' (group.prefix)
    int replication = 0;  // of the reply topic if it is made (0: min(3, brokers))
  };
  static caf::expected<std::shared_ptr<remote_requester>> make(options opts);
  ~remote_requester();

  using callback = std::function<void(caf::expected<remote_reply>)>;
  // Asks the entity `key` of `role` (its name as added to the node, e.g.
  // "accounts"). Exactly one call of `done`: the reply, or
  // runtime_errc::timeout once `deadline` has passed, or the error of
  // writing the request.
  void request(const std::string& role, const std::string& kind, const std::string& key,
               const std::string& body, std::chrono::milliseconds deadline, callback done);

  void stop();

private:
  struct pending {
    callback done;
    std::chrono::steady_clock::time_point deadline;
    std::string what;
  };
  explicit remote_requester(options opts) : opts_(std::move(opts)) {}
  void run();
  void complete(const std::string& correlation_id, caf::expected<remote_reply> r);

  options opts_;
  std::string topic_;
  rk_ptr rk_;
  rd_kafka_queue_t* log_queue_ = nullptr;
  std::thread poller_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> seq_{0};
  std::string id_prefix_;
  std::mutex mtx_;
  std::map<std::string, pending> pending_;
};

// The CAF face of the remote entities of `role`: an actor that answers
// (get_atom, key) with (status, body, node) once the owner replied, or with a
// runtime_errc::timeout error after `deadline`.
caf::actor spawn_remote_proxy(caf::actor_system& sys, std::shared_ptr<remote_requester> requester,
                              std::string role, std::chrono::milliseconds deadline);

}  // namespace kastor::bridges
