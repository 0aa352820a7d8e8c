// ControlServer over real HTTP on 127.0.0.1 with fake hooks, and
// RuntimeController's warm -> specialized -> draining lifecycle.
#include "runtime/control/control_server.h"
#include "common/free_port.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

// cpprestsdk's U() macro breaks fmt: bring spdlog in first.
#include "common/logging.h"

#include <cpprest/http_client.h>

#include "fakes/fake_handler.h"
#include "runtime/config/config_parser.h"
#include "runtime/control/runtime_controller.h"

namespace sluice::runtime {
namespace {

namespace http = web::http;

class FakeHooks final : public ControlHooks {
 public:
  std::string notReadyReason() override { return notReady; }
  std::string refusesInvocations() override { return refuses; }
  std::string metricsText() override { return "sluice_test_metric 1\n"; }
  Status specialize(const std::string& body) override {
    std::lock_guard lock(mu);
    specializedWith.push_back(body);
    return specializeResult;
  }
  void requestDrain() override { drainRequested = true; }
  Result<std::vector<Record>> invoke(const InvokeRequest& request) override {
    std::unique_lock lock(mu);
    lastInvoke = request;
    if (request.body == "hold") {
      ++holding;
      released.notify_all();
      released.wait(lock, [&] { return release; });
    }
    if (request.body == "fail") return invalidArgument("field \"x\" is missing");
    if (request.body == "late-drain") return notHandled("draining");
    std::vector<Record> records;
    if (request.body == "none") return records;
    Record record;
    record.value = "echo:" + request.body;
    records.push_back(record);
    if (request.body == "two") records.push_back(record);
    return records;
  }

  std::mutex mu;
  std::string notReady;
  std::string refuses;
  Status specializeResult;
  std::vector<std::string> specializedWith;
  std::atomic<bool> drainRequested{false};
  InvokeRequest lastInvoke;
  // Invocations of body "hold" wait until release (notifying `released` as they start).
  std::condition_variable released;
  bool release = false;
  int holding = 0;
};

struct Reply {
  int code;
  std::string body;
  std::string notHandled = "";  // X-Sluice-Not-Handled
};

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int tries = 0; tries < 5; ++tries) {
      port_ = freeLoopbackPort();
      dataPort_ = freeLoopbackPort();
      if (dataPort_ == port_) continue;
      server_ = std::make_unique<ControlServer>(options(), hooks_);
      if (server_->start().isOk()) return;
    }
    FAIL() << "could not start the control server";
  }

  ControlServerOptions options(InvokeLimitOptions limits = {}) {
    ControlServerOptions options;
    options.invokeLimits = limits;
    options.bindAddress = "127.0.0.1:" + std::to_string(port_);
    options.specializeToken = "s3cret-token";
    options.dataBindAddress = "127.0.0.1:" + std::to_string(dataPort_);
    options.invokeTokens = {"inv-current", "inv-previous"};
    return options;
  }

  Reply call(const http::method& method, const std::string& path, const std::string& body = "",
             const std::string& authorization = "", const std::map<std::string, std::string>& headers = {}) {
    return callOn(port_, method, path, body, authorization, headers);
  }

  // POST /invoke on the data port with the current invoke token.
  Reply invoke(const std::string& body, std::map<std::string, std::string> headers = {}) {
    headers.emplace("X-Sluice-Invoke-Token", "inv-current");
    return callOn(dataPort_, http::methods::POST, "/invoke", body, "", headers);
  }

  Reply callOn(int port, const http::method& method, const std::string& path, const std::string& body = "",
               const std::string& authorization = "", const std::map<std::string, std::string>& headers = {}) {
    http::client::http_client client("http://127.0.0.1:" + std::to_string(port));
    http::http_request request(method);
    request.set_request_uri(path);
    if (!authorization.empty()) request.headers().add("Authorization", authorization);
    for (const auto& [k, v] : headers) request.headers().add(k, v);
    if (!body.empty()) request.set_body(body);
    auto response = client.request(request).get();
    std::string notHandled;
    if (response.headers().has("X-Sluice-Not-Handled")) notHandled = response.headers()["X-Sluice-Not-Handled"];
    return {response.status_code(), response.extract_string(true).get(), notHandled};
  }

  int port_ = 0;
  int dataPort_ = 0;
  FakeHooks hooks_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ControlServerTest, HealthReadinessAndMetrics) {
  EXPECT_EQ(call(http::methods::GET, "/healthz").code, 200);
  Reply ready = call(http::methods::GET, "/readyz");
  EXPECT_EQ(ready.code, 200);
  hooks_.notReady = "draining";
  ready = call(http::methods::GET, "/readyz");
  EXPECT_EQ(ready.code, 503);
  EXPECT_EQ(ready.body, "draining\n");
  Reply metrics = call(http::methods::GET, "/metrics");
  EXPECT_EQ(metrics.code, 200);
  EXPECT_EQ(metrics.body, "sluice_test_metric 1\n");
  Reply missing = call(http::methods::GET, "/nope");
  EXPECT_EQ(missing.code, 404);
  EXPECT_EQ(missing.body, "no such endpoint on the control port: GET /nope\n");
}

