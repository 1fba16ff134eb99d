#include "kastor/runtime/role_actor.hpp"

#include "kastor/runtime/logging.hpp"

namespace kastor::runtime {

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<record_meta>("record_meta");
}

int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace detail {

void report_timers_unpublished(size_t n, const std::string& error) {
  static auto log = logger("kastor.timers");
  log->warn("event=timers_unpublished timers={} error={}: they fire again later", n, error);
}

}  // namespace detail

}  // namespace kastor::runtime
