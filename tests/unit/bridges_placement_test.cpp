// Where a key goes: as the Java client, KafkaJS and kafka-python put it.
#include "kastor/bridges/kafka.hpp"

#include <optional>

#include <gtest/gtest.h>


TEST(KeyPartition, Murmur2PlacesKeysWhereTheJavaClientDoes) {
  // Utils.toPositive(Utils.murmur2(key.getBytes())) % 6, from kafka-clients 3.9.1:
  // murmur2("21") = -973932308, ("foobar") = -790332482, ("abc") = 479470107.
  EXPECT_EQ(kastor::bridges::key_partition("murmur2_random", "21", 6), 0);
  EXPECT_EQ(kastor::bridges::key_partition("murmur2_random", "foobar", 6), 0);
  EXPECT_EQ(kastor::bridges::key_partition("murmur2_random", "a-little-bit-long-string", 6), 2);
  EXPECT_EQ(kastor::bridges::key_partition("murmur2_random", "order-1", 6), 4);
  EXPECT_EQ(kastor::bridges::key_partition("murmur2", "abc", 6), 3);
  EXPECT_EQ(kastor::bridges::key_partition("murmur2", "abc", 1000), 479470107 % 1000);
}

TEST(KeyPartition, NoPlacementWithoutAKeyOrAPartitionCount) {
  EXPECT_EQ(kastor::bridges::key_partition("murmur2_random", "", 6), std::nullopt);
  EXPECT_EQ(kastor::bridges::key_partition("murmur2_random", "k", 0), std::nullopt);
  EXPECT_EQ(kastor::bridges::key_partition("random", "k", 6), std::nullopt);
}

TEST(KeyPartition, TheOtherPartitionersArePlacementsToo) {
  // consistent is librdkafka's CRC32 (kastor's placement before murmur2).
  for (auto p : {"consistent_random", "consistent", "fnv1a_random", "fnv1a"}) {
    auto a = kastor::bridges::key_partition(p, "order-1", 6);
    ASSERT_TRUE(a) << p;
    EXPECT_EQ(a, kastor::bridges::key_partition(p, "order-1", 6)) << p;
    EXPECT_GE(*a, 0);
    EXPECT_LT(*a, 6);
  }
}
