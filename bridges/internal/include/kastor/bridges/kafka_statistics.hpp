// librdkafka's own statistics (statistics.interval.ms), kept per client for a
// node's /metrics: the producer's queue, each broker's round-trip time and
// requests in flight. Every conf make_conf() builds reports here; a client
// reports only when its statistics.interval.ms is set (the node sets
// kafka.statistics-interval-ms on its producers and consumers).
// Thread-safety: any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kastor::bridges {

struct broker_statistics {
  std::string broker;             // "host:port/id"
  double rtt_avg_seconds = 0;     // round-trip time over the last interval
  double rtt_p99_seconds = 0;
  int64_t requests_queued = 0;    // outbuf_cnt: waiting to be sent
  int64_t requests_waiting = 0;   // waitresp_cnt: sent, waiting for their answer
};

struct client_statistics {
  std::string client;  // librdkafka's name of the handle ("<client.id>#producer-3")
  std::string type;    // producer, consumer
  int64_t queue_messages = 0;  // msg_cnt: records in the producer's queue
  int64_t queue_bytes = 0;     // msg_size
  std::vector<broker_statistics> brokers;
  std::chrono::steady_clock::time_point at;
};

// Reads one statistics JSON document into the store (what the callback does);
// false when it is not one (nothing kept).
bool record_statistics(std::string_view json);

// The clients that reported within `max_age` (a destroyed client's last
// report ages out), by name.
std::vector<client_statistics> recent_statistics(std::chrono::milliseconds max_age);

}  // namespace kastor::bridges
