#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "kastor/actors/roles.hpp"
#include "kastor/runtime/config.hpp"
#include "kastor/runtime/errors.hpp"

using namespace kastor::runtime;
using kastor::actors::shop_app;

namespace {

config_layers layers(std::initializer_list<std::pair<std::string, std::string>> kv) {
  config_layers out;
  for (const auto& [k, v] : kv)
    out[k] = {v, "test"};
  return out;
}

std::string error_of(const config_layers& l) {
  auto c = make_config(l, shop_app());
  return c ? "" : describe(c.error());
}

TEST(Config, DefaultsRunEveryRoleOnLoopback) {
  auto c = make_config({}, shop_app());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->roles.size(), 5u);
  EXPECT_EQ(c->http_host, "127.0.0.1");
  EXPECT_EQ(c->http_port, 8080);
  EXPECT_EQ(kastor::actors::decline_over_cents(*c), 100000);
  EXPECT_FALSE(c->node_id.empty());
}

TEST(Config, LaterSourcesWin) {
  // Given a file, then the environment, then a flag, each setting http
  auto path = std::string{"/tmp/kastor-config-test-"} + std::to_string(getpid()) + ".conf";
  {
    std::ofstream f{path};
    f << "# comment\nhttp = 127.0.0.1:1000\npayment.latency-ms = 20  # trailing\n";
  }
  config_layers l;
  ASSERT_FALSE(load_config_file(path, l));
  std::string env1 = "KASTOR_HTTP=127.0.0.1:2000";
  std::string env2 = "UNRELATED=1";
  char* envp[] = {env1.data(), env2.data(), nullptr};
  load_config_env(envp, l, shop_app());
  l["roles"] = {"payment", "flag"};
  auto c = make_config(l, shop_app());
  ASSERT_TRUE(c) << describe(c.error());
  EXPECT_EQ(c->http_port, 2000);                       // env over file
  EXPECT_EQ(c->setting_integer("payment.latency-ms"), 20);           // file over default
  EXPECT_EQ(c->roles, std::vector<std::string>{"payment"});  // flag
  std::remove(path.c_str());
}

TEST(Config, TheOpsListenerIsOnLoopbackByDefaultOnAnyPortOrOff) {
  auto d = make_config({}, shop_app());
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->ops_enabled);
  EXPECT_EQ(d->ops_address(), "127.0.0.1:9464");
  auto any = make_config(layers({{"ops.http", "0.0.0.0:0"}}), shop_app());
  ASSERT_TRUE(any);
  EXPECT_EQ(any->ops_host, "0.0.0.0");
  EXPECT_EQ(any->ops_port, 0);
  auto off = make_config(layers({{"ops.http", "off"}}), shop_app());
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->ops_enabled);
  EXPECT_EQ(off->ops_address(), "off");
  EXPECT_NE(error_of(layers({{"ops.http", "9464"}})).find("ops.http"), std::string::npos);
  EXPECT_NE(error_of(layers({{"ops.http", "9464"}})).find("HOST:PORT"), std::string::npos);
  EXPECT_NE(error_of(layers({{"ops.http", "127.0.0.1:70000"}})).find("port must be"),
            std::string::npos);
}

TEST(Config, AnAdminTokenIsLongEnoughAndNeverRepeatedInAnError) {
  auto c = make_config(layers({{"admin.token", "0123456789abcdef"}}), shop_app());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->admin_token, "0123456789abcdef");
  for (const char* bad : {"short-secret", "sixteen chars ok"}) {
    auto e = error_of(layers({{"admin.token", bad}}));
    EXPECT_NE(e.find("admin.token"), std::string::npos) << e;
    EXPECT_NE(e.find("at least 16 visible ASCII"), std::string::npos) << e;
    EXPECT_EQ(e.find(bad), std::string::npos) << e;  // a secret stays out of errors
  }
  // A misspelt key holding a secret is an error that does not repeat its value
  auto typo = error_of(layers({{"admin.tokn", "0123456789abcdef"}}));
  EXPECT_NE(typo.find("unknown configuration key"), std::string::npos) << typo;
  EXPECT_EQ(typo.find("0123456789abcdef"), std::string::npos) << typo;
  // The key it replaced says so
  EXPECT_NE(error_of(layers({{"admin.enabled", "true"}})).find("replaced by admin.token"),
            std::string::npos);
}

