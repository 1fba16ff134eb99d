#include "kastor/runtime/role_actor.hpp"

namespace kastor::runtime {

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<order_item>("order_item");
  cfg.add_message_type<std::vector<order_item>>("order_items");
  cfg.add_message_type<order_created>("order_created");
  cfg.add_message_type<payment_request>("payment_request");
  cfg.add_message_type<payment_result>("payment_result");
  cfg.add_message_type<notification_event>("notification_event");
  cfg.add_message_type<email_sent>("email_sent");
  cfg.add_message_type<order_snapshot>("order_snapshot");
  cfg.add_message_type<record_meta>("record_meta");
}

int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace kastor::runtime
