// jsonl_ledger: the idempotency record shared by processes on one machine.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <latch>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/temp_dir.hpp"
#include "kastor/actors/ledger.hpp"

namespace fs = std::filesystem;
using kastor::actors::jsonl_ledger;

namespace {

// A fresh directory under the system temp dir, removed with everything in it.
using kastor::test::temp_dir;

std::string line_for(const std::string& key, const std::string& extra = "x") {
  return R"({"orderId":")" + key + R"(","note":")" + extra + R"("})";
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_all(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

size_t lines_in(const std::string& text) {
  size_t n = 0;
  for (char c : text)
    n += c == '\n' ? 1 : 0;
  return n;
}

}  // namespace

TEST(JsonlLedger, InMemoryLedgerRecordsEachKeyOnce) {
  // Given an in-memory ledger
  jsonl_ledger ledger("", "orderId");
  // When the same key is appended twice with different lines
  bool first = ledger.append_if_absent("o-1", line_for("o-1", "first"));
  bool second = ledger.append_if_absent("o-1", line_for("o-1", "second"));
  // Then only the first append is recorded
  EXPECT_TRUE(first);
  EXPECT_FALSE(second);
  EXPECT_EQ(ledger.find("o-1"), line_for("o-1", "first"));
  EXPECT_EQ(ledger.count("o-1"), 1u);
  EXPECT_EQ(ledger.keys(), std::vector<std::string>{"o-1"});
  EXPECT_EQ(ledger.find("o-2"), std::nullopt);
  EXPECT_EQ(ledger.count("o-2"), 0u);
}

TEST(JsonlLedger, ReopeningTheFileLoadsEveryLineInOrder) {
  temp_dir dir;
  auto path = dir.file("charges.jsonl");
  // Given a ledger that recorded three keys
  {
    jsonl_ledger ledger(path, "orderId");
    for (auto k : {"o-3", "o-1", "o-2"})
      ASSERT_TRUE(ledger.append_if_absent(k, line_for(k)));
  }
  // When the file is opened again
  jsonl_ledger reopened(path, "orderId");
  // Then every key is known, in the order of first appearance, once each
  EXPECT_EQ(reopened.keys(), (std::vector<std::string>{"o-3", "o-1", "o-2"}));
  EXPECT_EQ(reopened.find("o-1"), line_for("o-1"));
  EXPECT_EQ(reopened.count("o-2"), 1u);
  EXPECT_FALSE(reopened.append_if_absent("o-2", line_for("o-2", "again")));
  EXPECT_EQ(lines_in(read_all(path)), 3u);
}

TEST(JsonlLedger, TwoLedgersOnOneFileSeeEachOthersAppends) {
  temp_dir dir;
  auto path = dir.file("shared.jsonl");
  // Given two ledger objects ("two processes") on the same file
  jsonl_ledger a(path, "orderId");
  jsonl_ledger b(path, "orderId");
  // When a records o-1 after b was opened
  ASSERT_TRUE(a.append_if_absent("o-1", line_for("o-1", "from-a")));
  // Then b sees it and refuses to record o-1 again
  EXPECT_EQ(b.find("o-1"), line_for("o-1", "from-a"));
  EXPECT_FALSE(b.append_if_absent("o-1", line_for("o-1", "from-b")));
  // And what b records, a sees
  ASSERT_TRUE(b.append_if_absent("o-2", line_for("o-2", "from-b")));
  EXPECT_EQ(a.find("o-2"), line_for("o-2", "from-b"));
  EXPECT_EQ(a.count("o-1"), 1u);
  EXPECT_EQ(a.keys(), (std::vector<std::string>{"o-1", "o-2"}));
  EXPECT_EQ(lines_in(read_all(path)), 2u);
}

TEST(JsonlLedger, RacingAppendsFromTwoLedgersRecordEachKeyExactlyOnce) {
  temp_dir dir;
  auto path = dir.file("race.jsonl");
  constexpr int keys = 1000;
  // Given two ledger objects on one file, each driven by its own thread
  jsonl_ledger a(path, "orderId");
  jsonl_ledger b(path, "orderId");
  std::atomic<int> won_a{0}, won_b{0};
  std::latch start(2);
  // When both try to record the same 1000 keys at the same time
  auto run = [&](jsonl_ledger& l, std::atomic<int>& won, const char* who) {
    start.arrive_and_wait();
    for (int i = 0; i < keys; ++i) {
      auto k = "o-" + std::to_string(i);
      if (l.append_if_absent(k, line_for(k, who)))
        ++won;
    }
  };
  std::thread ta(run, std::ref(a), std::ref(won_a), "a");
  std::thread tb(run, std::ref(b), std::ref(won_b), "b");
  ta.join();
  tb.join();
  // Then every key was won exactly once, and the file holds one line per key
  EXPECT_EQ(won_a + won_b, keys);
  jsonl_ledger check(path, "orderId");
  EXPECT_EQ(check.keys().size(), static_cast<size_t>(keys));
  EXPECT_EQ(check.skipped_lines(), 0u);
  for (int i = 0; i < keys; ++i)
    ASSERT_EQ(check.count("o-" + std::to_string(i)), 1u) << "key o-" << i;
  EXPECT_EQ(lines_in(read_all(path)), static_cast<size_t>(keys));
}

TEST(JsonlLedger, RacingAppendsFromTwoProcessesRecordEachKeyExactlyOnce) {
  temp_dir dir;
  auto path = dir.file("fork-race.jsonl");
  constexpr int keys = 500;
  auto run = [&](const char* who) {
    jsonl_ledger l(path, "orderId");
    int won = 0;
    for (int i = 0; i < keys; ++i) {
      auto k = "o-" + std::to_string(i);
      won += l.append_if_absent(k, line_for(k, who)) ? 1 : 0;
    }
    return won;
  };
  // Given a child process and this one appending the same keys to one file
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int won = 0;
    try {
      won = run("child");
    } catch (...) {
      ::_exit(255);
    }
    ::_exit(won > 250 ? 250 : won);  // exit codes stop at 255; the file is the proof
  }
  run("parent");
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_NE(WEXITSTATUS(status), 255) << "the child failed";
  // Then each key is in the file exactly once
  jsonl_ledger check(path, "orderId");
  EXPECT_EQ(check.keys().size(), static_cast<size_t>(keys));
  for (int i = 0; i < keys; ++i)
    ASSERT_EQ(check.count("o-" + std::to_string(i)), 1u) << "key o-" << i;
  EXPECT_EQ(lines_in(read_all(path)), static_cast<size_t>(keys));
}

TEST(JsonlLedger, TornLastLineIsIgnoredAndDoesNotSwallowTheNextAppend) {
  temp_dir dir;
  auto path = dir.file("torn.jsonl");
  // Given a file whose writer crashed in the middle of the third line
  write_all(path, line_for("o-1") + "\n" + line_for("o-2") + "\n" + R"({"orderId":"o-3","no)");
  // When it is opened
  jsonl_ledger ledger(path, "orderId");
  // Then the complete lines are loaded and the torn one is skipped
  EXPECT_EQ(ledger.keys(), (std::vector<std::string>{"o-1", "o-2"}));
  EXPECT_EQ(ledger.count("o-3"), 0u);
  EXPECT_EQ(ledger.skipped_lines(), 1u);
  // And o-3 can be recorded; its line is intact, not glued to the torn bytes
  ASSERT_TRUE(ledger.append_if_absent("o-3", line_for("o-3", "retry")));
  EXPECT_EQ(ledger.find("o-3"), line_for("o-3", "retry"));  // read back from the file
  EXPECT_EQ(ledger.find("o-2"), line_for("o-2"));
  jsonl_ledger reopened(path, "orderId");
  EXPECT_EQ(reopened.find("o-3"), line_for("o-3", "retry"));
  EXPECT_EQ(reopened.count("o-3"), 1u);
  EXPECT_EQ(reopened.keys().size(), 3u);
  EXPECT_EQ(reopened.skipped_lines(), 1u);
}

TEST(JsonlLedger, TornLineTerminatedByAnotherLedgerIsReadConsistently) {
  temp_dir dir;
  auto path = dir.file("torn-shared.jsonl");
  // Given two ledgers that both loaded a file ending in a torn line
  write_all(path, line_for("o-1") + "\n" + R"({"orderId":"o-2")");
  jsonl_ledger a(path, "orderId");
  jsonl_ledger b(path, "orderId");
  // When a appends (terminating the torn line first)
  ASSERT_TRUE(a.append_if_absent("o-2", line_for("o-2", "a")));
  EXPECT_EQ(a.find("o-2"), line_for("o-2", "a"));
  // Then b reads a's line as it was written, and the torn line stays skipped
  EXPECT_EQ(b.find("o-2"), line_for("o-2", "a"));
  EXPECT_EQ(b.count("o-2"), 1u);
  ASSERT_TRUE(b.append_if_absent("o-3", line_for("o-3", "b")));
  EXPECT_EQ(a.find("o-3"), line_for("o-3", "b"));
  EXPECT_EQ(a.skipped_lines(), 1u);
  EXPECT_EQ(b.skipped_lines(), 1u);
}

TEST(JsonlLedger, LinesThatAreNotKeyedObjectsAreSkipped) {
  temp_dir dir;
  auto path = dir.file("mixed.jsonl");
  // Given garbage, a line without the key, a non-string key and a blank line
  write_all(path, line_for("o-1") + "\nnot json\n" + R"({"other":"x"})" + "\n" +
                      R"({"orderId":42})" + "\n\n[1,2]\n" + line_for("o-2") + "\n");
  // When the file is loaded
  jsonl_ledger ledger(path, "orderId");
  // Then only the keyed objects are indexed; each other non-blank line is skipped
  EXPECT_EQ(ledger.keys(), (std::vector<std::string>{"o-1", "o-2"}));
  EXPECT_EQ(ledger.skipped_lines(), 4u);
}

TEST(JsonlLedger, CountReportsDuplicateLinesAlreadyInTheFile) {
  temp_dir dir;
  auto path = dir.file("dup.jsonl");
  // Given a file where some older writer recorded o-1 twice
  write_all(path, line_for("o-1", "first") + "\n" + line_for("o-1", "second") + "\n");
  jsonl_ledger ledger(path, "orderId");
  // Then count tells the truth and find returns the first record
  EXPECT_EQ(ledger.count("o-1"), 2u);
  EXPECT_EQ(ledger.find("o-1"), line_for("o-1", "first"));
  EXPECT_FALSE(ledger.append_if_absent("o-1", line_for("o-1", "third")));
}

TEST(JsonlLedger, RejectsALineThatDoesNotCarryItsKeyAndWritesNothing) {
  temp_dir dir;
  auto path = dir.file("reject.jsonl");
  jsonl_ledger ledger(path, "orderId");
  // When the line's key differs, the line is not JSON, or it spans two lines
  EXPECT_THROW(ledger.append_if_absent("o-1", line_for("o-2")), std::invalid_argument);
  EXPECT_THROW(ledger.append_if_absent("o-1", "{oops"), std::invalid_argument);
  EXPECT_THROW(ledger.append_if_absent("o-1", "{\"orderId\":\n\"o-1\"}"),
               std::invalid_argument);
  // Then nothing was recorded and o-1 can still be appended
  EXPECT_EQ(read_all(path), "");
  EXPECT_TRUE(ledger.append_if_absent("o-1", line_for("o-1")));
}

TEST(JsonlLedger, OpeningInAMissingDirectoryThrowsNamingThePath) {
  temp_dir dir;
  auto path = dir.file("no-such-dir/charges.jsonl");
  try {
    jsonl_ledger ledger(path, "orderId");
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(JsonlLedger, EveryLineIsValidJsonWithTheGivenKeyField) {
  temp_dir dir;
  auto path = dir.file("outbox.jsonl");
  // Given a ledger keyed by another field
  jsonl_ledger ledger(path, "emailKey");
  ASSERT_TRUE(ledger.append_if_absent("o-1/PAID", R"({"emailKey":"o-1/PAID","n":1})"));
  // Then the file holds exactly that line, newline-terminated
  EXPECT_EQ(read_all(path), "{\"emailKey\":\"o-1/PAID\",\"n\":1}\n");
  auto v = boost::json::parse(ledger.find("o-1/PAID").value());
  EXPECT_EQ(v.at("n").as_int64(), 1);
}

namespace {

// Issue 14, defect 7: a line that could not be read back was reported with
// the file's absolute path and errno's "Success" (its text reaches
// /api/supervision as an exit reason).
TEST(JsonlLedger, ALineThatCannotBeReadBackIsReportedByFileNameAndTrueCause) {
  temp_dir dir;
  auto path = dir.file("charges.jsonl");
  jsonl_ledger ledger(path, "orderId");
  ASSERT_TRUE(ledger.append_if_absent("o-1", line_for("o-1")));
  fs::resize_file(path, 0);  // truncated behind its back
  try {
    ledger.find("o-1");
    FAIL() << "read back a line that is gone";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'charges.jsonl'"), std::string::npos) << what;
    EXPECT_EQ(what.find(dir.file("")), std::string::npos) << what;
    EXPECT_EQ(what.find("Success"), std::string::npos) << what;
    EXPECT_NE(what.find("truncated"), std::string::npos) << what;
  }
}

}  // namespace
