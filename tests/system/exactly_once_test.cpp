// On a real Apache Kafka (make test starts one and sets KASTOR_BROKERS): a
// copy stage run exactly-once, killed with SIGKILL mid-transaction again and
// again while input keeps arriving, copies every record exactly once. Modelled
// on Kafka's own transactions system test: a read_committed reader runs the
// whole time and must never see a record twice, and at the end the output
// equals the input, while a read_uncommitted reader shows that the kills did
// leave aborted output behind (so the check had something to catch).
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "kastor/apps/commands.hpp"
#include "kastor/apps/process.hpp"
#include "kastor/bridges/codec.hpp"
#include "kastor/bridges/kafka.hpp"
#include "kastor/bridges/librdkafka.hpp"
#include "kastor/bridges/producer.hpp"
#include "support/kafka.hpp"
#include "support/wait.hpp"

using namespace kastor;
using namespace std::chrono_literals;

namespace {

using test::system_brokers;

constexpr int partitions = 6;

bridges::rk_ptr consumer(const std::string& topic, const char* isolation) {
  return test::reader(system_brokers(), topic, partitions, {{"isolation.level", isolation}});
}

// What a reader of the output saw: per key, how often, and the last value.
struct seen_records {
  std::mutex mtx;
  std::map<std::string, int> count;
  std::map<std::string, std::string> value;
  size_t total = 0;
  size_t duplicates = 0;

  void add(const rd_kafka_message_t* m) {
    std::string key{static_cast<const char*>(m->key), m->key_len};
    std::lock_guard<std::mutex> guard{mtx};
    ++total;
    if (++count[key] > 1)
      ++duplicates;
    value[key].assign(static_cast<const char*>(m->payload), m->len);
  }
  size_t size() {
    std::lock_guard<std::mutex> guard{mtx};
    return total;
  }
};

// Every record of `topic` up to its current end, read_uncommitted (aborted
// records included, transaction markers not).
size_t count_uncommitted(const std::string& topic) {
  auto rk = consumer(topic, "read_uncommitted");
  std::vector<int64_t> high(partitions, 0);
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0;
    rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &low, &high[p], 10000);
  }
  std::vector<int64_t> next(partitions, 0);
  size_t n = 0;
  auto until = std::chrono::steady_clock::now() + 60s;
  auto behind = [&] {
    for (int p = 0; p < partitions; ++p)
      if (next[p] < high[p] - 1)  // the last offset may be a marker
        return true;
    return false;
  };
  while (behind() && std::chrono::steady_clock::now() < until) {
    bridges::message_ptr m{rd_kafka_consumer_poll(rk.get(), 200)};
    if (!m || m->err)
      continue;
    next[m->partition] = m->offset + 1;
    ++n;
  }
  rd_kafka_consumer_close(rk.get());
  return n;
}

// The copy stage's world: input topic fed at about 300 records/s by a
// producer thread, output topic watched by a concurrent read_committed
// reader, and `kastor node --roles copy` processes run exactly-once.
class ExactlyOnceCopy : public ::testing::Test {
protected:
  void SetUp() override {
    if (system_brokers().empty())
      GTEST_SKIP() << "needs a real Kafka: run through `make test` (KASTOR_BROKERS)";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    tag_ = std::to_string(getpid()) + "-" + info->name();
    in_ = "eos-in-" + tag_;
    out_ = "eos-out-" + tag_;
    ASSERT_FALSE(bridges::ensure_topics(system_brokers(),
                                        {{in_, partitions, 1, false},
                                         {in_ + ".dlq", partitions, 1, false},
                                         {out_, partitions, 1, false}},
                                        60s));
    dir_ = std::filesystem::temp_directory_path() / ("kastor-eos-" + tag_);
    std::filesystem::create_directories(dir_);
    bridges::producer_options po;
    po.brokers = system_brokers();
    po.topic = in_;
    auto input = bridges::kafka_publisher::make(po);
    ASSERT_TRUE(input);
    input_ = *input;
    producer_ = std::thread{[this] { feed(); }};
    reader_ = std::thread{[this] {
      auto rk = consumer(out_, "read_committed");
      while (!stop_reader_.load()) {
        bridges::message_ptr m{rd_kafka_consumer_poll(rk.get(), 100)};
        if (m && !m->err)
          committed_view_.add(m.get());
      }
      rd_kafka_consumer_close(rk.get());
    }};
  }

  void TearDown() override {
    stop_input_ = true;
    stop_reader_ = true;
    if (producer_.joinable())
      producer_.join();
    if (reader_.joinable())
      reader_.join();
    if (!HasFailure() && !dir_.empty())
      std::filesystem::remove_all(dir_);
  }

