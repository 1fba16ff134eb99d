// Schema evolution with the default codec: a described struct reads records
// of the version before it and of the version after it (missing members keep
// their defaults, unknown ones are ignored); required members are enforced;
// errors name the member and the JSON type expected.
#include "kastor/runtime/described_json.hpp"

#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kastor/runtime/message.hpp"

namespace seats {

// Version 1 of a hold, as first deployed.
struct line_v1 {
  std::string sku;
  int32_t count = 0;
};
BOOST_DESCRIBE_STRUCT(line_v1, (), (sku, count))

struct hold_v1 {
  std::string seat;
  std::string customer;
  int64_t cents = 0;
  bool vip = false;
  std::vector<line_v1> lines;
  std::map<std::string, int64_t> fees;
};
BOOST_DESCRIBE_STRUCT(hold_v1, (), (seat, customer, cents, vip, lines, fees))

// Version 2: every member of version 1, plus a defaulted one, an optional
// one, and a new member inside the nested lines.
struct line_v2 {
  std::string sku;
  int32_t count = 0;
  double weight = 1.5;
};
BOOST_DESCRIBE_STRUCT(line_v2, (), (sku, count, weight))

struct hold_v2 {
  std::string seat;
  std::string customer;
  int64_t cents = 0;
  bool vip = false;
  std::vector<line_v2> lines;
  std::map<std::string, int64_t> fees;
  int64_t expires_after_ms = 900000;
  std::optional<std::string> note;
};
BOOST_DESCRIBE_STRUCT(hold_v2, (), (seat, customer, cents, vip, lines, fees, expires_after_ms,
                                    note))

struct booking {
  std::string id;
  hold_v2 hold;
  std::optional<int64_t> paid_cents;
};
BOOST_DESCRIBE_STRUCT(booking, (), (id, hold, paid_cents))

}  // namespace seats

namespace kastor::runtime {
namespace {

using ::testing::HasSubstr;

template <class T>
std::string write(const T& x) {
  return boost::json::serialize(json::to_json(x));
}

template <class T>
std::optional<json::read_failure> read(std::string_view text, T& out,
                                       const json::required_tree* req = nullptr) {
  return json::from_json(boost::json::parse(text), out, req);
}

TEST(DescribedJson, AMissingMemberKeepsItsDefaultAndAnUnknownOneIsIgnored) {
  // Given a record of version 1 with a field no version knows
  seats::hold_v2 h;
  auto failed = read(R"({"seat":"A-1","customer":"c","cents":100,"vip":true,"lines":[],)"
                     R"("fees":{},"future":{"x":[1,2]}})",
                     h);
  // Then version 2 reads it, its new members at their defaults
  ASSERT_FALSE(failed) << failed->what;
  EXPECT_EQ(h.seat, "A-1");
  EXPECT_EQ(h.cents, 100);
  EXPECT_TRUE(h.vip);
  EXPECT_EQ(h.expires_after_ms, 900000);
  EXPECT_FALSE(h.note);
}

TEST(DescribedJson, NullIsAbsentAndAnEmptyOptionalIsLeftOut) {
  seats::hold_v2 h;
  ASSERT_FALSE(read(R"({"seat":"A-1","note":null,"cents":null})", h));
  EXPECT_FALSE(h.note);
  EXPECT_EQ(h.cents, 0);
  EXPECT_EQ(write(h), R"({"seat":"A-1","customer":"","cents":0,"vip":false,"lines":[],)"
                      R"("fees":{},"expires_after_ms":900000})");
  h.note = "vip";
  EXPECT_THAT(write(h), HasSubstr(R"("note":"vip")"));
}

TEST(DescribedJson, ErrorsNameTheMemberPathAndTheTypeExpected) {
  seats::booking b;
  auto failed = read(R"({"id":"b","hold":{"lines":[{"sku":"s"},{"sku":"t","count":"2"}]}})", b);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->what, "member 'hold.lines[1].count': expected an integer, got a string");
  EXPECT_FALSE(failed->missing);

  seats::hold_v2 h;
  failed = read(R"({"cents":"100"})", h);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->what, "member 'cents': expected an integer, got a string");
  failed = read(R"({"lines":[{"count":3000000000}]})", h);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->what, "member 'lines[0].count': the integer 3000000000 is out of range");
  failed = read(R"({"cents":1.5})", h);
  ASSERT_TRUE(failed);
  EXPECT_THAT(failed->what, HasSubstr("member 'cents': expected an integer"));
  failed = read(R"({"fees":{"service":true}})", h);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->what, "member 'fees[service]': expected an integer, got a boolean");
  failed = read(R"({"seat":7})", h);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->what, "member 'seat': expected a string, got an integer");
}

TEST(DescribedJson, RequiredMembersMustBePresentAtAnyDepth) {
  const auto req = json::make_required_tree({"id", "hold.seat", "hold.lines.sku"});
  seats::booking b;
  auto failed = read(R"({"hold":{"seat":"A"}})", b, &req);
  ASSERT_TRUE(failed);
  EXPECT_TRUE(failed->missing);
  EXPECT_EQ(failed->what, "member 'id': is required but missing");
  failed = read(R"({"id":"b","hold":{"seat":null}})", b, &req);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->what, "member 'hold.seat': is required but null");
  failed = read(R"({"id":"b","hold":{"seat":"A","lines":[{"sku":"x"},{"count":1}]}})", b, &req);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->what, "member 'hold.lines[1].sku': is required but missing");
  // A required member of the elements of an absent array is not asked for.
  EXPECT_FALSE(read(R"({"id":"b","hold":{"seat":"A"}})", b, &req));

  EXPECT_TRUE(json::has_member_path<seats::booking>("hold.lines.sku"));
  EXPECT_TRUE(json::has_member_path<seats::booking>("paid_cents"));
  EXPECT_FALSE(json::has_member_path<seats::booking>("hold.lines.price"));
  EXPECT_FALSE(json::has_member_path<seats::booking>("id.x"));
}

