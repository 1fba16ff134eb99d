// payment_service: the fake provider's rules and at-most-once charging.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <latch>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "kastor/actors/payment.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
namespace rt = kastor::runtime;
namespace actors = kastor::actors;
using kastor::actors::jsonl_ledger;
using kastor::actors::payment_rules;
using kastor::actors::payment_service;

namespace {

using kastor::test::temp_dir;

rt::record_meta meta(int attempt = 1) {
  rt::record_meta m;
  m.attempt = attempt;
  return m;
}

std::shared_ptr<jsonl_ledger> memory_ledger() {
  return std::make_shared<jsonl_ledger>("", "orderId");
}

struct outcome {
  actors::payment_result result;
  actors::notification_event note;
};

// The two messages a handled request must emit, in order.
outcome split(const std::vector<rt::message>& out) {
  EXPECT_EQ(out.size(), 2u);
  outcome o;
  if (out.size() == 2) {
    o.result = out[0].get<actors::payment_result>();
    o.note = out[1].get<actors::notification_event>();
  }
  return o;
}

size_t lines_in(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);)
    ++n;
  return n;
}

}  // namespace

TEST(PaymentService, ChargesAnOrdinaryOrderWithADeterministicTransactionId) {
  payment_service svc({}, memory_ledger(), memory_ledger());
  // When an ordinary order asks to be charged
  auto o = split(svc.handle(meta(), actors::payment_request{"o-1", "c-1", 9998}, 1'000));
  // Then the charge succeeds, once, with a transaction id derived from the order
  EXPECT_EQ(o.result, (actors::payment_result{"o-1", "c-1", 9998, actors::payment_succeeded, "",
                                          "tx-o-1", 1'000}));
  EXPECT_EQ(o.note.order_id, "o-1");
  EXPECT_EQ(o.note.customer_id, "c-1");
  EXPECT_EQ(o.note.type, actors::notify_payment_succeeded);
  EXPECT_EQ(o.note.total_cents, 9998);
  EXPECT_NE(o.note.message.find("99.98"), std::string::npos) << o.note.message;
  EXPECT_NE(o.note.message.find("o-1"), std::string::npos) << o.note.message;
  EXPECT_EQ(svc.charges("o-1"), 1u);
}

TEST(PaymentService, DeclinesANonPositiveAmount) {
  payment_service svc({}, memory_ledger(), memory_ledger());
  for (int64_t cents : {0, -5}) {
    auto id = "o-" + std::to_string(cents);
    auto o = split(svc.handle(meta(), actors::payment_request{id, "c-1", cents}, 1'000));
    EXPECT_EQ(o.result.status, actors::payment_declined);
    EXPECT_EQ(o.result.reason, "invalid amount");
    EXPECT_EQ(o.result.transaction_id, "");
    EXPECT_EQ(o.note.type, actors::notify_payment_failed);
    EXPECT_NE(o.note.message.find("invalid amount"), std::string::npos) << o.note.message;
    EXPECT_EQ(svc.charges(id), 1u);  // the declined attempt is recorded too
  }
}

TEST(PaymentService, AcceptsExactlyTheLimitAndDeclinesOneCentOver) {
  payment_service svc({}, memory_ledger(), memory_ledger());
  // 1,000.00 is the default limit
  EXPECT_EQ(split(svc.handle(meta(), actors::payment_request{"o-at", "c-1", 100000}, 1)).result.status,
            actors::payment_succeeded);
  auto over = split(svc.handle(meta(), actors::payment_request{"o-over", "c-1", 100001}, 1));
  EXPECT_EQ(over.result.status, actors::payment_declined);
  EXPECT_EQ(over.result.reason, "amount over limit");
  EXPECT_EQ(over.note.type, actors::notify_payment_failed);
}

TEST(PaymentService, TheLimitIsConfigurable) {
  payment_service svc(payment_rules{500}, memory_ledger(), memory_ledger());
  EXPECT_EQ(split(svc.handle(meta(), actors::payment_request{"o-1", "c-1", 500}, 1)).result.status,
            actors::payment_succeeded);
  EXPECT_EQ(split(svc.handle(meta(), actors::payment_request{"o-2", "c-1", 501}, 1)).result.reason,
            "amount over limit");
}

TEST(PaymentService, DeclinesABlockedCustomer) {
  payment_service svc({}, memory_ledger(), memory_ledger());
  auto o = split(svc.handle(meta(), actors::payment_request{"o-1", "blocked-42", 1000}, 1'000));
  EXPECT_EQ(o.result.status, actors::payment_declined);
  EXPECT_EQ(o.result.reason, "customer blocked");
  EXPECT_EQ(o.result.customer_id, "blocked-42");
  // "blocked" elsewhere in the id does not block
  EXPECT_EQ(split(svc.handle(meta(), actors::payment_request{"o-2", "not-blocked-42", 1000}, 1)).result.status,
            actors::payment_succeeded);
}

TEST(PaymentService, AnInvalidAmountIsReportedBeforeOtherReasons) {
  auto r = kastor::actors::decide_payment({}, {"o-1", "blocked-1", 0});
  EXPECT_EQ(r.reason, "invalid amount");
  r = kastor::actors::decide_payment({}, {"o-1", "blocked-1", 200000});
  EXPECT_EQ(r.reason, "amount over limit");
}

TEST(PaymentService, RedeliveredRequestReemitsTheRecordedOutcomeWithoutChargingAgain) {
  // Given a request that was charged, whose result publish may have been lost
  payment_service svc({}, memory_ledger(), memory_ledger());
  auto first = svc.handle(meta(), actors::payment_request{"o-1", "c-1", 9998}, 1'000);
  // When the same record is delivered again, later
  auto again = svc.handle(meta(2), actors::payment_request{"o-1", "c-1", 9998}, 9'000);
  // Then the very same messages go out (recorded time included), and no new charge
  EXPECT_EQ(again, first);
  EXPECT_EQ(svc.charges("o-1"), 1u);
}

TEST(PaymentService, ARecordedDeclineStaysDeclinedOnRedelivery) {
  payment_service svc({}, memory_ledger(), memory_ledger());
  auto first = split(svc.handle(meta(), actors::payment_request{"o-1", "blocked-1", 9998}, 1'000));
  auto again = split(svc.handle(meta(3), actors::payment_request{"o-1", "blocked-1", 9998}, 2'000));
  EXPECT_EQ(again.result, first.result);
  EXPECT_EQ(again.note, first.note);
  EXPECT_EQ(svc.charges("o-1"), 1u);
}

TEST(PaymentService, ARedeliveryWithOtherFieldsStillGetsTheRecordedOutcome) {
  payment_service svc({}, memory_ledger(), memory_ledger());
  split(svc.handle(meta(), actors::payment_request{"o-1", "c-1", 9998}, 1'000));
  // A request for the same order, now over the limit, is not charged again
  auto o = split(svc.handle(meta(), actors::payment_request{"o-1", "c-1", 500000}, 2'000));
  EXPECT_EQ(o.result.status, actors::payment_succeeded);
  EXPECT_EQ(o.result.total_cents, 9998);
  EXPECT_EQ(svc.charges("o-1"), 1u);
}

TEST(PaymentService, TheLedgerLineRecordsTheCharge) {
  auto ledger = memory_ledger();
  payment_service svc({}, ledger, memory_ledger());
  svc.handle(meta(), actors::payment_request{"o-1", "c-1", 9998}, 1'234);
  auto line = ledger->find("o-1");
  ASSERT_TRUE(line);
  // The amount is the wire's decimal, not an exponent form
  EXPECT_NE(line->find("\"amount\":99.98"), std::string::npos) << *line;
  auto v = boost::json::parse(*line).as_object();
  EXPECT_EQ(v.at("orderId").as_string(), "o-1");
  EXPECT_EQ(v.at("customerId").as_string(), "c-1");
  EXPECT_DOUBLE_EQ(v.at("amount").as_double(), 99.98);
  EXPECT_EQ(v.at("status").as_string(), "SUCCEEDED");
  EXPECT_EQ(v.at("reason").as_string(), "");
  EXPECT_EQ(v.at("transactionId").as_string(), "tx-o-1");
  EXPECT_EQ(v.at("at").as_int64(), 1'234);
}

TEST(PaymentService, ARestartedServiceReemitsTheOutcomeFromTheLedgerFile) {
  temp_dir dir;
  auto path = dir.file("charges.jsonl");
  // Given a service that charged o-1 and then crashed
  std::vector<rt::message> first;
  {
    payment_service svc({}, std::make_shared<jsonl_ledger>(path, "orderId"), memory_ledger());
    first = svc.handle(meta(), actors::payment_request{"o-1", "c-1", 9998}, 1'000);
  }
  // When a new service on the same file gets the redelivered request
  payment_service restarted({}, std::make_shared<jsonl_ledger>(path, "orderId"), memory_ledger());
  auto again = restarted.handle(meta(2), actors::payment_request{"o-1", "c-1", 9998}, 50'000);
  // Then it re-emits the recorded outcome and charges nothing
  EXPECT_EQ(again, first);
  EXPECT_EQ(restarted.charges("o-1"), 1u);
  EXPECT_EQ(lines_in(path), 1u);
}

TEST(PaymentService, TwoNodesSharingOneLedgerChargeEachOrderOnce) {
  temp_dir dir;
  auto path = dir.file("charges.jsonl");
  constexpr int orders = 200;
  // Given two payment services ("nodes") with their own ledger objects on one file
  payment_service a({}, std::make_shared<jsonl_ledger>(path, "orderId"), memory_ledger());
  payment_service b({}, std::make_shared<jsonl_ledger>(path, "orderId"), memory_ledger());
  std::vector<actors::payment_result> from_a(orders), from_b(orders);
  std::latch start(2);
  // When both handle the same requests concurrently (a rebalance replayed them)
  auto run = [&](payment_service& svc, std::vector<actors::payment_result>& got, int64_t now) {
    start.arrive_and_wait();
    for (int i = 0; i < orders; ++i) {
      actors::payment_request req{"o-" + std::to_string(i), "c-1", 100 + i};
      got[i] = svc.handle(meta(), req, now)[0].get<actors::payment_result>();
    }
  };
  std::thread ta(run, std::ref(a), std::ref(from_a), 1'000);
  std::thread tb(run, std::ref(b), std::ref(from_b), 2'000);
  ta.join();
  tb.join();
  // Then each order was charged once, and both nodes report the same outcome
  for (int i = 0; i < orders; ++i) {
    auto id = "o-" + std::to_string(i);
    ASSERT_EQ(a.charges(id), 1u) << id;
    ASSERT_EQ(b.charges(id), 1u) << id;
    ASSERT_EQ(from_a[i], from_b[i]) << id;
  }
  EXPECT_EQ(lines_in(path), static_cast<size_t>(orders));
}

TEST(PaymentService, ARequestWithoutOrderIdIsRejectedAndChargesNothing) {
  auto ledger = memory_ledger();
  payment_service svc({}, ledger, memory_ledger());
  EXPECT_THROW(svc.handle(meta(), actors::payment_request{"", "c-1", 100}, 1), std::invalid_argument);
  EXPECT_TRUE(ledger->keys().empty());
}

TEST(PaymentService, AnUnreadableRecordedChargeIsAnErrorNotASecondCharge) {
  // Given a ledger whose record for o-1 lost its status (someone edited it)
  auto ledger = memory_ledger();
  ledger->append_if_absent("o-1", R"({"orderId":"o-1","at":1})");
  payment_service svc({}, ledger, memory_ledger());
  // Then handling fails loudly (the adapter dead-letters it) and nothing is appended
  EXPECT_THROW(svc.handle(meta(), actors::payment_request{"o-1", "c-1", 100}, 2), std::runtime_error);
  EXPECT_EQ(svc.charges("o-1"), 1u);
}

TEST(PaymentService, RequiresALedger) {
  EXPECT_THROW(payment_service({}, nullptr, memory_ledger()), std::invalid_argument);
  EXPECT_THROW(payment_service({}, memory_ledger(), nullptr), std::invalid_argument);
}

// A cancelled order (its order timed out, order.hpp): sealed before any
// charge, or refunded once after one, and the customer told either way.

namespace {

actors::payment_cancel cancel(const std::string& id) {
  return {id, "c-1", 9998, "no payment answer within 1000 ms"};
}

actors::notification_event only_note(const std::vector<rt::message>& out) {
  EXPECT_EQ(out.size(), 1u);
  return out.empty() ? actors::notification_event{} : out[0].get<actors::notification_event>();
}

}  // namespace

TEST(PaymentCancel, ACancelBeforeTheRequestSealsTheOrderSoTheRequestChargesNothing) {
  auto charges = memory_ledger(), refunds = memory_ledger();
  payment_service svc({}, charges, refunds);
  // Given the cancel of o-1 arrives first (its request is still on its way)
  auto note = only_note(svc.handle(meta(), cancel("o-1"), 1'000));
  EXPECT_EQ(note.type, actors::notify_order_cancelled);
  EXPECT_EQ(note.order_id, "o-1");
  EXPECT_NE(note.message.find("nothing was charged"), std::string::npos) << note.message;
  // When the request arrives, then and after a redelivery
  EXPECT_TRUE(svc.handle(meta(), actors::payment_request{"o-1", "c-1", 9998}, 2'000).empty());
  EXPECT_TRUE(svc.handle(meta(2), actors::payment_request{"o-1", "c-1", 9998}, 3'000).empty());
  // Then nothing was charged: the ledger's one line is the seal, no refund
  ASSERT_TRUE(charges->find("o-1"));
  EXPECT_EQ(boost::json::parse(*charges->find("o-1")).at("status").as_string(),
            actors::payment_sealed);
  EXPECT_EQ(svc.charges("o-1"), 1u);
  EXPECT_EQ(svc.refunds("o-1"), 0u);
}

TEST(PaymentCancel, ACancelAfterAChargeRefundsItOnceAndTellsTheCustomer) {
  auto charges = memory_ledger(), refunds = memory_ledger();
  payment_service svc({}, charges, refunds);
  // Given o-1 was charged (the order had timed out before the result reached it)
  auto charged = split(svc.handle(meta(), actors::payment_request{"o-1", "c-1", 9998}, 1'000));
  ASSERT_EQ(charged.result.status, actors::payment_succeeded);
  // When its cancel arrives, and again (redelivered, or the order's retry)
  auto note = only_note(svc.handle(meta(), cancel("o-1"), 2'000));
  auto again = only_note(svc.handle(meta(2), cancel("o-1"), 3'000));
  // Then the charge is refunded once, and the customer is told so each time
  EXPECT_EQ(note.type, actors::notify_payment_refunded);
  EXPECT_EQ(note.total_cents, 9998);
  EXPECT_NE(note.message.find("99.98 was refunded"), std::string::npos) << note.message;
  EXPECT_EQ(again.type, actors::notify_payment_refunded);
  EXPECT_EQ(svc.refunds("o-1"), 1u);
  EXPECT_EQ(svc.charges("o-1"), 1u);
  auto line = boost::json::parse(*refunds->find("o-1")).as_object();
  EXPECT_EQ(line.at("transactionId").as_string(), "tx-o-1");
  EXPECT_EQ(line.at("amountCents").as_int64(), 9998);
  EXPECT_EQ(line.at("status").as_string(), actors::payment_refunded);
  EXPECT_EQ(line.at("reason").as_string(), "no payment answer within 1000 ms");
  EXPECT_EQ(line.at("at").as_int64(), 2'000);
  // And the request delivered again still answers what was charged
  EXPECT_EQ(split(svc.handle(meta(2), actors::payment_request{"o-1", "c-1", 9998}, 4'000)).result, charged.result);
}

TEST(PaymentCancel, ACancelAfterADeclineRefundsNothing) {
  payment_service svc(payment_rules{500}, memory_ledger(), memory_ledger());
  split(svc.handle(meta(), actors::payment_request{"o-1", "c-1", 9998}, 1'000));  // over 5.00: declined
  auto note = only_note(svc.handle(meta(), cancel("o-1"), 2'000));
  EXPECT_EQ(note.type, actors::notify_order_cancelled);
  EXPECT_EQ(svc.refunds("o-1"), 0u);
}

TEST(PaymentCancel, ACancelWithoutOrderIdIsRejected) {
  auto charges = memory_ledger();
  payment_service svc({}, charges, memory_ledger());
  EXPECT_THROW(svc.handle(meta(), actors::payment_cancel{}, 1), std::invalid_argument);
  EXPECT_TRUE(charges->keys().empty());
}
