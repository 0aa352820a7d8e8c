// `sluice dlq ls` and `dlq redrive` in memory: the Trigger and Secret found
// on the in-memory apiserver (the Secret's URL decoded into the plan), a fake
// dead letter in place of the brokers; the text of `ls` against its golden,
// what a redrive selects, and each bad input's exit code and message naming
// the field. The brokers themselves: tests/integration/cli/cli_dlq_test.sh.
#include "cli/dlq.h"

#include <gtest/gtest.h>

#include "cli/app.h"
#include "cli_harness.h"
#include "runtime/delivery/delivery_loop.h"
#include "spec/resources.h"

namespace sluice::cli {
namespace {

using nlohmann::json;
using testing::Harness;

// Dead letters in memory; a redrive hands the chosen ones to the reinjector and forgets them.
class FakeStore final : public DeadLetterStore {
 public:
  explicit FakeStore(std::vector<DeadLetter>& letters) : letters_(letters) {}
  Result<std::vector<DeadLetter>> list(size_t limit) override {
    std::vector<DeadLetter> out = letters_;
    if (limit != 0 && out.size() > limit) out.resize(limit);
    return out;
  }
  Result<std::vector<DeadLetter>> redrive(const std::function<bool(const DeadLetter&)>& chosen,
                                          Reinjector* into) override {
    std::vector<DeadLetter> done, kept;
    for (const DeadLetter& letter : letters_) {
      if (!chosen(letter)) {
        kept.push_back(letter);
        continue;
      }
      if (into != nullptr) {
        if (Status s = into->reinject(letter); !s.isOk()) return s;
      }
      done.push_back(letter);
    }
    if (into != nullptr) letters_ = kept;
    return done;
  }

 private:
  std::vector<DeadLetter>& letters_;
};

class FakeReinjector final : public Reinjector {
 public:
  explicit FakeReinjector(std::vector<DeadLetter>& sent) : sent_(sent) {}
  Status reinject(const DeadLetter& letter) override {
    sent_.push_back(letter);
    return Status::ok();
  }

 private:
  std::vector<DeadLetter>& sent_;
};

class DlqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h.kube->put(spec::kFunctions,
                {{"metadata", {{"name", "orders"}, {"namespace", "team-a"}}}, {"spec", {{"runtime", "python3.11"}}}});
    h.kube->put(kube::resources::kSecrets, {{"metadata", {{"name", "rabbit"}, {"namespace", "team-a"}}},
                                            {"data", {{"url", "YW1xcDovL2d1ZXN0OmdAcmFiYml0OjU2NzIv"}}}});
    putTrigger(
        "orders-in", "orders",
        {{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"queue", "orders"}}},
         {"delivery",
          {{"deadLetter", {{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"routingKey", "dead"}}}}}}}});
    const int64_t now =
        std::chrono::duration_cast<std::chrono::milliseconds>(h.clock.wallNow().time_since_epoch()).count();
    letters = {letter("orders/1/7", "#1", 3, "INTERNAL: ValueError: bug\nline two", now - 45'000, 17),
               letter("msg-12", "#2", 5, "DEADLINE_EXCEEDED: handler timed out", now - 3 * 3600'000, 2048),
               letter("", "#3", 1, "INVALID_ARGUMENT: not JSON", std::nullopt, 0)};
    h.env.openDeadLetters = [this](const DlqPlan& p) -> Result<std::unique_ptr<DeadLetterStore>> {
      plan = p;
      return std::unique_ptr<DeadLetterStore>(std::make_unique<FakeStore>(letters));
    };
    h.env.openReinjector = [this](const DlqPlan&) -> Result<std::unique_ptr<Reinjector>> {
      return std::unique_ptr<Reinjector>(std::make_unique<FakeReinjector>(sent));
    };
  }

  void putTrigger(const std::string& name, const std::string& function, json spec) {
    spec["functionRef"] = {{"name", function}};
    h.kube->put(spec::kTriggers, {{"metadata", {{"name", name}, {"namespace", "team-a"}}}, {"spec", spec}});
  }

  static DeadLetter letter(const std::string& id, const std::string& position, int attempts, const std::string& error,
                           std::optional<int64_t> timeMs, int64_t size) {
    DeadLetter l;
    l.id = id;
    l.position = position;
    l.attempts = attempts;
    l.error = error;
    l.timeMs = timeMs;
    l.size = size;
    l.trigger = "orders-in";
    return l;
  }

  Harness h;
  std::vector<DeadLetter> letters;
  std::vector<DeadLetter> sent;
  DlqPlan plan;
};

