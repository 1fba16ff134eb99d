// Codec: runtime messages <-> Kafka records (seed 002 JSON + kastor headers).
#include "kastor/actors/schema.hpp"
#include "kastor/bridges/codec.hpp"
#include "kastor/runtime/trace.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kastor/actors/messages.hpp"
#include "kastor/actors/wire.hpp"

namespace kastor::bridges {
namespace {

namespace json = boost::json;
using actors::cents_from_json_number;
using runtime::format_cents;
using runtime::message;
using runtime::bridge_errc;
using ::testing::HasSubstr;

// -- Fixtures ------------------------------------------------------------------

actors::order_created sample_order() {
  actors::order_created x;
  x.order_id = "o-1";
  x.customer_id = "test-customer-123";
  x.items = {{"product-abc", "Test Product", 4999, 2, 9998},
             {"product-xyz", "Caf\xC3\xA9 \"Deluxe\"", 150, 1, 150}};
  x.total_cents = 10148;
  x.status = actors::status_pending;
  x.created_at_ms = 1700000000123;
  return x;
}

// One message of every type, with every field set to something non-default.
std::vector<message> samples() {
  return {
    sample_order(),
    actors::payment_request{"o-2", "c-2", 5},
    actors::payment_result{"o-3", "c-3", -250, actors::payment_declined,
                            "Insufficient funds\n(limit)", "tx-9", 1700000000456},
    actors::notification_event{"o-4", "c-4", actors::notify_payment_failed, 100,
                                "Your payment of 1.00 failed \xF0\x9F\x98\x9E"},
    actors::email_sent{"o-5", "c-5", actors::notify_payment_succeeded, 1700000000789},
    actors::order_snapshot{"o-6", "c-6", 9998, 2, actors::status_paid,
                            actors::payment_succeeded, "", "tx-6", 1700000000000,
                            1700000001000, false, 0},
  };
}

std::string type_of(const message& m) {
  return m.type()->name;
}

// The error is a bridge error of `code` whose description contains `fragment`.
void expect_error(const caf::error& err, bridge_errc code, const std::string& fragment) {
  ASSERT_TRUE(err) << "expected " << runtime::to_string(code) << ", got no error";
  EXPECT_EQ(err.category(), runtime::bridge_category) << runtime::describe(err);
  EXPECT_EQ(err.code(), static_cast<uint8_t>(code)) << runtime::describe(err);
  EXPECT_THAT(runtime::describe(err), HasSubstr(fragment));
}

template <class T>
void expect_error(const caf::expected<T>& result, bridge_errc code,
                  const std::string& fragment) {
  ASSERT_FALSE(result) << "expected " << runtime::to_string(code) << ", got a value";
  expect_error(result.error(), code, fragment);
}

template <class T>
T decode_as(std::string_view type, std::string_view text) {
  auto result = decode_value(type, text);
  if (!result) {
    ADD_FAILURE() << runtime::describe(result.error());
    return T{};
  }
  const auto* x = result->get_if<T>();
  if (x == nullptr) {
    ADD_FAILURE() << "decoded to " << result->type()->name;
    return T{};
  }
  return *x;
}

// -- Round trips ---------------------------------------------------------------

TEST(Codec, EveryMessageTypeSurvivesAValueRoundTrip) {
  for (const auto& original : samples()) {
    // given a message, when it is encoded and decoded as its type
    auto decoded = decode_value(type_of(original), encode_value(original));
    // then the same message comes back
    ASSERT_TRUE(decoded) << type_of(original) << ": " << runtime::describe(decoded.error());
    EXPECT_EQ(*decoded, original) << type_of(original);
  }
}

TEST(Codec, EveryMessageTypeSurvivesARecordRoundTrip) {
  for (const auto& original : samples()) {
    // given a record as the outbound side writes it
    const outgoing_meta out{"m-1", "c-1", 3, "reply-topic",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"};
    const auto& route = *original.type();
    // when the inbound side decodes it
    auto in = decode_record(route.topic, 4, 77, original.key(),
                            encode_value(original), encode_headers(original, out), 1234);
    // then the message and the metadata come back
    ASSERT_TRUE(in) << type_of(original) << ": " << runtime::describe(in.error());
    EXPECT_EQ(in->message, original);
    runtime::record_meta expected;
    expected.topic = route.topic;
    expected.partition = 4;
    expected.offset = 77;
    expected.key = original.key();
    expected.type = route.name;
    expected.schema_version = route.schema_version;
    expected.message_id = "m-1";
    expected.correlation_id = "c-1";
    expected.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    expected.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    expected.attempt = 3;
    expected.timestamp_ms = 1234;
    EXPECT_EQ(in->meta, expected) << type_of(original);
  }
}

struct ledger_entry {  // an application's own type, declared, not the shop's
  std::string account;
  int64_t cents = 0;
};
BOOST_DESCRIBE_STRUCT(ledger_entry, (), (account, cents))

TEST(Codec, AnApplicationsDescribedTypeTravelsAsARecordWithItsDefaultJson) {
  // given a type an application declared with no codec of its own
  runtime::declare<ledger_entry>(
    {.name = "ledger_entry", .topic = "codec-ledger", .key = &ledger_entry::account,
     .schema_version = 2});
  runtime::message m{ledger_entry{"acc-1", -250}};
  // when the outbound side writes it and the inbound side reads it
  auto out = encode(m, outgoing_meta{"m-1", "", 1, ""});
  auto in = decode_record("codec-ledger", 0, 5, "", out.value, out.headers, 9);
  // then it is typed by its header, keyed by its key, at its schema version
  ASSERT_TRUE(in) << runtime::describe(in.error());
  EXPECT_EQ(out.value, R"({"account":"acc-1","cents":-250})");
  EXPECT_EQ(in->message.get<ledger_entry>().cents, -250);
  EXPECT_EQ(in->meta.type, "ledger_entry");
  EXPECT_EQ(in->meta.key, "acc-1");  // no record key: the message's own
  EXPECT_EQ(in->meta.schema_version, 2);
  // and a header-less record of its topic is read as it too
  auto bare = decode_record("codec-ledger", 0, 6, "k", R"({"account":"a","cents":1})", {}, 9);
  ASSERT_TRUE(bare) << runtime::describe(bare.error());
  EXPECT_EQ(bare->meta.schema_version, 1);
  // and a version beyond the declared one is refused
  expect_error(decode_record("codec-ledger", 0, 7, "k", out.value,
                             {{"kastor-type", "ledger_entry"}, {"kastor-schema", "3"}}, 9),
               bridge_errc::unsupported_version, "reads 1 to 2");
}

TEST(Codec, AGivenMessageIdIsWrittenOnceAsTheRecordsId) {
  // (a remembering entity's output: its id is derived from its cause,
  // recent.hpp; the producer takes it as the record's)
  runtime::declare<ledger_entry>(
    {.name = "ledger_entry", .topic = "codec-ledger", .key = &ledger_entry::account,
     .schema_version = 2});
  auto m = runtime::message{ledger_entry{"acc-1", 5}}.with_note(
    std::string{runtime::message_id_note}, "in-7/0");
  auto out = encode(m, outgoing_meta{"in-7/0", "", 1, ""});
  int ids = 0;
  for (const auto& h : out.headers)
    ids += h.name == "kastor-message-id";
  EXPECT_EQ(ids, 1);
  auto in = decode_record("codec-ledger", 0, 5, "", out.value, out.headers, 9);
  ASSERT_TRUE(in) << runtime::describe(in.error());
  EXPECT_EQ(in->meta.message_id, "in-7/0");
}

TEST(Codec, ACodecThatThrowsMakesTheRecordBadNotTheNode) {
  struct fragile {
    std::string id;
  };
  runtime::declare<fragile>(
    {.name = "fragile", .topic = "codec-fragile", .key = &fragile::id,
     .encode = [](const fragile& f, header_list&) { return f.id; },
     .decode = [](std::string_view, const header_list&) -> caf::expected<fragile> {
       throw std::runtime_error("bad bytes");
     }});
  expect_error(decode_record("codec-fragile", 0, 1, "k", "x", {}, 0), bridge_errc::wrong_type,
               "decoding fragile threw: bad bytes");
}

TEST(Codec, EqualMessagesEncodeToIdenticalBytes) {
  const auto a = samples();
  const auto b = samples();
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(encode_value(a[i]), encode_value(b[i])) << type_of(a[i]);
}

TEST(Codec, EncodedValueIsWhatJsonStringifyWouldPrint) {
  // given the encoded value, when it is parsed and printed again, then nothing
  // changes: encode_value and to_json_text agree on every byte.
  for (const auto& m : samples()) {
    const auto text = encode_value(m);
    EXPECT_EQ(to_json_text(json::parse(text)), text);
  }
}

// -- Seed 002 wire format --------------------------------------------------------

TEST(Codec, Seed002OrderDecodesToExactCents) {
  // given the order the seed's curl example posts, plus the id the service adds
  const std::string seed
    = R"({"customerId":"test-customer-123","items":[{"productId":"product-abc",)"
      R"("name":"Test Product","price":49.99,"quantity":2,"subtotal":99.98}],)"
      R"("totalAmount":99.98,"orderId":"o-1"})";
  // when it is decoded as order_created
  const auto order = decode_as<actors::order_created>("order_created", seed);
  // then money is exact and absent fields take their defaults
  EXPECT_EQ(order.order_id, "o-1");
  EXPECT_EQ(order.customer_id, "test-customer-123");
  ASSERT_EQ(order.items.size(), 1u);
  EXPECT_EQ(order.items[0], (actors::order_item{"product-abc", "Test Product", 4999, 2, 9998}));
  EXPECT_EQ(order.total_cents, 9998);
  EXPECT_EQ(order.status, "PENDING");
  EXPECT_EQ(order.created_at_ms, 0);
}

TEST(Codec, OrderCreatedEncodesToTheGoldenText) {
  actors::order_created order;
  order.order_id = "o-1";
  order.customer_id = "test-customer-123";
  order.items = {{"product-abc", "Test Product", 4999, 2, 9998}};
  order.total_cents = 9998;
  order.created_at_ms = 1700000000000;
  EXPECT_EQ(encode_value(order),
            R"({"orderId":"o-1","customerId":"test-customer-123","items":[{"productId":)"
            R"("product-abc","name":"Test Product","price":49.99,"quantity":2,"subtotal":)"
            R"(99.98}],"totalAmount":99.98,"status":"PENDING","createdAt":1700000000000})");
}

TEST(Codec, PaymentResultEncodesToTheGoldenText) {
  const actors::payment_result result{"o-3", "c-3", 150, actors::payment_declined,
                                       "Card \"blocked\"\n", "", 42};
  EXPECT_EQ(encode_value(result),
            R"({"orderId":"o-3","customerId":"c-3","totalAmount":1.5,"status":"DECLINED",)"
            R"("reason":"Card \"blocked\"\n","transactionId":"","processedAt":42})");
}

TEST(Codec, EveryTypeEncodesItsFieldsInCamelCase) {
  const std::vector<std::pair<message, std::string>> expected = {
    // `amount` as well: seed 002's billing reads the amount from there.
    {actors::payment_request{"o", "c", 100},
     R"({"orderId":"o","customerId":"c","totalAmount":1,"amount":1})"},
    {actors::notification_event{"o", "c", "PAYMENT_SUCCEEDED", 5, "hi"},
     R"({"orderId":"o","customerId":"c","type":"PAYMENT_SUCCEEDED","totalAmount":0.05,"message":"hi"})"},
    {actors::email_sent{"o", "c", "PAYMENT_FAILED", 7},
     R"({"orderId":"o","customerId":"c","kind":"PAYMENT_FAILED","sentAt":7})"},
    {actors::order_snapshot{"o", "c", 9998, 2, "PAID", "SUCCEEDED", "", "tx", 1, 2, false, 0},
     R"({"orderId":"o","customerId":"c","totalAmount":99.98,"itemCount":2,"status":"PAID",)"
     R"("paymentStatus":"SUCCEEDED","reason":"","transactionId":"tx","createdAt":1,"updatedAt":2})"},
  };
  for (const auto& [message, text] : expected)
    EXPECT_EQ(encode_value(message), text);
}

// -- Headers -----------------------------------------------------------------------

TEST(Codec, HeadersCarryTypeSchemaIdsAndAttempt) {
  const outgoing_meta meta{"m-1", "c-1", 2, ""};
  const header_list expected = {
    {"kastor-type", "payment_request"}, {"kastor-schema", "1"},
    {"kastor-message-id", "m-1"},       {"kastor-correlation-id", "c-1"},
    {"kastor-attempt", "2"},
  };
  EXPECT_EQ(encode_headers(actors::payment_request{"o", "c", 1}, meta), expected);
}

// Issue 22: W3C Trace Context on the wire.
TEST(Codec, ATraceparentIsWrittenAndReadBack) {
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  outgoing_meta meta{"m-1", "c-1", 1, ""};
  meta.traceparent = tp;
  auto headers = encode_headers(actors::payment_request{"o", "c", 1}, meta);
  ASSERT_NE(find_header(headers, "traceparent"), nullptr);
  EXPECT_EQ(find_header(headers, "traceparent")->value, tp);
  auto in = decode_record("payment-requests", 0, 5, "o", R"({"orderId":"o","customerId":"c","totalAmount":0.01})",
                          headers, 0);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->meta.traceparent, tp);
}

TEST(Codec, ARecordWithoutAValidTraceparentStartsOneFromItsMessageId) {
  for (const header_list& headers :
       {header_list{}, header_list{{"traceparent", "not-a-traceparent"}},
        header_list{{"traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}}}) {
    auto in = decode_record("payment-requests", 3, 42, "o",
                            R"({"orderId":"o","customerId":"c","totalAmount":0.01})", headers, 0);
    ASSERT_TRUE(in);
    // derived from the message id (topic-partition-offset here): the same
    // each time the record is read
    EXPECT_EQ(in->meta.traceparent, runtime::trace_from("payment-requests-3-42").header());
  }
}

TEST(Codec, ReplyToHeaderIsWrittenOnlyWhenSet) {
  const outgoing_meta meta{"m-1", "c-1", 1, "node-7.replies"};
  const auto headers = encode_headers(actors::email_sent{}, meta);
  ASSERT_EQ(headers.size(), 6u);
  EXPECT_EQ(headers.back(), (header{"kastor-reply-to", "node-7.replies"}));
}

TEST(Codec, AnOrderSnapshotsEmailedMarkAndEpochAreHeadersNotJson) {
  actors::order_snapshot snap{"o", "c", 100, 1, "PENDING", "", "", "", 1, 2, true, 7};
  const auto headers = encode_headers(snap, outgoing_meta{"m-1", "", 1, ""});
  EXPECT_EQ(headers[5], (header{"kastor-order-emailed", "true"}));
  EXPECT_EQ(headers[6], (header{"kastor-epoch", "7"}));
  EXPECT_EQ(encode_value(snap).find("emailed"), std::string::npos);  // seed 002's JSON
  EXPECT_EQ(encode_value(snap).find("poch"), std::string::npos);
  auto in = decode_record("order-state", 0, 1, "o", encode_value(snap), headers, 1);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->message, runtime::message{snap});
  // Not emailed, no epoch: no headers, and false / 0 when read back
  snap.emailed = false;
  snap.epoch = 0;
  EXPECT_EQ(encode_headers(snap, outgoing_meta{"m-1", "", 1, ""}).size(), 5u);
}

TEST(Codec, AnEmptyCorrelationIdDefaultsToTheMessageId) {
  const auto headers = encode_headers(actors::email_sent{}, outgoing_meta{"m-1", "", 0, ""});
  EXPECT_EQ(headers[3], (header{"kastor-correlation-id", "m-1"}));
  EXPECT_EQ(headers[4], (header{"kastor-attempt", "1"}));  // attempts count from 1
  EXPECT_EQ(find_header(headers, "kastor-trace-id"), nullptr);  // (traceparent replaced it)
}

// -- Inbound records -----------------------------------------------------------------

TEST(Codec, HeaderlessRecordTakesItsTypeFromTheTopic) {
  // given a record as kcat or KafkaJS would produce it: no headers, no key
  const std::string value = R"({"orderId":"o-9","customerId":"c","totalAmount":12.5})";
  // when it is decoded
  auto in = decode_record("payment-requests", 3, 42, "", value, {}, 555);
  // then its type comes from the topic, and the metadata takes its defaults
  ASSERT_TRUE(in) << runtime::describe(in.error());
  EXPECT_EQ(in->message, (message{actors::payment_request{"o-9", "c", 1250}}));
  EXPECT_EQ(in->meta.type, "payment_request");
  EXPECT_EQ(in->meta.topic, "payment-requests");
  EXPECT_EQ(in->meta.partition, 3);
  EXPECT_EQ(in->meta.offset, 42);
  EXPECT_EQ(in->meta.key, "o-9");  // the order id stands in for the missing key
  EXPECT_EQ(in->meta.schema_version, 1);
  EXPECT_EQ(in->meta.message_id, "payment-requests-3-42");
  EXPECT_EQ(in->meta.correlation_id, "payment-requests-3-42");
  EXPECT_EQ(in->meta.trace_id, runtime::trace_from("payment-requests-3-42").trace_id);
  EXPECT_EQ(in->meta.attempt, 1);
  EXPECT_EQ(in->meta.timestamp_ms, 555);
}

TEST(Codec, TypeHeaderWinsOverTheTopic) {
  // given a payment request parked in a dead-letter topic, with its type header
  const std::string value = R"({"orderId":"o-9","totalAmount":1})";
  const header_list headers = {{"kastor-type", "payment_request"}};
  // when it is decoded
  auto in = decode_record("order-created.dlq", 0, 1, "o-9", value, headers, 0);
  // then the header, not the topic, decides its type
  ASSERT_TRUE(in) << runtime::describe(in.error());
  EXPECT_EQ(in->message, (message{actors::payment_request{"o-9", "", 100}}));
  EXPECT_EQ(in->meta.type, "payment_request");
  EXPECT_EQ(in->meta.topic, "order-created.dlq");
}

// Issue 14, defect 6: a type header made a topic carry a type that is not
// its own (a payment request on the notifications was taken as one).
TEST(Codec, ATypeHeaderCannotMakeAKnownTopicCarryAnotherType) {
  const std::string value = R"({"orderId":"o","kind":"PAYMENT_FAILED"})";
  auto in = decode_record("order-created", 0, 1, "o", value,
                          {{"kastor-type", "email_sent"}}, 0);
  expect_error(in, bridge_errc::wrong_type,
               "topic 'order-created' carries order_created, not 'email_sent'");
}

TEST(Codec, ATypeHeaderNamingTheTopicsOwnTypeIsTaken) {
  const std::string value = R"({"orderId":"o-9","totalAmount":1})";
  auto in = decode_record("payment-requests", 0, 1, "o-9", value,
                          {{"kastor-type", "payment_request"}}, 0);
  ASSERT_TRUE(in) << runtime::describe(in.error());
  EXPECT_TRUE(in->message.is<actors::payment_request>());
}

TEST(Codec, UnknownTopicWithoutTypeHeaderIsUnknownType) {
  auto in = decode_record("inventory-updates", 0, 1, "k", R"({"orderId":"o"})", {}, 0);
  expect_error(in, bridge_errc::unknown_type, "'inventory-updates'");
}

TEST(Codec, UnknownTypeHeaderIsUnknownType) {
  auto in = decode_record("order-created", 0, 1, "k", R"({"orderId":"o"})",
                          {{"kastor-type", "refund_issued"}}, 0);
  expect_error(in, bridge_errc::unknown_type, "'refund_issued'");
}

TEST(Codec, DecodeValueRejectsAnUnknownTypeName) {
  expect_error(decode_value("order-created", R"({"orderId":"o"})"), bridge_errc::unknown_type,
               "'order-created'");
}

TEST(Codec, UnsupportedSchemaVersionIsRejected) {
  const std::string value = encode_value(actors::email_sent{"o", "c", "k", 1});
  for (std::string version : {"2", "0", "-1", "99999999999"}) {
    auto in = decode_record("email-sent", 0, 1, "o", value, {{"kastor-schema", version}}, 0);
    expect_error(in, bridge_errc::unsupported_version, version);
  }
}

TEST(Codec, NonNumericSchemaVersionIsUnsupported) {
  const std::string value = encode_value(actors::email_sent{"o", "c", "k", 1});
  for (std::string version : {"", "one", "1.0", " 1", "1x"}) {
    auto in = decode_record("email-sent", 0, 1, "o", value, {{"kastor-schema", version}}, 0);
    expect_error(in, bridge_errc::unsupported_version, "kastor-schema");
  }
}

TEST(Codec, UnsupportedVersionIsReportedBeforeAnUnknownType) {
  // A newer schema may name types this build has never heard of.
  auto in = decode_record("email-sent", 0, 1, "o", R"({"orderId":"o"})",
                          {{"kastor-schema", "99"}, {"kastor-type", "refund_issued"}}, 0);
  expect_error(in, bridge_errc::unsupported_version, "99");
}

TEST(Codec, MissingHeadersTakeChainedDefaults) {
  // given only a correlation id
  auto in = decode_record("email-sent", 1, 9, "o", R"({"orderId":"o","kind":"k"})",
                          {{"kastor-correlation-id", "c-1"}}, 0);
  ASSERT_TRUE(in) << runtime::describe(in.error());
  // then the message id comes from the position, the trace from the message id
  EXPECT_EQ(in->meta.message_id, "email-sent-1-9");
  EXPECT_EQ(in->meta.correlation_id, "c-1");
  EXPECT_EQ(in->meta.trace_id, runtime::trace_from("email-sent-1-9").trace_id);
}

TEST(Codec, EmptyIdHeadersCountAsAbsent) {
  auto in = decode_record("email-sent", 1, 9, "o", R"({"orderId":"o","kind":"k"})",
                          {{"kastor-message-id", ""}, {"kastor-correlation-id", ""}}, 0);
  ASSERT_TRUE(in) << runtime::describe(in.error());
  EXPECT_EQ(in->meta.message_id, "email-sent-1-9");
  EXPECT_EQ(in->meta.correlation_id, "email-sent-1-9");
}

TEST(Codec, BadAttemptHeaderMeansFirstAttempt) {
  for (std::string attempt : {"", "x", "0", "-3", "2.5", "99999999999"}) {
    auto in = decode_record("email-sent", 0, 1, "o", R"({"orderId":"o","kind":"k"})",
                            {{"kastor-attempt", attempt}}, 0);
    ASSERT_TRUE(in) << runtime::describe(in.error());
    EXPECT_EQ(in->meta.attempt, 1) << "attempt header '" << attempt << "'";
  }
}

TEST(Codec, LastOfRepeatedHeadersCounts) {
  auto in = decode_record("email-sent", 0, 1, "o", R"({"orderId":"o","kind":"k"})",
                          {{"kastor-attempt", "2"}, {"kastor-attempt", "5"}}, 0);
  ASSERT_TRUE(in) << runtime::describe(in.error());
  EXPECT_EQ(in->meta.attempt, 5);
}

TEST(Codec, RecordKeyIsKeptWhenPresent) {
  auto in = decode_record("email-sent", 0, 1, "other-key", R"({"orderId":"o","kind":"k"})",
                          {}, 0);
  ASSERT_TRUE(in) << runtime::describe(in.error());
  EXPECT_EQ(in->meta.key, "other-key");
}

TEST(Codec, UndecodableValueFailsTheWholeRecord) {
  expect_error(decode_record("order-created", 0, 1, "o", "not json", {}, 0),
               bridge_errc::malformed_json, "order_created");
  // A tombstone (null value) on the compacted topic is not a message either.
  expect_error(decode_record("order-state", 0, 1, "o", "", {}, 0),
               bridge_errc::malformed_json, "order_snapshot");
}

// -- Errors, each naming its field ------------------------------------------------

TEST(Codec, InvalidJsonIsMalformed) {
  for (std::string text : {"", "{", "{\"orderId\":\"o\",}", "{'orderId':'o'}", "nul",
                           "{\"orderId\":\"o\"} trailing"})
    expect_error(decode_value("email_sent", text), bridge_errc::malformed_json, "not valid JSON");
}

TEST(Codec, JsonThatIsNotAnObjectIsMalformed) {
  expect_error(decode_value("email_sent", "[]"), bridge_errc::malformed_json, "got array");
  expect_error(decode_value("email_sent", "\"o-1\""), bridge_errc::malformed_json, "got string");
  expect_error(decode_value("email_sent", "42"), bridge_errc::malformed_json, "got number");
  expect_error(decode_value("email_sent", "null"), bridge_errc::malformed_json, "got null");
}

TEST(Codec, EveryTypeRequiresAnOrderId) {
  for (const auto& m : samples())
    expect_error(decode_value(type_of(m), "{}"), bridge_errc::missing_field,
                 "field 'orderId' is required (" + type_of(m) + ")");
}

TEST(Codec, EmptyOrderIdIsAWrongValue) {
  expect_error(decode_value("email_sent", R"({"orderId":"","kind":"k"})"),
               bridge_errc::wrong_type, "'orderId' must be a non-empty string");
}

TEST(Codec, EachTypeNamesItsMissingRequiredField) {
  struct example {
    const char* type;
    const char* value;
    const char* field;
  };
  const example examples[] = {
    {"order_created", R"({"orderId":"o","items":[],"totalAmount":1})", "customerId"},
    {"order_created", R"({"orderId":"o","customerId":"c","totalAmount":1})", "items"},
    {"order_created", R"({"orderId":"o","customerId":"c","items":[]})", "totalAmount"},
    {"order_created",
     R"({"orderId":"o","customerId":"c","items":[{"productId":"p","quantity":1}],"totalAmount":1})",
     "items[0].price"},
    {"order_created",
     R"({"orderId":"o","customerId":"c","items":[{"productId":"p","price":1}],"totalAmount":1})",
     "items[0].quantity"},
    {"order_created",
     R"({"orderId":"o","customerId":"c","items":[{"price":1,"quantity":1}],"totalAmount":1})",
     "items[0].productId"},
    {"payment_request", R"({"orderId":"o","customerId":"c"})", "totalAmount"},
    {"payment_result", R"({"orderId":"o","totalAmount":1})", "status"},
    {"notification_event", R"({"orderId":"o","message":"m"})", "type"},
    {"email_sent", R"({"orderId":"o","sentAt":1})", "kind"},
    {"order_snapshot", R"({"orderId":"o","paymentStatus":"SUCCEEDED"})", "status"},
  };
  for (const auto& e : examples) {
    // An amount may come under seed 002's name too; the error names both.
    const std::string field = e.field;
    const auto named = field == "totalAmount" ? "'totalAmount' (or 'amount')" : "'" + field + "'";
    expect_error(decode_value(e.type, e.value), bridge_errc::missing_field,
                 "bridge.missing_field: field " + named + " is required");
  }
}

TEST(Codec, NullRequiredFieldIsMissing) {
  expect_error(decode_value("email_sent", R"({"orderId":"o","kind":null})"),
               bridge_errc::missing_field, "field 'kind' is required but is null");
}

TEST(Codec, WrongJsonTypeNamesTheField) {
  struct example {
    const char* type;
    const char* value;
    const char* message;
  };
  const example examples[] = {
    {"email_sent", R"({"orderId":7,"kind":"k"})", "field 'orderId' must be a string, got number"},
    {"email_sent", R"({"orderId":"o","kind":["k"]})", "field 'kind' must be a string, got array"},
    {"email_sent", R"({"orderId":"o","kind":"k","sentAt":true})",
     "field 'sentAt' must be epoch milliseconds, got boolean"},
    {"email_sent", R"({"orderId":"o","kind":"k","sentAt":"yesterday"})",
     "field 'sentAt' must be epoch milliseconds or an ISO 8601 date-time"},
    {"payment_request", R"({"orderId":"o","totalAmount":"49.99"})",
     "field 'totalAmount' must be a number, got string"},
    {"payment_request", R"({"orderId":"o","customerId":{},"totalAmount":1})",
     "field 'customerId' must be a string, got object"},
    {"order_created", R"({"orderId":"o","customerId":"c","items":{},"totalAmount":1})",
     "field 'items' must be an array, got object"},
    {"order_created",
     R"({"orderId":"o","customerId":"c","items":[{"productId":"p","price":1,"quantity":1},"x"],"totalAmount":1})",
     "field 'items[1]' must be an object, got string"},
    {"order_created",
     R"({"orderId":"o","customerId":"c","items":[{"productId":"p","price":1,"quantity":2.5}],"totalAmount":1})",
     "field 'items[0].quantity' must be an integer, got 2.5"},
    {"order_created",
     R"({"orderId":"o","customerId":"c","items":[{"productId":"p","price":1.999,"quantity":1}],"totalAmount":1})",
     "field 'items[0].price' must be an amount with at most two decimals"},
    {"order_snapshot", R"({"orderId":"o","status":"PAID","itemCount":"2"})",
     "field 'itemCount' must be an integer, got string"},
    {"order_snapshot", R"({"orderId":"o","status":"PAID","itemCount":18446744073709551615})",
     "field 'itemCount' must be an integer within int64"},
  };
  for (const auto& e : examples)
    expect_error(decode_value(e.type, e.value), bridge_errc::wrong_type, e.message);
}

TEST(Codec, FirstProblemInFieldOrderIsReported) {
  // orderId is checked before anything else, so a record without one is
  // reported as such however broken the rest is.
  expect_error(decode_value("order_created", R"({"items":7,"totalAmount":"x"})"),
               bridge_errc::missing_field, "'orderId'");
}

// -- Tolerance: what foreign producers may send ----------------------------------

TEST(Codec, UnknownFieldsAreIgnored) {
  const auto x = decode_as<actors::email_sent>(
    "email_sent", R"({"orderId":"o","kind":"k","version":3,"extra":{"a":[1,2]}})");
  EXPECT_EQ(x, (actors::email_sent{"o", "", "k", 0}));
}

TEST(Codec, AbsentOptionalFieldsTakeTheirDefaults) {
  EXPECT_EQ(decode_as<actors::payment_request>("payment_request",
                                                R"({"orderId":"o","totalAmount":3})"),
            (actors::payment_request{"o", "", 300}));
  EXPECT_EQ(decode_as<actors::payment_result>("payment_result",
                                               R"({"orderId":"o","status":"SUCCEEDED"})"),
            (actors::payment_result{"o", "", 0, "SUCCEEDED", "", "", 0}));
  EXPECT_EQ(decode_as<actors::notification_event>("notification_event",
                                                   R"({"orderId":"o","type":"T"})"),
            (actors::notification_event{"o", "", "T", 0, "", false}));
  EXPECT_EQ(decode_as<actors::order_snapshot>("order_snapshot",
                                               R"({"orderId":"o","status":"PAID"})"),
            (actors::order_snapshot{"o", "", 0, 0, "PAID", "", "", "", 0, 0, false, 0}));
}

TEST(Codec, NullOptionalFieldsTakeTheirDefaults) {
  // JavaScript producers write null for "no value" (reason: null on success).
  EXPECT_EQ(decode_as<actors::payment_result>(
              "payment_result",
              R"({"orderId":"o","status":"SUCCEEDED","reason":null,"processedAt":null})"),
            (actors::payment_result{"o", "", 0, "SUCCEEDED", "", "", 0}));
}

TEST(Codec, AbsentSubtotalIsPriceTimesQuantity) {
  const auto order = decode_as<actors::order_created>(
    "order_created",
    R"({"orderId":"o","customerId":"c","items":[{"productId":"p","price":0.35,"quantity":3}],"totalAmount":1.05})");
  ASSERT_EQ(order.items.size(), 1u);
  EXPECT_EQ(order.items[0], (actors::order_item{"p", "", 35, 3, 105}));
}

// Issue 14, defect 7: price x quantity beyond 2^53 was taken, and its
// re-encoding then failed to decode.
TEST(Codec, AnAbsentSubtotalBeyondExactAmountsIsRefused) {
  const auto big = decode_value(
    "order_created",
    R"({"orderId":"o","customerId":"c","items":[{"productId":"p","price":35184372088.83,"quantity":1000000}],"totalAmount":1})");
  expect_error(big, bridge_errc::wrong_type, "times");
  // and what is taken re-encodes to a record that decodes to it again
  const auto ok = decode_as<actors::order_created>(
    "order_created",
    R"({"orderId":"o","customerId":"c","items":[{"productId":"p","price":9007199254.74,"quantity":1000}],"totalAmount":9007199254740})");
  auto again = decode_value("order_created", encode_value(runtime::message{ok}));
  ASSERT_TRUE(again) << runtime::describe(again.error());
  EXPECT_EQ(again->get<actors::order_created>(), ok);
}

// Found by fuzz_decode_record: 49.99 x 1657899684751 is below 2^53 cents,
// but its re-encoding 82878405240702.49 read back as a double lands on
// another cent. A computed subtotal with cents beyond 2^45 whole units is
// refused, and so is such an amount written out.
TEST(Codec, AComputedSubtotalWhoseCentADoubleCannotHoldIsRefused) {
  const auto big = decode_value(
    "order_created",
    R"({"orderId":"o-1","customerId":"c","items":[{"productId":"p","name":"n","price":49.99,"quantity":1657899684751}],"totalAmount":99.98})");
  expect_error(big, bridge_errc::wrong_type, "times");
  const auto written = decode_value(
    "order_created",
    R"({"orderId":"o-1","customerId":"c","items":[{"productId":"p","price":49.99,"quantity":1,"subtotal":82878405240702.49}],"totalAmount":99.98})");
  expect_error(written, bridge_errc::wrong_type, "subtotal");
  // (whole amounts that large are exact, and taken)
  const auto whole = decode_as<actors::order_created>(
    "order_created",
    R"({"orderId":"o-1","customerId":"c","items":[{"productId":"p","price":50,"quantity":1657899684751}],"totalAmount":1})");
  auto again = decode_value("order_created", encode_value(runtime::message{whole}));
  ASSERT_TRUE(again) << runtime::describe(again.error());
  EXPECT_EQ(again->get<actors::order_created>(), whole);
}

TEST(Codec, IntegralDoubleQuantityIsAccepted) {
  const auto order = decode_as<actors::order_created>(
    "order_created",
    R"({"orderId":"o","customerId":"c","items":[{"productId":"p","price":1,"quantity":2.0,"subtotal":2}],"totalAmount":2})");
  ASSERT_EQ(order.items.size(), 1u);
  EXPECT_EQ(order.items[0].quantity, 2);
}

TEST(Codec, NegativeAmountDecodesForBusinessRulesToReject) {
  EXPECT_EQ(decode_as<actors::payment_request>("payment_request",
                                                R"({"orderId":"o","totalAmount":-0.5})")
              .total_cents,
            -50);
}

TEST(Codec, IsoTimestampIsReadAsEpochMilliseconds) {
  // as JavaScript's new Date().toISOString() writes it
  EXPECT_EQ(decode_as<actors::email_sent>(
              "email_sent", R"({"orderId":"o","kind":"k","sentAt":"2023-11-14T22:13:20.123Z"})")
              .sent_at_ms,
            1700000000123);
  // with an offset, and without a fraction
  EXPECT_EQ(decode_as<actors::email_sent>(
              "email_sent", R"({"orderId":"o","kind":"k","sentAt":"2023-11-15T00:13:20+02:00"})")
              .sent_at_ms,
            1700000000000);
  // an impossible date is not a timestamp
  expect_error(decode_value("email_sent",
                            R"({"orderId":"o","kind":"k","sentAt":"2023-02-30T00:00:00Z"})"),
               bridge_errc::wrong_type, "'sentAt'");
}

TEST(Codec, FractionalMillisecondTimestampIsRounded) {
  // Python producers write time.time() * 1000
  EXPECT_EQ(decode_as<actors::email_sent>("email_sent",
                                           R"({"orderId":"o","kind":"k","sentAt":1700000000123.6})")
              .sent_at_ms,
            1700000000124);
}

TEST(Codec, FieldOrderOnTheWireDoesNotMatter) {
  const auto order = decode_as<actors::order_created>(
    "order_created",
    R"({"createdAt":5,"status":"PAID","totalAmount":1,"items":[],"customerId":"c","orderId":"o"})");
  EXPECT_EQ(order, (actors::order_created{"o", "c", {}, 100, "PAID", 5}));
}

// -- Seed 002's shapes (a KafkaJS or kafka-python service on the other side) ---------

TEST(SeedShapes, PaymentRequestAmountIsReadAsTheTotal) {
  // Given the seed order service's payment request {orderId, customerId, amount}
  auto req = decode_as<actors::payment_request>(
    "payment_request", R"({"orderId":"o-1","customerId":"c-1","amount":99.98})");
  // Then it is a request for 99.98
  EXPECT_EQ(req, (actors::payment_request{"o-1", "c-1", 9998}));
}

TEST(SeedShapes, TotalAmountWinsOverAmountWhenBothAreThere) {
  auto req = decode_as<actors::payment_request>(
    "payment_request", R"({"orderId":"o","totalAmount":2,"amount":1})");
  EXPECT_EQ(req.total_cents, 200);
}

TEST(SeedShapes, AWrongAmountUnderTheSeedNameIsNamedInTheError) {
  expect_error(decode_value("payment_request", R"({"orderId":"o","amount":"12"})"),
               bridge_errc::wrong_type, "field 'amount' must be a number, got string");
}

TEST(SeedShapes, PaymentRequestCarriesTheAmountUnderBothNames) {
  // A seed billing service reads `amount`; kastor's readers `totalAmount`.
  auto text = encode_value(actors::payment_request{"o", "c", 4999});
  auto parsed = boost::json::parse(text).as_object();
  EXPECT_EQ(parsed.at("totalAmount").as_double(), 49.99);
  EXPECT_EQ(parsed.at("amount").as_double(), 49.99);
}

TEST(SeedShapes, CreatedStatusIsReadAsPending) {
  // Given the seed order service's order-created record with "status":"CREATED"
  auto order = decode_as<actors::order_created>(
    "order_created",
    R"({"orderId":"o","customerId":"c","items":[{"productId":"p","price":1,"quantity":2}],)"
    R"("totalAmount":2,"status":"CREATED","createdAt":"2026-12-02T10:00:00.000Z"})");
  // Then it is a PENDING order that passes the schema
  EXPECT_EQ(order.status, actors::status_pending);
  EXPECT_EQ(actors::schema_violation(order), std::nullopt);
  EXPECT_EQ(order.created_at_ms, 1796205600000);
}

TEST(SeedShapes, BillingNotificationWithoutAmountKnowsItHasNone) {
  // Given the seed billing service's notification {orderId, customerId, type, at}
  auto ev = decode_as<actors::notification_event>(
    "notification_event",
    R"({"orderId":"o","customerId":"c","type":"PAYMENT_SUCCEEDED","at":"2026-12-02T10:00:00.000Z"})");
  // Then it has no amount (not an amount of 0) and its time is read
  EXPECT_FALSE(ev.amount_known);
  EXPECT_EQ(ev.total_cents, 0);
  EXPECT_EQ(ev.at_ms, 1796205600000);
  EXPECT_EQ(actors::schema_violation(ev), std::nullopt);
  // And written back it still has none (no invented 0)
  EXPECT_EQ(encode_value(ev), R"({"orderId":"o","customerId":"c","type":"PAYMENT_SUCCEEDED",)"
                              R"("message":"","at":"2026-12-02T10:00:00.000Z"})");
}

TEST(SeedShapes, KastorNotificationCarriesItsTimeAsTheSeedWritesIt) {
  actors::notification_event ev{"o", "c", actors::notify_payment_failed, 150, "m", true,
                                 1796205600123};
  EXPECT_EQ(encode_value(ev), R"({"orderId":"o","customerId":"c","type":"PAYMENT_FAILED",)"
                              R"("totalAmount":1.5,"message":"m","at":"2026-12-02T10:00:00.123Z"})");
  EXPECT_EQ(decode_as<actors::notification_event>("notification_event", encode_value(ev)), ev);
}

TEST(SeedShapes, HeaderlessSeedRecordsAreTypedByTheirTopic) {
  // Given a kafka-python producer's record: no key, no headers
  auto in = decode_record("notification-events", 2, 9, "",
                          R"({"orderId":"o-9","customerId":"c","type":"PAYMENT_FAILED"})", {}, 1);
  ASSERT_TRUE(in) << runtime::describe(in.error());
  EXPECT_EQ(in->meta.type, "notification_event");
  EXPECT_EQ(in->meta.key, "o-9");  // the order id is the key
}

// -- Money -----------------------------------------------------------------------------

TEST(Money, FormatCentsPrintsTheShortestDecimal) {
  EXPECT_EQ(format_cents(9998), "99.98");
  EXPECT_EQ(format_cents(150), "1.5");
  EXPECT_EQ(format_cents(100), "1");
  EXPECT_EQ(format_cents(-250), "-2.5");
  EXPECT_EQ(format_cents(5), "0.05");
  EXPECT_EQ(format_cents(-5), "-0.05");
  EXPECT_EQ(format_cents(0), "0");
  EXPECT_EQ(format_cents(1001), "10.01");
  EXPECT_EQ(format_cents(std::numeric_limits<int64_t>::max()), "92233720368547758.07");
  EXPECT_EQ(format_cents(std::numeric_limits<int64_t>::min()), "-92233720368547758.08");
}

TEST(Money, CentsFromJsonNumberRoundsAwayBinaryError) {
  EXPECT_EQ(cents_from_json_number(99.98), 9998);
  EXPECT_EQ(cents_from_json_number(49.99), 4999);
  EXPECT_EQ(cents_from_json_number(0.07), 7);    // 7.000000000000001 after * 100
  EXPECT_EQ(cents_from_json_number(1.15), 115);  // 114.99999999999999 after * 100
  EXPECT_EQ(cents_from_json_number(0.1 + 0.2), 30);
  EXPECT_EQ(cents_from_json_number(-2.5), -250);
  EXPECT_EQ(cents_from_json_number(0.0), 0);
  EXPECT_EQ(cents_from_json_number(-0.0), 0);
  EXPECT_EQ(cents_from_json_number(1e6), 100000000);
}

TEST(Money, MoreThanTwoDecimalsIsRejected) {
  EXPECT_EQ(cents_from_json_number(0.001), std::nullopt);
  EXPECT_EQ(cents_from_json_number(1.005), std::nullopt);
  EXPECT_EQ(cents_from_json_number(49.999), std::nullopt);
  // A relative tolerance would wave a third decimal through on large amounts.
  EXPECT_EQ(cents_from_json_number(12345.678), std::nullopt);
  EXPECT_EQ(cents_from_json_number(1234567.891), std::nullopt);
}

TEST(Money, NonFiniteAndOutOfRangeAreRejected) {
  EXPECT_EQ(cents_from_json_number(std::numeric_limits<double>::quiet_NaN()), std::nullopt);
  EXPECT_EQ(cents_from_json_number(std::numeric_limits<double>::infinity()), std::nullopt);
  EXPECT_EQ(cents_from_json_number(-std::numeric_limits<double>::infinity()), std::nullopt);
  EXPECT_EQ(cents_from_json_number(1e300), std::nullopt);
  EXPECT_EQ(cents_from_json_number(1e14), std::nullopt);  // beyond 2^53 cents
  EXPECT_EQ(cents_from_json_number(9e13), 9000000000000000);
}

TEST(Money, EveryCentAmountUpToTenThousandSurvivesTheDouble) {
  for (int64_t cents = -1'000'000; cents <= 1'000'000; ++cents) {
    const auto back = cents_from_json_number(static_cast<double>(cents) / 100.0);
    ASSERT_EQ(back, cents) << format_cents(cents);
  }
}

TEST(Money, EveryPrintedAmountParsesBackToItsCents) {
  // through Boost.JSON's number parser, as a record value is read
  for (int64_t cents = 0; cents <= 200'000; cents += 7) {
    const auto text = R"({"orderId":"o","totalAmount":)" + format_cents(cents) + "}";
    auto m = decode_value("payment_request", text);
    ASSERT_TRUE(m) << text << ": " << runtime::describe(m.error());
    ASSERT_EQ(m->get<actors::payment_request>().total_cents, cents) << text;
  }
}

TEST(Money, IntegerAmountsAreWholeUnits) {
  EXPECT_EQ(decode_as<actors::payment_request>("payment_request",
                                                R"({"orderId":"o","totalAmount":100})")
              .total_cents,
            10000);
  expect_error(decode_value("payment_request",
                            R"({"orderId":"o","totalAmount":9223372036854775807})"),
               bridge_errc::wrong_type, "'totalAmount'");
  expect_error(decode_value("payment_request",
                            R"({"orderId":"o","totalAmount":18446744073709551615})"),
               bridge_errc::wrong_type, "'totalAmount'");
}

TEST(Money, ExponentNotationIsANumberLikeAnyOther) {
  EXPECT_EQ(decode_as<actors::payment_request>("payment_request",
                                                R"({"orderId":"o","totalAmount":9.998e1})")
              .total_cents,
            9998);
}

// -- to_json_text ----------------------------------------------------------------------

std::string text_of(json::value v) {
  return to_json_text(v);
}

TEST(JsonText, StringsAreEscapedAsJsonStringifyDoes) {
  EXPECT_EQ(text_of("plain"), R"("plain")");
  EXPECT_EQ(text_of("say \"hi\""), R"("say \"hi\"")");
  EXPECT_EQ(text_of("back\\slash"), R"("back\\slash")");
  EXPECT_EQ(text_of("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(text_of(json::string("\x01\x1f", 2)), R"("\u0001\u001f")");
  EXPECT_EQ(text_of(json::string("a\0b", 3)), R"("a\u0000b")");
  EXPECT_EQ(text_of("/ and \x7f stay"), "\"/ and \x7f stay\"");
}

TEST(JsonText, Utf8IsKeptAsIs) {
  const std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xE6\x97\xA5 \xF0\x9F\x98\x80";
  EXPECT_EQ(text_of(json::string(text)), "\"" + text + "\"");
}

TEST(JsonText, InvalidUtf8BecomesTheReplacementCharacter) {
  // a stray continuation byte, a truncated sequence, an encoded surrogate
  EXPECT_EQ(text_of(json::string("a\x80z")), "\"a\xEF\xBF\xBDz\"");
  EXPECT_EQ(text_of(json::string("a\xE2\x82")), "\"a\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(text_of(json::string("\xED\xA0\x80")),
            "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(JsonText, DoublesPrintInShortestRoundTripForm) {
  EXPECT_EQ(text_of(99.98), "99.98");
  EXPECT_EQ(text_of(1.0), "1");
  EXPECT_EQ(text_of(-2.5), "-2.5");
  EXPECT_EQ(text_of(0.1), "0.1");
  EXPECT_EQ(text_of(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(text_of(-0.0), "0");
  EXPECT_EQ(text_of(1e20), "100000000000000000000");
  EXPECT_EQ(text_of(123e18), "123000000000000000000");
  EXPECT_EQ(text_of(1e21), "1e+21");
  EXPECT_EQ(text_of(1.5e300), "1.5e+300");
  EXPECT_EQ(text_of(0.000001), "0.000001");
  EXPECT_EQ(text_of(1.25e-6), "0.00000125");
  EXPECT_EQ(text_of(1e-7), "1e-7");
  EXPECT_EQ(text_of(-1.5e-10), "-1.5e-10");
  EXPECT_EQ(text_of(5e-324), "5e-324");
  EXPECT_EQ(text_of(1.7976931348623157e308), "1.7976931348623157e+308");
}

TEST(JsonText, NonFiniteDoublesPrintAsNull) {
  EXPECT_EQ(text_of(std::numeric_limits<double>::quiet_NaN()), "null");
  EXPECT_EQ(text_of(std::numeric_limits<double>::infinity()), "null");
}

TEST(JsonText, IntegersPrintExactly) {
  EXPECT_EQ(text_of(std::int64_t{0}), "0");
  EXPECT_EQ(text_of(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(text_of(std::numeric_limits<std::uint64_t>::max()), "18446744073709551615");
}

TEST(JsonText, ObjectsKeepInsertionOrderAndNest) {
  json::object obj;
  obj["z"] = 1;
  obj["a"] = json::array{true, false, nullptr, "x", 2.5};
  obj["m"] = json::object{};
  obj["e"] = json::array{};
  EXPECT_EQ(text_of(obj), R"({"z":1,"a":[true,false,null,"x",2.5],"m":{},"e":[]})");
}

TEST(JsonText, KeysAreEscapedToo) {
  json::object obj;
  obj["a\"b\n"] = "v";
  EXPECT_EQ(text_of(obj), R"({"a\"b\n":"v"})");
}

TEST(JsonText, ParsedTextPrintsBackUnchanged) {
  const std::string text = R"({"orderId":"o-1","n":[1,-2,3.25,1e+21,0.000001],"s":"\u0001"})";
  EXPECT_EQ(text_of(json::parse(text)), text);
}

}  // namespace
}  // namespace kastor::bridges