  void feed() {
    auto next = std::chrono::steady_clock::now();
    for (int i = 0; !stop_input_.load(); ++i) {
      actors::order_created o;
      o.order_id = "eos-" + std::to_string(i);
      o.customer_id = "c" + std::to_string(i % 97);
      o.total_cents = 100 + i;
      o.items = {{"p" + std::to_string(i % 13), "thing", 100 + i, 1, 100 + i}};
      o.created_at_ms = 1700000000000 + i;
      auto value = bridges::encode_value(o);
      input_->publish({o}, nullptr, [this, key = o.order_id, value](const runtime::publish_outcome& r) {
        if (!r.ok()) {
          ++send_failures_;
          return;
        }
        std::lock_guard<std::mutex> guard{input_mtx_};
        sent_[key] = value;
      });
      if (i % 30 == 29) {
        next += 100ms;
        std::this_thread::sleep_until(next);
      }
    }
  }

  std::filesystem::path stage_log(int run) const {
    return dir_ / ("stage-" + std::to_string(run) + ".log");
  }

  // The stage of this run has its partitions (its log says so).
  ::testing::AssertionResult assigned(int run) {
    if (test::eventually([&] {
          std::ifstream f{stage_log(run)};
          std::string line;
          while (std::getline(f, line))
            if (line.find("event=assigned") != std::string::npos)
              return true;
          return false;
        }, 60s))
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "stage " << run << " never got its partitions; log in "
                                         << dir_;
  }