TEST_F(DlqTest, LsPrintsTheGoldenTableAndJsonWithAges) {
  ASSERT_EQ(h.run({"dlq", "ls", "orders"}), kExitOk) << h.err.str();
  testing::expectGolden("dlq-ls.txt", h.out.str());
  EXPECT_EQ(plan.trigger, "orders-in");
  ASSERT_TRUE(plan.amqpDeadLetter.has_value());
  EXPECT_EQ(plan.amqpDeadLetter->url, "amqp://guest:g@rabbit:5672/");
  EXPECT_EQ(plan.amqpDeadLetter->queue, "dead");
  ASSERT_TRUE(plan.amqpSource.has_value());
  EXPECT_EQ(plan.amqpSource->queue, "orders");
  EXPECT_EQ(plan.redriveGroup, "sluice-redrive-team-a-orders-in");
  ASSERT_EQ(h.run({"dlq", "ls", "orders", "-o", "json", "--limit", "2"}), kExitOk) << h.err.str();
  testing::expectGolden("dlq-ls.json", h.out.str());
  json listing = json::parse(h.out.str());
  EXPECT_EQ(listing["truncated"], true);
  ASSERT_EQ(listing["items"].size(), 2u);
  EXPECT_EQ(listing["items"][0]["ageSeconds"], 45);
  EXPECT_EQ(listing["items"][1]["ageSeconds"], 3 * 3600);
  EXPECT_EQ(listing["deadLetter"], "rabbitmq queue dead");
}

TEST_F(DlqTest, RedriveByIdOrPositionSendsOnlyThoseAndDryRunSendsNothing) {
  ASSERT_EQ(h.run({"dlq", "redrive", "orders", "--id", "msg-12", "--id", "#3", "--dry-run"}), kExitOk) << h.err.str();
  EXPECT_EQ(h.out.str(),
            "would redrive msg-12\nwould redrive #3\nwould redrive 2 dead letters of Trigger team-a/orders-in from "
            "rabbitmq queue dead into rabbitmq queue orders\n");
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(letters.size(), 3u);
  testing::expectGolden("dlq-redrive-dry-run.txt", h.out.str());
  ASSERT_EQ(h.run({"dlq", "redrive", "orders", "--id", "msg-12", "-o", "json"}), kExitOk) << h.err.str();
  testing::expectGolden("dlq-redrive.json", h.out.str());
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].id, "msg-12");
  EXPECT_EQ(letters.size(), 2u);
  ASSERT_EQ(h.run({"dlq", "redrive", "orders", "--all"}), kExitOk) << h.err.str();
  EXPECT_EQ(sent.size(), 3u);
  ASSERT_EQ(h.run({"dlq", "redrive", "orders", "--all"}), kExitOk) << h.err.str();
  EXPECT_EQ(h.out.str(),
            "redrove 0 dead letters of Trigger team-a/orders-in from rabbitmq queue dead into rabbitmq "
            "queue orders\n");
}

