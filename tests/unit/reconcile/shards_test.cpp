// Sharding (issue 14): the bucket hash, pinned so every replica of every
// version agrees, and spread evenly; ShardElector over the in-memory
// FakeResourceClient on a fake clock: replicas split the buckets by their
// share (one starting late asks for its share and gets it), a replica that
// stops renewing (SIGKILL) loses its buckets to the others only after the
// lease duration and no bucket ever has two holders,
// and a bucket whose Lease shows another holder is given up at once.
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "fakes/fake_resource_client.h"
#include "reconcile/shard_elector.h"
#include "reconcile/shards.h"

namespace sluice::reconcile {
namespace {

using namespace std::chrono_literals;
using kube::Json;
using testing::FakeClock;
using testing::FakeResourceClient;

TEST(ShardBucketTest, TheHashIsFnv1a64AndPinned) {
  // The published FNV-1a 64-bit test vectors: a change here moves Functions between replicas.
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
  // Buckets of Sluice keys, as computed once and kept (Python: the same FNV-1a, mod S).
  EXPECT_EQ(fmix64(fnv1a64("default/echo")), 0x964f331856303c6eULL);
  EXPECT_EQ(shardBucket("default/echo", 3), 2);
  EXPECT_EQ(shardBucket("team-a/etl-42", 3), 0);
  EXPECT_EQ(shardBucket("team-a/etl-42", 7), 6);
  EXPECT_EQ(shardBucket("prod/orders", 7), 1);
  EXPECT_EQ(shardBucket("anything", 1), 0);
  EXPECT_EQ(shardLeaseName("sluice-operator", 2, 3), "sluice-operator-shard-2-of-3");
}

TEST(ShardBucketTest, ThreeThousandKeysSpreadWithinTenPercentOfEven) {
  for (int shards : {2, 3, 8}) {
    std::map<int, int> counts;
    for (int ns = 0; ns < 30; ++ns) {
      for (int fn = 0; fn < 100; ++fn) {
        ++counts[shardBucket("ns-" + std::to_string(ns) + "/fn-" + std::to_string(fn), shards)];
      }
    }
    ASSERT_EQ(static_cast<int>(counts.size()), shards);
    const int even = 3000 / shards;
    for (const auto& [bucket, count] : counts) {
      EXPECT_LE(std::abs(count - even), even / 10) << shards << " shards, bucket " << bucket << ": " << count;
    }
  }
}

// A ResourceClient in front of the shared fake that can be cut off, as a
// SIGKILLed replica is: no more renewals, no release.
class CuttableClient final : public kube::ResourceClient {
 public:
  explicit CuttableClient(kube::ResourceClient& inner) : inner_(inner) {}
  void cut() { cut_ = true; }

  Result<Json> get(const kube::ResourceType& t, const std::string& ns, const std::string& name) override {
    if (cut_) return unavailable("cut");
    return inner_.get(t, ns, name);
  }
  Result<Json> list(const kube::ResourceType& t, const std::string& ns, const kube::ListOptions& o) override {
    if (cut_) return unavailable("cut");
    return inner_.list(t, ns, o);
  }
  Result<Json> create(const kube::ResourceType& t, const std::string& ns, const Json& object) override {
    if (cut_) return unavailable("cut");
    return inner_.create(t, ns, object);
  }
  Result<Json> update(const kube::ResourceType& t, const Json& object) override {
    if (cut_) return unavailable("cut");
    return inner_.update(t, object);
  }
  Result<Json> updateStatus(const kube::ResourceType& t, const Json& object) override {
    if (cut_) return unavailable("cut");
    return inner_.updateStatus(t, object);
  }
  Status remove(const kube::ResourceType& t, const std::string& ns, const std::string& name,
                const kube::DeleteOptions& o) override {
    if (cut_) return unavailable("cut");
    return inner_.remove(t, ns, name, o);
  }
  Result<Json> patch(const kube::ResourceType& t, const std::string& ns, const std::string& name, kube::PatchType p,
                     const Json& body, const kube::PatchOptions& o) override {
    if (cut_) return unavailable("cut");
    return inner_.patch(t, ns, name, p, body, o);
  }
  Status watch(const kube::ResourceType& t, const std::string& ns, const kube::WatchOptions& o,
               const std::function<void(kube::WatchEvent&&)>& onEvent, std::stop_token stop) override {
    if (cut_) return unavailable("cut");
    return inner_.watch(t, ns, o, onEvent, std::move(stop));
  }

