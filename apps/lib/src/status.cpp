// kastor ctl status: the cluster as Kafka sees it, per role's consumer group
// under a prefix (any application's): its state, its members (the nodes, from
// their client ids "<node>-<role>"), the partitions each one owns, and the lag
// of every partition (high watermark minus the group's committed offset); then
// the views, with the nodes reading each (their groups are per node).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <thread>
#include <optional>
#include <map>
#include <set>

#include <boost/json.hpp>

#include "kastor/actors/roles.hpp"
#include "kastor/apps/commands.hpp"
#include "kastor/bridges/codec.hpp"
#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/remote.hpp"
#include "kastor/bridges/role.hpp"
#include "kastor/runtime/errors.hpp"

namespace kastor::apps {

namespace {

namespace json = boost::json;

// "0-2,5" for {0,1,2,5}.
std::string ranges(std::vector<int32_t> parts) {
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (size_t i = 0; i < parts.size();) {
    size_t j = i;
    while (j + 1 < parts.size() && parts[j + 1] == parts[j] + 1)
      ++j;
    out += (out.empty() ? "" : ",") + std::to_string(parts[i])
           + (j > i ? "-" + std::to_string(parts[j]) : "");
    i = j + 1;
  }
  return out;
}

// A partition's low and high watermarks; nullopt if they cannot be read in
// time. librdkafka 2.0.2's query can block well past its timeout while the
// partition's leader is down, so it runs on a thread of its own; one that
// does not come back sets `stuck` (its handle must then not be destroyed).
std::optional<std::pair<int64_t, int64_t>> watermarks(rd_kafka_t* rk, const std::string& topic,
                                                      int partition,
                                                      std::chrono::milliseconds timeout,
                                                      bool& stuck) {
  using result = std::optional<std::pair<int64_t, int64_t>>;
  auto promise = std::make_shared<std::promise<result>>();
  auto answer = promise->get_future();
  std::thread{[rk, topic, partition, timeout, promise] {
    int64_t low = 0, high = 0;
    auto err = rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &low, &high,
                                                static_cast<int>(timeout.count()));
    promise->set_value(err ? result{} : result{std::pair{low, high}});
  }}.detach();
  if (answer.wait_for(timeout + std::chrono::milliseconds{500}) == std::future_status::ready)
    return answer.get();
  stuck = true;
  return std::nullopt;
}

// What the brokers list under `prefix`: the roles with a shared group
// ("<prefix>.<role>"), and the views with a live per-node group
// ("<prefix>.<role>.<node id>.<start>": one per node reading, while it runs);
// sorted. `error` is set if the cluster cannot be asked.
struct groups_found {
  std::vector<std::string> roles;
  std::map<std::string, std::vector<std::string>> views;  // view -> the nodes reading it
};

groups_found groups_under(const std::string& brokers, const std::string& prefix,
                          std::string& error) {
  groups_found out;
  auto conf = bridges::make_conf({{"bootstrap.servers", brokers},
                                  {"client.id", "kastor-ctl-status"},
                                  {"log_level", "2"}});
  if (!conf) {
    error = runtime::describe(conf.error());
    return out;
  }
  char errstr[512];
  bridges::rk_ptr rk{rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), errstr, sizeof(errstr))};
  const rd_kafka_group_list* list = nullptr;
  if (!rk) {
    error = errstr;
    return out;
  }
  if (auto err = rd_kafka_list_groups(rk.get(), nullptr, &list, 10000)) {
    error = std::string{"the consumer groups cannot be listed: "} + rd_kafka_err2str(err);
    return out;
  }
  const auto head = prefix + ".";
  for (int i = 0; i < list->group_cnt; ++i) {
    const std::string name = list->groups[i].group;
    if (name.rfind(head, 0) != 0 || name.size() == head.size())
      continue;
    const auto dot = name.find('.', head.size());
    if (dot == std::string::npos) {
      out.roles.push_back(name.substr(head.size()));
      continue;
    }
    // A view's group of a running node (a finished start's stays Empty); a
    // role's requests group ("<group>.requests") is no view.
    const auto last = name.rfind('.');
    const std::string state = list->groups[i].state ? list->groups[i].state : "";
    if (last <= dot || name.compare(dot + 1, std::string::npos, "requests") == 0
        || state == "Empty" || state == "Dead")
      continue;
    out.views[name.substr(head.size(), dot - head.size())].push_back(
      name.substr(dot + 1, last - dot - 1));
  }
  rd_kafka_group_list_destroy(list);
  std::sort(out.roles.begin(), out.roles.end());
  for (auto& [view, nodes] : out.views)
    std::sort(nodes.begin(), nodes.end());
  return out;
}

