// copy_stage: the state of the runtime's own `copy` role, a Kafka->Kafka
// stage that hands every record it receives on unchanged: its mailbox reads
// raw (runtime::raw_record), so key, value and headers go out byte for byte,
// whatever they hold, to the configured topic (copy.to). Run exactly-once, it
// is the stage Kafka's own transaction tests copy with.
//
// Thread-safety: none of its own; one actor owns it.
#pragma once

#include <cstdint>
#include <vector>

#include "kastor/runtime/message.hpp"

namespace kastor::runtime {

class copy_stage {
public:
  // Takes every record (handlers::any()).
  outputs handle(const record_meta&, const message& msg, int64_t) {
    ++copied_;
    return {msg};
  }

  // Turns handled by this process (a turn that was aborted and redone counts twice).
  uint64_t copied() const { return copied_; }

private:
  uint64_t copied_ = 0;
};

}  // namespace kastor::runtime
