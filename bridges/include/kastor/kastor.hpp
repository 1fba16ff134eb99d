// What an application includes: everything it needs to declare messages,
// roles and entities, give them timers, reject a record, and run them on a
// node with its configuration and stop signals. The bank (apps/bank) is
// written against this header and its state classes' own light ones.
//
//   #include <kastor/kastor.hpp>
//
//   namespace rt = kastor::runtime;
//   rt::declare<deposit>({.name = "bank.deposit", .topic = "deposits", .key = &deposit::account});
//   std::atomic<bool> stop{false};
//   rt::install_stop_signals(stop);                        // shutdown.hpp
//   auto cfg = rt::load_config(sources, environ, app);     // config.hpp (environ: <unistd.h>)
//   auto node = kastor::bridges::actor_node::make(*cfg);   // bridges/node.hpp
//   if (auto err = (*node)->add(rt::entity<account>("accounts").consumes<deposit>()))
//     return 1;                                            // rt::describe(err) says why
//   (*node)->start();
//   return (*node)->run(stop);
//
// A state class itself needs only what its handlers use: message.hpp (the
// declared types, record_meta, outputs), timers.hpp, reject.hpp, and
// metrics.hpp for counters of its own (served on every node's /metrics). None of
// these headers includes CAF's actor headers. Also installed, for tools: the
// Kafka helpers (bridges/kafka.hpp), the publisher (bridges/producer.hpp) and
// request/reply (bridges/remote.hpp). The mailbox, the partition tracker, the
// changelog, the role actor and the supervisors are the runtime's plumbing
// (*/internal/include), not installed.
#pragma once

#include "kastor/bridges/node.hpp"
#include "kastor/runtime/config.hpp"
#include "kastor/runtime/entity.hpp"
#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/message.hpp"
#include "kastor/runtime/metrics.hpp"
#include "kastor/runtime/reject.hpp"
#include "kastor/runtime/role.hpp"
#include "kastor/runtime/shutdown.hpp"
#include "kastor/runtime/timers.hpp"
