// ActivationFeed with a FakeClock: who is answered, when, and with which
// Functions and sequence; the Dispatcher raising it for calls queued at zero.
#include "gateway/activation_feed.h"

#include <gtest/gtest.h>

#include <optional>

#include "fakes/fake_clock.h"
#include "gateway/dispatcher.h"

namespace sluice::gateway {
namespace {

using namespace std::chrono_literals;

class ActivationFeedTest : public ::testing::Test {
 protected:
  // A wait whose answer lands in the returned slot.
  std::shared_ptr<std::optional<Activations>> wait(uint64_t after, std::chrono::seconds seconds = 25s,
                                                   const std::string& instance = "") {
    auto slot = std::make_shared<std::optional<Activations>>();
    feed.wait(ActivationQuery{instance.empty() ? feed.instance() : instance, after, seconds},
              [slot](Activations a) { *slot = std::move(a); });
    return slot;
  }
  using Keys = std::vector<std::string>;

  testing::FakeClock clock;
  Keys waitingNow{"etl/waiting"};
  ActivationFeed feed{ActivationFeedOptions{}, clock, "abc123", [this] { return waitingNow; }};
};

TEST_F(ActivationFeedTest, AWaiterIsWokenByTheNextRaise) {
  auto first = wait(0);
  auto second = wait(0);
  EXPECT_FALSE(first->has_value());
  EXPECT_EQ(feed.waiters(), 2u);

  feed.raise("etl/orders");
  ASSERT_TRUE(first->has_value());
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*first)->keys, Keys{"etl/orders"});
  EXPECT_EQ((*first)->sequence, 1u);
  EXPECT_EQ((*first)->instance, "abc123");
  EXPECT_EQ((*second)->keys, Keys{"etl/orders"});
  EXPECT_EQ(feed.waiters(), 0u);
}

TEST_F(ActivationFeedTest, AnswersOnlyWhatWasRaisedAfterTheSequenceEachFunctionOnce) {
  feed.raise("etl/a");
  feed.raise("etl/b");
  feed.raise("etl/b");
  auto all = wait(0);
  ASSERT_TRUE(all->has_value());  // at once: there is news
  EXPECT_EQ((*all)->keys, (Keys{"etl/a", "etl/b"}));
  EXPECT_EQ((*all)->sequence, 3u);

  auto afterA = wait(1);
  ASSERT_TRUE(afterA->has_value());
  EXPECT_EQ((*afterA)->keys, Keys{"etl/b"});

  auto upToDate = wait(3);
  EXPECT_FALSE(upToDate->has_value());
  feed.raise("etl/a");
  ASSERT_TRUE(upToDate->has_value());
  EXPECT_EQ((*upToDate)->keys, Keys{"etl/a"});
  EXPECT_EQ((*upToDate)->sequence, 4u);
}

TEST_F(ActivationFeedTest, AnEmptyAnswerWhenTheWaitIsUp) {
  feed.raise("etl/a");
  auto waiting = wait(1, 25s);
  clock.advance(24s);
  feed.tick();
  EXPECT_FALSE(waiting->has_value());
  clock.advance(1s);
  feed.tick();
  ASSERT_TRUE(waiting->has_value());
  EXPECT_TRUE((*waiting)->keys.empty());
  EXPECT_EQ((*waiting)->sequence, 1u);  // unchanged: the next wait goes on from there

  // A longer wait than the feed allows is cut to its maximum (60 s).
  auto tooLong = wait(1, 3600s);
  clock.advance(60s);
  feed.tick();
  EXPECT_TRUE(tooLong->has_value());
}

TEST_F(ActivationFeedTest, AnotherInstanceGetsTheFunctionsWaitingNowAtOnce) {
  feed.raise("etl/a");
  // A watcher of a previous gateway process (or its first call): it cannot know what it missed.
  auto restarted = wait(7, 25s, "0ld");
  ASSERT_TRUE(restarted->has_value());
  EXPECT_EQ((*restarted)->instance, "abc123");
  EXPECT_EQ((*restarted)->sequence, 1u);
  EXPECT_EQ((*restarted)->keys, Keys{"etl/waiting"});

  // A sequence beyond ours is not ours either.
  auto ahead = wait(9);
  ASSERT_TRUE(ahead->has_value());
  EXPECT_EQ((*ahead)->keys, Keys{"etl/waiting"});

  // Nothing waiting: still answered at once, so the watcher learns the instance.
  waitingNow.clear();
  auto none = wait(0, 25s, "0ld");
  ASSERT_TRUE(none->has_value());
  EXPECT_TRUE((*none)->keys.empty());
}

