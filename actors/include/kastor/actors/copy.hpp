// copy_stage: the state of the `copy` role, a Kafka->Kafka stage that hands
// every message it receives on unchanged (same type, key and value); the
// node's bridge sends its output to the configured topic (copy.to). Run
// exactly-once, it is the stage Kafka's own transaction tests copy with.
//
// Thread-safety: none of its own; one actor owns it.
#pragma once

#include <cstdint>
#include <vector>

#include "kastor/runtime/message.hpp"

namespace kastor::actors {

class copy_stage {
public:
  // Takes every declared type (runtime::handlers::any).
  runtime::outputs handle(const runtime::record_meta&, const runtime::message& msg, int64_t) {
    ++copied_;
    return {msg};
  }

  // Turns handled by this process (a turn that was aborted and redone counts twice).
  uint64_t copied() const { return copied_; }

private:
  uint64_t copied_ = 0;
};

}  // namespace kastor::actors
