// One named spdlog logger per component ("kastor.bridge", "kastor.accounts",
// ...), all writing to stderr through one shared sink.
//
// Two formats (log.format): text, "2026-12-07T02:33:00.028 warning
// kastor.bridge event=... key=value ...", and json, one object per line:
//   {"time":"2026-12-07T02:33:00.028Z","level":"warning","logger":"kastor.bridge",
//    "message":"...","node":"n-1","role":"accounts","key":"a-1","topic":"...",
//    "partition":2,"offset":41,"trace_id":"4bf9…","span_id":"00f0…",...}
// node is the process's node (set_log_node); role, key, topic, partition,
// offset, trace_id and span_id come from the record whose turn is running on
// the thread (log_context), or from the message's own key=value fields
// (group, event, path, ... too). Every field is bounded (a message at
// max_log_message_bytes, a field at max_log_field_bytes, cut on a UTF-8
// boundary and marked), in both formats.
// Thread-safety: every function may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace kastor::runtime {

std::shared_ptr<spdlog::logger> logger(const std::string& component);

// "trace".."off"; applies to existing and future loggers.
void set_log_level(const std::string& level);

// "json", "text", or "auto" (json when standard error is not a terminal);
// applies to existing and future loggers. Anything else: std::invalid_argument.
void set_log_format(const std::string& format);

// The node every line names ("node"); empty: none.
void set_log_node(const std::string& node_id);

inline constexpr size_t max_log_message_bytes = 4096;
inline constexpr size_t max_log_field_bytes = 256;

// What the current thread is doing, for every line it logs meanwhile (the
// role actor sets it for a record's turn: a handler's own lines carry it).
// Views: what they name outlives the scoped_log_context that holds them.
struct log_context {
  std::string_view role;
  std::string_view key;
  std::string_view topic;
  int32_t partition = -1;
  int64_t offset = -1;
  std::string_view trace_id;
  std::string_view span_id;
};

// Sets the thread's context for its lifetime, restoring the one before.
class scoped_log_context {
public:
  explicit scoped_log_context(log_context ctx);
  ~scoped_log_context();
  scoped_log_context(const scoped_log_context&) = delete;
  scoped_log_context& operator=(const scoped_log_context&) = delete;

private:
  const log_context* previous_;
  log_context ctx_;
};

// The thread's current context; null: none.
const log_context* current_log_context();

// `text` cut to at most `max` bytes on a UTF-8 boundary, with
// "…[N bytes cut]" appended when it was longer.
std::string bounded(std::string_view text, size_t max);

}  // namespace kastor::runtime