// Every version-1 record reads as version 2 with the same values and the
// new members at their defaults; every version-2 record reads as version 1
// with the members it knows (a rolling upgrade, both ways).
TEST(DescribedJson, PropertyEveryRecordOfOneVersionReadsAsTheNext) {
  std::mt19937_64 rng{20261206};
  auto text = [&](size_t max) {
    static const char* const pieces[] = {" ", "a", "\"", "\\", "\x01", "\xc3\xa9", "z", "{"};
    std::string s;
    for (size_t n = rng() % (max + 1); n > 0; --n)
      s += pieces[rng() % std::size(pieces)];
    return s;
  };
  for (int round = 0; round < 2000; ++round) {
    seats::hold_v1 v1;
    v1.seat = text(8);
    v1.customer = text(12);
    v1.cents = static_cast<int64_t>(rng()) >> (rng() % 64);
    v1.vip = rng() % 2;
    for (size_t i = rng() % 4; i > 0; --i)
      v1.lines.push_back({text(5), static_cast<int32_t>(rng())});
    for (size_t i = rng() % 3; i > 0; --i)
      v1.fees[text(4)] = static_cast<int64_t>(rng() % 100000);

    seats::hold_v2 v2;
    auto failed = read(write(v1), v2);
    ASSERT_FALSE(failed) << failed->what << " in " << write(v1);
    EXPECT_EQ(v2.seat, v1.seat);
    EXPECT_EQ(v2.customer, v1.customer);
    EXPECT_EQ(v2.cents, v1.cents);
    EXPECT_EQ(v2.vip, v1.vip);
    ASSERT_EQ(v2.lines.size(), v1.lines.size());
    for (size_t i = 0; i < v1.lines.size(); ++i) {
      EXPECT_EQ(v2.lines[i].sku, v1.lines[i].sku);
      EXPECT_EQ(v2.lines[i].count, v1.lines[i].count);
      EXPECT_EQ(v2.lines[i].weight, 1.5);
    }
    EXPECT_EQ(v2.fees, v1.fees);
    EXPECT_EQ(v2.expires_after_ms, 900000);
    EXPECT_FALSE(v2.note);

    // And back: a newer writer's record, read by the older version.
    v2.expires_after_ms = static_cast<int64_t>(rng() % 1000);
    if (rng() % 2)
      v2.note = text(6);
    seats::hold_v1 back;
    failed = read(write(v2), back);
    ASSERT_FALSE(failed) << failed->what;
    EXPECT_EQ(write(back), write(v1));
  }
}

// Through the registry: a declared type decodes an older and a newer record,
// and `required` is checked when the type is declared.
struct seat_held {
  std::string seat;
  int64_t until_ms = 0;
  std::optional<std::string> note;
};
BOOST_DESCRIBE_STRUCT(seat_held, (), (seat, until_ms, note))

TEST(DescribedJson, ADeclaredTypeReadsOlderAndNewerRecords) {
  const auto& t = declare<seat_held>({.name = "test.seat_held", .topic = "test-seat-held",
                                      .key = &seat_held::seat, .required = {"seat"}});
  auto older = t.decode(R"({"seat":"A-1"})", {});
  ASSERT_TRUE(older) << describe(older.error());
  EXPECT_EQ(older->get<seat_held>().until_ms, 0);
  auto newer = t.decode(R"({"seat":"A-1","until_ms":5,"note":"vip","row":"A"})", {});
  ASSERT_TRUE(newer) << describe(newer.error());
  EXPECT_EQ(newer->get<seat_held>().note, "vip");
  EXPECT_EQ(newer->encode(), R"({"seat":"A-1","until_ms":5,"note":"vip"})");

  auto no_seat = t.decode(R"({"until_ms":5})", {});
  ASSERT_FALSE(no_seat);
  EXPECT_EQ(no_seat.error().code(), static_cast<uint8_t>(bridge_errc::missing_field));
  EXPECT_THAT(describe(no_seat.error()),
              HasSubstr("test.seat_held: member 'seat': is required but missing"));
  auto wrong = t.decode(R"({"seat":"A","until_ms":"5"})", {});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), static_cast<uint8_t>(bridge_errc::wrong_type));
  EXPECT_THAT(describe(wrong.error()), HasSubstr("member 'until_ms': expected an integer"));
}

struct typo_held {
  std::string seat;
};
BOOST_DESCRIBE_STRUCT(typo_held, (), (seat))

TEST(DescribedJson, ARequiredMemberThatDoesNotExistIsRefusedWhenDeclared) {
  EXPECT_THROW(declare<typo_held>({.name = "test.typo_held", .topic = "test-typo-held",
                                   .key = &typo_held::seat, .required = {"sead"}}),
               std::logic_error);
}

}  // namespace
}  // namespace kastor::runtime
