#include "stored_message.hpp"

#include "kastor/runtime/errors.hpp"

namespace kastor::runtime::detail {

boost::json::object store_message(const message& m) {
  header_list extra;
  auto value = m.encode(extra);
  boost::json::array headers;
  for (const auto& h : extra)
    headers.push_back(boost::json::array{h.name.c_str(), h.value.c_str()});
  return {{"type", m.type()->name}, {"value", value}, {"headers", std::move(headers)}};
}

caf::expected<message> load_message(const boost::json::value& stored) {
  const auto* o = stored.if_object();
  const auto* type_name = o ? o->if_contains("type") : nullptr;
  const auto* type = type_name && type_name->is_string()
                       ? messages().by_name(std::string_view{type_name->get_string()})
                       : nullptr;
  if (type == nullptr)
    return make_error(bridge_errc::unknown_type, "a stored message of an undeclared type");
  const auto* value = o->if_contains("value");
  if (value == nullptr || !value->is_string())
    return make_error(bridge_errc::missing_field, "a stored " + type->name + " has no value");
  header_list headers;
  if (const auto* hs = o->if_contains("headers"); hs && hs->is_array())
    for (const auto& h : hs->get_array())
      if (h.is_array() && h.get_array().size() == 2 && h.get_array()[0].is_string()
          && h.get_array()[1].is_string())
        headers.push_back({std::string{h.get_array()[0].get_string()},
                           std::string{h.get_array()[1].get_string()}});
  return type->decode(std::string_view{value->get_string()}, headers);
}

}  // namespace kastor::runtime::detail
