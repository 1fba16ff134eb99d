// reminders: a third application, kept small, written only against kastor's
// public API, for the timer system test (tests/system/timers_test.cpp). One
// entity per reminder id: `set` schedules a timer for its due time; when it
// fires, the entity writes `fired` (with the due time and how often it fired).
//
//   reminders --brokers H:P --prefix P [--node-id N] [--data-dir D] [--set K=V ...]
//
// Topics, each "<prefix>" + name: reminders (set and due, the entity's
// input), reminders-fired, reminders-state (its changelog).
#include <atomic>
#include <cstdio>
#include <string>

#include <boost/describe/class.hpp>
#include <CLI/CLI.hpp>

#include "kastor/bridges/node.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/role.hpp"
#include "kastor/runtime/shutdown.hpp"
#include "kastor/runtime/timers.hpp"

extern char** environ;

namespace reminders {

struct set {
  std::string id;
  int64_t due_at_ms = 0;
};
BOOST_DESCRIBE_STRUCT(set, (), (id, due_at_ms))

struct due {
  std::string id;
};
BOOST_DESCRIBE_STRUCT(due, (), (id))

struct fired {
  std::string id;
  int64_t due_at_ms = 0;
  int64_t fired_at_ms = 0;
  int times = 0;  // how often this reminder's timer was handled
};
BOOST_DESCRIBE_STRUCT(fired, (), (id, due_at_ms, fired_at_ms, times))

struct state {
  std::string id;
  int64_t due_at_ms = 0;
  int times = 0;
};
BOOST_DESCRIBE_STRUCT(state, (), (id, due_at_ms, times))

using kastor::runtime::outputs;
using kastor::runtime::record_meta;

class reminder {
public:
  using snapshot_type = state;
  explicit reminder(const std::string& id) { s_.id = id; }
  explicit reminder(const state& restored) : s_(restored) {}
  state snapshot() const { return s_; }

  outputs handle(const record_meta&, const set& x, int64_t) {
    if (s_.due_at_ms != 0)
      return {};  // set before (a duplicate): its timer stands
    s_.due_at_ms = x.due_at_ms;
    return {kastor::runtime::timer_at("due", x.due_at_ms, due{s_.id})};
  }
  outputs handle(const record_meta&, const due&, int64_t now_ms) {
    ++s_.times;
    return {fired{s_.id, s_.due_at_ms, now_ms, s_.times}};
  }

private:
  state s_;
};

void declare(const std::string& prefix) {
  using kastor::runtime::declare;
  declare<set>({.name = "reminders.set", .topic = prefix + "reminders", .key = &set::id});
  declare<due>({.name = "reminders.due", .topic = prefix + "reminders", .key = &due::id});
  declare<fired>({.name = "reminders.fired", .topic = prefix + "reminders-fired",
                  .key = &fired::id});
  declare<state>({.name = "reminders.state", .topic = prefix + "reminders-state",
                  .key = &state::id, .compacted = true, .follows_cause = true});
}

}  // namespace reminders

int main(int argc, char** argv) {
  CLI::App app{"reminders: a kastor entity with durable timers"};
  kastor::runtime::config_sources sources;
  std::string prefix;
  app.add_option("--prefix", prefix, "topic name prefix")->required();
  app.add_option("--set", sources.sets, "KEY=VALUE for any kastor configuration key");
  for (auto [flag, key] : {std::pair{"brokers", "brokers"}, {"node-id", "node.id"},
                           {"data-dir", "data.dir"}})
    app.add_option_function<std::string>(
      std::string{"--"} + flag, [&sources, key = key](const std::string& v) { sources.flags[key] = v; },
      std::string{"sets "} + key);
  CLI11_PARSE(app, argc, argv);
  reminders::declare(prefix);
  auto cfg = kastor::runtime::load_config(sources, environ, {.roles = {"reminders"}});
  if (!cfg) {
    std::fprintf(stderr, "reminders: %s\n", kastor::runtime::describe(cfg.error()).c_str());
    return 2;
  }
  auto node = kastor::bridges::actor_node::make(*cfg);
  if (!node) {
    std::fprintf(stderr, "reminders: %s\n", kastor::runtime::describe(node.error()).c_str());
    return 1;
  }
  if (auto err = (*node)->add(kastor::runtime::entity<reminders::reminder>("reminders")
                                .consumes<reminders::set, reminders::due>())) {
    std::fprintf(stderr, "reminders: %s\n", kastor::runtime::describe(err).c_str());
    return 1;
  }
  static std::atomic<bool> stop{false};
  kastor::runtime::install_stop_signals(stop);
  (*node)->start();
  return (*node)->run(stop);
}