  std::unique_ptr<apps::child_process> start_stage(int run, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{
      KASTOR_BIN, "node", "--roles", "copy", "--brokers", system_brokers(), "--node-id", "copier",
      "--data-dir", dir_.string(), "--log-level", "info",
      "--set", "copy.from=" + in_, "--set", "copy.to=" + out_, "--set", "exactly-once=copy",
      "--set", "group.prefix=eos" + tag_, "--set", "kafka.session-timeout-ms=6000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<apps::child_process>(argv, stage_log(run).string());
  }

  // Stops the input, waits for the stage to copy all of it, stops the stage
  // and checks the output against the input.
  void expect_every_record_copied_once(apps::child_process& stage) {
    stop_input_ = true;
    producer_.join();
    ASSERT_EQ(input_->stop(30s), 0u);
    ASSERT_EQ(send_failures_.load(), 0);
    std::map<std::string, std::string> expected;
    {
      std::lock_guard<std::mutex> guard{input_mtx_};
      expected = sent_;
    }
    auto distinct = [&] {
      std::lock_guard<std::mutex> guard{committed_view_.mtx};
      return committed_view_.count.size();
    };
    EXPECT_TRUE(test::eventually([&] { return distinct() >= expected.size(); }, 120s))
      << "copied " << distinct() << " of " << expected.size() << "; log in " << dir_;
    EXPECT_EQ(stage.stop(30s), 0) << "the stage did not stop cleanly; log in " << dir_;
    stop_reader_ = true;
    reader_.join();
    {
      std::lock_guard<std::mutex> guard{committed_view_.mtx};
      EXPECT_EQ(committed_view_.duplicates, 0u) << "the read_committed reader saw a record twice";
      EXPECT_EQ(committed_view_.total, expected.size());
      size_t missing = 0, changed = 0;
      for (const auto& [key, value] : expected) {
        auto v = committed_view_.value.find(key);
        if (v == committed_view_.value.end())
          ++missing;
        else if (v->second != value)
          ++changed;
      }
      EXPECT_EQ(missing, 0u);
      EXPECT_EQ(changed, 0u) << "a copy differs from its original";
    }
    // A fresh read_committed reader, after the stage stopped, agrees.
    seen_records fresh;
    {
      auto rk = consumer(out_, "read_committed");
      int idle = 0;
      auto until = std::chrono::steady_clock::now() + 60s;
      while ((fresh.size() < expected.size() || idle < 10)
             && std::chrono::steady_clock::now() < until) {
        bridges::message_ptr m{rd_kafka_consumer_poll(rk.get(), 100)};
        idle = m && !m->err ? 0 : idle + 1;
        if (m && !m->err)
          fresh.add(m.get());
      }
      rd_kafka_consumer_close(rk.get());
    }
    EXPECT_EQ(fresh.total, expected.size());
    EXPECT_EQ(fresh.duplicates, 0u);
    // The faults hit open transactions: their output is in the log, aborted.
    auto uncommitted = count_uncommitted(out_);
    EXPECT_GT(uncommitted, expected.size())
      << "no fault left aborted output behind: the test proved nothing";
    // And the stage's consumer group committed exactly the input.
    EXPECT_EQ(test::committed(system_brokers(), "eos" + tag_ + ".copy", in_, partitions),
              static_cast<int64_t>(expected.size()));
    std::printf("exactly-once copy: %zu records in, %zu out (read_committed), %zu written in all "
                "(aborted included)\n",
                expected.size(), committed_view_.total, uncommitted);
  }

  // Waits until the committed output grew by `n` records.
  ::testing::AssertionResult progressed(size_t n) {
    auto before = committed_view_.size();
    if (test::eventually([&] { return committed_view_.size() >= before + n; }, 90s))
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "the stage copies nothing; log in " << dir_;
  }

  std::string tag_, in_, out_;
  std::filesystem::path dir_;
  std::shared_ptr<bridges::kafka_publisher> input_;
  std::mutex input_mtx_;
  std::map<std::string, std::string> sent_;  // key -> value, acknowledged
  std::atomic<int> send_failures_{0};
  std::atomic<bool> stop_input_{false};
  std::atomic<bool> stop_reader_{false};
  std::thread producer_, reader_;
  seen_records committed_view_;
};

TEST_F(ExactlyOnceCopy, KilledMidTransactionManyTimesItCopiesEveryRecordOnce) {
  // When the stage process is killed (kill -9) 5 times, each at a random
  // moment after it got its partitions and copied something, while input
  // arrives (transactions commit every 500 ms here, so a kill finds one open)
  std::mt19937 rng{42};
  // (a low high-water mark: the backlog after each restart pauses and
  // resumes the partitions, as a large one does)
  const std::vector<std::string> slower{"--set", "mailbox.commit-interval-ms=500", "--set",
                                        "mailbox.high-water=300", "--set",
                                        "mailbox.low-water=100"};
  auto stage = start_stage(0, slower);
  for (int k = 0; k < 5; ++k) {
    ASSERT_TRUE(assigned(k));
    ASSERT_TRUE(progressed(100));
    std::this_thread::sleep_until(std::chrono::steady_clock::now()
                                  + std::chrono::milliseconds{100 + rng() % 900});
    EXPECT_EQ(stage->kill_now(), 128 + SIGKILL);
    stage = start_stage(k + 1, slower);  // the same partitions: it fences the dead one
  }
  ASSERT_TRUE(progressed(100));
  // Then every record is in the output once, as read_committed readers see it
  expect_every_record_copied_once(*stage);
}

TEST_F(ExactlyOnceCopy, ItsWorkerCrashingAbortsAndRedoesTheTransaction) {
  // When the copy actor crashes on 1% of its turns (its supervisor restarts
  // it; the mailbox aborts the open transaction and delivers it all again)
  auto stage = start_stage(0, {"--chaos", "copy.crash=0.01", "--set",
                               "supervisor.max-restarts=10000", "--set",
                               "supervisor.backoff-max-ms=50", "--set",
                               "mailbox.max-attempts=1000"});
  for (int k = 0; k < 5; ++k)
    ASSERT_TRUE(progressed(500));
  // And `kastor ctl status` finds roles by their groups under the prefix:
  // the stage, and a group no node of this binary runs ("ledger", as a
  // user's role would be; here an offset committed for it)
  {
    auto conf = bridges::make_conf({{"bootstrap.servers", system_brokers()},
                                    {"group.id", "eos" + tag_ + ".ledger"},
                                    {"enable.auto.commit", "false"}});
    ASSERT_TRUE(conf);
    char err[512];
    bridges::rk_ptr rk{rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), err, sizeof(err))};
    ASSERT_TRUE(rk) << err;
    auto* offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, in_.c_str(), 0)->offset = 0;
    auto committed = rd_kafka_commit(rk.get(), offsets, 0);
    rd_kafka_topic_partition_list_destroy(offsets);
    ASSERT_EQ(committed, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(committed);
  }
  std::map<std::string, size_t> listed;  // role -> members
  EXPECT_TRUE(test::eventually([&] {
    auto out = apps::run_capture(std::string{KASTOR_BIN} + " ctl status --brokers "
                                 + system_brokers() + " --prefix eos" + tag_ + " --json");
    boost::system::error_code ec;
    auto v = boost::json::parse(out, ec);
    if (ec || !v.is_object())
      return false;
    listed.clear();
    for (const auto& r : v.at("roles").as_array())
      listed[std::string{r.at("role").as_string()}] = r.at("members").as_array().size();
    return listed.count("copy") && listed["copy"] == 1 && listed.count("ledger");
  }, 30s)) << "ctl status listed " << listed.size() << " roles";
  EXPECT_EQ(listed["ledger"], 0u);
  // (another application's prefix: the shop's roles are not listed as dead)
  EXPECT_EQ(listed.count("order"), 0u);
  // Then every record is in the output once
  expect_every_record_copied_once(*stage);
}