TEST_F(ControlServerTest, HealthzReportsWhyTheProcessShouldBeRestarted) {
  server_.reset();
  std::atomic<bool> stuck{false};
  ControlServerOptions options = this->options();
  options.unhealthyReason = [&]() -> std::string { return stuck ? "the Python interpreter is stuck" : ""; };
  server_ = std::make_unique<ControlServer>(options, hooks_);
  ASSERT_TRUE(server_->start().isOk());
  Reply healthy = call(http::methods::GET, "/healthz");
  EXPECT_EQ(healthy.code, 200);
  EXPECT_EQ(healthy.body, "ok\n");
  stuck = true;
  Reply unhealthy = call(http::methods::GET, "/healthz");
  EXPECT_EQ(unhealthy.code, 503);
  EXPECT_EQ(unhealthy.body, "the Python interpreter is stuck\n");
}

TEST_F(ControlServerTest, SpecializeRefusesMissingOrWrongTokens) {
  Reply none = call(http::methods::POST, "/specialize", "{}");
  EXPECT_EQ(none.code, 401);
  EXPECT_EQ(none.body, "missing bearer token\n");
  Reply wrong = call(http::methods::POST, "/specialize", "{}", "Bearer s3cret-tokeN");
  EXPECT_EQ(wrong.code, 401);
  EXPECT_EQ(wrong.body, "wrong bearer token\n");
  Reply prefix = call(http::methods::POST, "/specialize", "{}", "Bearer s3cret");
  EXPECT_EQ(prefix.code, 401);
  Reply basic = call(http::methods::POST, "/specialize", "{}", "Basic czNjcmV0LXRva2Vu");
  EXPECT_EQ(basic.code, 401);
  EXPECT_EQ(basic.body, "Authorization header is not a bearer token\n");
  EXPECT_TRUE(hooks_.specializedWith.empty()) << "refused calls must not reach the runtime";

  Reply ok = call(http::methods::POST, "/specialize", "{\"name\":\"f\"}", "Bearer s3cret-token");
  EXPECT_EQ(ok.code, 200);
  ASSERT_EQ(hooks_.specializedWith.size(), 1u);
  EXPECT_EQ(hooks_.specializedWith[0], "{\"name\":\"f\"}");

  hooks_.specializeResult = invalidArgument("function configuration: timeoutSeconds: must be at least 1, got 0");
  Reply bad = call(http::methods::POST, "/specialize", "{}", "Bearer s3cret-token");
  EXPECT_EQ(bad.code, 400);
  EXPECT_EQ(bad.body, "InvalidArgument: function configuration: timeoutSeconds: must be at least 1, got 0\n");
}

