// The calls a producer makes of librdkafka that reach the brokers, behind one
// interface (as consumer_calls.hpp for consumers): kafka_publisher makes each
// through it, so a test can wrap the real ones and fail a chosen call
// (tests/integration/producer_seam_test.cpp). Each method does what the
// librdkafka function of the same name does; produce() is
// rd_kafka_producev() with what kastor gives it (on success librdkafka owns
// `headers`, on failure the caller still does).
//
// Internal (bridges/internal, never installed), like librdkafka.hpp.
#pragma once

#include <string>

#include <librdkafka/rdkafka.h>

namespace kastor::bridges {

class producer_calls {
public:
  virtual ~producer_calls() = default;

  virtual rd_kafka_resp_err_t produce(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                                      const std::string& key, const std::string& value,
                                      rd_kafka_headers_t* headers, void* opaque) {
    return rd_kafka_producev(
      rk, RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
      RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
      RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  }
  virtual rd_kafka_resp_err_t flush(rd_kafka_t* rk, int timeout_ms) {
    return rd_kafka_flush(rk, timeout_ms);
  }
  virtual rd_kafka_error_t* init_transactions(rd_kafka_t* rk, int timeout_ms) {
    return rd_kafka_init_transactions(rk, timeout_ms);
  }
  virtual rd_kafka_error_t* begin_transaction(rd_kafka_t* rk) {
    return rd_kafka_begin_transaction(rk);
  }
  virtual rd_kafka_error_t* send_offsets_to_transaction(
    rd_kafka_t* rk, const rd_kafka_topic_partition_list_t* offsets,
    const rd_kafka_consumer_group_metadata_t* group, int timeout_ms) {
    return rd_kafka_send_offsets_to_transaction(rk, offsets, group, timeout_ms);
  }
  virtual rd_kafka_error_t* commit_transaction(rd_kafka_t* rk, int timeout_ms) {
    return rd_kafka_commit_transaction(rk, timeout_ms);
  }
  virtual rd_kafka_error_t* abort_transaction(rd_kafka_t* rk, int timeout_ms) {
    return rd_kafka_abort_transaction(rk, timeout_ms);
  }
};

}  // namespace kastor::bridges
