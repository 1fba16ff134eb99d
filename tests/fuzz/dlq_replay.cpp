// libFuzzer: what `kastor ctl dlq replay` makes of a dead letter's headers
// (plan_replay), which are whatever the DLQ's writer put there. Input: one
// byte choosing the DLQ topic, then header lines "name: value", an empty
// line, and the record's value. A replayable plan must go back to a topic a
// record may go to, carry no dead-letter header and no timer tag (an entity
// would drop a tagged record whose timer is gone), exactly one kastor-attempt
// (a count above 1) and one kastor-replay-of (this dead letter), and keep
// every other header in order.
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kastor/apps/dlq_replay.hpp"
#include "record_input.hpp"

using namespace kastor;

namespace {

constexpr std::string_view topics[] = {"payment-requests.dlq", "order-state.dlq", ".dlq",
                                       "payment-requests",     "a.dlq.dlq",
                                       "__consumer_offsets.dlq"};

[[noreturn]] void broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "replay plan broken: %s: %s\n", what, detail.c_str());
  std::abort();
}

bool kept(const runtime::header& h) {
  return h.name.rfind("kastor-dlq-", 0) != 0 && h.name != "kastor-attempt"
         && h.name != "kastor-replay-of" && h.name != runtime::timer_tag_header
         && h.name != runtime::timers_header;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  bridges::stored_record r;
  r.topic = std::string{topics[data[0] % std::size(topics)]};
  r.partition = 1;
  r.offset = 5;
  r.key = "k";
  auto in = fuzz::parse_record_input({reinterpret_cast<const char*>(data) + 1, size - 1});
  r.headers = std::move(in.headers);
  r.value = std::string{in.value};
  const auto plan = apps::plan_replay(r);
  if (!plan.error.empty()) {
    if (!plan.topic.empty())
      broken("refused, yet with a topic", plan.topic);
    return 0;
  }
  if (!r.header("kastor-dlq-truncated").empty())
    broken("a cut-down dead letter is replayed", r.id());
  const auto& t = plan.topic;
  if (r.topic != t + ".dlq")
    broken("it goes elsewhere than the topic its DLQ is named after", t);
  if (auto origin = r.header("kastor-dlq-origin");
      !origin.empty() && origin.compare(0, t.size() + 1, t + "/") != 0)
    broken("its origin is in another topic", origin);
  if (t.empty() || t.size() > 249 || t.rfind("__", 0) == 0 || t == "kastor.dlq-replays"
      || (t.size() >= 4 && t.compare(t.size() - 4, 4, ".dlq") == 0))
    broken("it goes back to a topic no record may go to", t);
  for (char c : t)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      broken("its topic is not a legal name", t);
  if (plan.log_key.empty())
    broken("no replay log key", r.id());
  size_t attempts = 0, marks = 0, i = 0;
  for (const auto& h : plan.headers) {
    if (h.name.rfind("kastor-dlq-", 0) == 0)
      broken("a dead-letter header is kept", h.name);
    if (h.name == "kastor-attempt") {
      ++attempts;
      int64_t n = 0;
      auto [end, ec] = std::from_chars(h.value.data(), h.value.data() + h.value.size(), n);
      if (ec != std::errc{} || end != h.value.data() + h.value.size() || n < 2)
        broken("kastor-attempt is not a count above 1", h.value);
    } else if (h.name == "kastor-replay-of") {
      ++marks;
      if (h.value != r.id())
        broken("kastor-replay-of names another record", h.value);
    } else {
      while (i < r.headers.size() && !kept(r.headers[i]))
        ++i;
      if (i == r.headers.size() || !(r.headers[i] == h))
        broken("a header is not the original's, in order", h.name);
      ++i;
    }
  }
  while (i < r.headers.size() && !kept(r.headers[i]))
    ++i;
  if (i != r.headers.size())
    broken("an original header is lost", r.headers[i].name);
  if (attempts != 1 || marks != 1)
    broken("not one kastor-attempt and one kastor-replay-of", r.id());
  return 0;
}
