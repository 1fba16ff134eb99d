#include "kastor/bridges/codec.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <string>

#include "kastor/runtime/trace.hpp"

namespace kastor::bridges {

using runtime::bridge_errc;

namespace {

// The header's value, or `fallback` if it is absent or empty.
std::string header_or(const header_list& headers, std::string_view name,
                      std::string fallback) {
  if (const auto* h = find_header(headers, name); h != nullptr && !h->value.empty())
    return h->value;
  return fallback;
}

std::optional<int32_t> parse_int32(std::string_view text) {
  int32_t value = 0;
  auto res = std::from_chars(text.data(), text.data() + text.size(), value);
  if (res.ec != std::errc{} || res.ptr != text.data() + text.size())
    return std::nullopt;
  return value;
}

std::string to_decimal(int64_t v) {
  return std::to_string(v);
}

// A decoded message with its metadata from the record and kastor's headers
// (defaults where absent).
decoded with_meta(runtime::message message, const std::string& type, int32_t schema_version,
                  std::string_view topic, int32_t partition, int64_t offset,
                  std::string_view key, const header_list& headers, int64_t timestamp_ms) {
  decoded result{std::move(message), {}};
  auto& meta = result.meta;
  meta.topic = std::string{topic};
  meta.partition = partition;
  meta.offset = offset;
  // Foreign producers may not key their records; the message's own key is it.
  meta.key = key.empty() ? result.message.key() : std::string{key};
  meta.type = type;
  meta.schema_version = schema_version;
  meta.message_id = header_or(headers, hdr_message_id,
                              meta.topic + "-" + to_decimal(partition) + "-"
                                + to_decimal(offset));
  meta.correlation_id = header_or(headers, hdr_correlation_id, meta.message_id);
  // W3C Trace Context: as it came (a later version as this one), or a trace
  // of its own from its message id (the same on every read).
  const auto* tp = find_header(headers, runtime::traceparent_header);
  if (tp && runtime::valid_traceparent(tp->value)) {
    meta.traceparent = tp->value.size() == 55 && tp->value.starts_with("00")
                         ? tp->value
                         : runtime::parse_traceparent(tp->value)->header();
    meta.trace_id.assign(tp->value, 3, 32);
  } else {
    auto started = runtime::trace_from(meta.message_id);
    meta.traceparent = started.header();
    meta.trace_id = std::move(started.trace_id);
  }
  if (const auto* h = find_header(headers, runtime::timer_tag_header))
    meta.timer = h->value;
  meta.attempt = 1;
  if (const auto* h = find_header(headers, hdr_attempt))
    if (auto attempt = parse_int32(h->value); attempt && *attempt >= 1)
      meta.attempt = *attempt;
  meta.timestamp_ms = timestamp_ms;
  return result;
}

}  // namespace

std::string encode_value(const runtime::message& m) {
  return m.encode();
}

encoded encode(const runtime::message& m, const outgoing_meta& meta) {
  // Empty ids get the defaults a reader would apply, so what is written is
  // what is read back.
  const auto& correlation_id = meta.correlation_id.empty() ? meta.message_id
                                                           : meta.correlation_id;
  encoded out;
  out.headers = {
    {std::string{hdr_type}, m.type()->name},
    {std::string{hdr_schema}, to_decimal(m.type()->schema_version)},
    {std::string{hdr_message_id}, meta.message_id},
    {std::string{hdr_correlation_id}, correlation_id},
    {std::string{hdr_attempt}, to_decimal(std::max(meta.attempt, int32_t{1}))},
  };
  if (!meta.reply_to.empty())
    out.headers.push_back({std::string{hdr_reply_to}, meta.reply_to});
  if (!meta.traceparent.empty())
    out.headers.push_back({std::string{runtime::traceparent_header}, meta.traceparent});
  out.value = m.encode(out.headers);  // the type's own headers come last
  if (m.epoch() > 0 && find_header(out.headers, runtime::epoch_header) == nullptr)
    out.headers.push_back({std::string{runtime::epoch_header}, to_decimal(m.epoch())});
  for (const auto& n : m.notes())  // a given id is the kastor-message-id above
    if (n.name != runtime::message_id_note)
      out.headers.push_back(n);
  return out;
}

header_list encode_headers(const runtime::message& m, const outgoing_meta& meta) {
  return encode(m, meta).headers;
}

caf::expected<runtime::message> decode_value(std::string_view type, std::string_view value,
                                             const header_list& headers) {
  const auto* t = runtime::messages().by_name(type);
  if (t == nullptr)
    return runtime::make_error(bridge_errc::unknown_type,
                               "unknown message type '" + std::string{type} + "'");
  return t->decode(value, headers);
}

caf::expected<decoded> decode_record(std::string_view topic, int32_t partition,
                                     int64_t offset, std::string_view key,
                                     std::string_view value, const header_list& headers,
                                     int64_t timestamp_ms) {
  // The version first: a newer schema may bring types this build does not know.
  // A record without the header is a seed 002 producer's: the oldest schema.
  std::optional<int32_t> version;
  if (const auto* h = find_header(headers, hdr_schema)) {
    version = parse_int32(h->value);
    if (!version)
      return runtime::make_error(bridge_errc::unsupported_version,
                                 "header " + std::string{hdr_schema} + " '" + h->value
                                   + "' is not a number");
  }
  const runtime::message_type* type = nullptr;
  if (const auto* h = find_header(headers, hdr_type)) {
    type = runtime::messages().by_name(h->value);
    if (type == nullptr && version) {
      // A type this build does not know, of a version newer than any it
      // reads: the version is the news (a reader to upgrade), not the type.
      int32_t newest = schema_version_oldest;
      for (const auto* t : runtime::messages().all())
        newest = std::max(newest, t->schema_version);
      if (*version > newest)
        return runtime::make_error(bridge_errc::unsupported_version,
                                   "schema version " + to_decimal(*version)
                                     + " cannot be read; this build reads "
                                     + to_decimal(schema_version_oldest) + " to "
                                     + to_decimal(newest));
    }
    if (type == nullptr)
      return runtime::make_error(bridge_errc::unknown_type,
                                 "unknown message type '" + h->value + "' in header "
                                   + std::string{hdr_type});
    // The header names the type among those the topic carries; it cannot
    // make a topic that is some type's home carry another (a record forged
    // onto a topic its handlers trust). Topics that are no type's home (a
    // dead-letter topic, a forward topic, a suffixed copy) carry any type.
    if (type->topic != topic && runtime::messages().is_home(topic)) {
      std::string carried;
      for (const auto* t : runtime::messages().all())
        if (t->topic == topic)
          carried += (carried.empty() ? "" : ", ") + t->name;
      return runtime::make_error(bridge_errc::wrong_type,
                                 "topic '" + std::string{topic} + "' carries " + carried
                                   + ", not '" + type->name + "' (header "
                                   + std::string{hdr_type} + ")");
    }
  } else {
    type = runtime::messages().by_topic(topic);
    if (type == nullptr)
      return runtime::make_error(bridge_errc::unknown_type,
                                 "no " + std::string{hdr_type} + " header and topic '"
                                   + std::string{topic} + "' carries no known message type");
  }
  // A record without the header is a foreign producer's: the oldest schema.
  const int32_t schema_version = version.value_or(schema_version_oldest);
  if (schema_version < schema_version_oldest || schema_version > type->schema_version)
    return runtime::make_error(bridge_errc::unsupported_version,
                               "schema version " + to_decimal(schema_version) + " of "
                                 + type->name + " cannot be read; this build reads "
                                 + to_decimal(schema_version_oldest) + " to "
                                 + to_decimal(type->schema_version));
  try {  // an application's codec or key function may throw: the record is bad, not the node
    auto message = type->decode(value, headers);
    if (!message)
      return std::move(message.error());
    return with_meta(std::move(*message), type->name, schema_version, topic, partition, offset,
                     key, headers, timestamp_ms);
  } catch (const std::exception& e) {
    return runtime::make_error(bridge_errc::wrong_type,
                               "decoding " + type->name + " threw: " + e.what());
  }
}

caf::expected<decoded> decode_raw_record(std::string_view topic, int32_t partition,
                                         int64_t offset, std::string_view key,
                                         std::string_view value, const header_list& headers,
                                         int64_t timestamp_ms) {
  runtime::message raw{runtime::raw_record{std::string{key}, std::string{value}, headers}};
  return with_meta(std::move(raw), runtime::raw_record_type().name, schema_version_oldest, topic,
                   partition, offset, key, headers, timestamp_ms);
}

}  // namespace kastor::bridges