TEST(BearerTokenTest, NoConfiguredTokenRefusesEverything) {
  EXPECT_EQ(checkBearerToken("Bearer ", "").message(), "specialization is disabled: no token is configured");
  EXPECT_EQ(checkBearerToken("Bearer x", "").code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(checkBearerToken("Bearer x", "x").isOk());
  EXPECT_TRUE(checkBearerToken("bearer x", "x").isOk());
}

TEST_F(ControlServerTest, DrainNeedsTheTokenThenIsAccepted) {
  Reply refused = call(http::methods::POST, "/drain");
  EXPECT_EQ(refused.code, 401);
  EXPECT_EQ(refused.body, "missing bearer token\n");
  EXPECT_FALSE(hooks_.drainRequested);
  Reply drain = call(http::methods::POST, "/drain", "", "Bearer s3cret-token");
  EXPECT_EQ(drain.code, 202);
  EXPECT_TRUE(hooks_.drainRequested);
}

TEST_F(ControlServerTest, InvokeRepliesWithTheHandlersOutput) {
  Reply one = invoke("hi", {{"X-Sluice-Trigger", "web"}});
  EXPECT_EQ(one.code, 200);
  EXPECT_EQ(one.body, "echo:hi");
  EXPECT_EQ(hooks_.lastInvoke.trigger, "web");
  EXPECT_EQ(hooks_.lastInvoke.eventType, "http.request");
  Reply two = invoke("two");
  EXPECT_EQ(two.code, 200);
  EXPECT_EQ(two.body, "[\"echo:two\",\"echo:two\"]");
  EXPECT_EQ(hooks_.lastInvoke.trigger, "") << "no X-Sluice-Trigger: the controller picks the only http trigger";
  EXPECT_EQ(invoke("none").code, 204);
  Reply fail = invoke("fail");
  EXPECT_EQ(fail.code, 400);
  EXPECT_EQ(fail.body, "InvalidArgument: field \"x\" is missing\n");
  invoke("tick", {{"X-Sluice-Event-Type", "cron.tick"}});
  EXPECT_EQ(hooks_.lastInvoke.eventType, "cron.tick");
  for (const auto& [name, value] : hooks_.lastInvoke.headers) {
    EXPECT_NE(name, "x-sluice-invoke-token") << "the handler must not see the token";
  }
}

TEST_F(ControlServerTest, InvokeNeedsAnInvokeTokenBeforeAnythingElse) {
  hooks_.refuses = "draining";  // a refused call learns nothing, not even that the replica drains
  Reply none = callOn(dataPort_, http::methods::POST, "/invoke", "forged", "",
                      {{"X-Sluice-Event-Type", "cron.tick"}, {"X-Sluice-Trigger", "nightly"}});
  EXPECT_EQ(none.code, 401);
  EXPECT_EQ(none.body, "missing X-Sluice-Invoke-Token\n");
  Reply wrong = callOn(dataPort_, http::methods::POST, "/invoke", "x", "", {{"X-Sluice-Invoke-Token", "inv-currenT"}});
  EXPECT_EQ(wrong.code, 401);
  EXPECT_EQ(wrong.body, "wrong X-Sluice-Invoke-Token\n");
  // The control token is no invoke token; Authorization is not where it goes.
  EXPECT_EQ(callOn(dataPort_, http::methods::POST, "/invoke", "x", "Bearer inv-current").code, 401);
  EXPECT_EQ(
      callOn(dataPort_, http::methods::POST, "/invoke", "x", "", {{"X-Sluice-Invoke-Token", "s3cret-token"}}).code,
      401);
  EXPECT_TRUE(hooks_.lastInvoke.body.empty()) << "a refused call reached the handler";
  hooks_.refuses = "";
  // The previous token (a rotation's grace), and a caller's "current,previous" list.
  EXPECT_EQ(
      callOn(dataPort_, http::methods::POST, "/invoke", "old", "", {{"X-Sluice-Invoke-Token", "inv-previous"}}).code,
      200);
  EXPECT_EQ(
      callOn(dataPort_, http::methods::POST, "/invoke", "list", "", {{"X-Sluice-Invoke-Token", "new-one,inv-current"}})
          .code,
      200);
  EXPECT_EQ(hooks_.lastInvoke.body, "list");
}

TEST_F(ControlServerTest, EachPortServesOnlyItsOwnEndpoints) {
  Reply invokeOnControl = call(http::methods::POST, "/invoke", "x", "", {{"X-Sluice-Invoke-Token", "inv-current"}});
  EXPECT_EQ(invokeOnControl.code, 404);
  EXPECT_EQ(invokeOnControl.body, "no such endpoint on the control port: POST /invoke\n");
  for (const char* path : {"/specialize", "/drain"}) {
    Reply onData = callOn(dataPort_, http::methods::POST, path, "{}", "Bearer s3cret-token");
    EXPECT_EQ(onData.code, 404) << path;
    EXPECT_EQ(onData.body, std::string("no such endpoint on the data port: POST ") + path + "\n");
  }
  EXPECT_EQ(callOn(dataPort_, http::methods::GET, "/metrics").code, 404);
  EXPECT_TRUE(hooks_.specializedWith.empty());
  EXPECT_FALSE(hooks_.drainRequested);
}

TEST_F(ControlServerTest, TheDataPortHoldsInvocationsToTheirLimitsAfterTheToken) {
  server_.reset();
  server_ = std::make_unique<ControlServer>(options({/*maxBodyBytes=*/16, /*maxConcurrent=*/1}), hooks_);
  ASSERT_TRUE(server_->start().isOk());
  EXPECT_EQ(server_->dataPort(), dataPort_);
  // Over the body limit: refused from its length, before it is read (and so before the token is looked at).
  Reply large = invoke(std::string(17, 'x'));
  EXPECT_EQ(large.code, 413);
  EXPECT_EQ(callOn(dataPort_, http::methods::POST, "/invoke", std::string(17, 'x')).code, 413);
  // The control port takes a /specialize body far over the /invoke limit.
  EXPECT_EQ(call(http::methods::POST, "/specialize", std::string(1000, '{'), "Bearer s3cret-token").code, 200);
  std::thread held([&] { EXPECT_EQ(invoke("hold").code, 200); });
  {
    std::unique_lock lock(hooks_.mu);
    ASSERT_TRUE(hooks_.released.wait_for(lock, std::chrono::seconds(10), [&] { return hooks_.holding == 1; }));
  }
  // The one place is taken: a caller with the token gets 429, one without it 401 (it learns nothing).
  Reply busy = invoke("more");
  EXPECT_EQ(busy.code, 429);
  EXPECT_EQ(callOn(dataPort_, http::methods::POST, "/invoke", "more").code, 401);
  {
    std::lock_guard lock(hooks_.mu);
    hooks_.release = true;
  }
  hooks_.released.notify_all();
  held.join();
  EXPECT_EQ(invoke("after").code, 200);  // the place was given back
  EXPECT_EQ(hooks_.lastInvoke.body, "after");
}

TEST(InvokeTokenTest, NoConfiguredTokenRefusesEverything) {
  EXPECT_EQ(checkInvokeToken("x", {}).message(), "invocation is disabled: no invoke token is configured");
  EXPECT_EQ(checkInvokeToken("", {"x"}).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(checkInvokeToken(",", {"x"}).code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(checkInvokeToken("x", {"x"}).isOk());
  EXPECT_TRUE(checkInvokeToken("y,x", {"x"}).isOk());
}

TEST_F(ControlServerTest, InvokeSaysNoHandlerSawItWhileTheReplicaRefusesInvocations) {
  hooks_.refuses = "draining";
  Reply reply = invoke("not-for-the-handler");
  EXPECT_EQ(reply.code, 503);
  EXPECT_EQ(reply.notHandled, "draining");
  EXPECT_NE(hooks_.lastInvoke.body, "not-for-the-handler") << "the handler was called";
}

// The drain began between /invoke's own check and the handler: invoke()
// refused it unhandled, and the answer says so, as for an early refusal.
TEST_F(ControlServerTest, InvokeSaysNoHandlerSawItWhenTheDrainBeganAfterTheCheck) {
  Reply reply = invoke("late-drain");
  EXPECT_EQ(reply.code, 503);
  EXPECT_EQ(reply.notHandled, "draining");
}

const char* kHttpFunction = R"({
  "name": "greeter",
  "runtime": "python3.11",
  "codeDir": "/code",
  "triggers": [{"name": "web", "http": {}}]
})";

// A warm replica waits this long for its function before refusing a call (the default is 1 s).
RuntimeControllerOptions awaitingFunctionFor(std::chrono::milliseconds wait) {
  RuntimeControllerOptions options;
  options.awaitFunction = wait;
  return options;
}

TEST(RuntimeControllerTest, WarmThenSpecializedThenDraining) {
  RuntimeMetrics metrics;
  int factoryCalls = 0;
  RuntimeController controller(
      [&](const config::FunctionConfig& function) -> Result<std::shared_ptr<Handler>> {
        ++factoryCalls;
        EXPECT_EQ(function.name, "greeter");
        return std::shared_ptr<Handler>(std::make_shared<sluice::testing::FakeHandler>());
      },
      metrics, realClock(), awaitingFunctionFor(std::chrono::milliseconds(10)));
  EXPECT_EQ(controller.notReadyReason(), "") << "a warm replica is ready to be specialized";
  EXPECT_EQ(controller.refusesInvocations(), "") << "a call waits for the function (awaitFunction)";
  InvokeRequest request{"hello", {}, "web", "http.request"};
  EXPECT_EQ(notHandledReason(controller.invoke(request).status()),
            "no function is loaded yet (warm replica waiting for /specialize)");

  Status bad = controller.specialize(std::string(R"({"name": "x", "timeoutSeconds": 0})"));
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("timeoutSeconds"), std::string::npos) << bad.message();

  ASSERT_TRUE(controller.specialize(std::string(kHttpFunction)).isOk());
  EXPECT_EQ(factoryCalls, 1);
  EXPECT_GT(controller.lastSpecializationSeconds(), 0.0);
  EXPECT_NE(metrics.scrape().find("sluice_runtime_specialization_duration_seconds_count 1"), std::string::npos);
  // The process's CPU time, which the autoscaler's CPU scaler reads.
  EXPECT_NE(metrics.scrape().find("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "),
            std::string::npos);
  EXPECT_EQ(controller.specialize(std::string(kHttpFunction)).toString(),
            "FailedPrecondition: already specialized as function \"greeter\"");

  EXPECT_EQ(controller.refusesInvocations(), "");
  auto outputs = controller.invoke(request);
  ASSERT_TRUE(outputs.isOk()) << outputs.status().toString();
  ASSERT_EQ(outputs->size(), 1u);
  EXPECT_EQ((*outputs)[0].value, "hello");
  // No name: the only http trigger. Names the function does not have, or of the other kind: 404.
  EXPECT_TRUE(controller.invoke(InvokeRequest{"hello", {}, "", "http.request"}).isOk());
  EXPECT_EQ(controller.invoke(InvokeRequest{"x", {}, "bogus", "http.request"}).status().toString(),
            "NotFound: the function has no http trigger named \"bogus\"");
  EXPECT_EQ(controller.invoke(InvokeRequest{"x", {}, "web", "cron.tick"}).status().toString(),
            "NotFound: the function has no cron trigger named \"web\"");
  EXPECT_EQ(controller.invoke(InvokeRequest{"x", {}, "", "cron.tick"}).status().toString(),
            "NotFound: X-Sluice-Trigger is missing and the function has 0 cron triggers");
  EXPECT_EQ(controller.invoke(InvokeRequest{"x", {}, "web", "kafka.record"}).status().code(),
            StatusCode::kInvalidArgument);

  controller.requestDrain();
  EXPECT_EQ(controller.notReadyReason(), "draining");
  EXPECT_EQ(controller.refusesInvocations(), "draining");
  EXPECT_TRUE(controller.drain(std::chrono::seconds(5)).isOk());
  // Refused before any handler saw it: the control server answers 503 with X-Sluice-Not-Handled.
  EXPECT_EQ(notHandledReason(controller.invoke(request).status()), "draining");
}

