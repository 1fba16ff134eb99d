// The open message set: the types an application's actors exchange, declared
// by the application, never named by the runtime.
//
// A message type is a plain struct. An application declares it once, with
// its type name (the kastor-type header), the topic its records live in, its
// key (the entity it addresses: every record of one key stays in one
// partition, in order), its schema version and, optionally, a validation and
// a codec of its own:
//
//   struct deposit { std::string account_id; int64_t cents = 0; };
//   BOOST_DESCRIBE_STRUCT(deposit, (), (account_id, cents))
//   runtime::declare<deposit>({.name = "deposit", .topic = "deposits",
//                              .key = &deposit::account_id});
//
// A described struct needs no codec: its JSON is its members by name
// ({"account_id":"a-1","cents":500}), read tolerantly so that a message can
// evolve (described_json.hpp): a member the record lacks keeps its default,
// one the struct lacks is ignored, and only the members listed in `required`
// must be there. A new version adds members with defaults (or
// std::optional ones); readers of either version read both. A custom codec writes
// and reads its own JSON (an application keeps a foreign wire format that way) and
// may carry fields in headers of its own.
//
// runtime::message carries any declared value type-erased: the runtime,
// bridges and CAF move it around; only a handler that takes the type looks
// inside. Declaring is cheap and idempotent for the same type and name;
// declare every type before the first node starts (lookups by name or topic
// only find what was declared).
//
// Thread-safety: declare() and every lookup may be called from any thread; a
// message_type lives as long as the process, a message is immutable.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeindex>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include "kastor/runtime/described_json.hpp"
#include "kastor/runtime/errors.hpp"

namespace kastor::runtime {

// A Kafka header. Kafka allows a name more than once; the last one counts.
struct header {
  std::string name;
  std::string value;
  friend bool operator==(const header&, const header&) = default;
};
using header_list = std::vector<header>;

// The last header called `name`, or null.
const header* find_header(const header_list& headers, std::string_view name);

// An entity changelog's writer epoch (decimal): each new owner of a
// partition writes its snapshots with a higher one than any before, so that a
// reader skips a late write of an earlier owner (a paused node's queued
// output). See message_type::follows_cause.
inline constexpr std::string_view epoch_header = "kastor-epoch";
// The epoch header's value; 0 when absent or not a positive number.
int64_t epoch_of(const header_list& headers);
// An entity snapshot's timers (timers.hpp), and the tag of a record a timer
// fired.
inline constexpr std::string_view timers_header = "kastor-timers";
inline constexpr std::string_view timer_tag_header = "kastor-timer";
// An entity snapshot's memory of its last answers (recent.hpp).
inline constexpr std::string_view recent_header = "kastor-recent";
// A message's note giving the id it is published with (the kastor-message-id
// header) instead of a fresh one: a remembering entity's outputs (recent.hpp).
inline constexpr std::string_view message_id_note = "kastor-message-id";

class message;

// What the runtime knows of one declared type, type-erased. `value` below is
// always a `const T*` of the declared type.
struct message_type {
  std::string name;   // the kastor-type header's value
  std::string topic;  // where its records live
  int32_t schema_version = 1;  // the version written; versions 1..it are read
  // The topic keeps only the latest record per key (an entity's changelog).
  bool compacted = false;
  // A record published while handling an input record goes to that record's
  // partition number (the topics are co-partitioned), not where the
  // partitioner puts its key: what a partition's owner writes is where the
  // next owner of the partition restores from.
  bool follows_cause = false;
  std::type_index type{typeid(void)};

  std::function<std::string(const void* value)> key;
  // The record value; may append headers of its own to `extra`.
  std::function<std::string(const void* value, header_list& extra)> encode;
  // From a record value and its headers. Errors: bridge_errc::malformed_json,
  // missing_field, wrong_type.
  std::function<caf::expected<message>(std::string_view value, const header_list& headers)>
    decode;
  // nullopt when the value satisfies its schema, else what is wrong.
  std::function<std::optional<std::string>(const void* value)> validate;
};

// How an application declares a type T (see the top of this file). Leave
// encode/decode empty for a described struct's default JSON.
template <class T>
struct message_decl {
  std::string name;
  std::string topic;
  std::function<std::string(const T&)> key = {};  // a member pointer will do
  int32_t schema_version = 1;
  bool compacted = false;
  bool follows_cause = false;
  std::function<std::optional<std::string>(const T&)> validate = {};
  std::function<std::string(const T&, header_list& extra)> encode = {};
  std::function<caf::expected<T>(std::string_view value, const header_list& headers)> decode = {};
  // The default JSON only: members a record must have (missing or null is
  // bridge_errc::missing_field), by name or by a path into nested members
  // ("customer.id"; "items.sku": every element's). Others may be absent.
  std::vector<std::string> required = {};
};

// Every declared type of this process.
class message_registry {
public:
  // Declares a type; the same type under the same name again returns the
  // first declaration. Throws std::logic_error for a second type under a
  // taken name, one type under two names, an empty name, topic or key, or a
  // type with neither a codec nor Boost.Describe members.
  const message_type& add(message_type t);

