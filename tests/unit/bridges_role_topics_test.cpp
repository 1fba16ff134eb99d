// A role's topics are the runtime's business: what role_topics() derives
// from a declaration, without a broker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/describe/class.hpp>

#include "kastor/bridges/mailbox.hpp"
#include "kastor/bridges/node.hpp"
#include "kastor/bridges/remote.hpp"
#include "kastor/runtime/role.hpp"

namespace shelf {

struct restock {
  std::string sku;
  int64_t count = 0;
};
BOOST_DESCRIBE_STRUCT(restock, (), (sku, count))

struct low_stock {
  std::string sku;
};
BOOST_DESCRIBE_STRUCT(low_stock, (), (sku))

struct stock {
  std::string sku;
  int64_t count = 0;
};
BOOST_DESCRIBE_STRUCT(stock, (), (sku, count))

struct item {
  using snapshot_type = stock;
  explicit item(const std::string& sku) { s.sku = sku; }
  explicit item(const stock& restored) : s(restored) {}
  stock snapshot() const { return s; }
  kastor::runtime::outputs handle(const kastor::runtime::record_meta&, const restock&, int64_t) {
    return {};
  }
  stock s;
};

struct alerts {
  kastor::runtime::outputs handle(const kastor::runtime::record_meta&, const low_stock&, int64_t) {
    return {};
  }
};

void declare() {
  using kastor::runtime::declare;
  declare<restock>({.name = "shelf.restock", .topic = "shelf-restocks", .key = &restock::sku});
  declare<low_stock>({.name = "shelf.low", .topic = "shelf-low", .key = &low_stock::sku});
  declare<stock>({.name = "shelf.stock", .topic = "shelf-stock", .key = &stock::sku,
                  .compacted = true, .follows_cause = true});
}

}  // namespace shelf

namespace kastor::bridges {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> names(const std::vector<topic_spec>& ts) {
  std::vector<std::string> out;
  for (const auto& t : ts)
    out.push_back(t.name + (t.compacted ? " (compacted)" : ""));
  return out;
}

TEST(RoleTopics, AnEntityNeedsItsInputsOutputsDeadLettersChangelogRequestsAndRepartition) {
  shelf::declare();
  runtime::node_config cfg;
  cfg.group_prefix = "shop-a";
  cfg.partitions = 8;
  auto spec = runtime::entity<shelf::item>("items")
                .consumes<shelf::restock>()
                .produces<shelf::low_stock>()
                .spec();
  auto topics = role_topics(spec, cfg);
  EXPECT_THAT(names(topics),
              ElementsAre("shelf-restocks", "shelf-restocks.dlq", "shelf-low",
                          "shelf-stock (compacted)", "shelf-stock.dlq",
                          "shop-a.items-requests", "shop-a.items-repartition"));
  for (const auto& t : topics) {
    EXPECT_EQ(t.partitions, 8);
    EXPECT_EQ(t.replication, 0);  // min(3, brokers), decided when created
  }
}

TEST(RoleTopics, TwoApplicationsWithARoleOfOneNameShareNoRequestsNorRepartitionTopic) {
  shelf::declare();
  runtime::node_config a, b;
  a.group_prefix = "shop-a";
  b.group_prefix = "shop-b";
  auto spec = runtime::entity<shelf::item>("items").consumes<shelf::restock>().spec();
  auto own = [&spec](const runtime::node_config& cfg) {
    std::vector<std::string> out;
    for (const auto& t : role_topics(spec, cfg))
      if (t.name.ends_with("-requests") || t.name.ends_with("-repartition"))
        out.push_back(t.name);
    return out;
  };
  EXPECT_THAT(own(a), ElementsAre("shop-a.items-requests", "shop-a.items-repartition"));
  EXPECT_THAT(own(b), ElementsAre("shop-b.items-requests", "shop-b.items-repartition"));
}

TEST(RoleTopics, AServiceNeedsItsInputsAndTheirDeadLettersAViewOnlyItsInputs) {
  shelf::declare();
  runtime::node_config cfg;
  auto service = runtime::role<shelf::alerts>("alerts").consumes<shelf::low_stock>().spec();
  EXPECT_THAT(names(role_topics(service, cfg)), ElementsAre("shelf-low", "shelf-low.dlq"));
  auto view = runtime::role<shelf::alerts>("board").consumes<shelf::low_stock>().view().spec();
  EXPECT_THAT(names(role_topics(view, cfg)), ElementsAre("shelf-low"));
}

}  // namespace
}  // namespace kastor::bridges