TEST(Config, EveryBadValueIsAnErrorNamingTheKeyAndItsOrigin) {
  EXPECT_NE(error_of(layers({{"bogus.key", "1"}})).find("unknown configuration key"), std::string::npos);
  EXPECT_NE(error_of(layers({{"roles", "order,shipping"}})).find("unknown role 'shipping'"), std::string::npos);
  EXPECT_NE(error_of(layers({{"roles", " , "}})).find("names no role"), std::string::npos);
  EXPECT_NE(error_of(layers({{"http", "8080"}})).find("HOST:PORT"), std::string::npos);
  EXPECT_NE(error_of(layers({{"http", "127.0.0.1:99999"}})).find("port"), std::string::npos);
  EXPECT_NE(error_of(layers({{"topic.partitions", "six"}})).find("not a whole number"), std::string::npos);
  EXPECT_NE(error_of(layers({{"topic.partitions", "0"}})).find("between 1 and 1000"), std::string::npos);
  EXPECT_NE(error_of(layers({{"payment.decline-over", "-5"}})).find("amount"), std::string::npos);
  EXPECT_NE(error_of(layers({{"log.level", "loud"}})).find("expected trace"), std::string::npos);
  EXPECT_NE(error_of(layers({{"mailbox.low-water", "5000"}})).find("must be below"), std::string::npos);
  EXPECT_NE(error_of(layers({{"topic.partitions", "x"}})).find("(test)"), std::string::npos);
  EXPECT_NE(error_of(layers({{"http.max-connections", "0"}})).find("http.max-connections"),
            std::string::npos);
  EXPECT_NE(error_of(layers({{"http.max-connections-per-client", "-1"}}))
              .find("http.max-connections-per-client"),
            std::string::npos);
  EXPECT_NE(error_of(layers({{"http.rate-limit", "-1"}})).find("http.rate-limit"),
            std::string::npos);
}

TEST(Config, ProducersPartitionLikeJavaAndCompressWithWhatEveryClientReads) {
  auto c = make_config({}, shop_app());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->partitioner, "murmur2_random");
  EXPECT_EQ(c->compression, "none");
  auto set = make_config(layers({{"kafka.partitioner", "consistent_random"},
                                 {"kafka.compression", "gzip"}}), shop_app());
  ASSERT_TRUE(set) << describe(set.error());
  EXPECT_EQ(set->partitioner, "consistent_random");
  EXPECT_EQ(set->compression, "gzip");
  EXPECT_EQ(error_of(layers({{"kafka.partitioner", "java"}})),
            "runtime.invalid_config: kafka.partitioner = 'java' (test): expected murmur2_random "
            "(Java's placement), murmur2, consistent_random, consistent, fnv1a_random or fnv1a");
  EXPECT_EQ(error_of(layers({{"kafka.compression", "LZ4"}})),
            "runtime.invalid_config: kafka.compression = 'LZ4' (test): expected none, gzip, "
            "snappy, lz4 or zstd");
}

TEST(Config, SupervisionAndChaosKeysAreParsedAndChecked) {
  auto c = make_config(layers({{"chaos", "payment.crash=0.05, order.hang=0.001"},
                               {"chaos.seed", "99"},
                               {"supervisor.backoff-min-ms", "5"},
                               {"supervisor.backoff-max-ms", "500"},
                               {"mailbox.max-attempts", "7"},
                               {"mailbox.turn-deadline-ms", "0"}}), shop_app());
  ASSERT_TRUE(c) << describe(c.error());
  EXPECT_EQ(c->chaos.rate("payment", chaos_fault::crash), 0.05);
  EXPECT_EQ(c->chaos.rate("order", chaos_fault::hang), 0.001);
  EXPECT_EQ(c->chaos.seed, 99u);
  EXPECT_EQ(c->backoff_min.count(), 5);
  EXPECT_EQ(c->backoff_max.count(), 500);
  EXPECT_EQ(c->max_attempts, 7);
  EXPECT_EQ(c->turn_deadline.count(), 0);
  EXPECT_TRUE(c->admin_token.empty());
  EXPECT_TRUE(make_config({}, shop_app())->chaos.empty());
  // Errors name the key, the value, where it came from, and what is wrong, once
  auto chaos = error_of(layers({{"chaos", "payment.crsh=0.1"}}));
  EXPECT_NE(chaos.find("chaos = 'payment.crsh=0.1' (test)"), std::string::npos) << chaos;
  EXPECT_NE(chaos.find("crsh"), std::string::npos) << chaos;
  EXPECT_EQ(chaos.find("invalid_config", chaos.find("invalid_config") + 1), std::string::npos)
    << chaos;
  EXPECT_NE(error_of(layers({{"chaos", "payment.crash=2"}})).find("between 0 and 1"), std::string::npos);
  EXPECT_NE(error_of(layers({{"chaos.seed", "-1"}})).find("not a whole number"), std::string::npos);
  EXPECT_NE(error_of(layers({{"supervisor.backoff-min-ms", "100"}, {"supervisor.backoff-max-ms", "50"}}))
              .find("must not be below"), std::string::npos);
  EXPECT_NE(error_of(layers({{"mailbox.max-attempts", "0"}})).find("between 1 and 1000"), std::string::npos);
}