// One role's group, or an error text. Watermark queries share `until`: past
// it, lags not read yet are unknown (a down leader costs each query its
// timeout, and the status must come back).
std::optional<json::object> role_status(const std::string& brokers, const std::string& prefix,
                                        const std::string& role,
                                        std::chrono::steady_clock::time_point until,
                                        std::string& error) {
  const auto group = prefix + "." + role;
  // A consumer of `group_id` that never joins it (null, and `error` set, if
  // it cannot be made).
  auto reader_of = [&](const std::string& group_id) -> bridges::rk_ptr {
    auto conf = bridges::make_conf({{"bootstrap.servers", brokers},
                                    {"group.id", group_id},
                                    {"client.id", "kastor-ctl-status"},
                                    // (connection errors while a broker is down are
                                    // expected here; what matters is reported below)
                                    {"log_level", "2"},
                                    {"enable.auto.commit", "false"}});
    if (!conf) {
      error = runtime::describe(conf.error());
      return nullptr;
    }
    char errstr[512];
    bridges::rk_ptr rk{rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), errstr, sizeof(errstr))};
    if (!rk)
      error = errstr;
    return rk;
  };
  auto rk = reader_of(group);
  if (!rk)
    return std::nullopt;
  auto desc = bridges::describe_group(rk.get(), group, std::chrono::seconds{10});
  if (!desc) {
    error = runtime::describe(desc.error());
    return std::nullopt;
  }
  json::object r;
  r["role"] = role;
  r["group"] = group;
  // What the role reads (a copy stage's input shows in its members' assignment).
  std::set<std::string> topics;
  for (const auto& t : actors::topics_for_role(role))
    topics.insert(t);
  // The requests topic is read and committed by the role's requests group
  // ("<group>.requests", each node's responder), never by the role's own:
  // its lag is measured against that group.
  std::map<std::string, std::string> committed_by;  // topic -> the group that commits it
  if (role == "order") {
    const auto requests = bridges::request_topic(group);
    topics.insert(requests);
    committed_by[requests] = group + ".requests";
  }
  json::array members;
  r["state"] = desc->state;
  if (desc->coordinator >= 0)
    r["coordinator"] = desc->coordinator;  // the broker id of the group's coordinator
  for (const auto& m : desc->members) {
    auto who = bridges::parse_role_client_id(m.client_id, role);
    json::object mo;
    mo["node"] = who.node;
    mo["standby"] = who.standby;
    mo["clientId"] = m.client_id;
    mo["host"] = m.host;
    json::object parts;
    for (const auto& [topic, ps] : m.assignment) {
      topics.insert(topic);
      json::array a;
      for (auto p : ps)
        a.push_back(p);
      parts[topic] = std::move(a);
    }
    mo["partitions"] = std::move(parts);
    members.push_back(std::move(mo));
  }
  r["members"] = std::move(members);
  // Lag: what is in each partition and not yet committed by the group.
  json::object lag;  // topic -> partition -> records not yet committed (-1: unknown)
  int64_t total = 0, unknown = 0;
  bool stuck = false;
  for (const auto& topic : topics) {
    auto count = bridges::partitions_of(rk.get(), topic);
    int n = count ? *count : 0;
    if (n <= 0)
      continue;  // not created (yet)
    bridges::partition_list_ptr committed{rd_kafka_topic_partition_list_new(n)};
    for (int p = 0; p < n; ++p)
      rd_kafka_topic_partition_list_add(committed.get(), topic.c_str(), p);
    const auto by = committed_by.count(topic) ? committed_by.at(topic) : group;
    bridges::rk_ptr other;  // a handle of that group's (never joined)
    if (by != group && !(other = reader_of(by))) {
      error = "a reader of " + by + ": " + error;
      return std::nullopt;
    }
    auto err = rd_kafka_committed(other ? other.get() : rk.get(), committed.get(), 10000);
    if (other)  // never joined: nothing to leave
      rd_kafka_destroy_flags(other.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (err) {
      error = "committed offsets of " + by + " on " + topic + ": " + rd_kafka_err2str(err);
      return std::nullopt;
    }
    json::object per;
    for (int p = 0; p < n; ++p) {
      // A partition whose leader is down (or moving) has no answer: its lag
      // is unknown (-1), rather than the whole status waiting for it.
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
      std::optional<std::pair<int64_t, int64_t>> w;
      if (!stuck && left.count() > 0)
        w = watermarks(rk.get(), topic, p, std::min(left, std::chrono::milliseconds{2000}), stuck);
      if (!w) {
        per[std::to_string(p)] = -1;
        ++unknown;
        continue;
      }
      auto [low, high] = *w;
      auto c = committed->elems[p].offset;
      int64_t l = std::max<int64_t>(0, high - (c >= 0 ? c : low));
      per[std::to_string(p)] = l;
      total += l;
    }
    lag[topic] = std::move(per);
  }
  r["lag"] = std::move(lag);
  r["totalLag"] = total;
  r["unknownLag"] = unknown;  // partitions whose lag could not be read in time
  // Never joined the group: nothing to leave (closing could wait for a
  // coordinator that is down). A query still blocked uses the handle: keep it.
  if (stuck)
    (void) rk.release();
  else
    rd_kafka_destroy_flags(rk.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  return r;
}

}  // namespace

