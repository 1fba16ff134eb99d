// The open message set: an application declares its own types; the runtime
// carries them type-erased and never names one.
#include "kastor/runtime/message.hpp"

#include <stdexcept>
#include <string>

#include <boost/describe/class.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bank {

struct deposit {
  std::string account_id;
  int64_t cents = 0;
};
BOOST_DESCRIBE_STRUCT(deposit, (), (account_id, cents))

struct withdrawal {
  std::string account_id;
  int64_t cents = 0;
};
BOOST_DESCRIBE_STRUCT(withdrawal, (), (account_id, cents))

struct audit_note {  // no Boost.Describe members, no codec
  std::string text;
};

const kastor::runtime::message_type& declare_deposit() {
  return kastor::runtime::declare<deposit>(
    {.name = "deposit",
     .topic = "test-deposits",
     .key = &deposit::account_id,
     .validate = [](const deposit& d) -> std::optional<std::string> {
       if (d.cents <= 0)
         return "deposit.cents must be positive, got " + std::to_string(d.cents);
       return std::nullopt;
     }});
}

}  // namespace bank

namespace kastor::runtime {
namespace {

using ::testing::HasSubstr;

TEST(MessageRegistry, ADescribedStructNeedsNoCodecOfItsOwn) {
  // Given a declared user type with Boost.Describe members
  const auto& t = bank::declare_deposit();
  // When a value is wrapped, encoded and decoded again
  message m{bank::deposit{"a-1", 500}};
  const auto text = m.encode();
  auto back = t.decode(text, {});
  // Then its JSON is the described members', and the same value comes back
  EXPECT_EQ(text, R"({"account_id":"a-1","cents":500})");
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_EQ(*back, m);
  EXPECT_EQ(back->get<bank::deposit>().cents, 500);
  EXPECT_EQ(m.key(), "a-1");
  EXPECT_EQ(m.type(), &t);
  EXPECT_EQ(t.topic, "test-deposits");
  EXPECT_EQ(messages().by_name("deposit"), &t);
  EXPECT_EQ(messages().by_topic("test-deposits"), &t);
}

TEST(MessageRegistry, AMessageTellsItsTypeAndRefusesAnother) {
  bank::declare_deposit();
  message m{bank::deposit{"a-1", 5}};
  EXPECT_TRUE(m.is<bank::deposit>());
  EXPECT_FALSE(m.is<bank::withdrawal>());
  EXPECT_EQ(m.get_if<bank::withdrawal>(), nullptr);
  EXPECT_THROW((void) m.get<bank::withdrawal>(), std::bad_cast);
}

TEST(MessageRegistry, BadValuesAreDecodeErrorsNamingTheType) {
  const auto& t = bank::declare_deposit();
  auto not_json = t.decode("{", {});
  ASSERT_FALSE(not_json);
  EXPECT_EQ(not_json.error().code(), static_cast<uint8_t>(bridge_errc::malformed_json));
  EXPECT_THAT(describe(not_json.error()), HasSubstr("(deposit)"));
  auto not_object = t.decode("[1]", {});
  ASSERT_FALSE(not_object);
  EXPECT_EQ(not_object.error().code(), static_cast<uint8_t>(bridge_errc::malformed_json));
  auto wrong = t.decode(R"({"account_id":"a","cents":"five"})", {});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), static_cast<uint8_t>(bridge_errc::wrong_type));
  EXPECT_THAT(describe(wrong.error()), HasSubstr("deposit"));
}

TEST(MessageRegistry, ItsValidationIsTheMessagesSchema) {
  bank::declare_deposit();
  EXPECT_EQ((message{bank::deposit{"a", 1}}.violation()), std::nullopt);
  EXPECT_EQ((message{bank::deposit{"a", 0}}.violation()),
            "deposit.cents must be positive, got 0");
}