TEST(Config, ExactlyOnceIsAPerRoleModeAndTheCopyRoleNeedsItsTopics) {
  auto c = make_config(layers({{"exactly-once", "order, copy"},
                               {"roles", "copy"},
                               {"copy.from", "in"},
                               {"copy.to", "out"},
                               {"mailbox.commit-interval-ms", "250"},
                               {"kafka.transaction-timeout-ms", "20000"}}), shop_app());
  ASSERT_TRUE(c) << describe(c.error());
  EXPECT_TRUE(c->is_exactly_once("order"));
  EXPECT_TRUE(c->is_exactly_once("copy"));
  EXPECT_FALSE(c->is_exactly_once("payment"));
  EXPECT_EQ(c->commit_interval.count(), 250);
  EXPECT_EQ(c->transaction_timeout.count(), 20000);
  EXPECT_EQ(c->copy_from, "in");
  // The default: at-least-once everywhere, and the pipeline's roles only
  auto d = make_config({}, shop_app());
  EXPECT_TRUE(d->exactly_once.empty());
  EXPECT_FALSE(d->has_role("copy"));
  // Views commit nothing: no exactly-once for them
  EXPECT_NE(error_of(layers({{"exactly-once", "analytics"}})).find("is a view"), std::string::npos);
  EXPECT_NE(error_of(layers({{"exactly-once", "gateway"}})).find("is a view"), std::string::npos);
  EXPECT_NE(error_of(layers({{"exactly-once", "shipping"}})).find("unknown role 'shipping'"),
            std::string::npos);
  EXPECT_NE(error_of(layers({{"roles", "copy"}})).find("needs copy.from and copy.to"),
            std::string::npos);
  EXPECT_NE(error_of(layers({{"roles", "copy"}, {"copy.from", "t"}, {"copy.to", "t"}}))
              .find("must differ"), std::string::npos);
  EXPECT_NE(error_of(layers({{"kafka.transaction-timeout-ms", "10"}})).find("between"),
            std::string::npos);
}

TEST(Config, AFileLineWithoutEqualsIsAnErrorWithItsLineNumber) {
  auto path = std::string{"/tmp/kastor-config-bad-"} + std::to_string(getpid()) + ".conf";
  {
    std::ofstream f{path};
    f << "http = 127.0.0.1:1\nthis line is wrong\n";
  }
  config_layers l;
  auto err = load_config_file(path, l);
  ASSERT_TRUE(err);
  EXPECT_NE(describe(err).find(path + ":2"), std::string::npos);
  std::remove(path.c_str());
  EXPECT_TRUE(load_config_file("/nonexistent/kastor.conf", l));
}

TEST(Config, TheSampleFileListsEveryKeyWithItsDefault) {
  // The sample is documentation users copy: it must parse and stay complete.
  config_layers l;
  ASSERT_FALSE(load_config_file(KASTOR_SOURCE_DIR "/deploy/kastor.conf.sample", l));
  std::set<std::string> documented;
  for (const auto& [k, v] : l)
    documented.insert(k);
  for (const auto& [key, value] : config_defaults(shop_app())) {
    EXPECT_TRUE(documented.count(key)) << key << " is missing from the sample";
    if (documented.count(key)) {
      EXPECT_EQ(l[key].first, value) << key;
    }
  }
  EXPECT_EQ(documented.size(), config_defaults(shop_app()).size());
}

}  // namespace

TEST(Config, StandbyRolesAreSharedRolesThisNodeDoesNotRun) {
  auto c = make_config(layers({{"roles", "order,gateway"}, {"roles.standby", "payment, email"},
                               {"mailbox.handoff-deadline-ms", "500"},
                               {"order.passivate-after-ms", "1000"}}), shop_app());
  ASSERT_TRUE(c) << describe(c.error());
  EXPECT_TRUE(c->is_standby("payment"));
  EXPECT_TRUE(c->is_standby("email"));
  EXPECT_FALSE(c->has_role("payment"));
  EXPECT_EQ(c->handoff_deadline.count(), 500);
  EXPECT_EQ(c->setting_integer("order.passivate-after-ms"), 1000);
  EXPECT_TRUE(make_config({}, shop_app())->standby.empty());
  EXPECT_NE(error_of(layers({{"roles.standby", "gateway"}})).find("per-node view"),
            std::string::npos);
  EXPECT_NE(error_of(layers({{"roles", "order,payment"}, {"roles.standby", "payment"}}))
              .find("in roles already"), std::string::npos);
  EXPECT_NE(error_of(layers({{"roles.standby", "shipping"}})).find("unknown role"),
            std::string::npos);
  EXPECT_NE(error_of(layers({{"mailbox.handoff-deadline-ms", "-1"}})).find("between"),
            std::string::npos);
}

