#include "kastor/actors/ledger.hpp"

#include <cerrno>
#include <filesystem>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_text.hpp"

namespace kastor::actors {

namespace {

// A running ledger's error names the file, not its absolute path: it travels
// to supervision's exit reasons (/api/supervision) and dead-letter headers.
std::runtime_error io_error(const std::string& what, const std::string& path,
                            const std::string& why) {
  return std::runtime_error("jsonl_ledger: " + what + " '"
                            + std::filesystem::path{path}.filename().string() + "': " + why);
}

std::runtime_error io_error(const std::string& what, const std::string& path) {
  return io_error(what, path, std::strerror(errno));
}

// Holds flock(op) on `fd` for its lifetime.
class flock_guard {
public:
  flock_guard(int fd, int op, const std::string& path) : fd_(fd) {
    while (::flock(fd_, op) != 0) {
      if (errno != EINTR)
        throw io_error("cannot lock", path);
    }
  }
  ~flock_guard() { ::flock(fd_, LOCK_UN); }
  flock_guard(const flock_guard&) = delete;
  flock_guard& operator=(const flock_guard&) = delete;

private:
  int fd_;
};

}  // namespace

jsonl_ledger::jsonl_ledger(std::string path, std::string key_field)
    : path_(std::move(path)), key_field_(std::move(key_field)) {
  if (path_.empty())
    return;
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    // At start-up, to the operator who named it: the whole path.
    throw std::runtime_error("jsonl_ledger: cannot open '" + path_ + "': " + std::strerror(errno));
  try {
    flock_guard lock(fd_, LOCK_SH, path_);
    catch_up();
  } catch (...) {
    ::close(fd_);  // the destructor does not run for a throwing constructor
    throw;
  }
}

jsonl_ledger::~jsonl_ledger() {
  if (fd_ >= 0)
    ::close(fd_);
}

template <class F>
auto jsonl_ledger::locked(int op, F&& f) {
  std::lock_guard<std::mutex> guard(mu_);
  if (fd_ < 0)
    return f();
  flock_guard lock(fd_, op, path_);
  catch_up();
  return f();
}

void jsonl_ledger::catch_up() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0)
    throw io_error("cannot stat", path_);
  if (st.st_size <= read_pos_)
    return;
  // Read everything new first, index afterwards: a read error must leave the
  // index and read_pos_ as they were.
  std::string data(static_cast<size_t>(st.st_size - read_pos_), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd_, data.data() + got, data.size() - got,
                        static_cast<off_t>(read_pos_ + static_cast<int64_t>(got)));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      throw io_error("cannot read", path_);
    if (n == 0)
      break;  // truncated under us: index what we have
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  if (data.empty())
    return;
  // Writers hold LOCK_EX and we hold a lock, so nobody is mid-write: a last
  // line without '\n' was torn by a crash and is final as it stands. It is
  // indexed like any line (skipped when invalid) and the next append starts
  // with '\n' so its own line is not glued to it.
  std::string_view rest(data);
  int64_t at = read_pos_;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    auto line = rest.substr(0, nl);
    index_line(line, at);
    at += static_cast<int64_t>(line.size()) + 1;
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }
  ends_torn_ = data.back() != '\n';
  read_pos_ += static_cast<int64_t>(data.size());
}

bool jsonl_ledger::index_line(std::string_view line, int64_t offset) {
  if (line.empty())
    return false;  // blank, or the '\n' that terminated a torn line
  auto obj = detail::parse_object(line);
  if (!obj) {
    ++skipped_;
    return false;
  }
  auto* k = obj->if_contains(key_field_);
  if (k == nullptr || !k->is_string()) {
    ++skipped_;
    return false;
  }
  std::string key(k->as_string());
  auto [it, fresh] = index_.try_emplace(key);
  if (fresh) {
    if (offset >= 0) {
      it->second.offset = offset;
      it->second.length = static_cast<uint32_t>(line.size());
    } else {
      it->second.line = std::string(line);
    }
    order_.push_back(key);
  }
  ++it->second.count;
  return true;
}

std::optional<std::string> jsonl_ledger::find(const std::string& key) {
  return locked(LOCK_SH, [&]() -> std::optional<std::string> {
    auto it = index_.find(key);
    if (it == index_.end())
      return std::nullopt;
    if (it->second.offset < 0)
      return it->second.line;
    std::string line(it->second.length, '\0');
    size_t got = 0;
    while (got < line.size()) {
      ssize_t n = ::pread(fd_, line.data() + got, line.size() - got,
                          static_cast<off_t>(it->second.offset + static_cast<int64_t>(got)));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        throw io_error("cannot read back a line of", path_);
      if (n == 0)  // not an errno: the file ends before the indexed line does
        throw io_error("cannot read back a line of", path_,
                       "the file ends before it (was it truncated?)");
      got += static_cast<size_t>(n);
    }
    return line;
  });
}

bool jsonl_ledger::append_if_absent(const std::string& key, const std::string& json_line) {
  // Validate before touching anything: the index must agree with the file.
  if (json_line.find('\n') != std::string::npos)
    throw std::invalid_argument("jsonl_ledger: line for key '" + key +
                                "' contains a newline");
  auto obj = detail::parse_object(json_line);
  if (!obj)
    throw std::invalid_argument("jsonl_ledger: line for key '" + key +
                                "' is not a JSON object");
  auto* k = obj->if_contains(key_field_);
  if (k == nullptr || !k->is_string() || k->as_string() != key)
    throw std::invalid_argument("jsonl_ledger: line for key '" + key + "' does not carry " +
                                key_field_ + " = that key");
  return locked(LOCK_EX, [&]() -> bool {
    if (index_.count(key) != 0)
      return false;
    if (fd_ >= 0) {
      std::string buf;
      buf.reserve(json_line.size() + 2);
      if (ends_torn_)
        buf += '\n';
      buf += json_line;
      buf += '\n';
      // One write on an O_APPEND descriptor: the line lands whole at the end.
      ssize_t n;
      do {
        n = ::write(fd_, buf.data(), buf.size());
      } while (n < 0 && errno == EINTR);
      if (n != static_cast<ssize_t>(buf.size())) {
        // A short write left a torn line; the next catch_up reads and skips it.
        if (n >= 0)
          errno = EIO;
        throw io_error("cannot append to", path_);
      }
      // Under the lock, after catch_up, the file ended at read_pos_.
      index_line(json_line, read_pos_ + (ends_torn_ ? 1 : 0));
      read_pos_ += n;  // after indexing: if that threw, catch_up re-reads the line
      ends_torn_ = false;
      return true;
    }
    index_line(json_line, -1);
    return true;
  });
}

size_t jsonl_ledger::count(const std::string& key) {
  return locked(LOCK_SH, [&]() -> size_t {
    auto it = index_.find(key);
    return it == index_.end() ? 0 : it->second.count;
  });
}

std::vector<std::string> jsonl_ledger::keys() {
  return locked(LOCK_SH, [&] { return order_; });
}

size_t jsonl_ledger::skipped_lines() {
  return locked(LOCK_SH, [&] { return skipped_; });
}

}  // namespace kastor::actors
