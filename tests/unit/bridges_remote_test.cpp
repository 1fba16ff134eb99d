// The request/reply wire format (remote.hpp): what an owner accepts as a
// request, and what a reply carries.
#include <gtest/gtest.h>

#include "kastor/bridges/codec.hpp"
#include "kastor/bridges/remote.hpp"
#include "kastor/runtime/errors.hpp"

using namespace kastor;
using namespace kastor::bridges;

namespace {

header_list good_headers() {
  return {{"kastor-type", "get"},
          {"kastor-correlation-id", "node-a-1"},
          {"kastor-reply-to", "kastor-replies.node-a"},
          {"kastor-deadline", "1700000002000"}};
}

TEST(RemoteWire, TopicsAreNamedByTheRolesGroupAndTheNode) {
  EXPECT_EQ(request_topic("kastor.order"), "kastor.order-requests");
  EXPECT_EQ(reply_topic("node-a"), "kastor-replies.node-a");
}

TEST(RemoteWire, AWellFormedRequestIsParsed) {
  auto r = parse_request("o-1", "", good_headers());
  ASSERT_TRUE(r) << runtime::describe(r.error());
  EXPECT_EQ(r->kind, "get");
  EXPECT_EQ(r->key, "o-1");
  EXPECT_EQ(r->correlation_id, "node-a-1");
  EXPECT_EQ(r->reply_to, "kastor-replies.node-a");
  EXPECT_EQ(r->deadline_ms, 1700000002000);
}

TEST(RemoteWire, EveryMissingOrMalformedPartIsAnErrorNamingIt) {
  auto without = [](const std::string& name) {
    auto h = good_headers();
    std::erase_if(h, [&](const header& x) { return x.name == name; });
    return h;
  };
  auto error_of = [](std::string_view key, const header_list& h) {
    auto r = parse_request(key, "", h);
    return r ? std::string{} : runtime::describe(r.error());
  };
  EXPECT_NE(error_of("o-1", without("kastor-type")).find("kastor-type"), std::string::npos);
  EXPECT_NE(error_of("o-1", without("kastor-correlation-id")).find("correlation"), std::string::npos);
  EXPECT_NE(error_of("o-1", without("kastor-reply-to")).find("reply-to"), std::string::npos);
  EXPECT_NE(error_of("o-1", without("kastor-deadline")).find("deadline"), std::string::npos);
  auto bad_deadline = good_headers();
  bad_deadline.push_back({"kastor-deadline", "soon"});  // the last one counts
  EXPECT_NE(error_of("o-1", bad_deadline).find("'soon' is not a number"), std::string::npos);
  EXPECT_NE(error_of("", good_headers()).find("no key"), std::string::npos);
}

TEST(RemoteWire, AReplyCarriesCorrelationStatusAndNode) {
  auto h = reply_headers("node-a-1", "not_found", "node-b");
  ASSERT_NE(find_header(h, hdr_correlation_id), nullptr);
  EXPECT_EQ(find_header(h, hdr_correlation_id)->value, "node-a-1");
  EXPECT_EQ(find_header(h, hdr_reply_status)->value, "not_found");
  EXPECT_EQ(find_header(h, hdr_node)->value, "node-b");
}

}  // namespace
