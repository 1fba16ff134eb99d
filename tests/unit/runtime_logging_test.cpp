// Issue 22: JSON logs — one object per line with the fields an operator
// searches by, every field bounded, and the record a turn is about on every
// line it logs.
#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "kastor/runtime/logging.hpp"

namespace kastor::runtime {
namespace {

std::vector<boost::json::object> json_lines(const std::string& text) {
  std::vector<boost::json::object> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    out.push_back(boost::json::parse(line).as_object());  // throws if a line is not JSON
  return out;
}

class Logging : public ::testing::Test {
protected:
  void SetUp() override {
    set_log_format("json");
    set_log_node("node-7");
  }
  void TearDown() override {
    set_log_format("text");
    set_log_node("");
  }
};

TEST_F(Logging, AJsonLineHasTheFieldsAnOperatorSearchesBy) {
  testing::internal::CaptureStderr();
  logger("kastor.test")->warn("mailbox group=kastor.pay event=dead_letter topic=payments "
                              "partition=2 offset=41 key=o-1 reason=\"quoted\" text");
  const auto lines = json_lines(testing::internal::GetCapturedStderr());
  ASSERT_EQ(lines.size(), 1u);
  const auto& l = lines[0];
  EXPECT_EQ(l.at("level").as_string(), "warning");
  EXPECT_EQ(l.at("logger").as_string(), "kastor.test");
  EXPECT_EQ(l.at("node").as_string(), "node-7");
  EXPECT_NE(std::string{l.at("message").as_string()}.find("reason=\"quoted\""), std::string::npos);
  EXPECT_EQ(l.at("event").as_string(), "dead_letter");
  EXPECT_EQ(l.at("group").as_string(), "kastor.pay");
  EXPECT_EQ(l.at("topic").as_string(), "payments");
  EXPECT_EQ(l.at("partition").as_int64(), 2);
  EXPECT_EQ(l.at("offset").as_int64(), 41);
  EXPECT_EQ(l.at("key").as_string(), "o-1");
  const std::string time{l.at("time").as_string()};
  EXPECT_EQ(time.size(), 24u) << time;  // 2026-12-07T02:33:00.028Z
  EXPECT_EQ(time.back(), 'Z');
}

TEST_F(Logging, EveryFieldIsBounded) {
  const std::string huge(900 * 1024, 'x');
  testing::internal::CaptureStderr();
  logger("kastor.test")->error("event=decode_failed type={} key={}", huge, huge);
  const auto text = testing::internal::GetCapturedStderr();
  EXPECT_LT(text.size(), max_log_message_bytes + 2 * max_log_field_bytes + 512);
  const auto lines = json_lines(text);
  ASSERT_EQ(lines.size(), 1u);
  const std::string message{lines[0].at("message").as_string()};
  EXPECT_NE(message.find("bytes cut]"), std::string::npos);
  EXPECT_LE(lines[0].at("key").as_string().size(), max_log_field_bytes + 32);
}

TEST_F(Logging, AnInvalidUtf8MessageIsStillOneJsonLine) {
  testing::internal::CaptureStderr();
  logger("kastor.test")->info("bytes \xff\xfe and a newline\nin it");
  const auto lines = json_lines(testing::internal::GetCapturedStderr());
  EXPECT_EQ(lines.size(), 1u);
}

TEST_F(Logging, ALineLoggedDuringATurnNamesItsRecordAndTrace) {
  testing::internal::CaptureStderr();
  {
    scoped_log_context ctx{{"payment", "o-9", "payment-requests", 1, 77,
                            "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"}};
    logger("kastor.test")->info("the handler's own line");
  }
  logger("kastor.test")->info("after the turn");
  const auto lines = json_lines(testing::internal::GetCapturedStderr());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].at("role").as_string(), "payment");
  EXPECT_EQ(lines[0].at("key").as_string(), "o-9");
  EXPECT_EQ(lines[0].at("offset").as_int64(), 77);
  EXPECT_EQ(lines[0].at("trace_id").as_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(lines[0].at("span_id").as_string(), "00f067aa0ba902b7");
  EXPECT_FALSE(lines[1].contains("trace_id"));
  EXPECT_EQ(current_log_context(), nullptr);
}

TEST_F(Logging, TheTextFormatIsBoundedAndNamesTheTurnsRecordToo) {
  set_log_format("text");
  testing::internal::CaptureStderr();
  {
    scoped_log_context ctx{{"payment", "o-9", "t", 0, 1, "4bf92f3577b34da6a3ce929d0e0e4736", ""}};
    logger("kastor.test")->info("{}", std::string(100000, 'y'));
  }
  const auto text = testing::internal::GetCapturedStderr();
  EXPECT_LT(text.size(), max_log_message_bytes + 512);
  EXPECT_NE(text.find("trace_id=4bf92f3577b34da6a3ce929d0e0e4736"), std::string::npos);
  EXPECT_EQ(text.front(), '2');  // not JSON: the time first
}

TEST_F(Logging, AnUnknownFormatIsRefused) {
  EXPECT_THROW(set_log_format("yaml"), std::invalid_argument);
  EXPECT_NO_THROW(set_log_format("auto"));
}

}  // namespace
}  // namespace kastor::runtime