TEST_F(DlqTest, BadInputExitsTwoAndWhatIsMissingExitsOneNamingTheField) {
  EXPECT_EQ(h.run({"dlq", "redrive", "orders"}), kExitUsage);
  EXPECT_EQ(h.err.str(), "sluice dlq redrive: --all or --id: give one of them\n");
  EXPECT_EQ(h.run({"dlq", "redrive", "orders", "--all", "--id", "x"}), kExitUsage);
  EXPECT_EQ(h.run({"dlq", "ls", "orders", "-o", "xml"}), kExitUsage);
  EXPECT_EQ(h.err.str(), "sluice dlq ls: --output: xml is not one of text, json, yaml\n");
  EXPECT_EQ(h.run({"dlq"}), kExitUsage);
  EXPECT_EQ(h.run({"dlq", "redrive", "--help"}), kExitOk);
  EXPECT_NE(h.out.str().find("Exit codes: 0 done; 1 no such Function"), std::string::npos) << h.out.str();
  EXPECT_EQ(h.run({"dlq", "ls"}), kExitUsage);
  EXPECT_EQ(h.run({"dlq", "redrive", "orders", "--id", "nope"}), kExitError);
  EXPECT_EQ(h.err.str(), "sluice dlq redrive: --id nope: no such dead letter in rabbitmq queue dead\n");
  EXPECT_EQ(h.run({"dlq", "ls", "nobody"}), kExitError);
  EXPECT_EQ(h.err.str(), "sluice dlq ls: Function team-a/nobody not found\n");
  EXPECT_EQ(h.run({"dlq", "ls", "orders", "--trigger", "gone"}), kExitError);
  EXPECT_EQ(h.err.str(), "sluice dlq ls: Trigger team-a/gone not found\n");

  putTrigger("t1", "other", {{"cron", {{"schedule", "@hourly"}}}});
  h.kube->put(spec::kFunctions, {{"metadata", {{"name", "other"}, {"namespace", "team-a"}}}, {"spec", json::object()}});
  EXPECT_EQ(h.run({"dlq", "ls", "orders", "--trigger", "t1"}), kExitUsage);
  EXPECT_EQ(h.err.str(), "sluice dlq ls: --trigger: Trigger team-a/t1 feeds Function other, not orders\n");
  EXPECT_EQ(h.run({"dlq", "ls", "other"}), kExitError);
  EXPECT_EQ(h.err.str(),
            "sluice dlq ls: trigger t1: spec.delivery.deadLetter is not set, nor the Function's spec.deadLetter\n");

  putTrigger("t1", "other",
             {{"cron", {{"schedule", "@hourly"}}},
              {"delivery",
               {{"deadLetter",
                 {{"rabbitmq",
                   {{"connectionSecretRef", {{"name", "rabbit"}}}, {"exchange", "dlx"}, {"routingKey", "x"}}}}}}}});
  EXPECT_EQ(h.run({"dlq", "ls", "other"}), kExitError);
  EXPECT_EQ(h.err.str().rfind("sluice dlq ls: trigger t1: spec.delivery.deadLetter.rabbitmq.exchange: \"dlx\": ", 0),
            0u)
      << h.err.str();
  putTrigger(
      "t1", "other",
      {{"cron", {{"schedule", "@hourly"}}},
       {"delivery",
        {{"deadLetter", {{"rabbitmq", {{"connectionSecretRef", {{"name", "missing"}}}, {"routingKey", "dead"}}}}}}}});
  EXPECT_EQ(h.run({"dlq", "ls", "other"}), kExitError);
  EXPECT_EQ(h.err.str(),
            "sluice dlq ls: trigger t1: spec.delivery.deadLetter.rabbitmq.connectionSecretRef: Secret "
            "team-a/missing not found\n");
  putTrigger(
      "t1", "other",
      {{"cron", {{"schedule", "@hourly"}}},
       {"delivery",
        {{"deadLetter", {{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"routingKey", "dead"}}}}}}}});
  EXPECT_EQ(h.run({"dlq", "ls", "other"}), kExitOk) << h.err.str();
  EXPECT_EQ(h.run({"dlq", "redrive", "other", "--all"}), kExitError);
  EXPECT_EQ(h.err.str(),
            "sluice dlq redrive: trigger t1: spec.cron: a cron source cannot take events back (redrive "
            "re-injects into kafka topics and rabbitmq queues)\n");

  putTrigger("orders-in-2", "orders",
             {{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"queue", "o2"}}},
              {"delivery", {{"deadLetter", {{"dir", {{"path", "/tmp/dead"}}}}}}}});
  EXPECT_EQ(h.run({"dlq", "ls", "orders"}), kExitUsage);
  EXPECT_EQ(h.err.str(),
            "sluice dlq ls: Function team-a/orders has 2 dead letters (spec.delivery.deadLetter of "
            "orders-in, orders-in-2): pick one with --trigger\n");
  EXPECT_EQ(h.run({"dlq", "ls", "orders", "--trigger", "orders-in-2"}), kExitError);
  EXPECT_EQ(h.err.str(),
            "sluice dlq ls: trigger orders-in-2: spec.delivery.deadLetter: a dir dead letter cannot be "
            "read back (dlq reads kafka topics and rabbitmq queues)\n");
}