std::optional<std::map<std::string, role_lag>> pipeline_lag(const std::string& brokers,
                                                            const std::string& prefix,
                                                            std::string& error) {
  std::map<std::string, role_lag> out;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{20};
  for (const auto* role : {"order", "payment", "email"}) {
    auto r = role_status(brokers, prefix, role, until, error);
    if (!r)
      return std::nullopt;
    out[role] = {r->at("totalLag").as_int64(), r->at("unknownLag").as_int64()};
  }
  return out;
}

namespace {

// librdkafka's mock brokers (kastor demo) cannot list or describe groups.
void mock_hint() {
  std::fprintf(stderr,
               "kastor ctl status: if these are librdkafka's mock brokers (kastor demo), which "
               "cannot list or describe consumer groups, ask a node for its own view instead: "
               "kastor ctl --node HOST:PORT status\n");
}

}  // namespace

int run_status(const status_options& o) {
  if (o.brokers.empty()) {
    std::fprintf(stderr, "kastor ctl status: --brokers HOST:PORT is required\n");
    return 2;
  }
  if (o.prefix.empty()) {
    std::fprintf(stderr, "kastor ctl status: --prefix must not be empty\n");
    return 2;
  }
  json::array roles;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{20};
  std::string listing_error;
  auto found = groups_under(o.brokers, o.prefix, listing_error);
  if (!listing_error.empty()) {
    std::fprintf(stderr, "kastor ctl status: %s\n", listing_error.c_str());
    mock_hint();
    return 1;
  }
  if (found.roles.empty() && found.views.empty()) {
    std::fprintf(stderr,
                 "kastor ctl status: no consumer group under the prefix '%s' (a node's "
                 "group.prefix; its roles' groups are <prefix>.<role>)\n",
                 o.prefix.c_str());
    return 1;
  }
  // Every role with a group under the prefix, as the brokers list them; if
  // the shop is one of them, all of the shop's shared roles (an empty group
  // says no node runs one; one never joined is not listed by the brokers).
  const auto& app = actors::shop_app();
  auto is_view = [&app](const std::string& r) {
    return std::find(app.views.begin(), app.views.end(), r) != app.views.end();
  };
  std::vector<std::string> names = found.roles;
  const bool shop = std::any_of(names.begin(), names.end(), [&](const std::string& r) {
    return !is_view(r) && std::find(app.roles.begin(), app.roles.end(), r) != app.roles.end();
  });
  if (shop)
    for (const auto& r : app.roles)
      if (!is_view(r) && std::find(names.begin(), names.end(), r) == names.end())
        names.push_back(r);
  std::sort(names.begin(), names.end());
  for (const auto& role : names) {
    std::string error;
    auto r = role_status(o.brokers, o.prefix, role, until, error);
    if (!r) {
      std::fprintf(stderr, "kastor ctl status: %s\n", error.c_str());
      mock_hint();
      return 1;
    }
    roles.push_back(std::move(*r));
  }
  json::array views;  // per-node readers: no shared group, no lag
  for (const auto& [view, nodes] : found.views) {
    json::array readers;
    for (const auto& n : nodes)
      readers.push_back(json::value(n));
    views.push_back(json::object{{"role", view}, {"nodes", std::move(readers)}});
  }
  if (o.json) {
    json::object out;
    out["prefix"] = o.prefix;
    out["roles"] = std::move(roles);
    out["views"] = std::move(views);
    std::printf("%s\n", bridges::to_json_text(out).c_str());
    return 0;
  }
  for (const auto& v : roles) {
    const auto& r = v.as_object();
    const auto& members = r.at("members").as_array();
    const auto* coord = r.if_contains("coordinator");
    std::printf("%-8s group %s  %s, %zu member%s, lag %lld%s\n",
                std::string{r.at("role").as_string()}.c_str(),
                std::string{r.at("group").as_string()}.c_str(),
                std::string{r.at("state").as_string()}.c_str(), members.size(),
                members.size() == 1 ? "" : "s",
                static_cast<long long>(r.at("totalLag").as_int64()),
                coord ? (", coordinator broker " + std::to_string(coord->as_int64())).c_str() : "");
    for (const auto& mv : members) {
      const auto& m = mv.as_object();
      std::string owns;
      for (const auto& [topic, ps] : m.at("partitions").as_object()) {
        std::vector<int32_t> parts;
        for (const auto& p : ps.as_array())
          parts.push_back(static_cast<int32_t>(p.as_int64()));
        owns += (owns.empty() ? "" : "; ") + std::string{topic} + " " + ranges(parts);
      }
      const auto* standby = m.if_contains("standby");
      std::printf("  node %s%s (%s): %s\n", std::string{m.at("node").as_string()}.c_str(),
                  standby && standby->as_bool() ? " (standby)" : "",
                  std::string{m.at("host").as_string()}.c_str(),
                  owns.empty() ? "(no partitions)" : owns.c_str());
    }
    for (const auto& [topic, per] : r.at("lag").as_object()) {
      std::string line;
      for (const auto& [p, l] : per.as_object())
        line += " " + std::string{p} + ":" + std::to_string(l.as_int64());
      std::printf("  lag %s%s\n", std::string{topic}.c_str(), line.c_str());
    }
  }
  for (const auto& v : views) {
    const auto& r = v.as_object();
    std::string nodes;
    for (const auto& n : r.at("nodes").as_array())
      nodes += (nodes.empty() ? "" : ", ") + std::string{n.as_string()};
    std::printf("%-8s view, read by %zu node%s: %s\n",
                std::string{r.at("role").as_string()}.c_str(), r.at("nodes").as_array().size(),
                r.at("nodes").as_array().size() == 1 ? "" : "s", nodes.c_str());
  }
  return 0;
}

}  // namespace kastor::apps
