#include "kastor/bridges/responder.hpp"

#include <algorithm>

#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/logging.hpp"
#include "kastor/runtime/role_actor.hpp"

namespace kastor::bridges {

namespace {

auto log() {
  static auto l = runtime::logger("kastor.bridge");
  return l;
}

}  // namespace

caf::expected<std::shared_ptr<request_responder>> request_responder::make(options opts) {
  if (!opts.on_request || !opts.replies)
    return runtime::make_error(runtime::runtime_errc::invalid_config,
                               "request responder: no handler or no producer for replies");
  std::shared_ptr<request_responder> self{new request_responder{std::move(opts)}};
  auto conf = make_conf({{"bootstrap.servers", self->opts_.brokers},
                         {"client.id", self->opts_.node_id + "-" + self->opts_.topic},
                         {"group.id", self->opts_.group_id + ".requests"},  // never joined
                         // A partition no responder read from yet (none committed
                         // there) is read from its start: resetting to its end
                         // raced with requests written while the new owner's
                         // fetch began (one went unanswered after a rebalance).
                         // Requests past their deadline are dropped unanswered.
                         {"auto.offset.reset", "earliest"},
                         {"enable.auto.commit", "true"},
                         {"auto.commit.interval.ms", "1000"},
                         {"fetch.wait.max.ms", std::to_string(self->opts_.fetch_wait_max_ms)},
                         {"enable.partition.eof", "false"}});
  if (!conf)
    return conf.error();
  auto rk = make_consumer(std::move(*conf), &self->log_queue_, "request consumer");
  if (!rk)
    return rk.error();
  self->rk_ = std::move(*rk);
  self->poller_ = std::thread{[p = self.get()] { p->run(); }};
  return self;
}

request_responder::~request_responder() {
  stop();
  if (log_queue_ != nullptr)
    rd_kafka_queue_destroy(log_queue_);
}

void request_responder::follow(const void* mailbox, std::vector<int32_t> partitions) {
  std::lock_guard<std::mutex> guard{mtx_};
  mailbox_ = mailbox;
  wanted_ = std::move(partitions);
}

void request_responder::drop(const void* mailbox) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (mailbox != mailbox_)
    return;  // a replaced mailbox's late word: its successor's assignment stands
  wanted_ = std::vector<int32_t>{};
}

void request_responder::stop() {
  if (stopping_.exchange(true))
    return;
  if (poller_.joinable())
    poller_.join();
  if (rk_)
    rd_kafka_consumer_close(rk_.get());  // commits where this node left off (auto-commit)
}

void request_responder::reassign(const std::vector<int32_t>& partitions) {
  partition_list_ptr list{rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()))};
  for (auto p : partitions)  // from where the responders left off, else the start
    rd_kafka_topic_partition_list_add(list.get(), opts_.topic.c_str(), p)->offset =
      RD_KAFKA_OFFSET_STORED;
  if (auto err = rd_kafka_assign(rk_.get(), partitions.empty() ? nullptr : list.get()))
    log()->warn("requests topic={} event=assign_failed error={}", opts_.topic,
                rd_kafka_err2str(err));
}

void request_responder::run() {
  while (!stopping_.load()) {
    std::optional<std::vector<int32_t>> wanted;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      wanted.swap(wanted_);
    }
    if (wanted) {
      // What was answered before the move, without waiting for the broker
      // (at most once: a request answered twice is harmless to its asker).
      rd_kafka_commit(rk_.get(), nullptr, 1);
      reassign(*wanted);
    }
    for (int n = 0; n < 100 && !stopping_.load(); ++n) {
      message_ptr msg{rd_kafka_consumer_poll(rk_.get(), n == 0 ? 50 : 0)};
      if (!msg)
        break;
      if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        answer(msg.get());
      else
        log()->warn("requests topic={} consume error={}", opts_.topic,
                    rd_kafka_message_errstr(msg.get()));
    }
    forward_logs(rk_.get(), log_queue_);
  }
}

void request_responder::answer(rd_kafka_message_t* msg) {
  std::string_view key{msg->key ? static_cast<const char*>(msg->key) : "", msg->key_len};
  std::string_view value{msg->payload ? static_cast<const char*>(msg->payload) : "", msg->len};
  auto req = parse_request(key, value, read_headers(msg));
  if (!req) {
    log()->warn("requests topic={} event=bad_request offset={} error={}", opts_.topic,
                msg->offset, runtime::describe(req.error()));
    return;
  }
  if (req->deadline_ms < runtime::wall_clock_ms())
    return;  // nobody waits for it any more
  if (req->reply_to.rfind("kastor-replies.", 0) != 0) {  // never into a pipeline topic
    log()->warn("requests topic={} event=bad_request offset={} error=reply-to '{}' is not a "
                "kastor-replies.* topic", opts_.topic, msg->offset, req->reply_to);
    return;
  }
  if (!reply_topic_exists(req->reply_to)) {
    log()->warn("requests topic={} event=bad_request offset={} error=reply-to '{}' is not a "
                "topic of this cluster (a node creates its own at start; a reply does not create one)",
                opts_.topic, msg->offset, req->reply_to);
    return;
  }
  auto replies = opts_.replies;
  auto node = opts_.node_id;
  auto to = req->reply_to, id = req->correlation_id;
  opts_.on_request(*req, [replies, node, to, id](const std::string& status,
                                                 const std::string& body) {
    replies->produce(to, id, body, reply_headers(id, status, node),
                     [to](const runtime::publish_outcome& o) {
                       if (!o.ok())
                         log()->warn("requests event=reply_failed topic={} error={}", to, o.error);
                     });
  });
}

bool request_responder::reply_topic_exists(const std::string& topic) {
  using namespace std::chrono_literals;
  auto now = std::chrono::steady_clock::now();
  auto since = now - listed_at_;
  if (since < 10s && reply_topics_.count(topic))
    return true;
  if (since < 200ms)
    return false;  // listed just now: a flood of unknown names lists once per 200 ms
  listed_at_ = now;
  const rd_kafka_metadata_t* md = nullptr;
  if (auto err = rd_kafka_metadata(rk_.get(), 1 /* every topic: creates none */, nullptr, &md,
                                   2000)) {
    log()->warn("requests topic={} event=reply_topics_unlisted error={}", opts_.topic,
                rd_kafka_err2str(err));
    return reply_topics_.count(topic) > 0;  // as last known
  }
  reply_topics_.clear();
  for (int i = 0; i < md->topic_cnt; ++i) {
    std::string_view name{md->topics[i].topic};
    if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && name.rfind("kastor-replies.", 0) == 0)
      reply_topics_.emplace(name);
  }
  rd_kafka_metadata_destroy(md);
  return reply_topics_.count(topic) > 0;
}

}  // namespace kastor::bridges