// A Function's own spec.deadLetter, shared by its Triggers without one: ls shows every Trigger's
// records (or one's with --trigger), a redrive sends each into the source of the Trigger it names
// (opened once per Trigger), and records whose Trigger is gone or takes nothing back stay, exit 1.
class FunctionDlqTest : public DlqTest {
 protected:
  void SetUp() override {
    DlqTest::SetUp();
    json rabbit = {{"connectionSecretRef", {{"name", "rabbit"}}}, {"routingKey", "fan-dead"}};
    h.kube->put(spec::kFunctions, {{"metadata", {{"name", "fan"}, {"namespace", "team-a"}}},
                                   {"spec", {{"runtime", "python3.11"}, {"deadLetter", {{"rabbitmq", rabbit}}}}}});
    putTrigger("fan-k", "fan",
               {{"kafka", {{"bootstrapServers", {"kafka:9092"}}, {"topics", {"fan-in"}}, {"consumerGroup", "fan"}}}});
    putTrigger("fan-r", "fan", {{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"queue", "fan-q"}}}});
    putTrigger("fan-cron", "fan", {{"cron", {{"schedule", "@hourly"}}}});
    const int64_t now =
        std::chrono::duration_cast<std::chrono::milliseconds>(h.clock.wallNow().time_since_epoch()).count();
    letters = {letter("fan-in/0/4", "#1", 3, "INTERNAL: ValueError: k", now - 5'000, 4),
               letter("m-1", "#2", 3, "INTERNAL: ValueError: r", now - 65'000, 5),
               letter("cron-1", "#3", 3, "INTERNAL: ValueError: c", now - 7'000, 0),
               letter("old-1", "#4", 3, "INTERNAL: ValueError: o", now - 9'000, 2)};
    letters[0].trigger = "fan-k";
    letters[1].trigger = "fan-r";
    letters[2].trigger = "fan-cron";
    letters[3].trigger = "deleted-trigger";
    h.env.openReinjector = [this](const DlqPlan& p) -> Result<std::unique_ptr<Reinjector>> {
      opened.push_back(p.trigger + " " + p.sourceName());
      return std::unique_ptr<Reinjector>(std::make_unique<FakeReinjector>(sent));
    };
  }
  std::vector<std::string> opened;
};

TEST_F(FunctionDlqTest, LsShowsEveryTriggersRecordsOrOnesWithTrigger) {
  ASSERT_EQ(h.run({"dlq", "ls", "fan"}), kExitOk) << h.err.str();
  testing::expectGolden("dlq-ls-function.txt", h.out.str());
  EXPECT_TRUE(plan.functionLevel);
  EXPECT_EQ(plan.redriveGroup, "sluice-redrive-team-a-function:fan");
  ASSERT_TRUE(plan.amqpDeadLetter.has_value());
  EXPECT_EQ(plan.amqpDeadLetter->queue, "fan-dead");
  ASSERT_EQ(plan.routes.size(), 3u);
  // Listed by name: the cron Trigger's source takes nothing back; the others' are the brokers'.
  EXPECT_EQ(plan.routes[0].trigger, "fan-cron");
  EXPECT_NE(plan.routes[0].sourceRefusal, "");
  EXPECT_EQ(plan.routes[1].sourceRefusal, "");
  EXPECT_EQ(plan.routes[1].sourceName(), "kafka topic fan-in");
  EXPECT_EQ(plan.routes[2].sourceRefusal, "");
  EXPECT_EQ(plan.routes[2].sourceName(), "rabbitmq queue fan-q");
  ASSERT_EQ(h.run({"dlq", "ls", "fan", "--trigger", "fan-r", "-o", "json"}), kExitOk) << h.err.str();
  testing::expectGolden("dlq-ls-function-trigger.json", h.out.str());
  json listing = json::parse(h.out.str());
  ASSERT_EQ(listing["items"].size(), 1u);
  EXPECT_EQ(listing["items"][0]["id"], "m-1");
  EXPECT_EQ(listing["deadLetterField"], "spec.deadLetter");
}

TEST_F(FunctionDlqTest, RedriveRoutesEachRecordToItsTriggersSourceAndKeepsTheUnroutable) {
  EXPECT_EQ(h.run({"dlq", "redrive", "fan", "--all", "--dry-run"}), kExitError);
  testing::expectGolden("dlq-redrive-function-dry-run.txt", h.out.str() + h.err.str());
  EXPECT_EQ(h.run({"dlq", "redrive", "fan", "--all"}), kExitError);
  testing::expectGolden("dlq-redrive-function.txt", h.out.str());
  EXPECT_EQ(h.err.str(),
            "sluice dlq redrive: 2 left in rabbitmq queue fan-dead, first cron-1: trigger fan-cron: spec.cron: a cron "
            "source cannot take events back (redrive re-injects into kafka topics and rabbitmq queues)\n");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].id, "fan-in/0/4");
  EXPECT_EQ(sent[1].id, "m-1");
  EXPECT_EQ(opened, (std::vector<std::string>{"fan-k kafka topic fan-in", "fan-r rabbitmq queue fan-q"}));
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_EQ(h.run({"dlq", "redrive", "fan", "--id", "old-1"}), kExitError);
  EXPECT_EQ(h.err.str(),
            "sluice dlq redrive: 1 left in rabbitmq queue fan-dead, first old-1: x-sluice-trigger \"deleted-trigger\" "
            "is not a Trigger of Function team-a/fan without a dead letter of its own\n");
  EXPECT_EQ(letters.size(), 2u);
}

TEST_F(FunctionDlqTest, ErrorsNameSpecDeadLetterAndAmbiguityNeedsTrigger) {
  json fn = *h.kube->object(spec::kFunctions, "team-a", "fan");
  fn["spec"]["deadLetter"]["rabbitmq"]["connectionSecretRef"]["name"] = "missing";
  h.kube->put(spec::kFunctions, fn);
  EXPECT_EQ(h.run({"dlq", "ls", "fan"}), kExitError);
  EXPECT_EQ(h.err.str(),
            "sluice dlq ls: Function team-a/fan: spec.deadLetter.rabbitmq.connectionSecretRef: Secret team-a/missing "
            "not found\n");
  fn["spec"]["deadLetter"] = {{"http", {{"url", "http://x"}}}};
  h.kube->put(spec::kFunctions, fn);
  EXPECT_EQ(h.run({"dlq", "ls", "fan"}), kExitError);
  EXPECT_EQ(h.err.str(),
            "sluice dlq ls: Function team-a/fan: spec.deadLetter: a http dead letter cannot be read back (dlq reads "
            "kafka topics and rabbitmq queues)\n");
  // A Trigger with its own dead letter beside the Function's: two dead letters, --trigger picks.
  putTrigger("fan-own", "fan",
             {{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"queue", "own"}}},
              {"delivery",
               {{"deadLetter",
                 {{"rabbitmq", {{"connectionSecretRef", {{"name", "rabbit"}}}, {"routingKey", "own-dead"}}}}}}}});
  EXPECT_EQ(h.run({"dlq", "ls", "fan"}), kExitUsage);
  EXPECT_EQ(h.err.str(),
            "sluice dlq ls: Function team-a/fan has 2 dead letters (its spec.deadLetter and "
            "spec.delivery.deadLetter of fan-own): pick one with --trigger\n");
  EXPECT_EQ(h.run({"dlq", "ls", "fan", "--trigger", "fan-own"}), kExitOk) << h.err.str();
  EXPECT_FALSE(plan.functionLevel);
  EXPECT_EQ(plan.amqpDeadLetter->queue, "own-dead");
}

