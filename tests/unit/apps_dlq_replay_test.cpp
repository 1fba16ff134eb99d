// What `kastor ctl dlq replay` writes for one dead letter (plan_replay): the
// headers of a DLQ are whatever its writer put there.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kastor/apps/dlq_replay.hpp"

using namespace kastor;

namespace {

bridges::stored_record dead_letter(bridges::header_list headers) {
  bridges::stored_record r;
  r.topic = "payment-requests.dlq";
  r.partition = 2;
  r.offset = 7;
  r.key = "order-1";
  r.value = R"({"orderId":"order-1"})";
  r.headers = std::move(headers);
  return r;
}

std::vector<std::string> named(const bridges::header_list& headers, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& h : headers)
    if (h.name == name)
      out.push_back(h.value);
  return out;
}

TEST(DlqReplay, ItGoesBackToItsOriginWithTheNextAttemptAndNoDeadLetterHeaders) {
  auto plan = apps::plan_replay(dead_letter({{"kastor-type", "payment_request"},
                                             {"kastor-attempt", "3"},
                                             {"kastor-dlq-reason", "bridge.malformed_json"},
                                             {"kastor-dlq-origin", "payment-requests/1@40"},
                                             {"kastor-dlq-attempts", "3"}}));
  ASSERT_EQ(plan.error, "");
  EXPECT_EQ(plan.topic, "payment-requests");
  EXPECT_EQ(plan.log_key, "payment-requests/1@40");
  EXPECT_EQ(plan.headers, (bridges::header_list{{"kastor-type", "payment_request"},
                                                {"kastor-attempt", "4"},
                                                {"kastor-replay-of", "payment-requests.dlq/2@7"}}));
}

TEST(DlqReplay, WithoutAnOriginItGoesToTheTopicItsDlqIsNamedAfter) {
  auto plan = apps::plan_replay(dead_letter({}));
  ASSERT_EQ(plan.error, "");
  EXPECT_EQ(plan.topic, "payment-requests");
  EXPECT_EQ(plan.log_key, "payment-requests.dlq/2@7");
  EXPECT_EQ(named(plan.headers, "kastor-attempt"), std::vector<std::string>{"2"});
}

TEST(DlqReplay, AnAttemptCountAtItsLimitOrNotACountDoesNotOverflow) {
  // (the count plus one was undefined behaviour at INT64_MAX)
  auto plan = apps::plan_replay(dead_letter({{"kastor-dlq-attempts", "9223372036854775807"}}));
  EXPECT_EQ(named(plan.headers, "kastor-attempt"),
            std::vector<std::string>{"9223372036854775807"});
  for (const char* text : {"99999999999999999999", "-5", "3abc", "", "0"}) {
    plan = apps::plan_replay(dead_letter({{"kastor-dlq-attempts", text}}));
    EXPECT_EQ(named(plan.headers, "kastor-attempt"), std::vector<std::string>{"2"}) << text;
  }
}

TEST(DlqReplay, AnOriginInAnotherTopicThanItsDlqsIsRefused) {
  // (a forged origin would send the record into the changelog, an internal
  // topic, a DLQ or the replay log)
  for (const char* origin : {"order-state/0@1", "__consumer_offsets/0@0",
                             "payment-requests.dlq/0@1", "kastor.dlq-replays/0@0",
                             "payment-requests-x/0@1", "/0@1", "payment-requests", "x"}) {
    auto plan = apps::plan_replay(dead_letter({{"kastor-dlq-origin", origin}}));
    EXPECT_NE(plan.error.find("is not a record of payment-requests"), std::string::npos)
      << origin;
    EXPECT_EQ(plan.topic, "") << origin;
  }
  // (Kafka allows a header twice: the last counts, as for every reader)
  auto twice = apps::plan_replay(dead_letter({{"kastor-dlq-origin", "payment-requests/0@1"},
                                              {"kastor-dlq-origin", "order-state/0@1"}}));
  EXPECT_NE(twice.error, "");
}

TEST(DlqReplay, ADlqOfNoTopicARecordMayGoBackToIsRefused) {
  for (const std::string& dlq : std::vector<std::string>{
         "__consumer_offsets.dlq", "kastor.dlq-replays.dlq", "a.dlq.dlq", ".dlq",
         "bad topic!.dlq", std::string(250, 'a') + ".dlq"}) {
    auto r = dead_letter({});
    r.topic = dlq;
    auto plan = apps::plan_replay(r);
    EXPECT_NE(plan.error.find("is not the DLQ of a topic a record may go back to"),
              std::string::npos)
      << dlq;
    EXPECT_EQ(plan.topic, "") << dlq;
  }
}

TEST(DlqReplay, ACutDownDeadLetterOrOneOutsideADlqIsNotReplayable) {
  auto plan = apps::plan_replay(dead_letter({{"kastor-dlq-origin", "payment-requests/0@7"},
                                             {"kastor-dlq-truncated", "value of 999906 bytes"}}));
  EXPECT_NE(plan.error.find("cut down to fit the DLQ"), std::string::npos);
  EXPECT_NE(plan.error.find("payment-requests/0@7"), std::string::npos);
  auto elsewhere = dead_letter({});
  elsewhere.topic = "payment-requests";
  EXPECT_NE(apps::plan_replay(elsewhere).error, "");
  elsewhere.topic = ".dlq";
  EXPECT_NE(apps::plan_replay(elsewhere).error, "");
}

TEST(DlqReplay, AnEarlierReplaysMarkIsReplacedNotRepeated) {
  auto plan = apps::plan_replay(dead_letter({{"kastor-replay-of", "payment-requests.dlq/0@1"},
                                             {"kastor-dlq-origin", "payment-requests/0@9"}}));
  EXPECT_EQ(named(plan.headers, "kastor-replay-of"),
            std::vector<std::string>{"payment-requests.dlq/2@7"});
}

}  // namespace
