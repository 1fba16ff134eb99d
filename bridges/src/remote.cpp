#include "kastor/bridges/remote.hpp"

#include <charconv>
#include <random>

#include <caf/all.hpp>

#include "kastor/bridges/codec.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/runtime/atoms.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/logging.hpp"
#include "kastor/runtime/role_actor.hpp"

namespace kastor::bridges {

namespace {

auto log() {
  static auto l = runtime::logger("kastor.remote");
  return l;
}

using reply_atom = caf::atom_constant<caf::atom("reply")>;

}  // namespace

std::string request_topic(std::string_view group_id) {
  return std::string{group_id} + "-requests";
}

std::string reply_topic(std::string_view node_id) {
  return "kastor-replies." + std::string{node_id};
}

caf::expected<inbound_request> parse_request(std::string_view key, std::string_view value,
                                             const header_list& headers) {
  auto bad = [](const std::string& why) {
    return runtime::make_error(runtime::bridge_errc::missing_field, "request: " + why);
  };
  inbound_request r;
  r.key = std::string{key};
  r.body = std::string{value};
  const auto* kind = find_header(headers, hdr_type);
  const auto* id = find_header(headers, hdr_correlation_id);
  const auto* to = find_header(headers, hdr_reply_to);
  const auto* deadline = find_header(headers, hdr_deadline);
  if (kind == nullptr || kind->value.empty())
    return bad("no kastor-type header (the request kind)");
  if (id == nullptr || id->value.empty())
    return bad("no kastor-correlation-id header");
  if (to == nullptr || to->value.empty())
    return bad("no kastor-reply-to header");
  if (deadline == nullptr)
    return bad("no kastor-deadline header");
  auto [p, ec] = std::from_chars(deadline->value.data(),
                                 deadline->value.data() + deadline->value.size(), r.deadline_ms);
  if (ec != std::errc{} || p != deadline->value.data() + deadline->value.size())
    return bad("kastor-deadline '" + deadline->value + "' is not a number");
  if (r.key.empty())
    return bad("no key (the addressed actor's key)");
  r.kind = kind->value;
  r.correlation_id = id->value;
  r.reply_to = to->value;
  return r;
}

header_list reply_headers(const std::string& correlation_id, const std::string& status,
                          const std::string& node) {
  return {{std::string{hdr_correlation_id}, correlation_id},
          {std::string{hdr_reply_status}, status},
          {std::string{hdr_node}, node}};
}

caf::expected<std::shared_ptr<remote_requester>> remote_requester::make(options opts) {
  if (!opts.producer)
    return runtime::make_error(runtime::runtime_errc::invalid_config, "remote requester: no producer");
  std::shared_ptr<remote_requester> self{new remote_requester{std::move(opts)}};
  self->topic_ = reply_topic(self->opts_.node_id);
  if (!topic_exists(self->opts_.brokers, self->topic_, std::chrono::seconds{10}))
    if (auto err = ensure_topics(self->opts_.brokers,
                                 {{self->topic_, 1, self->opts_.replication, false}},
                                 std::chrono::seconds{15}))
      return runtime::make_error(runtime::bridge_errc::kafka_fatal,
                                 "reply topic " + self->topic_
                                   + " cannot be created: " + runtime::describe(err));
  auto conf = make_conf({{"bootstrap.servers", self->opts_.brokers},
                         {"client.id", self->opts_.node_id + "-replies"},
                         {"group.id", self->topic_},  // never joined: partitions are assigned
                         {"enable.auto.commit", "false"},
                         {"fetch.wait.max.ms", "10"},
                         {"enable.partition.eof", "false"}});
  if (!conf)
    return conf.error();
  auto rk = make_consumer(std::move(*conf), &self->log_queue_, "reply consumer");
  if (!rk)
    return rk.error();
  self->rk_ = std::move(*rk);
  // Every partition (kastor creates one; a topic made otherwise may have
  // more), from its current end: replies to earlier processes are not ours.
  auto count = partitions_of(self->rk_.get(), self->topic_);
  int partitions = count ? *count : 0;
  if (partitions <= 0)
    return runtime::make_error(runtime::bridge_errc::kafka_fatal,
                               "reply topic " + self->topic_ + " does not exist");
  partition_list_ptr parts{rd_kafka_topic_partition_list_new(partitions)};
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    if (auto err = rd_kafka_query_watermark_offsets(self->rk_.get(), self->topic_.c_str(), p, &low,
                                                    &high, 10000))
      return kafka_error(err, "reply topic " + self->topic_);
    rd_kafka_topic_partition_list_add(parts.get(), self->topic_.c_str(), p)->offset = high;
  }
  if (auto err = rd_kafka_assign(self->rk_.get(), parts.get()))
    return kafka_error(err, "assign " + self->topic_);
  std::random_device rd;
  self->id_prefix_ = self->opts_.node_id + "-" + std::to_string(rd()) + "-";
  self->poller_ = std::thread{[p = self.get()] { p->run(); }};
  return self;
}

remote_requester::~remote_requester() {
  stop();
  if (log_queue_ != nullptr)
    rd_kafka_queue_destroy(log_queue_);
}