// A warm replica (its function a FakeHandler once specialized) with one call to it under way,
// as the gateway's to a just-adopted pod before the operator's /specialize. It waits up to a
// minute: only the test's next step can end the wait within the test's time.
struct WarmReplicaWithACall {
  WarmReplicaWithACall() {
    call = std::thread([this] { answered = controller.invoke(InvokeRequest{"hello", {}, "web", "http.request"}); });
  }
  RuntimeMetrics metrics;
  RuntimeController controller{[](const config::FunctionConfig&) -> Result<std::shared_ptr<Handler>> {
                                 return std::shared_ptr<Handler>(std::make_shared<sluice::testing::FakeHandler>());
                               },
                               metrics, realClock(), awaitingFunctionFor(std::chrono::milliseconds(60'000))};
  std::optional<Result<std::vector<Record>>> answered;
  std::thread call;
};

TEST(RuntimeControllerTest, ACallOnAWarmReplicaIsAnsweredOnceItsFunctionIsLoaded) {
  WarmReplicaWithACall r;
  ASSERT_TRUE(r.controller.specialize(std::string(kHttpFunction)).isOk());
  r.call.join();
  ASSERT_TRUE(r.answered->isOk()) << r.answered->status().toString();
  ASSERT_EQ((*r.answered)->size(), 1u);
  EXPECT_EQ((**r.answered)[0].value, "hello");
}

TEST(RuntimeControllerTest, ADrainEndsTheWaitOfACallOnAWarmReplica) {
  WarmReplicaWithACall r;
  r.controller.requestDrain();
  r.call.join();
  EXPECT_EQ(notHandledReason(r.answered->status()), "draining");
}

TEST(RuntimeControllerTest, HandlerLoadFailureLeavesTheReplicaWarm) {
  RuntimeMetrics metrics;
  bool fail = true;
  RuntimeController controller(
      [&](const config::FunctionConfig&) -> Result<std::shared_ptr<Handler>> {
        if (fail) return invalidArgument("index.py: SyntaxError at line 3");
        return std::shared_ptr<Handler>(std::make_shared<sluice::testing::FakeHandler>());
      },
      metrics, realClock());
  EXPECT_EQ(controller.specialize(std::string(kHttpFunction)).toString(),
            "InvalidArgument: loading the handler: index.py: SyntaxError at line 3");
  fail = false;
  EXPECT_TRUE(controller.specialize(std::string(kHttpFunction)).isOk());
}

// A source whose start() the test controls: each call takes the next scripted
// answer, and a call with no answer scripted yet waits for one.
class ScriptedSource final : public Source {
 public:
  explicit ScriptedSource(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  Status start(EventDispatcher&) override {
    std::unique_lock lock(mu_);
    ++startCalls_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !answers_.empty(); });
    Status answer = answers_.front();
    answers_.erase(answers_.begin());
    return answer;
  }
  void stopFetching() override {}
  Status finish(Clock::TimePoint) override {
    std::lock_guard lock(mu_);
    ++finishCalls_;
    return Status::ok();
  }

  void answer(Status status) {
    std::lock_guard lock(mu_);
    answers_.push_back(std::move(status));
    cv_.notify_all();
  }
  // Until start() has been called `n` times in all (the call may still wait for its answer).
  void awaitStartCalls(int n) {
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return startCalls_ >= n; }))
        << "start() was called " << startCalls_ << " time(s), expected " << n;
  }
  int startCalls() {
    std::lock_guard lock(mu_);
    return startCalls_;
  }
  int finishCalls() {
    std::lock_guard lock(mu_);
    return finishCalls_;
  }

 private:
  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Status> answers_;
  int startCalls_ = 0;
  int finishCalls_ = 0;
};

