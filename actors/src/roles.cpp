#include "kastor/actors/roles.hpp"

namespace kastor::actors {

std::vector<std::string> topics_for_role(std::string_view role) {
  if (role == "order")
    return order_handlers().topics();
  if (role == "payment")
    return payment_handlers().topics();
  if (role == "email")
    return email_handlers().topics();
  if (role == "analytics")
    return analytics_handlers().topics();
  if (role == "gateway")
    return {runtime::messages().of<order_snapshot>().topic};
  return {};
}

}  // namespace kastor::actors