  // Null when nothing was declared so.
  const message_type* by_name(std::string_view name) const;
  const message_type* by_type(std::type_index type) const;
  // The one type whose records live in `topic`; null when none or several
  // (a header-less record there cannot be typed).
  const message_type* by_topic(std::string_view topic) const;
  // Whether `topic` is some declared type's home (allocates nothing: on every
  // record's path).
  bool is_home(std::string_view topic) const;

  // T's entry; throws std::logic_error when T was not declared.
  template <class T>
  const message_type& of() const {
    static std::atomic<const message_type*> cached{nullptr};  // entries never move
    if (const auto* t = cached.load(std::memory_order_acquire))
      return *t;
    if (const auto* t = by_type(typeid(T))) {
      cached.store(t, std::memory_order_release);
      return *t;
    }
    throw_undeclared(typeid(T));
  }

  // Every declared type, in declaration order.
  std::vector<const message_type*> all() const;
  // Every topic of a declared type, once each, in declaration order.
  std::vector<std::string> topics() const;

private:
  [[noreturn]] static void throw_undeclared(const std::type_info& t);
};

// The process's registry.
message_registry& messages();

// A record passed on as it came, key, value and headers byte for byte (a
// copy stage's input and output). Not a declared type: it has no topic of its
// own (a publisher that takes one must name the topic) and is never decoded.
struct raw_record {
  std::string key;
  std::string value;
  header_list headers;
};
// Its entry, "kastor.raw" (not in the registry).
const message_type& raw_record_type();

// A value of any declared type. Cheap to copy (shared, immutable).
class message {
public:
  message() = default;

  // Throws std::logic_error when T was not declared.
  template <class T>
    requires(!std::same_as<std::decay_t<T>, message>)
  message(T x)  // NOLINT: implicit, so a handler returns {deposit{...}}
      : type_(type_of<std::decay_t<T>>()),
        value_(std::make_shared<const std::decay_t<T>>(std::move(x))) {}

  explicit operator bool() const { return value_ != nullptr; }
  const message_type* type() const { return type_; }
  const void* data() const { return value_.get(); }

  template <class T>
  bool is() const {
    return type_ != nullptr && type_->type == typeid(T);
  }
  template <class T>
  const T* get_if() const {
    return is<T>() ? static_cast<const T*>(value_.get()) : nullptr;
  }
  // Throws std::bad_cast when it holds another type.
  template <class T>
  const T& get() const {
    if (const auto* x = get_if<T>())
      return *x;
    throw std::bad_cast{};
  }

  // These throw std::logic_error for an empty message (a programming error).
  std::string key() const { return checked().key(value_.get()); }
  std::string encode(header_list& extra) const { return checked().encode(value_.get(), extra); }
  std::string encode() const {
    header_list ignored;
    return encode(ignored);
  }
  std::optional<std::string> violation() const {
    const auto& t = checked();
    return t.validate ? t.validate(value_.get()) : std::nullopt;
  }

  // An entity changelog's snapshot carries its writer's epoch (epoch_header,
  // written by the producer when > 0; see entity.hpp). 0: none.
  int64_t epoch() const { return epoch_; }
  message with_epoch(int64_t epoch) const {
    auto m = *this;
    m.epoch_ = epoch;
    return m;
  }

  // kastor's own headers that travel with this value (an entity's timers on
  // its snapshot, a timer's tag on the message it fires): the producer writes
  // them after the type's own. Empty for most messages.
  const header_list& notes() const;
  // The same message with `name` set to `value` among its notes.
  message with_note(std::string name, std::string value) const;

  // Same type and equal encodings (value and the type's own headers).
  friend bool operator==(const message& a, const message& b) {
    if (a.type_ != b.type_ || !a.value_ || !b.value_)
      return a.type_ == b.type_ && a.value_ == b.value_;
    header_list ha, hb;
    return a.encode(ha) == b.encode(hb) && ha == hb;
  }

private:
  const message_type& checked() const {
    if (type_ == nullptr || value_ == nullptr)
      throw_empty();
    return *type_;
  }
  [[noreturn]] static void throw_empty();

  template <class T>
  static const message_type* type_of() {
    if constexpr (std::is_same_v<T, raw_record>)
      return &raw_record_type();
    else if constexpr (requires { T::internal_type(); })  // the runtime's own (timers.hpp)
      return &T::internal_type();
    else
      return &messages().of<T>();
  }