// A controller of kHttpFunction whose one trigger is `source` (shared with the test; the replica holds a forwarder).
struct QueueReplica {
  class Forwarder final : public Source {
   public:
    explicit Forwarder(ScriptedSource& target) : target_(target) {}
    const std::string& name() const override { return target_.name(); }
    Status start(EventDispatcher& d) override { return target_.start(d); }
    void stopFetching() override { target_.stopFetching(); }
    Status finish(Clock::TimePoint deadline) override { return target_.finish(deadline); }

   private:
    ScriptedSource& target_;
  };

  // `retry`: the wait between attempts to start the source.
  explicit QueueReplica(Clock::Duration retry = std::chrono::milliseconds(1))
      : controller(
            [](const config::FunctionConfig&) -> Result<std::shared_ptr<Handler>> {
              return std::shared_ptr<Handler>(std::make_shared<sluice::testing::FakeHandler>());
            },
            metrics, realClock(),
            RuntimeControllerOptions{[this](const config::TriggerConfig&, const config::FunctionConfig&,
                                            RuntimeMetrics&, Clock&) -> Result<std::unique_ptr<Source>> {
                                       return std::unique_ptr<Source>(std::make_unique<Forwarder>(source));
                                     },
                                     retry, retry}) {}

  ScriptedSource source{"web"};
  RuntimeMetrics metrics;
  RuntimeController controller;