void remote_requester::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};  // request() checks it under the lock
    if (stopping_.exchange(true))
      return;
  }
  if (poller_.joinable())
    poller_.join();
  std::map<std::string, pending> left;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    left.swap(pending_);
  }
  for (auto& [id, p] : left)
    p.done(runtime::make_error(runtime::runtime_errc::timeout, p.what + ": the node is stopping"));
  if (rk_)
    rd_kafka_consumer_close(rk_.get());
}

void remote_requester::request(const std::string& role, const std::string& kind,
                               const std::string& key, const std::string& body,
                               std::chrono::milliseconds deadline, callback done) {
  auto id = id_prefix_ + std::to_string(seq_.fetch_add(1));
  auto what = "request " + kind + " to " + role + " '" + key + "'";
  {
    std::unique_lock<std::mutex> guard{mtx_};
    if (stopping_.load()) {
      guard.unlock();
      done(runtime::make_error(runtime::runtime_errc::timeout, what + ": the node is stopping"));
      return;
    }
    pending_[id] = {std::move(done), std::chrono::steady_clock::now() + deadline, what};
  }
  header_list headers{{std::string{hdr_type}, kind},
                      {std::string{hdr_correlation_id}, id},
                      {std::string{hdr_reply_to}, topic_},
                      {std::string{hdr_deadline},
                       std::to_string(runtime::wall_clock_ms() + deadline.count())}};
  // The producer's callback may outlive the requester.
  std::weak_ptr<remote_requester> weak = weak_from_this();
  opts_.producer->produce(request_topic(opts_.group_prefix + "." + role), key, body, headers,
                          [weak, id, what](const runtime::publish_outcome& o) {
                            auto self = weak.lock();
                            if (self && !o.ok())
                              self->complete(id, runtime::make_error(
                                                   runtime::bridge_errc::kafka_retriable,
                                                   what + ": " + o.error));
                          });
}

void remote_requester::complete(const std::string& correlation_id,
                                caf::expected<remote_reply> r) {
  callback done;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = pending_.find(correlation_id);
    if (i == pending_.end())
      return;  // answered, timed out, or not ours
    done = std::move(i->second.done);
    pending_.erase(i);
  }
  done(std::move(r));
}

void remote_requester::run() {
  while (!stopping_.load()) {
    if (auto* msg = rd_kafka_consumer_poll(rk_.get(), 20)) {
      message_ptr owned{msg};
      if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        auto headers = read_headers(msg);
        const auto* id = find_header(headers, hdr_correlation_id);
        const auto* status = find_header(headers, hdr_reply_status);
        const auto* node = find_header(headers, hdr_node);
        if (id != nullptr && status != nullptr) {
          remote_reply r;
          r.status = status->value;
          r.body.assign(msg->payload ? static_cast<const char*>(msg->payload) : "", msg->len);
          r.node = node ? node->value : "";
          complete(id->value, std::move(r));
        }
      } else {
        log()->warn("reply consumer topic={} error={}", topic_, rd_kafka_message_errstr(msg));
      }
    }
    // Deadlines.
    std::vector<std::pair<callback, std::string>> expired;
    auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> guard{mtx_};
      for (auto i = pending_.begin(); i != pending_.end();) {
        if (i->second.deadline <= now) {
          expired.emplace_back(std::move(i->second.done), i->second.what);
          i = pending_.erase(i);
        } else {
          ++i;
        }
      }
    }
    for (auto& [done, what] : expired)
      done(runtime::make_error(runtime::runtime_errc::timeout,
                               what + ": no reply before the deadline (its owner may be down or "
                                      "its partition moving)"));
    forward_logs(rk_.get(), log_queue_);
  }
}

namespace {

struct proxy_state {
  uint64_t next = 0;
  std::map<uint64_t, caf::response_promise> pending;
};

caf::behavior remote_proxy(caf::stateful_actor<proxy_state>* self,
                           std::shared_ptr<remote_requester> requester, std::string role,
                           std::chrono::milliseconds deadline) {
  return {
    [=](runtime::get_atom, const std::string& key) {
      auto rp = self->make_response_promise();
      auto id = ++self->state.next;
      self->state.pending.emplace(id, rp);
      auto me = caf::actor_cast<caf::actor>(self);
      requester->request(role, "get", key, "", deadline,
                         [me, id](caf::expected<remote_reply> r) {
                           if (r)
                             caf::anon_send(me, reply_atom::value, id, r->status, r->body, r->node);
                           else
                             caf::anon_send(me, reply_atom::value, id, r.error());
                         });
      return rp;
    },
    [=](reply_atom, uint64_t id, const std::string& status, const std::string& body,
        const std::string& node) {
      auto i = self->state.pending.find(id);
      if (i == self->state.pending.end())
        return;
      i->second.deliver(status, body, node);
      self->state.pending.erase(i);
    },
    [=](reply_atom, uint64_t id, const caf::error& err) {
      auto i = self->state.pending.find(id);
      if (i == self->state.pending.end())
        return;
      i->second.deliver(err);
      self->state.pending.erase(i);
    },
  };
}

}  // namespace

caf::actor spawn_remote_proxy(caf::actor_system& sys, std::shared_ptr<remote_requester> requester,
                              std::string role, std::chrono::milliseconds deadline) {
  return sys.spawn(remote_proxy, std::move(requester), std::move(role), deadline);
}

}  // namespace kastor::bridges
