// The calls a consumer makes of librdkafka against its group and brokers,
// behind one interface (as Envoy's LibRdKafkaUtils): the mailbox makes every
// such call through it, so a test can wrap the real ones and fail a chosen
// call (tests/integration/mailbox_seam_test.cpp). Each method does what the
// librdkafka function of the same name does; data accessors (lists,
// messages) are called directly.
//
// Internal (bridges/internal, never installed), like librdkafka.hpp.
#pragma once

#include <memory>

#include <librdkafka/rdkafka.h>

namespace kastor::bridges {

class consumer_calls {
public:
  virtual ~consumer_calls() = default;

  virtual rd_kafka_resp_err_t subscribe(rd_kafka_t* rk, const rd_kafka_topic_partition_list_t* t) {
    return rd_kafka_subscribe(rk, t);
  }
  virtual rd_kafka_resp_err_t unsubscribe(rd_kafka_t* rk) { return rd_kafka_unsubscribe(rk); }
  virtual rd_kafka_message_t* consumer_poll(rd_kafka_t* rk, int timeout_ms) {
    return rd_kafka_consumer_poll(rk, timeout_ms);
  }
  virtual rd_kafka_resp_err_t assign(rd_kafka_t* rk, const rd_kafka_topic_partition_list_t* p) {
    return rd_kafka_assign(rk, p);
  }
  virtual rd_kafka_resp_err_t assignment(rd_kafka_t* rk, rd_kafka_topic_partition_list_t** p) {
    return rd_kafka_assignment(rk, p);
  }
  virtual rd_kafka_resp_err_t pause_partitions(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* p) {
    return rd_kafka_pause_partitions(rk, p);
  }
  virtual rd_kafka_resp_err_t resume_partitions(rd_kafka_t* rk,
                                                rd_kafka_topic_partition_list_t* p) {
    return rd_kafka_resume_partitions(rk, p);
  }
  virtual rd_kafka_error_t* seek_partitions(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* p,
                                            int timeout_ms) {
    return rd_kafka_seek_partitions(rk, p, timeout_ms);
  }
  virtual rd_kafka_resp_err_t offsets_store(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* p) {
    return rd_kafka_offsets_store(rk, p);
  }
  virtual rd_kafka_resp_err_t commit(rd_kafka_t* rk, const rd_kafka_topic_partition_list_t* p,
                                     int async) {
    return rd_kafka_commit(rk, p, async);
  }
  virtual rd_kafka_resp_err_t committed(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* p,
                                        int timeout_ms) {
    return rd_kafka_committed(rk, p, timeout_ms);
  }
};

}  // namespace kastor::bridges
