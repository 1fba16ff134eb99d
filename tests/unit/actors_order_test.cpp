// order: the order role's state machine, as the runtime's entity book runs it
// (one entity per order id, restored and passivated with its key).
#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "kastor/actors/order.hpp"
#include "kastor/runtime/entity.hpp"
#include "kastor/runtime/reject.hpp"

namespace rt = kastor::runtime;
namespace actors = kastor::actors;

namespace {

// The book the order role runs (runtime::entity<order>), with the questions
// these tests ask of it.
class order_book {
public:
  explicit order_book(int64_t passivate_after_ms = 60000, int64_t payment_timeout_ms = 0)
      : book_{std::chrono::milliseconds{passivate_after_ms},
              [payment_timeout_ms](const std::string& id, const actors::order_snapshot* restored) {
                return restored ? actors::order{*restored, payment_timeout_ms}
                                : actors::order{id, payment_timeout_ms};
              }} {}

  template <class T>
  std::vector<rt::message> handle(const rt::record_meta& meta, const T& msg, int64_t now_ms) {
    return book_.handle(meta, msg, now_ms);
  }
  std::optional<actors::order_snapshot> find(const std::string& id) const {
    auto s = book_.find(id);
    if (s)
      s->epoch = 0;  // the restored header's, not the order's
    return s;
  }
  bool emailed(const std::string& id) const {
    auto s = find(id);
    return s && s->emailed;
  }
  // The changelog's snapshots of `partition`, in offset order.
  void adopt(int32_t partition, const std::vector<actors::order_snapshot>& restored,
             int64_t epoch = 0) {
    std::vector<rt::message> snapshots;
    for (const auto& s : restored)
      snapshots.emplace_back(s);
    book_.adopt(partition, snapshots, epoch);
  }
  void release(const std::vector<int32_t>& partitions) { book_.release(partitions); }
  size_t active() const { return book_.active(); }
  size_t passivated() const { return book_.passivated(); }
  size_t size() const { return active() + passivated(); }
  // The timers due at `now_ms`, fired (see runtime timers.hpp).
  std::vector<rt::message> fire(int64_t now_ms) { return book_.due_timers(now_ms, 100); }
  size_t timers() const { return book_.timers().size(); }
  // A fired timer's message comes back as a record tagged with it.
  std::vector<rt::message> handle_fired(const rt::message& fired, int64_t now_ms,
                                        int64_t offset = 0) {
    rt::record_meta m;
    m.offset = offset;
    if (const auto* h = rt::find_header(fired.notes(), rt::timer_tag_header))
      m.timer = h->value;
    return book_.handle(m, fired.get<actors::payment_timeout>(), now_ms);
  }

private:
  rt::entity_book<actors::order> book_;
};

rt::record_meta meta(int attempt = 1) {
  rt::record_meta m;
  m.attempt = attempt;
  return m;
}

actors::order_created created(const std::string& id, int64_t created_at = 1'000) {
  actors::order_created o;
  o.order_id = id;
  o.customer_id = "c-1";
  o.items = {{"p-1", "Mug", 4999, 2, 9998}, {"p-2", "Tea", 500, 1, 500}};
  o.total_cents = 10498;
  o.created_at_ms = created_at;
  return o;
}

actors::payment_result paid(const std::string& id) {
  return {id, "c-1", 10498, actors::payment_succeeded, "", "tx-" + id, 2'000};
}

actors::payment_result declined(const std::string& id, const std::string& reason) {
  return {id, "c-1", 10498, actors::payment_declined, reason, "", 2'000};
}

actors::email_sent emailed(const std::string& id, const char* kind = actors::notify_payment_succeeded) {
  return {id, "c-1", kind, 3'000};
}

template <class T>
std::vector<T> all_of(const std::vector<rt::message>& msgs) {
  std::vector<T> out;
  for (const auto& m : msgs)
    if (auto* x = m.get_if<T>())
      out.push_back(*x);
  return out;
}

actors::order_snapshot only_snapshot(const std::vector<rt::message>& msgs) {
  EXPECT_EQ(msgs.size(), 1u);
  auto snaps = all_of<actors::order_snapshot>(msgs);
  EXPECT_EQ(snaps.size(), 1u);
  return snaps.empty() ? actors::order_snapshot{} : snaps.front();
}

int rank(const std::string& status) {
  if (status == actors::status_notified)
    return 2;
  if (status == actors::status_paid || status == actors::status_payment_failed)
    return 1;
  return 0;
}

}  // namespace

TEST(OrderBook, NewOrderIsPendingAndRequestsPayment) {
  order_book book;
  // When the gateway's order arrives
  auto out = book.handle(meta(), created("o-1"), 1'500);
  // Then payment is asked to charge the total, and a PENDING snapshot goes out
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].get<actors::payment_request>(),
            (actors::payment_request{"o-1", "c-1", 10498}));
  auto snap = out[1].get<actors::order_snapshot>();
  EXPECT_EQ(snap, (actors::order_snapshot{"o-1", "c-1", 10498, 3, actors::status_pending, "", "", "",
                                      1'000, 1'500, false, 0}));
  EXPECT_EQ(book.find("o-1"), snap);
  EXPECT_EQ(book.size(), 1u);
}

TEST(OrderBook, OrderWithoutCreationTimeIsCreatedNow) {
  order_book book;
  book.handle(meta(), created("o-1", 0), 1'500);
  EXPECT_EQ(book.find("o-1")->created_at_ms, 1'500);
}

TEST(OrderBook, RedeliveredOrderWhilePendingRequestsPaymentAgain) {
  // Given a PENDING order whose payment request may have been lost
  order_book book;
  book.handle(meta(), created("o-1"), 1'500);
  auto before = book.find("o-1");
  // When the order_created record is delivered again
  auto out = book.handle(meta(2), created("o-1"), 1'700);
  // Then both are written again (the snapshot as it was), and nothing changed
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].get<actors::payment_request>().order_id, "o-1");
  EXPECT_EQ(out[1].get<actors::order_snapshot>(), before);
  EXPECT_EQ(book.find("o-1"), before);
  EXPECT_EQ(book.size(), 1u);
}

TEST(OrderBook, RedeliveredOrderAfterPaymentEmitsOnlyTheSnapshot) {
  // Given a paid order
  order_book book;
  book.handle(meta(), created("o-1"), 1'500);
  book.handle(meta(), paid("o-1"), 2'100);
  // When its order_created is redelivered
  auto out = book.handle(meta(2), created("o-1"), 2'500);
  // Then no second payment request goes out, only the current snapshot
  auto snap = only_snapshot(out);
  EXPECT_EQ(snap.status, actors::status_paid);
  EXPECT_EQ(snap.updated_at_ms, 2'100);  // its last real change
  EXPECT_TRUE(all_of<actors::payment_request>(out).empty());
}

TEST(OrderBook, SucceededPaymentMarksTheOrderPaid) {
  order_book book;
  book.handle(meta(), created("o-1"), 1'500);
  // When payment succeeds
  auto snap = only_snapshot(book.handle(meta(), paid("o-1"), 2'100));
  // Then the order is PAID with the payment recorded
  EXPECT_EQ(snap.status, actors::status_paid);
  EXPECT_EQ(snap.payment_status, actors::payment_succeeded);
  EXPECT_EQ(snap.transaction_id, "tx-o-1");
  EXPECT_EQ(snap.reason, "");
  EXPECT_EQ(snap.updated_at_ms, 2'100);
  EXPECT_EQ(snap.created_at_ms, 1'000);
  EXPECT_EQ(book.find("o-1"), snap);
}

TEST(OrderBook, DeclinedPaymentMarksTheOrderPaymentFailed) {
  order_book book;
  book.handle(meta(), created("o-1"), 1'500);
  // When payment is declined
  auto snap = only_snapshot(book.handle(meta(), declined("o-1", "amount over limit"), 2'100));
  // Then the order is PAYMENT_FAILED with the reason
  EXPECT_EQ(snap.status, actors::status_payment_failed);
  EXPECT_EQ(snap.payment_status, actors::payment_declined);
  EXPECT_EQ(snap.reason, "amount over limit");
  EXPECT_EQ(snap.transaction_id, "");
}

TEST(OrderBook, RedeliveredPaymentResultChangesNothingButReemitsTheSnapshot) {
  order_book book;
  book.handle(meta(), created("o-1"), 1'500);
  book.handle(meta(), paid("o-1"), 2'100);
  auto before = book.find("o-1");
  // When the same result is redelivered
  auto snap = only_snapshot(book.handle(meta(2), paid("o-1"), 4'000));
  // Then the stored order is unchanged and its snapshot is written again
  EXPECT_EQ(book.find("o-1"), before);
  EXPECT_EQ(snap, *before);
  // And a copy delivered for the first time (another record) writes nothing
  EXPECT_TRUE(book.handle(meta(), paid("o-1"), 4'100).empty());
}

TEST(OrderBook, ALateConflictingPaymentResultDoesNotOverrideTheFirst) {
  order_book book;
  book.handle(meta(), created("o-1"), 1'500);
  book.handle(meta(), paid("o-1"), 2'100);
  // When a declined result for the same order shows up afterwards
  EXPECT_TRUE(book.handle(meta(), declined("o-1", "customer blocked"), 2'200).empty());
  // Then the first outcome stands
  auto snap = *book.find("o-1");
  EXPECT_EQ(snap.status, actors::status_paid);
  EXPECT_EQ(snap.payment_status, actors::payment_succeeded);
  EXPECT_EQ(snap.reason, "");
}

TEST(OrderBook, EmailAfterPaymentMarksTheOrderNotified) {
  order_book book;
  book.handle(meta(), created("o-1"), 1'500);
  book.handle(meta(), declined("o-1", "customer blocked"), 2'100);
  // When the email went out
  auto snap = only_snapshot(book.handle(meta(), emailed("o-1", actors::notify_payment_failed), 3'100));
  // Then the order is NOTIFIED and keeps its payment outcome
  EXPECT_EQ(snap.status, actors::status_notified);
  EXPECT_EQ(snap.payment_status, actors::payment_declined);
  EXPECT_EQ(snap.reason, "customer blocked");
  EXPECT_EQ(snap.updated_at_ms, 3'100);
  EXPECT_TRUE(book.emailed("o-1"));
}

TEST(OrderBook, EmailBeforePaymentResultWaitsForTheOutcomeThenNotifies) {
  // Given a PENDING order whose email_sent overtook its payment_result
  order_book book;
  book.handle(meta(), created("o-1"), 1'500);
  auto early = only_snapshot(book.handle(meta(), emailed("o-1"), 2'000));
  // Then it stays PENDING for now, marked emailed
  EXPECT_EQ(early.status, actors::status_pending);
  EXPECT_EQ(early.payment_status, "");
  EXPECT_TRUE(book.emailed("o-1"));
  // When the payment result arrives
  auto snap = only_snapshot(book.handle(meta(), paid("o-1"), 2'500));
  // Then the order goes straight to NOTIFIED, with the payment recorded
  EXPECT_EQ(snap.status, actors::status_notified);
  EXPECT_EQ(snap.payment_status, actors::payment_succeeded);
  EXPECT_EQ(snap.transaction_id, "tx-o-1");
}

TEST(OrderBook, NotifiedIsTerminal) {
  // Given a NOTIFIED order
  order_book book;
  book.handle(meta(), created("o-1"), 1'500);
  book.handle(meta(), paid("o-1"), 2'000);
  book.handle(meta(), emailed("o-1"), 3'000);
  auto final_state = book.find("o-1");
  ASSERT_EQ(final_state->status, actors::status_notified);
  // When every record of it is redelivered, and a conflicting result arrives
  auto a = book.handle(meta(2), created("o-1"), 4'000);
  auto b = book.handle(meta(2), paid("o-1"), 4'001);
  auto c = book.handle(meta(2), declined("o-1", "late"), 4'002);
  auto d = book.handle(meta(2), emailed("o-1"), 4'003);
  // Then each re-emits the NOTIFIED snapshot and nothing changes
  for (const auto* out : {&a, &b, &c, &d})
    EXPECT_EQ(only_snapshot(*out).status, actors::status_notified);
  EXPECT_TRUE(all_of<actors::payment_request>(a).empty());
  EXPECT_EQ(book.find("o-1"), final_state);
}

TEST(OrderBook, PaymentResultForAnUnknownOrderCreatesIt) {
  order_book book;
  // When a result arrives for an order never seen (request injected with kcat)
  auto snap = only_snapshot(book.handle(meta(), paid("o-9"), 5'000));
  // Then the order exists, built from the result, and is PAID
  EXPECT_EQ(snap, (actors::order_snapshot{"o-9", "c-1", 10498, 0, actors::status_paid,
                                      actors::payment_succeeded, "", "tx-o-9", 5'000, 5'000, false, 0}));
  EXPECT_EQ(book.find("o-9"), snap);
  EXPECT_EQ(book.size(), 1u);
}

TEST(OrderBook, EmailForAnUnknownOrderCreatesItPendingAndEmailed) {
  order_book book;
  auto snap = only_snapshot(book.handle(meta(), emailed("o-9"), 5'000));
  EXPECT_EQ(snap.order_id, "o-9");
  EXPECT_EQ(snap.customer_id, "c-1");
  EXPECT_EQ(snap.status, actors::status_pending);
  EXPECT_EQ(snap.created_at_ms, 5'000);
  EXPECT_TRUE(book.emailed("o-9"));
  // And the payment result later completes it
  EXPECT_EQ(only_snapshot(book.handle(meta(), declined("o-9", "x"), 5'100)).status,
            actors::status_notified);
}

TEST(OrderBook, OrderCreatedAfterItsResultFillsInDetailsWithoutRequestingPayment) {
  // Given an order created from its payment result
  order_book book;
  book.handle(meta(), paid("o-1"), 5'000);
  // When the gateway's order_created finally arrives
  auto out = book.handle(meta(), created("o-1", 900), 5'500);
  // Then its details are adopted, it stays PAID, and no payment is requested
  auto snap = only_snapshot(out);
  EXPECT_EQ(snap.status, actors::status_paid);
  EXPECT_EQ(snap.item_count, 3);
  EXPECT_EQ(snap.created_at_ms, 900);
  EXPECT_EQ(snap.transaction_id, "tx-o-1");
}

TEST(OrderBook, OrderCreatedAfterOnlyItsEmailStillRequestsPayment) {
  // Given an order known only from its email (payment outcome unknown)
  order_book book;
  book.handle(meta(), emailed("o-1"), 5'000);
  // When order_created arrives
  auto out = book.handle(meta(), created("o-1"), 5'100);
  // Then payment is requested (payment is idempotent; it re-emits its outcome)
  auto reqs = all_of<actors::payment_request>(out);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0], (actors::payment_request{"o-1", "c-1", 10498}));
  EXPECT_EQ(book.find("o-1")->total_cents, 10498);
}

TEST(OrderBook, StatusNeverRegressesWhateverTheArrivalOrder) {
  // Every interleaving of the three records, each delivered twice
  std::vector<int> events = {0, 0, 1, 1, 2, 2};
  int orderings = 0;
  do {
    order_book book;
    int last_rank = 0;
    int payment_requests = 0;
    int64_t now = 1'000;
    for (int e : events) {
      std::vector<rt::message> out;
      if (e == 0)
        out = book.handle(meta(), created("o-1"), ++now);
      else if (e == 1)
        out = book.handle(meta(), paid("o-1"), ++now);
      else
        out = book.handle(meta(), emailed("o-1"), ++now);
      payment_requests += static_cast<int>(all_of<actors::payment_request>(out).size());
      for (const auto& s : all_of<actors::order_snapshot>(out)) {
        ASSERT_GE(rank(s.status), last_rank) << "regressed to " << s.status;
        last_rank = rank(s.status);
      }
    }
    auto final_state = book.find("o-1");
    ASSERT_TRUE(final_state);
    EXPECT_EQ(final_state->status, actors::status_notified);
    EXPECT_EQ(final_state->payment_status, actors::payment_succeeded);
    EXPECT_EQ(final_state->created_at_ms, 1'000);
    EXPECT_EQ(final_state->item_count, 3);
    // A payment request only ever goes out before the result is known
    auto first_result = std::find(events.begin(), events.end(), 1) - events.begin();
    auto created_before =
        std::count(events.begin(), events.begin() + first_result, 0);
    EXPECT_EQ(payment_requests, created_before);
    ++orderings;
  } while (std::next_permutation(events.begin(), events.end()));
  EXPECT_EQ(orderings, 90);
}

TEST(OrderBook, ResultWithUnknownStatusIsRejectedAndChangesNothing) {
  order_book book;
  book.handle(meta(), created("o-1"), 1'500);
  auto before = book.find("o-1");
  auto bad = paid("o-1");
  bad.status = "MAYBE";
  EXPECT_THROW(book.handle(meta(), bad, 2'000), std::invalid_argument);
  EXPECT_EQ(book.find("o-1"), before);
  // Nor is an unknown order created by it
  bad.order_id = "o-2";
  EXPECT_THROW(book.handle(meta(), bad, 2'000), std::invalid_argument);
  EXPECT_EQ(book.size(), 1u);
}

TEST(OrderBook, MessagesWithoutOrderIdAreRejected) {
  order_book book;
  EXPECT_THROW(book.handle(meta(), created(""), 1), std::invalid_argument);
  EXPECT_THROW(book.handle(meta(), paid(""), 1), std::invalid_argument);
  EXPECT_THROW(book.handle(meta(), emailed(""), 1), std::invalid_argument);
  EXPECT_EQ(book.size(), 0u);
  EXPECT_EQ(book.find(""), std::nullopt);
}

TEST(OrderBook, OrdersAreIndependent) {
  order_book book;
  book.handle(meta(), created("o-1"), 1'500);
  book.handle(meta(), created("o-2"), 1'600);
  book.handle(meta(), paid("o-2"), 1'700);
  EXPECT_EQ(book.find("o-1")->status, actors::status_pending);
  EXPECT_EQ(book.find("o-2")->status, actors::status_paid);
  EXPECT_EQ(book.size(), 2u);
}

// Ownership: orders move with their partition (restored from order-state).

namespace {

rt::record_meta meta_on(int32_t partition) {
  auto m = meta();
  m.partition = partition;
  return m;
}

actors::order_snapshot snapshot(const std::string& id, const char* status, int64_t updated) {
  actors::order_snapshot s{id, "c-1", 10498, 3, status, "", "", "", 1'000, updated, false, 0};
  if (std::string{status} != actors::status_pending)
    s.payment_status = actors::payment_succeeded;
  return s;
}

}  // namespace

TEST(OrderBook, AdoptedPartitionRestoresEachOrderFurthestAlong) {
  order_book book;
  // Given a changelog where a stale PENDING write (a zombie's) came after PAID
  book.adopt(4, {snapshot("o-1", actors::status_pending, 1'500), snapshot("o-1", actors::status_paid, 2'000),
                 snapshot("o-1", actors::status_pending, 2'100)});
  // Then the order is PAID, with the fields of its order_created
  auto s = book.find("o-1");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, actors::status_paid);
  EXPECT_EQ(s->item_count, 3);
  // And a redelivered order_created asks for no second payment
  auto out = book.handle(meta_on(4), created("o-1"), 3'000);
  EXPECT_TRUE(all_of<actors::payment_request>(out).empty());
  // And its email makes it NOTIFIED
  EXPECT_EQ(only_snapshot(book.handle(meta_on(4), emailed("o-1"), 3'100)).status,
            actors::status_notified);
}

TEST(OrderBook, RestoredPendingOrderStillRequestsPayment) {
  order_book book;
  book.adopt(1, {snapshot("o-1", actors::status_pending, 1'500)});
  auto out = book.handle(meta_on(1), created("o-1"), 2'000);
  EXPECT_EQ(all_of<actors::payment_request>(out).size(), 1u);
}

TEST(OrderBook, ReleasedPartitionDropsOnlyItsOrders) {
  order_book book;
  book.handle(meta_on(1), created("o-1"), 1'500);
  book.handle(meta_on(2), created("o-2"), 1'500);
  book.release({1});
  EXPECT_EQ(book.find("o-1"), std::nullopt);
  ASSERT_TRUE(book.find("o-2"));
  // Taken back later: what the changelog says, not what was held before
  book.adopt(1, {snapshot("o-1", actors::status_paid, 2'000)});
  EXPECT_EQ(book.find("o-1")->status, actors::status_paid);
  EXPECT_EQ(book.size(), 2u);
}

TEST(OrderBook, RestoredFinishedOrderIsPassivatedAndDuplicatesEmitNothing) {
  order_book book;
  auto final_state = snapshot("o-1", actors::status_notified, 3'000);
  final_state.emailed = true;  // as a NOTIFIED order's snapshot is
  final_state.transaction_id = "tx-o-1";
  book.adopt(0, {final_state});
  EXPECT_EQ(book.passivated(), 1u);
  EXPECT_EQ(book.active(), 0u);
  // A late duplicate must not write a guessed (PENDING) snapshot over the final one
  EXPECT_TRUE(book.handle(meta_on(0), emailed("o-1"), 4'000).empty());
  EXPECT_TRUE(book.handle(meta_on(0), paid("o-1"), 4'000).empty());
  EXPECT_TRUE(book.handle(meta_on(0), created("o-1"), 4'000).empty());
  book.release({0});
  EXPECT_EQ(book.size(), 0u);
}

TEST(OrderBook, OnlyAFinishedOrderIdleLongerThanPassivateAfterIsPassivated) {
  order_book book{100};
  book.handle(meta_on(0), created("o-1"), 1'000);
  book.handle(meta_on(0), paid("o-1"), 1'010);
  book.handle(meta_on(0), emailed("o-1"), 1'020);
  EXPECT_EQ(book.active(), 1u);  // NOTIFIED, not idle yet
  book.handle(meta_on(0), created("o-2"), 1'050);
  EXPECT_EQ(book.active(), 2u);
  book.handle(meta_on(0), created("o-3"), 1'200);  // o-1 idle for 180 ms
  EXPECT_EQ(book.passivated(), 1u);  // o-1 (order::may_passivate)
  EXPECT_EQ(book.active(), 2u);  // o-2 (PENDING) stays, however idle
  EXPECT_EQ(book.size(), 3u);
  EXPECT_EQ(book.find("o-1")->status, actors::status_notified);  // its snapshot stays
}

TEST(OrderBook, OwnershipChangesFromAnotherThreadApplyBeforeTheNextTurn) {
  order_book book;
  std::thread other{[&] { book.adopt(3, {snapshot("o-9", actors::status_paid, 2'000)}); }};
  other.join();
  auto out = book.handle(meta_on(3), emailed("o-9"), 3'000);
  EXPECT_EQ(only_snapshot(out).status, actors::status_notified);
}

TEST(OrderBook, AdoptMergesTheChangelogTailWithWhatIsHeld) {
  order_book book;
  book.handle(meta_on(2), created("o-1"), 1'500);
  book.handle(meta_on(2), created("o-2"), 1'500);
  book.handle(meta_on(2), paid("o-2"), 1'600);
  // Taken back after someone else moved o-1 on; o-2's tail holds a stale write
  book.adopt(2, {snapshot("o-1", actors::status_paid, 2'000), snapshot("o-2", actors::status_pending, 2'100)});
  EXPECT_EQ(book.find("o-1")->status, actors::status_paid);
  EXPECT_EQ(book.find("o-2")->status, actors::status_paid);
  EXPECT_EQ(book.find("o-1")->item_count, 3);
}

TEST(OrderBook, RestoredOrderEmailedBeforeItsPaymentOutcomeBecomesNotified) {
  // Given a changelog whose last word on the order: emailed, outcome unknown
  // (the email_sent record was committed by the previous owner)
  auto s = snapshot("o-1", actors::status_pending, 2'000);
  s.emailed = true;
  order_book book;
  book.adopt(5, {s});
  // When its payment result arrives at the new owner
  auto out = book.handle(meta_on(5), paid("o-1"), 3'000);
  // Then the order is finished, no second email needed
  EXPECT_EQ(only_snapshot(out).status, actors::status_notified);
}

TEST(OrderBook, SnapshotsOfAnAdoptedPartitionCarryItsEpoch) {
  order_book book;
  book.adopt(2, {}, 1'700'000'000'000);
  auto out = book.handle(meta_on(2), created("o-1"), 1'000);
  EXPECT_EQ(out.back().epoch(), 1'700'000'000'000);
  EXPECT_EQ(out.back().get<actors::order_snapshot>().epoch, 0);  // the header's, not the order's
  // A partition not adopted (or released) writes without one
  EXPECT_EQ(book.handle(meta_on(3), created("o-2"), 1'000).back().epoch(), 0);
  book.release({2});
  EXPECT_EQ(book.handle(meta_on(2), created("o-3"), 1'000).back().epoch(), 0);
}

// -- A seed 002 billing service in front of kastor: only notification-events --

namespace {
actors::notification_event billing_said(const std::string& id, const char* type) {
  return {id, "c-1", type, 0, "", false, 2'500};
}
}  // namespace

TEST(OrderBook, SeedBillingNotificationIsThePaymentOutcome) {
  // Given a pending order and no payment_result for it
  order_book book;
  book.handle(meta(), created("o-1"), 1'000);
  // When the seed's billing says the payment succeeded
  auto snap = only_snapshot(
    book.handle(meta(), billing_said("o-1", actors::notify_payment_succeeded), 2'000));
  // Then the order is PAID, with the order's own amount kept
  EXPECT_EQ(snap.status, actors::status_paid);
  EXPECT_EQ(snap.payment_status, actors::payment_succeeded);
  EXPECT_EQ(snap.total_cents, 10498);
  // And a failed one elsewhere is PAYMENT_FAILED
  book.handle(meta(), created("o-2"), 1'000);
  auto failed = only_snapshot(
    book.handle(meta(), billing_said("o-2", actors::notify_payment_failed), 2'000));
  EXPECT_EQ(failed.status, actors::status_payment_failed);
  EXPECT_EQ(failed.payment_status, actors::payment_declined);
}

TEST(OrderBook, NotificationAfterThePaymentResultEmitsNothing) {
  // Given an order kastor's payment already answered (it writes both topics)
  order_book book;
  book.handle(meta(), created("o-1"), 1'000);
  book.handle(meta(), paid("o-1"), 2'000);
  // When its notification arrives, nothing changes and nothing is written
  EXPECT_TRUE(
    book.handle(meta(), billing_said("o-1", actors::notify_payment_failed), 3'000).empty());
  EXPECT_EQ(book.find("o-1")->status, actors::status_paid);
}

TEST(OrderBook, PaymentResultAfterItsNotificationFillsInTheDetails) {
  // Given an order whose notification came before its payment_result
  order_book book;
  book.handle(meta(), created("o-1"), 1'000);
  book.handle(meta(), billing_said("o-1", actors::notify_payment_succeeded), 2'000);
  // When the payment_result arrives, its transaction id is kept; the status stays
  auto snap = only_snapshot(book.handle(meta(), paid("o-1"), 3'000));
  EXPECT_EQ(snap.status, actors::status_paid);
  EXPECT_EQ(snap.transaction_id, "tx-o-1");
}

TEST(OrderBook, EmailedOrderBecomesNotifiedOnTheBillingNotification) {
  order_book book;
  book.handle(meta(), created("o-1"), 1'000);
  book.handle(meta(), emailed("o-1"), 1'500);
  auto snap = only_snapshot(
    book.handle(meta(), billing_said("o-1", actors::notify_payment_succeeded), 2'000));
  EXPECT_EQ(snap.status, actors::status_notified);
}

TEST(OrderBook, NotificationOfAnUnknownKindIsRejectedAndChangesNothing) {
  order_book book;
  book.handle(meta(), created("o-1"), 1'000);
  EXPECT_THROW(book.handle(meta(), billing_said("o-1", "ORDER_SHIPPED"), 2'000),
               rt::rejection);
  EXPECT_EQ(book.find("o-1")->status, actors::status_pending);
}

// The payment timeout (order.payment-timeout-ms): a durable timer set with the
// payment request, cancelled by the outcome; when it fires first the order is
// PAYMENT_TIMEOUT and payment is told to cancel (seal or refund).

TEST(OrderTimeout, APendingOrderWithNoOutcomeInTimeIsCancelled) {
  order_book book(60000, 1000);
  book.handle(meta(), created("o-1"), 1'500);
  EXPECT_EQ(book.timers(), 1u);
  // Then nothing is due before 2500, and at 2500 the timeout fires
  EXPECT_TRUE(book.fire(2'499).empty());
  auto fired = book.fire(2'500);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].get<actors::payment_timeout>(), (actors::payment_timeout{"o-1", 1000}));
  // When it comes back, the order is PAYMENT_TIMEOUT and payment is told to cancel
  auto out = book.handle_fired(fired[0], 2'510);
  auto cancels = all_of<actors::payment_cancel>(out);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].order_id, "o-1");
  EXPECT_EQ(cancels[0].total_cents, 10498);
  EXPECT_EQ(cancels[0].reason, "no payment answer within 1000 ms");
  auto snap = all_of<actors::order_snapshot>(out).at(0);
  EXPECT_EQ(snap.status, actors::status_payment_timeout);
  EXPECT_EQ(snap.payment_status, actors::payment_timed_out);
  EXPECT_EQ(snap.reason, cancels[0].reason);
  EXPECT_EQ(snap.updated_at_ms, 2'510);
  // And a second copy of the timer's record (fired again elsewhere) is dropped,
  EXPECT_TRUE(book.handle_fired(fired[0], 2'600, 7).empty());
  // while the same record handed out again sends the cancel again (at-least-once)
  EXPECT_EQ(all_of<actors::payment_cancel>(book.handle_fired(fired[0], 2'700)).size(), 1u);
  EXPECT_EQ(book.find("o-1")->updated_at_ms, 2'510);
}

TEST(OrderTimeout, AnOutcomeInTimeCancelsTheTimer) {
  order_book book(60000, 1000);
  book.handle(meta(), created("o-1"), 1'500);
  book.handle(meta(), paid("o-1"), 2'000);
  EXPECT_EQ(book.timers(), 0u);
  EXPECT_TRUE(book.fire(100'000).empty());
  EXPECT_EQ(book.find("o-1")->status, actors::status_paid);
}

TEST(OrderTimeout, AnOrderDeliveredAgainKeepsItsFirstDeadline) {
  order_book book(60000, 1000);
  book.handle(meta(), created("o-1"), 1'500);
  book.handle(meta(2), created("o-1"), 2'400);  // redelivered: the request again, not the timer
  EXPECT_EQ(book.fire(2'500).size(), 1u);
}

TEST(OrderTimeout, WithoutATimeoutNoTimerIsSet) {
  order_book book;
  book.handle(meta(), created("o-1"), 1'500);
  EXPECT_EQ(book.timers(), 0u);
}

TEST(OrderTimeout, ALateOutcomeChangesNothingAndSendsTheCancellationAgain) {
  order_book book(60000, 1000);
  book.handle(meta(), created("o-1"), 1'500);
  book.handle_fired(book.fire(2'500).at(0), 2'500);
  // When payment's success arrives after the timeout
  auto out = book.handle(meta(), paid("o-1"), 3'000);
  // Then the order stays cancelled (payment refunds it) and repeats the cancel
  EXPECT_EQ(all_of<actors::payment_cancel>(out).size(), 1u);
  EXPECT_EQ(book.find("o-1")->status, actors::status_payment_timeout);
  EXPECT_EQ(book.find("o-1")->payment_status, actors::payment_timed_out);
  // and so does the seed billing's notification of it, with no rejection
  actors::notification_event note;
  note.order_id = "o-1";
  note.type = actors::notify_payment_succeeded;
  EXPECT_EQ(all_of<actors::payment_cancel>(book.handle(meta(), note, 3'100)).size(), 1u);
  EXPECT_EQ(book.find("o-1")->status, actors::status_payment_timeout);
}

TEST(OrderTimeout, OnlyTheCancellationsEmailNotifiesATimedOutOrder) {
  order_book book(60000, 1000);
  book.handle(meta(), created("o-1"), 1'500);
  // Given the success email went out before the outcome reached the order
  book.handle(meta(), emailed("o-1"), 2'000);
  ASSERT_TRUE(book.emailed("o-1"));
  // When the timeout fires first, that email no longer counts
  book.handle_fired(book.fire(2'500).at(0), 2'500);
  EXPECT_FALSE(book.emailed("o-1"));
  book.handle(meta(2), emailed("o-1"), 2'600);  // that success email delivered again
  EXPECT_EQ(book.find("o-1")->status, actors::status_payment_timeout);
  // payment's answer to the cancel, read by the order, changes nothing
  actors::notification_event refunded;
  refunded.order_id = "o-1";
  refunded.type = actors::notify_payment_refunded;
  book.handle(meta(), refunded, 2'700);
  EXPECT_EQ(book.find("o-1")->status, actors::status_payment_timeout);
  // Then the refund's email makes it NOTIFIED, and nothing is left to retry
  book.handle(meta(), emailed("o-1", actors::notify_payment_refunded), 2'800);
  auto snap = book.find("o-1");
  EXPECT_EQ(snap->status, actors::status_notified);
  EXPECT_EQ(snap->payment_status, actors::payment_timed_out);
  EXPECT_EQ(book.timers(), 0u);
  EXPECT_TRUE(all_of<actors::payment_cancel>(book.handle(meta(), paid("o-1"), 2'900)).empty());
}

TEST(OrderTimeout, ATimedOutOrderSendsItsCancellationAgainUntilItsEmailIsSeen) {
  order_book book(60000, 1000);
  book.handle(meta(), created("o-1"), 1'500);
  book.handle_fired(book.fire(2'500).at(0), 2'500);
  // Then the retry is due 30 s later (the floor; the timeout is shorter)
  EXPECT_TRUE(book.fire(32'499).empty());
  auto retry = book.fire(32'500);
  ASSERT_EQ(retry.size(), 1u);
  auto out = book.handle_fired(retry[0], 32'500);
  EXPECT_EQ(all_of<actors::payment_cancel>(out).size(), 1u);
  EXPECT_EQ(book.find("o-1")->status, actors::status_payment_timeout);
  EXPECT_EQ(book.find("o-1")->updated_at_ms, 2'500);  // nothing changed but the retry
  // And once cancelled by email, no more
  book.handle(meta(), emailed("o-1", actors::notify_order_cancelled), 33'000);
  EXPECT_TRUE(book.fire(1'000'000).empty());
}

TEST(OrderTimeout, ARestoredOrderTakesItsTimedOutSnapshotOverAnOlderPendingOne) {
  // Given a timed-out order's snapshot, as the changelog holds it
  order_book first(60000, 1000);
  auto out = first.handle(meta(), created("o-1"), 1'500);
  out = first.handle_fired(first.fire(2'500).at(0), 2'500);
  auto written = all_of<actors::order_snapshot>(out).at(0);
  // When another book adopts it, an older PENDING snapshot first
  order_book book(60000, 1000);
  auto pending = written;
  pending.status = actors::status_pending;
  pending.payment_status.clear();
  pending.updated_at_ms = 1'500;
  book.adopt(0, {pending, written});
  // Then it is the timed-out one
  EXPECT_EQ(book.find("o-1")->status, actors::status_payment_timeout);
}

TEST(OrderTimeout, PaymentsCancellationIsTheVerdictEvenWhereTheOrdersOwnTimeoutWasLost) {
  // Given an order whose timeout turn sent its cancel but whose snapshot was
  // lost (a crash): restored PENDING, it then took the late success
  order_book book(60000, 1000);
  book.handle(meta(), created("o-1"), 1'500);
  book.handle(meta(), paid("o-1"), 3'000);
  ASSERT_EQ(book.find("o-1")->status, actors::status_paid);
  // When payment's answer to that cancel arrives (it refunded the charge)
  actors::notification_event refunded;
  refunded.order_id = "o-1";
  refunded.type = actors::notify_payment_refunded;
  book.handle(meta(), refunded, 3'100);
  // Then the order is timed out, not PAID: its money went back
  auto snap = book.find("o-1");
  EXPECT_EQ(snap->status, actors::status_payment_timeout);
  EXPECT_EQ(snap->payment_status, actors::payment_timed_out);
  EXPECT_EQ(snap->transaction_id, "");
  // and the refund's email makes it NOTIFIED
  book.handle(meta(), emailed("o-1", actors::notify_payment_refunded), 3'200);
  EXPECT_EQ(book.find("o-1")->status, actors::status_notified);
  EXPECT_EQ(book.find("o-1")->payment_status, actors::payment_timed_out);
}

TEST(OrderTimeout, ACancellationEmailAloneTimesOutAnOrderAlreadyNotified) {
  // Given an order PAID and NOTIFIED by its success email (its timeout lost)
  order_book book(60000, 1000);
  book.handle(meta(), created("o-1"), 1'500);
  book.handle(meta(), paid("o-1"), 3'000);
  book.handle(meta(), emailed("o-1"), 3'100);
  ASSERT_EQ(book.find("o-1")->status, actors::status_notified);
  // When the refund's email comes
  book.handle(meta(), emailed("o-1", actors::notify_payment_refunded), 3'200);
  // Then it stays NOTIFIED, and says the payment timed out (and was refunded)
  EXPECT_EQ(book.find("o-1")->status, actors::status_notified);
  EXPECT_EQ(book.find("o-1")->payment_status, actors::payment_timed_out);
  EXPECT_TRUE(book.emailed("o-1"));
}

TEST(OrderTimeout, AnotherEmailOfATimedOutOrderSendsTheCancellationAgain) {
  order_book book(60000, 1000);
  book.handle(meta(), created("o-1"), 1'500);
  book.handle_fired(book.fire(2'500).at(0), 2'500);
  auto out = book.handle(meta(2), emailed("o-1"), 2'600);  // a success email delivered late
  EXPECT_EQ(all_of<actors::payment_cancel>(out).size(), 1u);
  EXPECT_EQ(book.find("o-1")->status, actors::status_payment_timeout);
}