TEST(MessageRegistry, DeclaringTwiceIsTheSameEntryAndClashesAreRefused) {
  const auto& t = bank::declare_deposit();
  EXPECT_EQ(&bank::declare_deposit(), &t);
  // another type under a taken name
  EXPECT_THROW(declare<bank::withdrawal>({.name = "deposit", .topic = "test-deposits",
                                          .key = &bank::withdrawal::account_id}),
               std::logic_error);
  // the same type under a second name
  EXPECT_THROW(declare<bank::deposit>({.name = "deposit2", .topic = "test-deposits",
                                       .key = &bank::deposit::account_id}),
               std::logic_error);
  // no key, no topic
  EXPECT_THROW(declare<bank::withdrawal>({.name = "withdrawal", .topic = "test-withdrawals"}),
               std::logic_error);
  EXPECT_THROW(declare<bank::withdrawal>({.name = "withdrawal", .topic = "",
                                          .key = &bank::withdrawal::account_id}),
               std::logic_error);
  EXPECT_EQ(messages().by_name("withdrawal"), nullptr);
}

TEST(MessageRegistry, AnEmptyMessageHasNoTypeToEncode) {
  message m;
  EXPECT_FALSE(m);
  EXPECT_THROW((void) m.key(), std::logic_error);
  EXPECT_THROW((void) m.encode(), std::logic_error);
  EXPECT_THROW((void) m.violation(), std::logic_error);
}

TEST(MessageRegistry, HalfACodecOrAChangedRedeclarationIsRefused) {
  bank::declare_deposit();
  // encode without decode
  struct half {
    std::string id;
  };
  EXPECT_THROW(declare<half>({.name = "half", .topic = "test-half", .key = &half::id,
                              .encode = [](const half& h, header_list&) { return h.id; }}),
               std::logic_error);
  // the same type and name again, in another topic
  EXPECT_THROW(declare<bank::deposit>({.name = "deposit", .topic = "test-other",
                                       .key = &bank::deposit::account_id}),
               std::logic_error);
  EXPECT_EQ(messages().by_name("deposit")->topic, "test-deposits");
}

TEST(MessageRegistry, ATypeWithNeitherCodecNorDescriptionIsRefused) {
  try {
    declare<bank::audit_note>({.name = "audit_note", .topic = "test-audit",
                               .key = &bank::audit_note::text});
    FAIL() << "declared";
  } catch (const std::logic_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("BOOST_DESCRIBE_STRUCT"));
  }
}

TEST(MessageRegistry, AnUndeclaredTypeCannotBecomeAMessage) {
  struct never_declared {};
  try {
    message m{never_declared{}};
    FAIL() << "wrapped";
  } catch (const std::logic_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("is not a declared message type"));
  }
}

TEST(MessageRegistry, TwoTypesInOneTopicLeaveTheTopicUntyped) {
  declare<bank::withdrawal>({.name = "withdrawal", .topic = "test-ledger",
                             .key = &bank::withdrawal::account_id});
  struct refund {
    std::string account_id;
    int64_t cents = 0;
  };
  declare<refund>({.name = "refund",
                   .topic = "test-ledger",
                   .key = &refund::account_id,
                   .encode = [](const refund& r, header_list&) { return r.account_id; },
                   .decode = [](std::string_view v, const header_list&) -> caf::expected<refund> {
                     return refund{std::string{v}, 0};
                   }});
  // A header-less record there cannot be typed; the kastor-type header can.
  EXPECT_EQ(messages().by_topic("test-ledger"), nullptr);
  EXPECT_NE(messages().by_name("refund"), nullptr);
  EXPECT_THAT(messages().topics(), ::testing::Contains("test-ledger"));
}

TEST(MessageRegistry, ACustomCodecMayCarryFieldsInHeaders) {
  struct tagged {
    std::string id;
    int64_t epoch = 0;
  };
  declare<tagged>({.name = "tagged",
                   .topic = "test-tagged",
                   .key = &tagged::id,
                   .encode = [](const tagged& t, header_list& extra) {
                     extra.push_back({std::string{epoch_header}, std::to_string(t.epoch)});
                     return t.id;
                   },
                   .decode = [](std::string_view v, const header_list& h) -> caf::expected<tagged> {
                     return tagged{std::string{v}, epoch_of(h)};
                   }});
  header_list headers;
  message m{tagged{"t-1", 7}};
  auto value = m.encode(headers);
  auto back = m.type()->decode(value, headers);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->get<tagged>().epoch, 7);
  EXPECT_EQ(epoch_of({{"kastor-epoch", "x"}}), 0);
  EXPECT_EQ(epoch_of({{"kastor-epoch", "-3"}}), 0);
  EXPECT_EQ(epoch_of({}), 0);
}

}  // namespace
}  // namespace kastor::runtime
