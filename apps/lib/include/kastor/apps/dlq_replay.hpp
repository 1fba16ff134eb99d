// What `kastor ctl dlq replay` writes for one dead letter, decided from the
// dead letter alone (see run_dlq in commands.hpp).
#pragma once

#include <string>

#include "kastor/bridges/kafka.hpp"

namespace kastor::apps {

// The original record goes back to the topic it came from, the one its DLQ
// is named after ("<topic>.dlq"), with the same key and value; its headers without the kastor-dlq-* ones, with
// kastor-attempt one past kastor-dlq-attempts and kastor-replay-of naming
// the dead letter. The replay log (kastor.dlq-replays) records it under its
// origin, so one record dead-lettered twice is replayed once. A DLQ's headers
// are whatever its writer put there: none is trusted.
struct replay_plan {
  std::string error;     // non-empty: it cannot be replayed, and why
  std::string topic;     // where it goes back to
  std::string log_key;   // its key in the replay log
  bridges::header_list headers;
};

// Not replayable: a dead letter cut down to fit the DLQ (kastor-dlq-truncated:
// what is there is not the record); one in a topic that is not the DLQ of a
// topic a record may go back to (not "<topic>.dlq" with a legal topic name,
// or that of an internal "__" topic, of a DLQ or of the replay log); and one
// whose kastor-dlq-origin ("topic/partition@offset") names another topic.
replay_plan plan_replay(const bridges::stored_record& dead_letter);

}  // namespace kastor::apps
