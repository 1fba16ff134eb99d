// `kastor demo` as a user runs it, with the fault injection of the
// supervision issue: every order terminal, one charge and one email each, and
// a summary of the restarts it survived.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "kastor/apps/process.hpp"
#include "support/wait.hpp"

using namespace std::chrono_literals;

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in{p};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Demo, FiveThousandOrdersSurviveCrashesBeforeAndAfterTheirSideEffects) {
  auto dir = std::filesystem::temp_directory_path() / ("kastor-demo-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto out = dir / "demo.out";
  kastor::apps::child_process demo{
    {KASTOR_BIN, "demo", "--orders", "5000", "--chaos",
     "payment.crash=0.05,payment.crash-after-charge=0.02,email.crash=0.05", "--http",
     "127.0.0.1:0", "--data-dir", (dir / "data").string(), "--log-level", "error"},
    out.string()};
  ASSERT_TRUE(kastor::test::eventually([&] { return demo.exited().has_value(); }, 400s))
    << read_file(out);
  auto text = read_file(out);
  EXPECT_EQ(*demo.exited(), 0) << text;
  EXPECT_NE(text.find("result: OK"), std::string::npos) << text;
  EXPECT_NE(text.find("terminal           5000"), std::string::npos) << text;
  EXPECT_NE(text.find("charge anomalies   0 "), std::string::npos) << text;
  EXPECT_NE(text.find("email anomalies    0 "), std::string::npos) << text;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex{"restarts survived  ([0-9]+)"})) << text;
  EXPECT_GT(std::stoi(m[1]), 100);  // about 7% of payment turns and 5% of email turns crash
  EXPECT_NE(text.find("root/payment/worker"), std::string::npos) << text;
  EXPECT_NE(text.find("payment.crash-after"), std::string::npos) << text;
  if (!HasFailure())
    std::filesystem::remove_all(dir);
}

}  // namespace
