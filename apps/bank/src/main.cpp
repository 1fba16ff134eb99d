// bank: a second kastor application, built only against the installed
// package. `bank node` runs its two entities; the other commands create its
// topics, open accounts, submit transfers, print balances and check the
// invariants (tools.hpp, not part of the application proper).
#include <atomic>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <kastor/kastor.hpp>

#include "bank/roles.hpp"
#include "bank/tools.hpp"

extern char** environ;

namespace {

std::atomic<bool> stop_requested{false};

// What the runtime's configuration knows of the bank: its roles and its one
// setting (transfers.step-deadline-ms).
const kastor::runtime::app_spec& bank_app() {
  static const kastor::runtime::app_spec app{
    .roles = {"accounts", "transfers"},
    .keys = {kastor::runtime::config_key::integer("transfers.step-deadline-ms", 60000, 0,
                                                  86'400'000)}};
  return app;
}

int run_node(const kastor::runtime::config_sources& sources) {
  auto cfg = kastor::runtime::load_config(sources, environ, bank_app());
  if (!cfg) {
    std::fprintf(stderr, "bank: %s\n", kastor::runtime::describe(cfg.error()).c_str());
    return 2;
  }
  auto node = kastor::bridges::actor_node::make(*cfg);
  if (!node) {
    std::fprintf(stderr, "bank: %s\n", kastor::runtime::describe(node.error()).c_str());
    return 1;
  }
  // The node creates the topics these need when they are missing.
  auto err = (*node)->add(bank::accounts_role());
  if (!err)
    err = (*node)->add(bank::transfers_role(cfg->setting_integer("transfers.step-deadline-ms")));
  if (err) {
    std::fprintf(stderr, "bank: %s\n", kastor::runtime::describe(err).c_str());
    return 1;
  }
  (*node)->start();
  return (*node)->run(stop_requested);
}

}  // namespace

int main(int argc, char** argv) {
  bank::declare_messages();
  bank::declare_metrics();
  CLI::App app{"bank: accounts and transfers as Kafka-backed kastor actors"};
  app.require_subcommand(1);

  kastor::runtime::config_sources sources;
  auto* node = app.add_subcommand("node", "run the bank's roles (accounts, transfers)");
  node->add_option("--config", sources.file, "config file (key = value lines)")
    ->check(CLI::ExistingFile);
  node->add_option("--set", sources.sets, "KEY=VALUE for any kastor configuration key");
  for (auto [flag, key] : {std::pair{"brokers", "brokers"}, {"roles", "roles"},
                           {"node-id", "node.id"}, {"data-dir", "data.dir"}})
    node->add_option_function<std::string>(
      std::string{"--"} + flag, [&sources, key = key](const std::string& v) { sources.flags[key] = v; },
      std::string{"sets "} + key);

  bank::tool_options tools;
  bank::add_tool_commands(app, tools);
  CLI11_PARSE(app, argc, argv);

  kastor::runtime::install_stop_signals(stop_requested);  // a second signal exits at once
  if (node->parsed())
    return run_node(sources);
  return bank::run_tool_command(app, tools);
}
