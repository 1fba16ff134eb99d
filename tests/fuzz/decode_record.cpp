// libFuzzer: every topic's decoder, with headers, and the round trip. Input:
// one byte choosing the topic, then header lines "name: value", an empty
// line, and the record's value. A record that decodes must encode to one that
// decodes to the same message, or the build's contract with other readers is
// broken (a crash here is a named regression test in tests/unit).
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <string_view>

#include "kastor/actors/messages.hpp"
#include "kastor/bridges/codec.hpp"
#include "kastor/runtime/errors.hpp"
#include "record_input.hpp"

using namespace kastor;

namespace {

constexpr std::string_view topics[] = {
  "order-created", "payment-requests", "payment-results", "notification-events",
  "email-sent",    "order-state",      "order-created.dlq", "inventory-updates"};

[[noreturn]] void mismatch(const char* what, const std::string& detail) {
  std::fprintf(stderr, "decode -> encode -> decode mismatch: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool declared = actors::detail::messages_declared;
  (void) declared;
  if (size < 1)
    return 0;
  const auto topic = topics[data[0] % std::size(topics)];
  const auto [headers, value] =
    fuzz::parse_record_input({reinterpret_cast<const char*>(data) + 1, size - 1});
  auto first = bridges::decode_record(topic, 0, 1, "k", value, headers, 0);
  if (!first)
    return 0;
  const auto again_meta = bridges::outgoing_meta{"m-1", "", first->meta.attempt, ""};
  bridges::encoded out;
  try {
    out = bridges::encode(first->message, again_meta);
  } catch (const std::exception& e) {
    mismatch("encoding threw", e.what());
  }
  auto second = bridges::decode_record(topic, 0, 1, "k", out.value, out.headers, 0);
  if (!second)
    mismatch(std::string{topic}.c_str(), runtime::describe(second.error()) + " reading back "
                                           + out.value);
  if (!(second->message == first->message))
    mismatch(std::string{topic}.c_str(), "another message reading back " + out.value);
  if (second->meta.type != first->meta.type)
    mismatch("type", first->meta.type + " became " + second->meta.type);
  return 0;
}