  // Until the controller reports ready, or what it reported last after 10 s.
  std::string awaitReady() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string reason = controller.notReadyReason();
    while (!reason.empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      reason = controller.notReadyReason();
    }
    return reason;
  }
};

TEST(RuntimeControllerTest, SpecializeAnswersOnceTheHandlerIsLoadedAndIsNotReadyUntilTheSourcesRun) {
  QueueReplica r;
  // The source's start() (a broker handshake) has no answer yet: /specialize does not wait for it.
  ASSERT_TRUE(r.controller.specialize(std::string(kHttpFunction)).isOk());
  r.source.awaitStartCalls(1);
  EXPECT_EQ(r.controller.notReadyReason(), "starting trigger sources");
  EXPECT_EQ(r.metrics.scrape().find("sluice_runtime_specialization_duration_seconds_count 1"), std::string::npos)
      << "specialization is not over before the sources run";
  // The handler can run an event meanwhile.
  auto outputs = r.controller.invoke(InvokeRequest{"hello", {}, "web", "http.request"});
  ASSERT_TRUE(outputs.isOk()) << outputs.status().toString();
  ASSERT_EQ(outputs->size(), 1u);
  EXPECT_EQ((*outputs)[0].value, "hello");

  r.source.answer(Status::ok());
  EXPECT_EQ(r.awaitReady(), "");
  EXPECT_EQ(r.source.startCalls(), 1);
  EXPECT_NE(r.metrics.scrape().find("sluice_runtime_specialization_duration_seconds_count 1"), std::string::npos);
  EXPECT_TRUE(r.controller.drain(std::chrono::seconds(5)).isOk());
  EXPECT_EQ(r.source.finishCalls(), 1) << "a running source is drained";
}

