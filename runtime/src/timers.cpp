#include "kastor/runtime/timers.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "kastor/runtime/logging.hpp"
#include "stored_message.hpp"

namespace kastor::runtime {

namespace {

// Where a timer sits in the due index: its due time, or once fired the time
// it fires again.
int64_t slot(const timer_book::timer& t, int64_t refire_after_ms) {
  return t.fired_at_ms > 0 ? t.fired_at_ms + refire_after_ms : t.due_ms;
}

// A whole number >= 0 (a JSON integer); nullopt for anything else.
std::optional<int64_t> whole(const boost::json::value* v) {
  if (v == nullptr)
    return std::nullopt;
  if (v->is_int64() && v->get_int64() >= 0)
    return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(v->get_uint64());
  return std::nullopt;
}

std::string tag_of(uint64_t seq, const std::string& name) {
  return std::to_string(seq) + ":" + name;
}

}  // namespace

const message_type& timer_command::internal_type() {
  static const message_type t = [] {
    message_type x;
    x.name = "kastor.timer";
    x.type = typeid(timer_command);
    x.key = [](const void* v) { return static_cast<const timer_command*>(v)->name; };
    x.encode = [](const void*, header_list&) -> std::string {
      throw std::logic_error("kastor: a timer is not a record (only an entity's handler returns "
                             "one)");
    };
    x.decode = [](std::string_view, const header_list&) -> caf::expected<message> {
      return detail::json_error(bridge_errc::unknown_type, "a timer is not a record");
    };
    // What a role that is no entity makes of one: it cannot be published.
    x.validate = [](const void*) -> std::optional<std::string> {
      return "timers are for entities (runtime::entity<E>): this role keeps no state per key";
    };
    return x;
  }();
  return t;
}

message timer_at(std::string name, int64_t due_ms, message msg) {
  return message{timer_command{false, std::move(name), due_ms, -1, std::move(msg)}};
}

message timer_after(std::string name, std::chrono::milliseconds delay, message msg) {
  return message{timer_command{false, std::move(name), -1, std::max<int64_t>(0, delay.count()),
                               std::move(msg)}};
}

message cancel_timer(std::string name) {
  return message{timer_command{true, std::move(name), -1, -1, {}}};
}

std::string timer_book::encode(const std::string& key) const {
  auto it = keys_.find(key);
  if (it == keys_.end() || it->second.timers.empty())
    return {};
  boost::json::array timers;
  for (const auto& [name, t] : it->second.timers) {
    auto stored = detail::store_message(t.msg);
    stored["name"] = name;
    stored["due"] = t.due_ms;
    stored["seq"] = t.seq;
    timers.push_back(std::move(stored));
  }
  return boost::json::serialize(
    boost::json::object{{"next_seq", it->second.next_seq}, {"timers", std::move(timers)}});
}

std::optional<std::string> timer_book::restore(const std::string& key, int32_t partition,
                                               std::string_view text) {
  unindex(key);
  keys_.erase(key);
  if (text.empty())
    return std::nullopt;
  auto why = read(key, partition, text);
  if (why)
    logger("kastor.timers")->error("key={} partition={} event=timers_unreadable error={}: the key "
                                   "keeps no timers", key, partition, *why);
  return why;
}

std::optional<std::string> timer_book::read(const std::string& key, int32_t partition,
                                            std::string_view text) {
  boost::system::error_code ec;
  auto jv = boost::json::parse(boost::json::string_view{text.data(), text.size()}, ec);
  const auto* o = ec ? nullptr : jv.if_object();
  const auto* list = o ? o->if_contains("timers") : nullptr;
  const auto next = whole(o ? o->if_contains("next_seq") : nullptr);
  if (list == nullptr || !list->is_array() || !next)
    return "the " + std::string{timers_header} + " header of key '" + key
           + "' is not a timer table";
  key_timers kt;
  kt.partition = partition;
  kt.next_seq = static_cast<uint64_t>(*next);
  for (const auto& e : list->get_array()) {
    const auto* t = e.if_object();
    const auto* name = t ? t->if_contains("name") : nullptr;
    const auto due = whole(t ? t->if_contains("due") : nullptr);
    const auto seq = whole(t ? t->if_contains("seq") : nullptr);
    if (!name || !name->is_string() || !due || !seq)
      return "a timer of key '" + key + "' lacks its name, due time or seq";
    auto msg = detail::load_message(e);
    if (!msg)
      return "a timer of key '" + key + "': " + describe(msg.error());
    kt.timers[std::string{name->get_string()}] = {*due, static_cast<uint64_t>(*seq),
                                                  std::move(*msg), 0};
  }
  keys_[key] = std::move(kt);
  index(key);
  return std::nullopt;
}

std::optional<std::string> timer_book::apply(const std::string& key, int32_t partition,
                                             const timer_command& c, int64_t now_ms) {
  if (c.name.empty())
    return "a timer needs a name";
  if (c.cancel) {
    auto it = keys_.find(key);
    if (it == keys_.end())
      return std::nullopt;
    unindex(key);
    it->second.timers.erase(c.name);
    index(key);
    forget_if_empty(it);
    return std::nullopt;
  }
  if (!c.msg)
    return "timer '" + c.name + "' has no message";
  if (c.msg.type()->topic.empty())
    return "timer '" + c.name + "': its message (" + c.msg.type()->name + ") is no declared type";
  if (c.msg.key() != key)
    return "timer '" + c.name + "': its message is addressed to key '" + c.msg.key()
           + "', not to the entity's own key '" + key + "'";
  auto& kt = keys_[key];
  unindex(key);
  kt.partition = partition;
  // A key without timers keeps no sequence: one taken from the clock is
  // above any its earlier timers had (a stale copy of one never matches).
  kt.next_seq = std::max<uint64_t>(kt.next_seq, static_cast<uint64_t>(std::max<int64_t>(now_ms, 0)) * 1000);
  const int64_t due = c.due_ms >= 0 ? c.due_ms : now_ms + c.after_ms;
  kt.timers[c.name] = {due, kt.next_seq++, c.msg, 0};
  index(key);
  return std::nullopt;
}

bool timer_book::take(const std::string& key, int32_t partition, const std::string& tag,
                      const std::string& where) {
  if (auto it = keys_.find(key); it != keys_.end())
    for (auto t = it->second.timers.begin(); t != it->second.timers.end(); ++t)
      if (tag_of(t->second.seq, t->first) == tag) {
        index_.erase({slot(t->second, refire_after_ms_), key, t->first});
        it->second.timers.erase(t);
        auto& h = handled_[key];
        h.partition = partition;
        h.records.emplace_back(tag, where);
        if (h.records.size() > handled_per_key)
          h.records.erase(h.records.begin());
        forget_if_empty(it);
        return true;
      }
  // Not scheduled: the same record again (its turn failed, or its outputs
  // did) is handled again; any other copy is not.
  if (auto h = handled_.find(key); h != handled_.end())
    for (const auto& r : h->second.records)
      if (r.first == tag && r.second == where)
        return true;
  return false;
}

std::vector<message> timer_book::due(int64_t now_ms, size_t max) {
  std::vector<message> out;
  while (!index_.empty() && out.size() < max) {
    auto first = index_.begin();
    auto [at, key, name] = *first;
    if (at > now_ms)
      break;
    index_.erase(first);
    auto& t = keys_.at(key).timers.at(name);
    t.fired_at_ms = now_ms;
    index_.insert({slot(t, refire_after_ms_), key, name});
    out.push_back(t.msg.with_note(std::string{timer_tag_header}, tag_of(t.seq, name)));
  }
  return out;
}

std::optional<timer_book::key_timers> timer_book::save(const std::string& key) const {
  auto it = keys_.find(key);
  if (it == keys_.end())
    return std::nullopt;
  return it->second;
}

void timer_book::put_back(const std::string& key, std::optional<key_timers> saved) {
  unindex(key);
  keys_.erase(key);
  if (saved) {
    keys_[key] = std::move(*saved);
    index(key);
  }
}

void timer_book::release(const std::vector<int32_t>& partitions) {
  auto gone = [&](int32_t p) {
    return std::find(partitions.begin(), partitions.end(), p) != partitions.end();
  };
  std::erase_if(handled_, [&](const auto& kv) { return gone(kv.second.partition); });
  for (auto it = keys_.begin(); it != keys_.end();) {
    if (!gone(it->second.partition)) {
      ++it;
      continue;
    }
    unindex(it->first);
    it = keys_.erase(it);
  }
}

bool timer_book::has(const std::string& key, const std::string& name) const {
  auto it = keys_.find(key);
  return it != keys_.end() && it->second.timers.count(name) > 0;
}

std::optional<int64_t> timer_book::next_due() const {
  if (index_.empty())
    return std::nullopt;
  return std::get<0>(*index_.begin());
}

void timer_book::forget_if_empty(std::unordered_map<std::string, key_timers>::iterator it) {
  if (it->second.timers.empty())
    keys_.erase(it);
}

void timer_book::unindex(const std::string& key) {
  auto it = keys_.find(key);
  if (it == keys_.end())
    return;
  for (const auto& [name, t] : it->second.timers)
    index_.erase({slot(t, refire_after_ms_), key, name});
}

void timer_book::index(const std::string& key) {
  auto it = keys_.find(key);
  if (it == keys_.end())
    return;
  for (const auto& [name, t] : it->second.timers)
    index_.insert({slot(t, refire_after_ms_), key, name});
}

}  // namespace kastor::runtime
