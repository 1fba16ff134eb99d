#include "kastor/runtime/logging.hpp"

#include <unistd.h>

#include <array>
#include <charconv>
#include <chrono>
#include <ctime>
#include <mutex>
#include <optional>
#include <stdexcept>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "kastor/runtime/json_text.hpp"

namespace kastor::runtime {

namespace {

std::mutex mtx;
spdlog::level::level_enum current = spdlog::level::info;
bool json_format = isatty(STDERR_FILENO) == 0;  // log.format = auto
// The node's name, under a lock of its own: a line is formatted under its
// sink's lock, which set_log_format takes while holding mtx.
std::mutex node_mtx;
std::shared_ptr<const std::string> node_shared = std::make_shared<const std::string>();

thread_local const log_context* thread_context = nullptr;

size_t utf8_cut(std::string_view s, size_t max) {
  if (s.size() <= max)
    return s.size();
  size_t at = max;
  while (at > 0 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80)
    --at;  // not inside a code point
  return at;
}

std::shared_ptr<const std::string> node_of_lines() {
  std::lock_guard<std::mutex> guard{node_mtx};
  return node_shared;
}

// The value of `name=` in a key=value message (up to the next space), or "".
std::string_view field_of(std::string_view msg, std::string_view name) {
  for (size_t at = 0; (at = msg.find(name, at)) != std::string_view::npos; at += name.size()) {
    if (at > 0 && msg[at - 1] != ' ')
      continue;
    const size_t value = at + name.size();
    if (value >= msg.size() || msg[value] != '=')
      continue;
    const size_t end = msg.find(' ', value + 1);
    return msg.substr(value + 1, (end == std::string_view::npos ? msg.size() : end) - value - 1);
  }
  return {};
}

// `s` as a number when all of it is one that fits.
std::optional<int64_t> number_of(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty())
    return std::nullopt;
  return v;
}

class json_formatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string out;
    out.reserve(256 + msg.payload.size());
    const auto t = std::chrono::system_clock::to_time_t(msg.time);
    std::tm tm{};
    gmtime_r(&t, &tm);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      msg.time.time_since_epoch()).count() % 1000;
    std::array<char, 96> when{};
    std::snprintf(when.data(), when.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                  tm.tm_sec, static_cast<int>(ms));
    out += R"({"time":")";
    out += when.data();
    out += R"(","level":)";
    const auto level = spdlog::level::to_string_view(msg.level);
    append_json_string(out, std::string_view{level.data(), level.size()});
    out += R"(,"logger":)";
    append_json_string(out, bounded({msg.logger_name.data(), msg.logger_name.size()},
                                    max_log_field_bytes));
    const std::string_view text{msg.payload.data(), msg.payload.size()};
    out += R"(,"message":)";
    append_json_string(out, bounded(text, max_log_message_bytes));
    auto text_field = [&](const char* name, std::string_view value) {
      if (value.empty())
        return;
      out += ",\"";
      out += name;
      out += "\":";
      append_json_string(out, bounded(value, max_log_field_bytes));
    };
    auto number_field = [&](const char* name, int64_t value) {
      out += ",\"";
      out += name;
      out += "\":";
      out += std::to_string(value);
    };
    if (auto node = node_of_lines(); !node->empty())
      text_field("node", *node);
    const auto* ctx = thread_context;
    // The running turn's record first; else what the line itself names.
    const char* from_line[] = {"role", "key", "topic", "partition", "offset", "trace_id",
                               "span_id"};
    if (ctx != nullptr) {
      text_field("role", ctx->role);
      text_field("key", ctx->key);
      text_field("topic", ctx->topic);
      if (ctx->partition >= 0)
        number_field("partition", ctx->partition);
      if (ctx->offset >= 0)
        number_field("offset", ctx->offset);
      text_field("trace_id", ctx->trace_id);
      text_field("span_id", ctx->span_id);
    } else {
      for (const char* name : from_line) {
        auto v = field_of(text, name);
        const bool numeric = std::string_view{name} == "partition" || std::string_view{name} == "offset";
        if (auto n = numeric ? number_of(v) : std::nullopt)
          number_field(name, *n);
        else
          text_field(name, v);
      }
    }
    for (const char* name : {"event", "group", "path"})
      text_field(name, field_of(text, name));
    out += "}\n";
    dest.append(out.data(), out.data() + out.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }
};

// The text format, its message bounded as the JSON one's is.
class text_formatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto* ctx = thread_context;
    if (msg.payload.size() <= max_log_message_bytes && ctx == nullptr)
      return pattern_.format(msg, dest);
    auto text = bounded({msg.payload.data(), msg.payload.size()}, max_log_message_bytes);
    if (ctx != nullptr) {  // the running turn's record, as the JSON lines name it
      auto add = [&](const char* name, std::string_view v) {
        if (!v.empty())
          text += std::string{" "} + name + "=" + bounded(v, max_log_field_bytes);
      };
      add("role", ctx->role);
      add("topic", ctx->topic);
      add("partition", ctx->partition >= 0 ? std::to_string(ctx->partition) : "");
      add("offset", ctx->offset >= 0 ? std::to_string(ctx->offset) : "");
      add("key", ctx->key);
      add("trace_id", ctx->trace_id);
      add("span_id", ctx->span_id);
    }
    auto copy = msg;
    copy.payload = spdlog::string_view_t{text.data(), text.size()};
    pattern_.format(copy, dest);
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<text_formatter>();
  }

private:
  spdlog::pattern_formatter pattern_{"%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n %v"};
};

std::unique_ptr<spdlog::formatter> make_formatter() {
  if (json_format)
    return std::make_unique<json_formatter>();
  return std::make_unique<text_formatter>();
}

}  // namespace

std::string bounded(std::string_view text, size_t max) {
  if (text.size() <= max)
    return std::string{text};
  const auto keep = utf8_cut(text, max);
  std::string out{text.substr(0, keep)};
  out += "\xE2\x80\xA6[" + std::to_string(text.size() - keep) + " bytes cut]";
  return out;
}

std::shared_ptr<spdlog::logger> logger(const std::string& component) {
  std::lock_guard<std::mutex> guard{mtx};
  if (auto existing = spdlog::get(component))
    return existing;
  static auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto log = std::make_shared<spdlog::logger>(component, sink);
  log->set_formatter(make_formatter());
  log->set_level(current);
  spdlog::register_logger(log);
  return log;
}

void set_log_level(const std::string& level) {
  std::lock_guard<std::mutex> guard{mtx};
  current = spdlog::level::from_str(level);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(current); });
}

void set_log_format(const std::string& format) {
  bool json = false;
  if (format == "json")
    json = true;
  else if (format == "auto")
    json = isatty(STDERR_FILENO) == 0;
  else if (format != "text")
    throw std::invalid_argument("log.format: expected json, text or auto, got '"
                                + bounded(format, 64) + "'");
  std::lock_guard<std::mutex> guard{mtx};
  json_format = json;
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) {
    l->set_formatter(make_formatter());
  });
}

void set_log_node(const std::string& node_id) {
  std::lock_guard<std::mutex> guard{node_mtx};
  node_shared = std::make_shared<const std::string>(node_id);
}

scoped_log_context::scoped_log_context(log_context ctx)
    : previous_(thread_context), ctx_(std::move(ctx)) {
  thread_context = &ctx_;
}

scoped_log_context::~scoped_log_context() { thread_context = previous_; }

const log_context* current_log_context() { return thread_context; }

}  // namespace kastor::runtime
