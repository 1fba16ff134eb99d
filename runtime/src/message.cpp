#include "kastor/runtime/message.hpp"

#include <algorithm>
#include <charconv>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>

#include <boost/core/demangle.hpp>

namespace kastor::runtime {

namespace {

// Entries never move (a deque only appends): message_type pointers stay valid.
struct registry_state {
  mutable std::shared_mutex mtx;
  std::deque<message_type> types;
};

registry_state& state() {
  static registry_state s;
  return s;
}

}  // namespace

const header* find_header(const header_list& headers, std::string_view name) {
  for (auto i = headers.rbegin(); i != headers.rend(); ++i)
    if (i->name == name)
      return &*i;
  return nullptr;
}

int64_t epoch_of(const header_list& headers) {
  const auto* h = find_header(headers, epoch_header);
  if (h == nullptr)
    return 0;
  int64_t e = 0;
  auto [p, ec] = std::from_chars(h->value.data(), h->value.data() + h->value.size(), e);
  return ec == std::errc{} && p == h->value.data() + h->value.size() && e > 0 ? e : 0;
}

const message_type& message_registry::add(message_type t) {
  auto what = "message type '" + t.name + "' (" + boost::core::demangle(t.type.name()) + ")";
  if (t.name.empty() || t.topic.empty())
    throw std::logic_error("kastor: " + what + " needs a name and a topic");
  if (!t.key)
    throw std::logic_error("kastor: " + what + " needs a key");
  if (!t.encode || !t.decode)
    throw std::logic_error("kastor: " + what
                           + " needs a codec (encode and decode), or Boost.Describe members "
                             "(BOOST_DESCRIBE_STRUCT) for the default JSON");
  auto& s = state();
  std::unique_lock<std::shared_mutex> guard{s.mtx};
  for (const auto& known : s.types) {
    if (known.type == t.type && known.name == t.name) {
      if (known.topic != t.topic || known.schema_version != t.schema_version
          || known.compacted != t.compacted || known.follows_cause != t.follows_cause)
        throw std::logic_error("kastor: " + what + " was declared before with another topic, "
                               "schema version or changelog flags");
      return known;  // declared before, the same way
    }
    if (known.type == t.type)
      throw std::logic_error("kastor: " + what + " was declared before as '" + known.name + "'");
    if (known.name == t.name)
      throw std::logic_error("kastor: " + what + ": the name is taken by "
                             + boost::core::demangle(known.type.name()));
  }
  s.types.push_back(std::move(t));
  return s.types.back();
}

namespace {

// The first declared type that `matches`, or null.
template <class Pred>
const message_type* find_first(Pred matches) {
  auto& s = state();
  std::shared_lock<std::shared_mutex> guard{s.mtx};
  for (const auto& t : s.types)
    if (matches(t))
      return &t;
  return nullptr;
}

}  // namespace

const message_type* message_registry::by_name(std::string_view name) const {
  return find_first([name](const message_type& t) { return t.name == name; });
}

const message_type* message_registry::by_type(std::type_index type) const {
  return find_first([type](const message_type& t) { return t.type == type; });
}

const message_type* message_registry::by_topic(std::string_view topic) const {
  auto& s = state();
  std::shared_lock<std::shared_mutex> guard{s.mtx};
  const message_type* found = nullptr;
  for (const auto& t : s.types)
    if (t.topic == topic) {
      if (found != nullptr)
        return nullptr;  // several: only the kastor-type header can tell
      found = &t;
    }
  return found;
}

bool message_registry::is_home(std::string_view topic) const {
  return find_first([topic](const message_type& t) { return t.topic == topic; }) != nullptr;
}

std::vector<const message_type*> message_registry::all() const {
  auto& s = state();
  std::shared_lock<std::shared_mutex> guard{s.mtx};
  std::vector<const message_type*> out;
  for (const auto& t : s.types)
    out.push_back(&t);
  return out;
}

std::vector<std::string> message_registry::topics() const {
  std::vector<std::string> out;
  for (const auto* t : all())
    if (std::find(out.begin(), out.end(), t->topic) == out.end())
      out.push_back(t->topic);
  return out;
}

void message::throw_empty() {
  throw std::logic_error("kastor: an empty runtime::message has no type");
}

void message_registry::throw_undeclared(const std::type_info& t) {
  throw std::logic_error("kastor: " + boost::core::demangle(t.name())
                         + " is not a declared message type (runtime::declare)");
}

message_registry& messages() {
  static message_registry r;
  return r;
}

const header_list& message::notes() const {
  static const header_list none;
  return notes_ ? *notes_ : none;
}

message message::with_note(std::string name, std::string value) const {
  auto notes = notes_ ? std::make_shared<header_list>(*notes_) : std::make_shared<header_list>();
  std::erase_if(*notes, [&](const header& h) { return h.name == name; });
  notes->push_back({std::move(name), std::move(value)});
  auto m = *this;
  m.notes_ = std::move(notes);
  return m;
}

const message_type& raw_record_type() {
  static const message_type t = [] {
    message_type x;
    x.name = "kastor.raw";
    x.type = typeid(raw_record);
    x.key = [](const void* v) { return static_cast<const raw_record*>(v)->key; };
    x.encode = [](const void* v, header_list& extra) {
      const auto& r = *static_cast<const raw_record*>(v);
      extra.insert(extra.end(), r.headers.begin(), r.headers.end());
      return r.value;
    };
    x.decode = [](std::string_view value, const header_list& headers) -> caf::expected<message> {
      return message{raw_record{{}, std::string{value}, headers}};
    };
    return x;
  }();
  return t;
}

namespace detail {

caf::error json_error(bridge_errc code, std::string text) {
  return make_error(code, std::move(text));
}

}  // namespace detail

}  // namespace kastor::runtime