 private:
  kube::ResourceClient& inner_;
  std::atomic<bool> cut_{false};
};

// One replica: a ShardElector on its own thread, recording its gains and losses.
class Replica {
 public:
  Replica(kube::ResourceClient& shared, FakeClock& clock, const std::string& identity, int shards, int replicas)
      : client_(shared), elector_(client_, ShardingConfig{shards, replicas, "ns", "op", identity}, clock) {
    elector_.onChange([this](int bucket, bool held) {
      std::lock_guard lock(mu_);
      changes_.push_back({bucket, held});
    });
  }
  ~Replica() { stop(); }
  void start() {
    thread_ = std::jthread([this](std::stop_token stop) { elector_.run(stop); });
  }
  void stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  void kill() { client_.cut(); }
  std::set<int> buckets() const {
    std::set<int> held;
    for (int b = 0; b < elector_.config().shards; ++b) {
      if (elector_.holds(b)) held.insert(b);
    }
    return held;
  }
  int losses() const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [bucket, held] : changes_) n += held ? 0 : 1;
    return n;
  }

 private:
  CuttableClient client_;
  ShardElector elector_;
  mutable std::mutex mu_;
  std::vector<std::pair<int, bool>> changes_;
  std::jthread thread_;
};

bool waitFor(const std::function<bool()>& condition) {
  for (int i = 0; i < 5000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return condition();
}

class ShardElectorTest : public ::testing::Test {
 protected:
  // Moves time one retry period (2 s) and waits until `running` replicas have made their round.
  void step(int running) {
    const int before = fake_.callCount("get", "leases");
    clock_.advance(2s);
    ASSERT_TRUE(waitFor([&] { return fake_.callCount("get", "leases") >= before + running; }));
    clock_.waitForSleepers(running);
  }
  std::string holder(int bucket) {
    auto lease = fake_.object(kube::resources::kLeases, "ns", shardLeaseName("op", bucket, 4));
    return lease ? (*lease)["spec"].value("holderIdentity", "") : "";
  }
  // No bucket is held by both replicas.
  static void expectDisjoint(const Replica& a, const Replica& b) {
    for (int bucket : a.buckets()) EXPECT_FALSE(b.buckets().count(bucket)) << "bucket " << bucket << " held twice";
  }

  FakeClock clock_;
  FakeResourceClient fake_{clock_};
};

TEST_F(ShardElectorTest, TwoReplicasTakeTheirShareOfFourBucketsAndKeepIt) {
  Replica a(fake_, clock_, "a", 4, 2);
  Replica b(fake_, clock_, "b", 4, 2);
  a.start();
  b.start();
  clock_.waitForSleepers(2);
  for (int i = 0; i < 10; ++i) {  // 20 s: past the lease, renewed all along
    step(2);
    expectDisjoint(a, b);
  }
  EXPECT_EQ(a.buckets().size(), 2U);
  EXPECT_EQ(b.buckets().size(), 2U);
  for (int bucket : a.buckets()) EXPECT_EQ(holder(bucket), "a");
  for (int bucket : b.buckets()) EXPECT_EQ(holder(bucket), "b");
  EXPECT_EQ(a.losses() + b.losses(), 0);
}

TEST_F(ShardElectorTest, AReplicaStartingLateAsksForItsShareAndGetsItWithoutABucketHeldTwice) {
  Replica a(fake_, clock_, "a", 4, 2);
  a.start();
  clock_.waitForSleepers(1);
  for (int i = 0; i < 3; ++i) step(1);
  ASSERT_EQ(a.buckets().size(), 4U) << "alone, a takes the buckets beyond its share after the deference";

  Replica b(fake_, clock_, "b", 4, 2);
  b.start();
  clock_.waitForSleepers(2);
  for (int i = 0; i < 8; ++i) {
    step(2);
    expectDisjoint(a, b);
  }
  EXPECT_EQ(a.buckets().size(), 2U);
  EXPECT_EQ(b.buckets().size(), 2U);
  EXPECT_EQ(a.losses(), 2) << "a gave exactly the two buckets beyond its share";
  for (int bucket : b.buckets()) {
    EXPECT_EQ(holder(bucket), "b");
    auto lease = fake_.object(kube::resources::kLeases, "ns", shardLeaseName("op", bucket, 4));
    EXPECT_FALSE((*lease)["metadata"].value("annotations", Json::object()).contains(kLeaseWantedByAnnotation))
        << "the request is removed once granted";
  }
}

TEST_F(ShardElectorTest, AKilledReplicasBucketsMoveOnlyAfterTheLeaseAndTheOthersStay) {
  Replica a(fake_, clock_, "a", 4, 2);
  Replica b(fake_, clock_, "b", 4, 2);
  a.start();
  b.start();
  clock_.waitForSleepers(2);
  for (int i = 0; i < 3; ++i) step(2);
  const std::set<int> aBefore = a.buckets();
  const std::set<int> bBefore = b.buckets();
  ASSERT_EQ(aBefore.size(), 2U);
  ASSERT_EQ(bBefore.size(), 2U);

  b.kill();  // no renewal, no release
  int seconds = 0;
  while (a.buckets().size() < 4 && seconds < 60) {
    step(2);
    seconds += 2;
    expectDisjoint(a, b);
    // Until the lease ran out, b's buckets stay b's (it may still be working on them).
    if (seconds < 15) {
      EXPECT_EQ(a.buckets(), aBefore) << "after " << seconds << " s";
    }
  }
  // Taken after the 15 s lease plus the deference of a replica at its share (2 retries), counted from
  // when a saw b's last renewal (up to a retry after it), plus the retry that finds it free.
  EXPECT_GE(seconds, 15);
  EXPECT_LE(seconds, 15 + 4 + 2 * 2);
  EXPECT_EQ(a.buckets().size(), 4U);
  EXPECT_EQ(a.losses(), 0) << "a's own buckets never moved";
  // b gave its buckets up after the 10 s renew deadline, before anyone could take them.
  EXPECT_TRUE(b.buckets().empty());
  EXPECT_EQ(b.losses(), 2);
  for (int bucket = 0; bucket < 4; ++bucket) EXPECT_EQ(holder(bucket), "a");
}

TEST_F(ShardElectorTest, ABucketWhoseLeaseShowsAnotherHolderIsGivenUpAtOnce) {
  Replica a(fake_, clock_, "a", 4, 1);
  a.start();
  clock_.waitForSleepers(1);
  ASSERT_EQ(a.buckets().size(), 4U);
  auto lease = fake_.object(kube::resources::kLeases, "ns", shardLeaseName("op", 1, 4));
  ASSERT_TRUE(lease);
  Json taken = *lease;
  taken["spec"]["holderIdentity"] = "intruder";
  fake_.put(kube::resources::kLeases, taken);
  step(1);
  EXPECT_FALSE(a.buckets().count(1));
  EXPECT_EQ(a.losses(), 1);
}

TEST_F(ShardElectorTest, AGracefulStopReleasesTheLeasesForTheOthersNextRetries) {
  Replica a(fake_, clock_, "a", 4, 2);
  Replica b(fake_, clock_, "b", 4, 2);
  a.start();
  b.start();
  clock_.waitForSleepers(2);
  for (int i = 0; i < 3; ++i) step(2);
  ASSERT_EQ(a.buckets().size(), 2U);
  a.stop();
  for (int bucket = 0; bucket < 4; ++bucket) EXPECT_NE(holder(bucket), "a");
  // b is at its share: it takes released buckets after its deference (2 retries), well within the lease.
  for (int i = 0; i < 3; ++i) step(1);
  EXPECT_EQ(b.buckets().size(), 4U);
}

}  // namespace
}  // namespace sluice::reconcile