TEST_F(ActivationFeedTest, ForgottenRaisesAreAnsweredWithThePresent) {
  feed.raise("etl/old");
  clock.advance(5min);
  feed.tick();
  auto late = wait(0);
  ASSERT_TRUE(late->has_value());
  EXPECT_EQ((*late)->keys, Keys{"etl/waiting"});
  // From the present on, it waits as usual.
  auto next = wait(1);
  EXPECT_FALSE(next->has_value());
  feed.raise("etl/new");
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ((*next)->keys, Keys{"etl/new"});
}

TEST_F(ActivationFeedTest, ShutdownAnswersEveryWaiterAndLaterWaitsAtOnce) {
  auto waiting = wait(0);
  feed.shutdown();
  ASSERT_TRUE(waiting->has_value());
  EXPECT_TRUE((*waiting)->keys.empty());
  auto after = wait(0);
  ASSERT_TRUE(after->has_value());
  EXPECT_TRUE((*after)->keys.empty());
  EXPECT_EQ(feed.waiters(), 0u);
}

TEST(ActivationQueryTest, ReadsTheQueryAndRefusesBadValues) {
  Result<ActivationQuery> query = activationQueryFrom("/activations?instance=ab12&after=42&waitSeconds=5");
  ASSERT_TRUE(query.isOk()) << query.status().toString();
  EXPECT_EQ(query->instance, "ab12");
  EXPECT_EQ(query->after, 42u);
  EXPECT_EQ(query->wait, 5s);

  Result<ActivationQuery> defaults = activationQueryFrom("/activations");
  ASSERT_TRUE(defaults.isOk());
  EXPECT_EQ(defaults->instance, "");
  EXPECT_EQ(defaults->after, 0u);
  EXPECT_EQ(defaults->wait, 25s);

  EXPECT_EQ(activationQueryFrom("/activations?after=-1").status().message(), "after: not a sequence number: -1");
  EXPECT_EQ(activationQueryFrom("/activations?waitSeconds=x").status().message(), "waitSeconds: not 0..3600: x");
  EXPECT_EQ(activationQueryFrom("/activations?instance=%3Cscript%3E").status().message(),
            "instance: not a gateway instance id");
}

TEST(ActivationsJsonTest, NamesEachFunction) {
  EXPECT_EQ(
      activationsJson(Activations{"ab", 3, {"etl/a", "web/b"}}),
      R"({"functions":[{"name":"a","namespace":"etl"},{"name":"b","namespace":"web"}],"instance":"ab","sequence":3})");
}

// Never answers: calls stay in flight.
class SilentUpstream final : public Upstream {
 public:
  void forward(const std::string&, const UpstreamRequest&, std::chrono::milliseconds,
               std::function<void(UpstreamResult)> done) override {
    held.push_back(std::move(done));
  }
  std::vector<std::function<void(UpstreamResult)>> held;
};

TEST(DispatcherActivationTest, EveryCallQueuedWithNoReplicaIsTold) {
  testing::FakeClock clock;
  SilentUpstream upstream;
  std::vector<std::string> told;
  {
    Dispatcher dispatcher(DispatcherOptions{}, upstream, clock);
    dispatcher.setWaitingAtZeroListener([&told](const std::string& key) { told.push_back(key); });
    dispatcher.setFunction("etl/zero", FunctionRoute{{}, 1});
    dispatcher.setFunction("etl/busy", FunctionRoute{{Replica{"a", "10.0.0.1:8080"}}, 1});
    dispatcher.submit("etl/zero", Call{{}, [](CallResult) {}});
    dispatcher.submit("etl/zero", Call{{}, [](CallResult) {}});
    // A replica at its limit is not zero: its queue is the scaler's business, not activation.
    dispatcher.submit("etl/busy", Call{{}, [](CallResult) {}});
    dispatcher.submit("etl/busy", Call{{}, [](CallResult) {}});
    dispatcher.submit("etl/unknown", Call{{}, [](CallResult) {}});
    EXPECT_EQ(told, (std::vector<std::string>{"etl/zero", "etl/zero"}));
    EXPECT_EQ(dispatcher.waitingAtZero(), std::vector<std::string>{"etl/zero"});

    // A replica takes the queue: nothing waits at zero any more.
    dispatcher.setFunction("etl/zero", FunctionRoute{{Replica{"b", "10.0.0.2:8080"}}, 4});
    EXPECT_TRUE(dispatcher.waitingAtZero().empty());
    EXPECT_EQ(upstream.held.size(), 3u);
  }
}

}  // namespace
}  // namespace sluice::gateway