// A restore reads its changelog to the settled end (read_end::settled): a
// transaction open when the read gets to a partition's end is waited for,
// then read if it commits and left out if it aborts. A partition's next
// owner can find the last owner's final transaction so: its commit is
// acknowledged before its markers are written, while the group's committed
// offsets (fetched with require_stable) already count it. (The bank's
// exactly-once run under load lost sagas that way: their new owner restored
// nothing of them, then took only the records after them.)
TEST(ReadTopic, ASettledReadWaitsForTheTransactionsOpenAtItsEnd) {
  if (system_brokers().empty())
    GTEST_SKIP() << "needs a real Kafka: run through `make test` (KASTOR_BROKERS)";
  const auto topic = "settle-" + std::to_string(getpid());
  ASSERT_FALSE(bridges::ensure_topics(system_brokers(), {{topic, 2, 1, false}}, 60s));
  bridges::producer_options po;
  po.brokers = system_brokers();
  po.transactional_id = topic + ".writer";
  auto writer = bridges::kafka_publisher::make(po);
  ASSERT_TRUE(writer);
  ASSERT_FALSE((*writer)->init_transactions(30s));
  auto write = [&](const std::string& key, int32_t partition) {
    std::promise<runtime::publish_outcome> acked;
    (*writer)->produce(topic, key, "v", {}, [&](const runtime::publish_outcome& o) {
      acked.set_value(o);
    }, partition);
    return acked.get_future().get().ok();
  };
  auto keys = [](const caf::expected<std::vector<bridges::stored_record>>& records) {
    std::vector<std::string> out;
    if (records)
      for (const auto& r : *records)
        out.push_back(std::to_string(r.partition) + ":" + r.key);
    return out;
  };
  auto settled_read = [&](std::map<int32_t, int64_t> from, std::map<int32_t, int64_t>* ends) {
    return std::async(std::launch::async, [from, ends, &topic] {
      return bridges::read_topic(system_brokers(), topic, from, 60s, ends,
                                 bridges::read_end::settled);
    });
  };
  // Given a committed record in partition 0, and an open transaction that
  // wrote three more there and the only one of partition 1
  ASSERT_FALSE((*writer)->begin_transaction());
  ASSERT_TRUE(write("committed", 0));
  ASSERT_FALSE((*writer)->commit_transaction(nullptr, nullptr, 30s));
  ASSERT_FALSE((*writer)->begin_transaction());
  for (const char* k : {"a", "b", "c"})
    ASSERT_TRUE(write(k, 0));
  ASSERT_TRUE(write("d", 1));
  // Then a read to the committed end leaves the open transaction out
  EXPECT_EQ(keys(bridges::read_topic(system_brokers(), topic, {}, 30s)),
            (std::vector<std::string>{"0:committed"}));
  // And a settled read is still waiting for it after a second
  std::map<int32_t, int64_t> ends;
  auto settled = settled_read({}, &ends);
  ASSERT_EQ(settled.wait_for(1s), std::future_status::timeout);
  // When it commits, the settled read returns with what it wrote, and goes
  // on from past its markers next time
  ASSERT_FALSE((*writer)->commit_transaction(nullptr, nullptr, 30s));
  auto read = settled.get();
  ASSERT_TRUE(read) << runtime::describe(read.error());
  EXPECT_EQ(keys(read), (std::vector<std::string>{"0:committed", "0:a", "0:b", "0:c", "1:d"}));
  EXPECT_EQ(ends, (std::map<int32_t, int64_t>{{0, 6}, {1, 2}}));
  // When the next transaction aborts instead, the settled read waited for
  // it and leaves it out
  ASSERT_FALSE((*writer)->begin_transaction());
  ASSERT_TRUE(write("aborted", 1));
  auto next = settled_read(ends, nullptr);
  ASSERT_EQ(next.wait_for(1s), std::future_status::timeout);
  ASSERT_FALSE((*writer)->abort_transaction(30s));
  auto rest = next.get();
  ASSERT_TRUE(rest) << runtime::describe(rest.error());
  EXPECT_TRUE(rest->empty());
  (*writer)->stop(5s);
}

}  // namespace