TEST(DlqHeadersTest, TheErrorHeadersAreTheRuntimesAndAreStrippedFromWhatIsRedriven) {
  EXPECT_STREQ(kErrorHeader, runtime::kDeadLetterErrorHeader);
  EXPECT_STREQ(kAttemptsHeader, runtime::kDeadLetterAttemptsHeader);
  EXPECT_STREQ(kEventIdHeader, runtime::kDeadLetterEventIdHeader);
  EXPECT_STREQ(kSourceHeader, runtime::kDeadLetterSourceHeader);
  EXPECT_STREQ(kTriggerHeader, runtime::kDeadLetterTriggerHeader);
  DeadLetter letter;
  readDeadLetterHeaders({{"origin", "test"},
                         {"x-sluice-error", "INTERNAL: boom"},
                         {"x-sluice-attempts", "3"},
                         {"x-sluice-event-id", "t/0/5"},
                         {"x-sluice-source", "kafka:t/0/5"},
                         {"x-sluice-trigger", "orders-in"},
                         {"x-sluice-invocation", "kept"}},
                        letter);
  EXPECT_EQ(letter.error, "INTERNAL: boom");
  EXPECT_EQ(letter.attempts, 3);
  EXPECT_EQ(letter.id, "t/0/5");
  EXPECT_EQ(letter.source, "kafka:t/0/5");
  EXPECT_EQ(letter.trigger, "orders-in");
  using Headers = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(letter.headers, (Headers{{"origin", "test"}, {"x-sluice-invocation", "kept"}}));
}

}  // namespace
}  // namespace sluice::cli
