// Dispatcher with a fake Upstream (calls complete when the test says) and a
// FakeClock: balancing, the concurrency limit, the queue, retries, deadlines.
#include "gateway/dispatcher.h"

#include <gtest/gtest.h>

#include <deque>

#include "fakes/fake_clock.h"

namespace sluice::gateway {
namespace {

class FakeUpstream final : public Upstream {
 public:
  struct Sent {
    std::string address;
    UpstreamRequest request;
    std::chrono::milliseconds timeout;
    std::function<void(UpstreamResult)> done;
  };
  void forward(const std::string& address, const UpstreamRequest& request, std::chrono::milliseconds timeout,
               std::function<void(UpstreamResult)> done) override {
    sent.push_back(Sent{address, request, timeout, std::move(done)});
  }
  // Completes the oldest call still open to `address` (any when empty).
  void complete(const std::string& address, UpstreamOutcome outcome, int status = 200, std::string body = "") {
    for (auto it = sent.begin(); it != sent.end(); ++it) {
      if (!address.empty() && it->address != address) continue;
      Sent call = std::move(*it);
      sent.erase(it);
      UpstreamResult result;
      result.outcome = outcome;
      result.response.status = status;
      result.response.body = std::move(body);
      call.done(std::move(result));
      return;
    }
    FAIL() << "no open call to " << address;
  }
  int openTo(const std::string& address) const {
    int n = 0;
    for (const auto& call : sent) n += call.address == address ? 1 : 0;
    return n;
  }
  std::deque<Sent> sent;
};

// Counts forwards and never answers.
class FakeUpstreamForShutdown final : public Upstream {
 public:
  void forward(const std::string&, const UpstreamRequest&, std::chrono::milliseconds,
               std::function<void(UpstreamResult)> done) override {
    ++forwarded;
    held.push_back(std::move(done));
  }
  int forwarded = 0;
  std::vector<std::function<void(UpstreamResult)>> held;
};

class DispatcherTest : public ::testing::Test {
 protected:
  Call call(const std::string& body) {
    Call c;
    c.request.body = body;
    c.done = [this, body](CallResult result) { results.emplace_back(body, std::move(result)); };
    return c;
  }
  FunctionRoute twoReplicas(int concurrency) {
    return FunctionRoute{{Replica{"a", "10.0.0.1:8090"}, Replica{"b", "10.0.0.2:8090"}}, concurrency};
  }

  // Before the dispatcher: its destructor ends what is still queued.
  std::vector<std::pair<std::string, CallResult>> results;
  testing::FakeClock clock;
  FakeUpstream upstream;
  DispatcherOptions options{3, std::chrono::seconds(10), std::chrono::milliseconds(100)};
  Dispatcher dispatcher{options, upstream, clock};
};

TEST_F(DispatcherTest, SpreadsOverReplicasUpToTheirConcurrencyThenQueues) {
  dispatcher.setFunction("ns/f", twoReplicas(2));
  for (int i = 0; i < 5; ++i) dispatcher.submit("ns/f", call("r" + std::to_string(i)));
  EXPECT_EQ(upstream.openTo("10.0.0.1:8090"), 2);
  EXPECT_EQ(upstream.openTo("10.0.0.2:8090"), 2);
  auto loads = dispatcher.loads();
  ASSERT_EQ(loads.size(), 1u);
  EXPECT_EQ(loads[0].pending, 1);
  EXPECT_EQ(loads[0].inFlight, 4);
  // A replica's answer frees a slot: the queued call goes there.
  upstream.complete("10.0.0.2:8090", UpstreamOutcome::kAnswered, 200, "done");
  EXPECT_EQ(upstream.openTo("10.0.0.2:8090"), 2);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].second.end, CallEnd::kAnswered);
  EXPECT_EQ(results[0].second.response.body, "done");
  EXPECT_EQ(results[0].second.replica, "b");
  EXPECT_EQ(dispatcher.loads()[0].pending, 0);
}