  const message_type* type_ = nullptr;
  std::shared_ptr<const void> value_;
  int64_t epoch_ = 0;
  std::shared_ptr<const header_list> notes_;
};

// What a handler returns: the messages to publish.
using outputs = std::vector<message>;

namespace detail {

caf::error json_error(bridge_errc code, std::string text);

template <class T>
caf::expected<message> decode_described(std::string_view type, std::string_view value,
                                        const json::required_tree& required) {
  boost::system::error_code ec;
  auto jv = boost::json::parse(boost::json::string_view{value.data(), value.size()}, ec);
  if (ec)
    return json_error(bridge_errc::malformed_json,
                      "value is not valid JSON: " + ec.message() + " (" + std::string{type} + ")");
  if (!jv.is_object())
    return json_error(bridge_errc::malformed_json,
                      "value must be a JSON object (" + std::string{type} + ")");
  T x{};
  if (auto failed = json::from_json(jv, x, required.empty() ? nullptr : &required))
    return json_error(failed->missing ? bridge_errc::missing_field : bridge_errc::wrong_type,
                      std::string{type} + ": " + failed->what);
  return message{std::move(x)};
}

}  // namespace detail

// Declares T (see message_registry::add); returns its entry.
template <class T>
const message_type& declare(message_decl<T> d) {
  message_type t;
  t.name = std::move(d.name);
  t.topic = std::move(d.topic);
  t.schema_version = d.schema_version;
  t.compacted = d.compacted;
  t.follows_cause = d.follows_cause;
  t.type = typeid(T);
  if (d.key)
    t.key = [k = std::move(d.key)](const void* v) { return k(*static_cast<const T*>(v)); };
  if (d.validate)
    t.validate = [f = std::move(d.validate)](const void* v) { return f(*static_cast<const T*>(v)); };
  if (static_cast<bool>(d.encode) != static_cast<bool>(d.decode))
    throw std::logic_error("kastor: message type '" + t.name
                           + "' has half a codec: give both encode and decode, or neither");
  if (!d.required.empty() && (d.decode || !boost::describe::has_describe_members<T>::value))
    throw std::logic_error("kastor: message type '" + t.name
                           + "': `required` is for the default JSON of a described struct");
  if (d.encode && d.decode) {
    t.encode = [f = std::move(d.encode)](const void* v, header_list& extra) {
      return f(*static_cast<const T*>(v), extra);
    };
    t.decode = [f = std::move(d.decode)](std::string_view value,
                                         const header_list& headers) -> caf::expected<message> {
      auto x = f(value, headers);
      if (!x)
        return std::move(x.error());
      return message{std::move(*x)};
    };
  } else if constexpr (boost::describe::has_describe_members<T>::value) {
    for (const auto& path : d.required)
      if (!json::has_member_path<T>(path))
        throw std::logic_error("kastor: message type '" + t.name + "': required member '" + path
                               + "' is not a described member");
    t.encode = [](const void* v, header_list&) {
      return boost::json::serialize(json::to_json(*static_cast<const T*>(v)));
    };
    t.decode = [name = t.name, required = json::make_required_tree(d.required)](
                 std::string_view value, const header_list&) {
      return detail::decode_described<T>(name, value, required);
    };
  }
  return messages().add(std::move(t));
}

// Where an inbound message came from, and kastor's metadata from its headers.
struct record_meta {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
  std::string key;
  std::string type;            // message type name (header, or inferred from topic)
  int32_t schema_version = 1;
  std::string message_id;
  std::string correlation_id;
  // Its W3C trace (trace.hpp): its traceparent as it came, or, for a record
  // that came without a valid one, a trace started from its message id; and
  // that trace's id.
  std::string traceparent;
  std::string trace_id;
  std::string timer;           // a timer's tag when a timer fired it (timers.hpp), else empty
  int32_t attempt = 1;         // 1 on first delivery, +1 on each redelivery
  int64_t timestamp_ms = 0;    // the record's Kafka timestamp
  uint64_t incarnation = 0;    // which mailbox assignment generation delivered it
  friend bool operator==(const record_meta&, const record_meta&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, record_meta& x) {
  return f(caf::meta::type_name("record_meta"), x.topic, x.partition, x.offset, x.key,
           x.type, x.schema_version, x.message_id, x.correlation_id,
           x.traceparent, x.trace_id, x.timer, x.attempt, x.timestamp_ms, x.incarnation);
}

}  // namespace kastor::runtime

// Messages move between actors of one process only (nodes talk through
// Kafka), so CAF never serializes one.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kastor::runtime::message)
