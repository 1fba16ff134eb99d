// A node's scrape: the metrics that are read off its mailboxes when
// /metrics is asked (the counters they keep anyway, the in-flight records
// and offsets of each partition), then its registry's and the application's.
#pragma once

#include <string>
#include <vector>

#include "kastor/bridges/kafka_statistics.hpp"
#include "kastor/bridges/mailbox_stats.hpp"
#include "kastor/runtime/metrics.hpp"

namespace kastor::bridges {

struct role_reading {
  std::string role;
  std::string group;
  mailbox_stats stats;
  std::vector<partition_stats> partitions;  // the current mailbox's
};

// Prometheus' text format of: the node's readiness, `roles`, librdkafka's
// statistics of `clients`, and every
// registry in `registries` (families of one name in several are merged).
std::string scrape_text(bool ready, const std::vector<role_reading>& roles,
                        const std::vector<client_statistics>& clients,
                        const std::vector<const runtime::metric_registry*>& registries);

}  // namespace kastor::bridges