TEST_F(DispatcherTest, PicksTheReplicaWithFewestOutstanding) {
  dispatcher.setFunction("ns/f", twoReplicas(10));
  dispatcher.submit("ns/f", call("1"));
  dispatcher.submit("ns/f", call("2"));
  dispatcher.submit("ns/f", call("3"));
  // 2 on one, 1 on the other; finishing both on the busier one makes it the least loaded.
  const std::string busier = upstream.openTo("10.0.0.1:8090") == 2 ? "10.0.0.1:8090" : "10.0.0.2:8090";
  const std::string other = busier == "10.0.0.1:8090" ? "10.0.0.2:8090" : "10.0.0.1:8090";
  upstream.complete(busier, UpstreamOutcome::kAnswered);
  upstream.complete(busier, UpstreamOutcome::kAnswered);
  dispatcher.submit("ns/f", call("4"));
  EXPECT_EQ(upstream.openTo(busier), 1);
  EXPECT_EQ(upstream.openTo(other), 1);
}

TEST_F(DispatcherTest, RefusesAtOnceWhenTheQueueIsFull) {
  dispatcher.setFunction("ns/f", FunctionRoute{{}, 1});  // at zero: everything waits
  for (int i = 0; i < 4; ++i) dispatcher.submit("ns/f", call(std::to_string(i)));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].first, "3");
  EXPECT_EQ(results[0].second.end, CallEnd::kQueueFull);
  EXPECT_EQ(dispatcher.loads()[0].pending, 3);
}

TEST_F(DispatcherTest, HoldsCallsAtZeroUntilAReplicaIsReady) {
  dispatcher.setFunction("ns/f", FunctionRoute{{}, 2});
  dispatcher.submit("ns/f", call("first"));
  EXPECT_TRUE(upstream.sent.empty());
  clock.advance(std::chrono::seconds(3));
  dispatcher.tick();
  EXPECT_TRUE(results.empty());
  dispatcher.setFunction("ns/f", FunctionRoute{{Replica{"a", "10.0.0.1:8090"}}, 2});
  ASSERT_EQ(upstream.sent.size(), 1u);
  EXPECT_EQ(upstream.sent[0].request.body, "first");
  // The replica gets what is left of the deadline.
  EXPECT_EQ(upstream.sent[0].timeout, std::chrono::seconds(7));
}

TEST_F(DispatcherTest, RetriesACallThatReachedNoReplicaOnAnother) {
  dispatcher.setFunction("ns/f", twoReplicas(1));
  dispatcher.submit("ns/f", call("x"));
  const std::string first = upstream.sent[0].address;
  upstream.complete(first, UpstreamOutcome::kNotReached);
  ASSERT_EQ(upstream.sent.size(), 1u);
  EXPECT_NE(upstream.sent[0].address, first);
  upstream.complete("", UpstreamOutcome::kAnswered, 200, "ok");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].second.end, CallEnd::kAnswered);
  EXPECT_EQ(results[0].second.attempts, 2);
}

TEST_F(DispatcherTest, RetriesTheOnlyReplicaAfterTheBackoff) {
  dispatcher.setFunction("ns/f", FunctionRoute{{Replica{"a", "10.0.0.1:8090"}}, 1});
  dispatcher.submit("ns/f", call("x"));
  upstream.complete("", UpstreamOutcome::kNotReached);
  EXPECT_TRUE(upstream.sent.empty());
  dispatcher.tick();
  EXPECT_TRUE(upstream.sent.empty()) << "retried before the backoff";
  clock.advance(std::chrono::milliseconds(100));
  dispatcher.tick();
  ASSERT_EQ(upstream.sent.size(), 1u);
  EXPECT_TRUE(results.empty());
}

