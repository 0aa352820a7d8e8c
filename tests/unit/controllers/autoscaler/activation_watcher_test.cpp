// ActivationWatcher against a scripted gateway (FakeHttpClient) and a
// FakeClock: what it asks, what it activates, how it backs off and resumes
// after a gateway restart, and that gateways come and go with the URL list.
#include "controllers/autoscaler/activation_watcher.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <thread>

#include "fakes/fake_clock.h"
#include "fakes/fake_http_client.h"

namespace sluice::controllers {
namespace {

using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return condition();
}

http::Response answer(const std::string& instance, uint64_t sequence, const std::vector<std::string>& keys) {
  nlohmann::json functions = nlohmann::json::array();
  for (const std::string& key : keys) {
    functions.push_back({{"namespace", key.substr(0, key.find('/'))}, {"name", key.substr(key.find('/') + 1)}});
  }
  return http::Response{
      200, {}, nlohmann::json{{"instance", instance}, {"sequence", sequence}, {"functions", functions}}.dump()};
}

class ActivationWatcherTest : public ::testing::Test {
 protected:
  void start() {
    ActivationWatcherOptions options;
    options.gatewayLoadsUrls = [this] {
      std::lock_guard lock(mu);
      return urls;
    };
    watcher = std::make_unique<ActivationWatcher>(options, http, clock, [this](const std::string& key) {
      std::lock_guard lock(mu);
      activated.push_back(key);
    });
    watcher->start();
  }
  std::vector<std::string> activatedNow() {
    std::lock_guard lock(mu);
    return activated;
  }
  std::vector<std::string> urlsAsked() {
    std::vector<std::string> asked;
    for (const http::Request& request : http->requests()) asked.push_back(request.url);
    return asked;
  }
  void TearDown() override { watcher.reset(); }

  testing::FakeClock clock;
  std::shared_ptr<testing::FakeHttpClient> http = std::make_shared<testing::FakeHttpClient>();
  std::mutex mu;
  std::vector<std::string> urls{"http://10.0.0.5:9090/loads"};
  std::vector<std::string> activated;
  std::unique_ptr<ActivationWatcher> watcher;
};

TEST_F(ActivationWatcherTest, ActivatesWhatTheGatewayNamesAndAsksOnFromItsSequence) {
  http->answer(answer("g1", 0, {}));
  http->answer(answer("g1", 4, {"etl/orders", "web/api"}));
  // Then the script is out: an unreadable answer, so the watcher backs off (on the fake clock).
  start();
  ASSERT_TRUE(eventually([&] { return activatedNow().size() == 2; }));
  EXPECT_EQ(activatedNow(), (std::vector<std::string>{"etl/orders", "web/api"}));
  ASSERT_TRUE(eventually([&] { return urlsAsked().size() >= 3; }));
  std::vector<std::string> asked = urlsAsked();
  EXPECT_EQ(asked[0], "http://10.0.0.5:9090/activations?instance=&after=0&waitSeconds=10");
  EXPECT_EQ(asked[1], "http://10.0.0.5:9090/activations?instance=g1&after=0&waitSeconds=10");
  EXPECT_EQ(asked[2], "http://10.0.0.5:9090/activations?instance=g1&after=4&waitSeconds=10");
  // The request outlasts the gateway's hold.
  EXPECT_EQ(http->requests()[0].timeout, 15s);
  EXPECT_EQ(watcher->answers(), 2u);
}

TEST_F(ActivationWatcherTest, BacksOffWhileTheGatewayIsDownAndTakesTheRestartedOnesPresent) {
  http->answer(answer("g1", 5, {}));
  http->answer(Status(StatusCode::kUnavailable, "connection refused"));
  http->answer(Status(StatusCode::kUnavailable, "connection refused"));
  http->answer(answer("g2", 0, {"etl/orders"}));
  start();
  // Two refusals: the second poll after 100 ms, the third after 200 ms more.
  ASSERT_TRUE(eventually([&] { return urlsAsked().size() == 2; }));
  clock.waitForSleepers(2);  // the refresher and the backing-off poll
  clock.advance(99ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(urlsAsked().size(), 2u);
  clock.advance(1ms);
  ASSERT_TRUE(eventually([&] { return urlsAsked().size() == 3; }));
  clock.waitForSleepers(2);
  clock.advance(199ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(urlsAsked().size(), 3u);
  EXPECT_TRUE(activatedNow().empty());
  clock.advance(1ms);
  // The restarted gateway (a new instance) answers with what waits there now.
  ASSERT_TRUE(eventually([&] { return activatedNow().size() == 1; }));
  EXPECT_EQ(activatedNow(), std::vector<std::string>{"etl/orders"});
  ASSERT_TRUE(eventually([&] { return urlsAsked().size() >= 5; }));
  std::vector<std::string> asked = urlsAsked();
  EXPECT_EQ(asked[3], "http://10.0.0.5:9090/activations?instance=g1&after=5&waitSeconds=10");
  EXPECT_EQ(asked[4], "http://10.0.0.5:9090/activations?instance=g2&after=0&waitSeconds=10");

  // An answer resets the backoff: the next failure waits 100 ms again, not 400.
  clock.waitForSleepers(2);
  const size_t before = urlsAsked().size();
  clock.advance(100ms);
  ASSERT_TRUE(eventually([&] { return urlsAsked().size() == before + 1; }));
}

TEST_F(ActivationWatcherTest, FollowsTheGatewaysAsTheyComeAndGo) {
  {
    std::lock_guard lock(mu);
    urls.clear();
  }
  start();
  clock.waitForSleepers(1);
  EXPECT_TRUE(urlsAsked().empty());
  {
    std::lock_guard lock(mu);
    urls = {"http://10.0.0.7:9090/loads"};
  }
  http->answer(answer("g7", 0, {"etl/orders"}));
  clock.advance(1s);  // the next refresh
  ASSERT_TRUE(eventually([&] { return activatedNow().size() == 1; }));
  EXPECT_EQ(urlsAsked()[0], "http://10.0.0.7:9090/activations?instance=&after=0&waitSeconds=10");
  // Gone from the list: its poll stops (no more requests however long we wait).
  {
    std::lock_guard lock(mu);
    urls.clear();
  }
  clock.waitForSleepers(2);
  clock.advance(1s);
  ASSERT_TRUE(eventually([&] { return watcher->gateways() == 0; }));
  std::this_thread::sleep_for(50ms);  // a request begun before the stop may still be sent
  const size_t asked = urlsAsked().size();
  clock.advance(10s);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(urlsAsked().size(), asked);
}

TEST(ActivationsUrlTest, ReplacesLoads) {
  EXPECT_EQ(activationsUrlFor("http://10.0.0.5:9090/loads"), "http://10.0.0.5:9090/activations");
  EXPECT_EQ(activationsUrlFor("http://[fd00::1]:9090/loads"), "http://[fd00::1]:9090/activations");
}

}  // namespace
}  // namespace sluice::controllers