TEST(RuntimeControllerTest, ASourceTheBrokerRefusesIsRetriedAndTheReasonShown) {
  QueueReplica r;
  r.source.answer(unavailable("connection refused"));
  ASSERT_TRUE(r.controller.specialize(std::string(kHttpFunction)).isOk());
  // The second attempt waits for its answer: the first one's error is what readiness shows.
  r.source.awaitStartCalls(2);
  EXPECT_EQ(r.controller.notReadyReason(),
            "starting trigger sources: Unavailable: starting trigger \"web\": connection refused");
  r.source.answer(Status::ok());
  EXPECT_EQ(r.awaitReady(), "");
  EXPECT_EQ(r.source.startCalls(), 2);
}

TEST(RuntimeControllerTest, ADrainWhileTheSourcesStartStopsRetryingAndClosesNothingNeverStarted) {
  QueueReplica r(std::chrono::hours(1));  // after a refusal it waits for the drain, not for a next try
  ASSERT_TRUE(r.controller.specialize(std::string(kHttpFunction)).isOk());
  r.source.awaitStartCalls(1);
  // The drain waits for the attempt under way (refused, whether before or after the drain began),
  // then tries no more.
  std::thread answer([&] { r.source.answer(unavailable("connection refused")); });
  EXPECT_TRUE(r.controller.drain(std::chrono::seconds(5)).isOk());
  answer.join();
  EXPECT_EQ(r.source.startCalls(), 1);
  EXPECT_EQ(r.source.finishCalls(), 0) << "no source ran, so none is drained";
  EXPECT_EQ(r.controller.notReadyReason(), "draining");
}

TEST(RuntimeControllerTest, AColdStartFailsWhenASourceCannotStart) {
  QueueReplica r;
  r.source.answer(unavailable("connection refused"));
  auto function = config::parseFunctionConfig(kHttpFunction);
  ASSERT_TRUE(function.isOk()) << function.status().toString();
  EXPECT_EQ(r.controller.specialize(*function).toString(), "Unavailable: starting trigger \"web\": connection refused");
  EXPECT_EQ(r.controller.notReadyReason(), "") << "still a warm replica, nothing loaded";
  EXPECT_EQ(notHandledReason(r.controller.invoke(InvokeRequest{"hello", {}, "web", "http.request"}).status()),
            "no function is loaded yet (warm replica waiting for /specialize)");
}

}  // namespace
}  // namespace sluice::runtime