TEST_F(DispatcherTest, NeverResendsACallThatReachedAReplica) {
  dispatcher.setFunction("ns/f", twoReplicas(1));
  dispatcher.submit("ns/f", call("x"));
  upstream.complete("", UpstreamOutcome::kFailed);
  EXPECT_TRUE(upstream.sent.empty());
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].second.end, CallEnd::kUpstreamFailed);
  EXPECT_EQ(results[0].second.attempts, 1);
}

// A replica that broke a connection is probably dying: no new call goes to it
// until the backoff is over (its process may still accept connections).
TEST_F(DispatcherTest, AReplicaThatBrokeAConnectionRestsForTheBackoff) {
  dispatcher.setFunction("ns/f", twoReplicas(2));
  dispatcher.submit("ns/f", call("1"));
  dispatcher.submit("ns/f", call("2"));
  ASSERT_EQ(upstream.openTo("10.0.0.1:8090"), 1);
  upstream.complete("10.0.0.1:8090", UpstreamOutcome::kFailed);
  dispatcher.submit("ns/f", call("3"));
  dispatcher.submit("ns/f", call("4"));
  EXPECT_EQ(upstream.openTo("10.0.0.1:8090"), 0);
  EXPECT_EQ(upstream.openTo("10.0.0.2:8090"), 2);
  EXPECT_EQ(dispatcher.loads()[0].pending, 1);
  clock.advance(std::chrono::milliseconds(100));
  dispatcher.tick();
  EXPECT_EQ(upstream.openTo("10.0.0.1:8090"), 1);
}

TEST_F(DispatcherTest, TimesOutQueuedCallsAtTheirDeadline) {
  dispatcher.setFunction("ns/f", FunctionRoute{{}, 1});
  dispatcher.submit("ns/f", call("early"));
  clock.advance(std::chrono::seconds(5));
  dispatcher.submit("ns/f", call("late"));
  clock.advance(std::chrono::seconds(5));
  dispatcher.tick();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].first, "early");
  EXPECT_EQ(results[0].second.end, CallEnd::kTimedOut);
  EXPECT_EQ(dispatcher.loads()[0].pending, 1);
}

TEST_F(DispatcherTest, AnUnknownOrRemovedFunctionIsNotFound) {
  dispatcher.submit("ns/none", call("x"));
  dispatcher.setFunction("ns/f", FunctionRoute{{}, 1});
  dispatcher.submit("ns/f", call("queued"));
  dispatcher.removeFunction("ns/f");
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].second.end, CallEnd::kNotFound);
  EXPECT_EQ(results[1].first, "queued");
  EXPECT_EQ(results[1].second.end, CallEnd::kNotFound);
  EXPECT_TRUE(dispatcher.loads().empty());
}

TEST_F(DispatcherTest, ADroppedReplicaGetsNoNewCallsButFinishesItsOwn) {
  dispatcher.setFunction("ns/f", twoReplicas(1));
  dispatcher.submit("ns/f", call("1"));
  dispatcher.submit("ns/f", call("2"));
  dispatcher.setFunction("ns/f", FunctionRoute{{Replica{"b", "10.0.0.2:8090"}}, 1});
  dispatcher.submit("ns/f", call("3"));
  upstream.complete("10.0.0.1:8090", UpstreamOutcome::kAnswered);
  EXPECT_EQ(upstream.openTo("10.0.0.1:8090"), 0);
  upstream.complete("10.0.0.2:8090", UpstreamOutcome::kAnswered);
  EXPECT_EQ(upstream.openTo("10.0.0.2:8090"), 1);  // "3" waited for b
  EXPECT_EQ(dispatcher.loads()[0].inFlight, 1);
}

}  // namespace
}  // namespace sluice::gateway