// -- An application's own roles, keys and fault names ----------------------------

namespace {

app_spec bank_app() {
  app_spec a;
  a.roles = {"accounts", "transfers", "statements"};
  a.views = {"statements"};
  a.keys = {config_key::integer("accounts.overdraft-cents", 0, 0, 1'000'000),
            config_key::text("transfers.currency", "EUR")};
  a.chaos_aliases = {{"crash-after-debit", chaos_fault::crash_after, "accounts"}};
  return a;
}

std::string bank_error(const config_layers& l) {
  auto c = make_config(l, bank_app());
  return c ? "" : describe(c.error());
}

}  // namespace

TEST(AppConfig, AnAppsRolesAndKeysAreWhatANodeKnows) {
  // Given no settings, then the app's roles run and its keys take their defaults
  auto d = make_config({}, bank_app());
  ASSERT_TRUE(d) << describe(d.error());
  EXPECT_EQ(d->roles, (std::vector<std::string>{"accounts", "transfers", "statements"}));
  EXPECT_EQ(d->setting_integer("accounts.overdraft-cents"), 0);
  EXPECT_EQ(d->setting("transfers.currency"), "EUR");
  // When its keys and fault names are set, then they are read like the runtime's
  auto c = make_config(layers({{"accounts.overdraft-cents", "500"},
                               {"roles.standby", "transfers"},
                               {"roles", "accounts"},
                               {"chaos", "accounts.crash-after-debit=0.5"}}),
                       bank_app());
  ASSERT_TRUE(c) << describe(c.error());
  EXPECT_EQ(c->setting_integer("accounts.overdraft-cents"), 500);
  EXPECT_EQ(c->chaos.rate("accounts", chaos_fault::crash_after), 0.5);
  EXPECT_TRUE(c->is_standby("transfers"));
}

TEST(AppConfig, BadValuesOfAnAppsKeysAreErrorsLikeTheRuntimes) {
  EXPECT_EQ(bank_error(layers({{"accounts.overdraft-cents", "lots"}})),
            "runtime.invalid_config: accounts.overdraft-cents = 'lots' (test): not a whole number");
  EXPECT_NE(bank_error(layers({{"accounts.overdraft-cents", "-1"}})).find("between 0 and 1000000"),
            std::string::npos);
  // the shop's roles, keys and fault names mean nothing to the bank
  EXPECT_NE(bank_error(layers({{"roles", "payment"}}))
              .find("unknown role 'payment' (known: accounts, transfers, statements, copy)"),
            std::string::npos);
  EXPECT_NE(bank_error(layers({{"payment.latency-ms", "5"}})).find("unknown configuration key"),
            std::string::npos);
  EXPECT_NE(bank_error(layers({{"chaos", "payment.crash-after-charge=0.1"}})).find("unknown role"),
            std::string::npos);
  EXPECT_NE(bank_error(layers({{"chaos", "transfers.crash-after-debit=0.1"}}))
              .find("applies to role 'accounts' only"),
            std::string::npos);
  // a view is never standby nor exactly-once
  EXPECT_NE(bank_error(layers({{"roles.standby", "statements"}}))
              .find("standby is for accounts, transfers and copy"),
            std::string::npos);
  EXPECT_NE(bank_error(layers({{"exactly-once", "statements"}})).find("view of every record"),
            std::string::npos);
}

TEST(AppConfig, AnAppsKeysAreDocumentedDefaultsAndReadFromTheEnvironment) {
  auto defaults = config_defaults(bank_app());
  EXPECT_EQ(defaults[1], (std::pair<std::string, std::string>{"roles",
                                                              "accounts,transfers,statements"}));
  EXPECT_EQ(defaults.back(),
            (std::pair<std::string, std::string>{"transfers.currency", "EUR"}));
  std::string env = "KASTOR_TRANSFERS_CURRENCY=SEK";
  char* envp[] = {env.data(), nullptr};
  config_layers l;
  load_config_env(envp, l, bank_app());
  auto c = make_config(l, bank_app());
  ASSERT_TRUE(c) << describe(c.error());
  EXPECT_EQ(c->setting("transfers.currency"), "SEK");
}
