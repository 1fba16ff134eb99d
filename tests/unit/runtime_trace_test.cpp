// Issue 22: W3C Trace Context — what a traceparent header is read as, and
// the traces kastor starts. Whatever comes in, nothing crashes: a header W3C
// says to ignore gives no context (the caller then starts a trace).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "kastor/runtime/trace.hpp"

namespace kastor::runtime {
namespace {

const std::string valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(Traceparent, AValidHeaderIsRead) {
  auto t = parse_traceparent(valid);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t->span_id, "00f067aa0ba902b7");
  EXPECT_EQ(t->flags, 0x01);
  EXPECT_EQ(t->header(), valid);
  auto unsampled = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled);
  EXPECT_EQ(unsampled->flags, 0);
}

TEST(Traceparent, WhatW3CSaysToIgnoreGivesNoContext) {
  for (const std::string& bad : std::vector<std::string>{
         std::string{},
         std::string{"garbage"},
         valid.substr(0, 54),                                            // short
         valid + "-extra",                                               // version 00 with more
         "ff" + valid.substr(2),                                         // version ff
         "0g" + valid.substr(2),                                         // version not hex
         "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",      // upper case
         "00-00000000000000000000000000000000-00f067aa0ba902b7-01",      // all-zero trace
         "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",      // all-zero span
         "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      // separator
         "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",      // not hex
         "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",      // flags not hex
         std::string(4096, '0'),
       })
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
}

TEST(Traceparent, ALaterVersionIsReadByItsFirstFourFields) {
  auto t = parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t->header(), valid);  // written as the version this build knows
  EXPECT_FALSE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"));
}

TEST(Traceparent, StartedTracesAreValidAndDistinct) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    auto t = start_trace();
    ASSERT_TRUE(parse_traceparent(t.header())) << t.header();
    ids.insert(t.trace_id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(Traceparent, AChildKeepsTheTraceWithASpanOfItsOwn) {
  auto parent = *parse_traceparent(valid);
  auto child = child_of(parent);
  EXPECT_EQ(child.trace_id, parent.trace_id);
  EXPECT_NE(child.span_id, parent.span_id);
  EXPECT_EQ(child.flags, parent.flags);
  EXPECT_TRUE(parse_traceparent(child.header()));
}

TEST(Traceparent, TheNextRecordsTraceparentKeepsTheCausesTrace) {
  const auto next = next_traceparent(valid);
  auto t = parse_traceparent(next);
  ASSERT_TRUE(t) << next;
  EXPECT_EQ(t->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_NE(t->span_id, "00f067aa0ba902b7");
  EXPECT_EQ(t->flags, 0x01);
  // only the sampled flag passes on
  EXPECT_EQ(next_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff").substr(53),
            "01");
  EXPECT_EQ(next_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").substr(53),
            "00");
  // no cause, or one W3C says to ignore: a new trace
  for (const char* cause : {"", "garbage", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) {
    auto fresh = parse_traceparent(next_traceparent(cause));
    ASSERT_TRUE(fresh) << cause;
    EXPECT_NE(fresh->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  }
  EXPECT_NE(parse_traceparent(next_traceparent(""))->trace_id,
            parse_traceparent(next_traceparent(""))->trace_id);
}

TEST(Traceparent, ATraceFromASeedIsTheSameForTheSameSeed) {
  auto a = trace_from("payment-requests-3-42");
  EXPECT_EQ(a.header(), trace_from("payment-requests-3-42").header());
  EXPECT_NE(a.trace_id, trace_from("payment-requests-3-43").trace_id);
  EXPECT_TRUE(parse_traceparent(a.header()));
  EXPECT_TRUE(parse_traceparent(trace_from("").header()));
}

}  // namespace
}  // namespace kastor::runtime