namespace sluice::gateway {
namespace {

TEST(DispatcherShutdownTest, EndsQueuedCallsAsStoppingAndLeavesSentOnesAlone) {
  std::vector<CallEnd> ends;
  testing::FakeClock clock;
  FakeUpstreamForShutdown upstream;
  Dispatcher dispatcher({}, upstream, clock);
  dispatcher.setFunction("ns/f", FunctionRoute{{Replica{"a", "10.0.0.1:8090"}}, 1});
  for (int i = 0; i < 2; ++i) dispatcher.submit("ns/f", Call{{}, [&ends](CallResult r) { ends.push_back(r.end); }});
  dispatcher.shutdown();
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0], CallEnd::kStopping);
  EXPECT_EQ(upstream.forwarded, 1);
}

}  // namespace
}  // namespace sluice::gateway

namespace sluice::gateway {
namespace {

TEST(DispatcherRefusalTest, ARefusingReplicaGetsNoMoreCallsAndTheCallGoesElsewhere) {
  testing::FakeClock clock;
  FakeUpstreamForShutdown upstream;
  std::vector<CallResult> results;
  Dispatcher dispatcher({}, upstream, clock);
  dispatcher.setFunction("ns/f", FunctionRoute{{Replica{"a", "10.0.0.1:8090"}, Replica{"b", "10.0.0.2:8090"}}, 1});
  dispatcher.submit("ns/f", Call{{}, [&results](CallResult r) { results.push_back(std::move(r)); }});
  ASSERT_EQ(upstream.forwarded, 1);
  UpstreamResult refused;
  refused.outcome = UpstreamOutcome::kRefused;
  auto first = std::move(upstream.held[0]);
  first(refused);
  ASSERT_EQ(upstream.forwarded, 2) << "sent again to the other replica";
  ASSERT_TRUE(results.empty());
  UpstreamResult answered;
  answered.response.status = 200;
  upstream.held[1](answered);
  ASSERT_EQ(results.size(), 1u);
  const std::string other = results[0].replica;
  // After the backoff, still never the refusing replica.
  clock.advance(std::chrono::seconds(1));
  for (int i = 0; i < 3; ++i) {
    dispatcher.submit("ns/f", Call{{}, [&results](CallResult r) { results.push_back(std::move(r)); }});
    upstream.held.back()(answered);
  }
  ASSERT_EQ(results.size(), 4u);
  for (const CallResult& r : results) EXPECT_EQ(r.replica, other);
}

// Only a draining replica is given up on; a replica not yet specialized (a warm
// pod adopted a moment ago, already labelled and Ready) is tried again.
TEST(UpstreamRefusalTest, OnlyDrainingRetiresAReplica) {
  EXPECT_EQ(refusalOutcome("draining"), UpstreamOutcome::kRefused);
  EXPECT_EQ(refusalOutcome("no function is loaded yet"), UpstreamOutcome::kNotReached);
}

TEST(DispatcherRefusalTest, AnAdoptedReplicaStillSpecializingIsTriedAgainAfterTheBackoff) {
  testing::FakeClock clock;
  FakeUpstreamForShutdown upstream;
  std::vector<CallResult> results;
  Dispatcher dispatcher({}, upstream, clock);
  dispatcher.setFunction("ns/f", FunctionRoute{{Replica{"warm", "10.0.0.1:8090"}}, 1});
  dispatcher.submit("ns/f", Call{{}, [&results](CallResult r) { results.push_back(std::move(r)); }});
  ASSERT_EQ(upstream.forwarded, 1);
  UpstreamResult starting;
  starting.outcome = refusalOutcome("no function is loaded yet");
  auto first = std::move(upstream.held[0]);
  first(starting);
  ASSERT_EQ(upstream.forwarded, 1) << "not again before the backoff";
  clock.advance(std::chrono::seconds(1));
  dispatcher.tick();
  ASSERT_EQ(upstream.forwarded, 2) << "the only replica is tried again once the backoff is over";
  UpstreamResult answered;
  answered.response.status = 200;
  upstream.held[1](answered);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].end, CallEnd::kAnswered);
  EXPECT_EQ(results[0].replica, "warm");
  EXPECT_EQ(results[0].attempts, 2);
}

}  // namespace
}  // namespace sluice::gateway
