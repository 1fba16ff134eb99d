#include "kastor/runtime/recent.hpp"

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/logging.hpp"
#include "stored_message.hpp"

namespace kastor::runtime {

std::string derived_message_id(const std::string& input_id, size_t n) {
  return input_id + "/" + std::to_string(n);
}

const std::vector<message>* recent_turns::find(const std::string& key,
                                               const std::string& id) const {
  auto it = keys_.find(key);
  if (it == keys_.end() || id.empty())
    return nullptr;
  for (const auto& t : it->second.turns)
    if (t.input == id)
      return &t.outputs;
  return nullptr;
}

void recent_turns::remember(const std::string& key, int32_t partition, std::string id,
                            std::vector<message> outputs) {
  if (per_key_ == 0 || id.empty())
    return;
  auto& k = keys_[key];
  k.partition = partition;
  k.turns.push_back({std::move(id), std::move(outputs)});
  while (k.turns.size() > per_key_)
    k.turns.pop_front();
}

std::string recent_turns::encode(const std::string& key) const {
  auto it = keys_.find(key);
  if (it == keys_.end() || it->second.turns.empty())
    return {};
  boost::json::array turns;
  for (const auto& t : it->second.turns) {
    boost::json::array outputs;
    for (const auto& m : t.outputs) {
      auto stored = detail::store_message(m);
      if (const auto* id = find_header(m.notes(), message_id_note))
        stored["id"] = id->value;
      outputs.push_back(std::move(stored));
    }
    turns.push_back(boost::json::object{{"input", t.input}, {"outputs", std::move(outputs)}});
  }
  return boost::json::serialize(turns);
}

std::optional<std::string> recent_turns::restore(const std::string& key, int32_t partition,
                                                 std::string_view text) {
  keys_.erase(key);
  if (text.empty())
    return std::nullopt;
  auto fail = [&](const std::string& why) {
    keys_.erase(key);
    logger("kastor.recent")->error("key={} partition={} event=recent_unreadable error={}: the "
                                   "key remembers nothing", key, partition, why);
    return why;
  };
  boost::system::error_code ec;
  auto jv = boost::json::parse(boost::json::string_view{text.data(), text.size()}, ec);
  if (ec || !jv.is_array())
    return fail("the " + std::string{recent_header} + " header of key '" + key
                + "' is not a list of turns");
  key_turns k;
  k.partition = partition;
  for (const auto& e : jv.get_array()) {
    const auto* t = e.if_object();
    const auto* input = t ? t->if_contains("input") : nullptr;
    const auto* outputs = t ? t->if_contains("outputs") : nullptr;
    if (!input || !input->is_string() || !outputs || !outputs->is_array())
      return fail("a turn of key '" + key + "' lacks its input or its outputs");
    turn x{std::string{input->get_string()}, {}};
    for (const auto& o : outputs->get_array()) {
      auto m = detail::load_message(o);
      if (!m)
        return fail("an answer of key '" + key + "': " + describe(m.error()));
      if (const auto* id = o.as_object().if_contains("id"); id && id->is_string())
        *m = m->with_note(std::string{message_id_note}, std::string{id->get_string()});
      x.outputs.push_back(std::move(*m));
    }
    k.turns.push_back(std::move(x));
  }
  while (per_key_ > 0 && k.turns.size() > per_key_)
    k.turns.pop_front();
  if (!k.turns.empty())
    keys_[key] = std::move(k);
  return std::nullopt;
}

std::optional<recent_turns::key_turns> recent_turns::save(const std::string& key) const {
  auto it = keys_.find(key);
  if (it == keys_.end())
    return std::nullopt;
  return it->second;
}

void recent_turns::put_back(const std::string& key, std::optional<key_turns> saved) {
  if (saved)
    keys_[key] = std::move(*saved);
  else
    keys_.erase(key);
}

void recent_turns::release(const std::vector<int32_t>& partitions) {
  std::erase_if(keys_, [&](const auto& kv) {
    return std::find(partitions.begin(), partitions.end(), kv.second.partition)
           != partitions.end();
  });
}

}  // namespace kastor::runtime
