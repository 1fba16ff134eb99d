// email_service: one email per (order, notification type), whatever is redelivered.
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "kastor/actors/email.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
namespace rt = kastor::runtime;
namespace actors = kastor::actors;
using kastor::actors::email_service;
using kastor::actors::jsonl_ledger;
using kastor::actors::render_email;

namespace {

using kastor::test::temp_dir;

rt::record_meta meta(int attempt = 1) {
  rt::record_meta m;
  m.attempt = attempt;
  return m;
}

std::shared_ptr<jsonl_ledger> memory_outbox() {
  return std::make_shared<jsonl_ledger>("", "emailKey");
}

actors::notification_event succeeded(const std::string& id, int64_t cents = 9998) {
  return {id, "c-1", actors::notify_payment_succeeded, cents, "Payment succeeded."};
}

actors::notification_event failed(const std::string& id) {
  return {id, "c-1", actors::notify_payment_failed, 250000,
          "Payment of 2500.00 for order " + id + " was declined: amount over limit."};
}

actors::email_sent only_sent(const std::vector<rt::message>& out) {
  EXPECT_EQ(out.size(), 1u);
  return out.empty() ? actors::email_sent{} : out.front().get<actors::email_sent>();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST(RenderEmail, ASucceededPaymentConfirmsTheOrderWithItsAmount) {
  auto m = render_email(succeeded("o-1"));
  EXPECT_EQ(m.to, "c-1");
  EXPECT_TRUE(contains(m.subject, "o-1")) << m.subject;
  EXPECT_TRUE(contains(m.subject, "confirmed")) << m.subject;
  EXPECT_TRUE(contains(m.body, "99.98")) << m.body;
  EXPECT_TRUE(contains(m.body, "o-1")) << m.body;
}

TEST(RenderEmail, AFailedPaymentSaysWhy) {
  auto m = render_email(failed("o-2"));
  EXPECT_TRUE(contains(m.subject, "failed")) << m.subject;
  EXPECT_TRUE(contains(m.subject, "o-2")) << m.subject;
  EXPECT_TRUE(contains(m.body, "2500.00")) << m.body;
  EXPECT_TRUE(contains(m.body, "amount over limit")) << m.body;
}

TEST(RenderEmail, ACancelledOrderSaysWhetherItsPaymentWasRefunded) {
  // Given payment's answers to an order that timed out (payment_cancel)
  actors::notification_event cancelled{"o-5", "c-1", actors::notify_order_cancelled, 9998,
                                       "Order o-5 was cancelled (no payment answer within 1000 "
                                       "ms); nothing was charged."};
  auto refunded = cancelled;
  refunded.type = actors::notify_payment_refunded;
  // Then both say the order is cancelled, and only the refund names the amount back
  auto c = render_email(cancelled), r = render_email(refunded);
  EXPECT_EQ(c.subject, "Order o-5 cancelled");
  EXPECT_EQ(r.subject, "Order o-5 cancelled");
  EXPECT_TRUE(contains(c.body, "nothing was charged")) << c.body;
  EXPECT_TRUE(contains(c.body, "no payment answer within 1000 ms")) << c.body;
  EXPECT_TRUE(contains(r.body, "payment of 99.98 refunded")) << r.body;
}

TEST(RenderEmail, AmountsAlwaysHaveTwoDecimals) {
  EXPECT_TRUE(contains(render_email(succeeded("o-1", 5)).body, " 0.05 "));
  EXPECT_TRUE(contains(render_email(succeeded("o-1", 100000)).body, " 1000.00 "));
  EXPECT_TRUE(contains(render_email(succeeded("o-1", 1990)).body, " 19.90 "));
}

TEST(RenderEmail, AnUnknownTypeStillProducesAnEmailWithTheEventMessage) {
  actors::notification_event ev{"o-3", "c-1", "ORDER_SHIPPED", 1000, "Your parcel left."};
  auto m = render_email(ev);
  EXPECT_TRUE(contains(m.subject, "o-3"));
  EXPECT_TRUE(contains(m.body, "Your parcel left."));
}

TEST(RenderEmail, ANotificationWithoutAnAmountNamesNone) {
  // Given a seed 002 billing notification: no amount at all
  actors::notification_event ev{"o-4", "c-1", actors::notify_payment_succeeded, 0, "", false};
  // Then the email names no amount (never "0.00")
  auto m = render_email(ev);
  EXPECT_FALSE(contains(m.body, "0.00")) << m.body;
  EXPECT_TRUE(contains(m.body, "we received your payment for order o-4")) << m.body;
  ev.type = actors::notify_payment_failed;
  EXPECT_TRUE(contains(render_email(ev).body, "your payment for order o-4 could not")) << m.body;
  ev.type = "ORDER_SHIPPED";
  EXPECT_FALSE(contains(render_email(ev).body, "0.00"));
}

TEST(EmailService, AFirstNotificationSendsOneEmail) {
  auto outbox = memory_outbox();
  email_service svc(outbox);
  // When a notification arrives
  auto sent = only_sent(svc.handle(meta(), succeeded("o-1"), 7'000));
  // Then one email is in the outbox and email_sent reports it
  EXPECT_EQ(sent, (actors::email_sent{"o-1", "c-1", actors::notify_payment_succeeded, 7'000}));
  EXPECT_EQ(svc.sent("o-1", actors::notify_payment_succeeded), 1u);
  auto line = outbox->find("o-1/PAYMENT_SUCCEEDED");
  ASSERT_TRUE(line);
  auto v = boost::json::parse(*line).as_object();
  auto expected = render_email(succeeded("o-1"));
  EXPECT_EQ(v.at("emailKey").as_string(), "o-1/PAYMENT_SUCCEEDED");
  EXPECT_EQ(v.at("orderId").as_string(), "o-1");
  EXPECT_EQ(v.at("kind").as_string(), "PAYMENT_SUCCEEDED");
  EXPECT_EQ(v.at("to").as_string(), expected.to);
  EXPECT_EQ(v.at("subject").as_string(), expected.subject);
  EXPECT_EQ(v.at("body").as_string(), expected.body);
  EXPECT_EQ(v.at("sentAt").as_int64(), 7'000);
}

TEST(EmailService, ARedeliveredNotificationSendsNothingAndReportsTheOriginalTime) {
  email_service svc(memory_outbox());
  svc.handle(meta(), succeeded("o-1"), 7'000);
  // When the notification is delivered again later
  auto sent = only_sent(svc.handle(meta(2), succeeded("o-1"), 9'000));
  // Then email_sent is re-emitted with the first send's time, and no second email
  EXPECT_EQ(sent.sent_at_ms, 7'000);
  EXPECT_EQ(sent.kind, actors::notify_payment_succeeded);
  EXPECT_EQ(svc.sent("o-1", actors::notify_payment_succeeded), 1u);
}

TEST(EmailService, EachNotificationTypeOfAnOrderIsItsOwnEmail) {
  email_service svc(memory_outbox());
  svc.handle(meta(), failed("o-1"), 1'000);
  svc.handle(meta(), succeeded("o-1"), 2'000);
  svc.handle(meta(2), failed("o-1"), 3'000);
  EXPECT_EQ(svc.sent("o-1", actors::notify_payment_failed), 1u);
  EXPECT_EQ(svc.sent("o-1", actors::notify_payment_succeeded), 1u);
  EXPECT_EQ(svc.sent("o-2", actors::notify_payment_failed), 0u);
}

TEST(EmailService, TwoNodesSharingOneOutboxSendOnce) {
  temp_dir dir;
  auto path = dir.file("outbox.jsonl");
  // Given two email services ("nodes") on one outbox file
  email_service a(std::make_shared<jsonl_ledger>(path, "emailKey"));
  email_service b(std::make_shared<jsonl_ledger>(path, "emailKey"));
  // When both get the same notification
  auto from_a = only_sent(a.handle(meta(), succeeded("o-1"), 1'000));
  auto from_b = only_sent(b.handle(meta(), succeeded("o-1"), 2'000));
  // Then one email was sent, and both report it as sent at its real time
  EXPECT_EQ(from_b, from_a);
  EXPECT_EQ(from_b.sent_at_ms, 1'000);
  EXPECT_EQ(b.sent("o-1", actors::notify_payment_succeeded), 1u);
}

TEST(EmailService, ARestartedServiceRemembersWhatItSent) {
  temp_dir dir;
  auto path = dir.file("outbox.jsonl");
  {
    email_service svc(std::make_shared<jsonl_ledger>(path, "emailKey"));
    svc.handle(meta(), failed("o-1"), 1'000);
  }
  email_service restarted(std::make_shared<jsonl_ledger>(path, "emailKey"));
  auto sent = only_sent(restarted.handle(meta(2), failed("o-1"), 60'000));
  EXPECT_EQ(sent.sent_at_ms, 1'000);
  EXPECT_EQ(restarted.sent("o-1", actors::notify_payment_failed), 1u);
  std::ifstream in(path);
  size_t lines = 0;
  for (std::string l; std::getline(in, l);)
    ++lines;
  EXPECT_EQ(lines, 1u);
}

TEST(EmailService, ANotificationWithoutOrderIdOrTypeIsRejectedAndSendsNothing) {
  auto outbox = memory_outbox();
  email_service svc(outbox);
  EXPECT_THROW(svc.handle(meta(), succeeded(""), 1), std::invalid_argument);
  auto untyped = succeeded("o-1");
  untyped.type = "";
  EXPECT_THROW(svc.handle(meta(), untyped, 1), std::invalid_argument);
  EXPECT_TRUE(outbox->keys().empty());
}

TEST(EmailService, RequiresAnOutbox) {
  EXPECT_THROW(email_service(nullptr), std::invalid_argument);
}
