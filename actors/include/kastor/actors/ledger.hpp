// jsonl_ledger: an append-only JSON-lines file used as an idempotency record.
//
// Each line is one JSON object; its key is the string value of `key_field` in
// it. The payment role records charges in one ("orderId"), the email role its
// outbox ("emailKey"). Several processes on one machine may share one file
// (two kastor nodes, or two ledger objects in one test): every read and write
// holds flock() on the file, and append_if_absent() re-reads whatever others
// appended before it decides, so "absent" is decided across processes.
//
// Durability: a line is written with one write(2) on an O_APPEND descriptor;
// it is not fsync'ed (a machine crash may lose the last lines, a process crash
// does not). A torn last line (a writer crashed mid-write) and any line that is
// not a JSON object with a string key are skipped, never fatal; the next append
// first terminates a torn line so its own line stays intact.
//
// Thread-safety: every member may be called from any thread (one mutex).
// Exceptions: the constructor throws std::runtime_error naming the path when
// the file cannot be opened or read (start-up only). Later I/O errors throw
// std::runtime_error too and change nothing in the index, so the caller may
// retry. append_if_absent() throws std::invalid_argument for a line that is
// not a one-line JSON object whose key field equals `key` (a programming error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace kastor::actors {

class jsonl_ledger {
public:
  // `path` "" keeps the ledger in memory only (nothing shared, nothing kept).
  // An existing file is loaded; a missing one is created (its directory must exist).
  explicit jsonl_ledger(std::string path, std::string key_field);
  ~jsonl_ledger();

  jsonl_ledger(const jsonl_ledger&) = delete;
  jsonl_ledger& operator=(const jsonl_ledger&) = delete;

  // The first line stored under `key` (after catching up with other writers).
  std::optional<std::string> find(const std::string& key);

  // Appends `json_line` (without newline) unless `key` is already recorded,
  // here or by another process. True when this call appended it.
  bool append_if_absent(const std::string& key, const std::string& json_line);

  // How many valid lines in the file carry `key` (1 when "exactly once" held).
  size_t count(const std::string& key);

  // Every recorded key, in the order of first appearance.
  std::vector<std::string> keys();

  // Lines that were skipped because they were not valid (torn or foreign).
  size_t skipped_lines();

  const std::string& path() const { return path_; }
  const std::string& key_field() const { return key_field_; }

private:
  // Where the first line with a key is: in the file (offset and length, read
  // back on find(), so memory does not grow with line sizes), or, for an
  // in-memory ledger, the line itself.
  struct entry {
    int64_t offset = -1;
    uint32_t length = 0;
    std::string line;  // in-memory ledgers only
    size_t count = 0;  // how many lines carry this key
  };

  // Reads lines others appended since read_pos_. Caller holds mu_ and a flock.
  void catch_up();
  // Indexes one complete line found at `offset` of the file (-1: in memory);
  // false when it is skipped.
  bool index_line(std::string_view line, int64_t offset);
  // Runs `f` holding flock(op) when there is a file.
  template <class F>
  auto locked(int op, F&& f);

  const std::string path_;
  const std::string key_field_;
  int fd_ = -1;
  int64_t read_pos_ = 0;   // bytes of the file already indexed
  bool ends_torn_ = false; // the indexed bytes end without '\n'
  size_t skipped_ = 0;
  std::unordered_map<std::string, entry> index_;
  std::vector<std::string> order_;
  std::mutex mu_;
};

}  // namespace kastor::actors
