// The owner's side of request/reply (remote.hpp), a consumer of its own: it
// reads the partitions of a keyed role's requests topic whose numbers the
// role's group assigned to this node (follow(), from the mailbox's
// assignment callbacks: the key's request partition has its input
// partitions' number), and answers each request once through on_request,
// writing the answer to the request's reply-to topic. It is never a group
// member: its group ("<role group>.requests") only keeps where this node's
// responders left off, so a partition that moves here is read from there (or
// from its start the first time: a reset to its end raced with requests
// written as the fetch began). Requests past their deadline, malformed ones
// and ones whose reply-to is not a kastor-replies.* topic are dropped, logged.
// So are ones whose reply topic is not in the cluster's topic list (listing
// creates nothing): a node creates its own at start, and a reply to any
// other name would create it on a broker with auto.create.topics.enable. The
// list is read again when a request names a topic not in it (at most every
// 200 ms: a topic made within 200 ms of a listing may miss an answer) and
// when it is 10 s old (a reply within 10 s of its topic's deletion can still
// create it again). Listing blocks the responder for at most 2 s.
// At most once: a request whose owner dies before answering is not answered.
//
// Thread-safety: follow() and stop() from any thread; on_request runs on the
// responder's thread and must not block.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <caf/expected.hpp>

#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/producer.hpp"
#include "kastor/bridges/remote.hpp"

namespace kastor::bridges {

class request_responder {
public:
  struct options {
    std::string brokers;
    std::string topic;     // <group.prefix>.<role>-requests
    std::string group_id;  // the role's group; offsets are kept under <group_id>.requests
    std::string node_id;
    std::function<void(const inbound_request&, reply_fn)> on_request;
    std::shared_ptr<kafka_publisher> replies;
    int fetch_wait_max_ms = 100;
  };
  static caf::expected<std::shared_ptr<request_responder>> make(options opts);
  ~request_responder();
  request_responder(const request_responder&) = delete;
  request_responder& operator=(const request_responder&) = delete;

  // The role's partitions on this node now, as `mailbox` (the role's
  // current one) was assigned them: their requests are answered from now on.
  void follow(const void* mailbox, std::vector<int32_t> partitions);
  // `mailbox`'s partitions were revoked: none is answered until the next
  // follow(). A replaced mailbox's late word changes nothing.
  void drop(const void* mailbox);
  void stop();

private:
  explicit request_responder(options opts) : opts_(std::move(opts)) {}
  void run();
  void reassign(const std::vector<int32_t>& partitions);
  void answer(rd_kafka_message_t* msg);
  bool reply_topic_exists(const std::string& topic);

  options opts_;
  rk_ptr rk_;
  rd_kafka_queue_t* log_queue_ = nullptr;
  std::thread poller_;
  std::atomic<bool> stopping_{false};
  std::mutex mtx_;
  const void* mailbox_ = nullptr;               // the one that followed last
  std::optional<std::vector<int32_t>> wanted_;  // set by follow(), taken by the poll thread
  // (the poll thread's) the kastor-replies.* topics as last listed, and when
  std::set<std::string> reply_topics_;
  std::chrono::steady_clock::time_point listed_at_{};
};

}  // namespace kastor::bridges
