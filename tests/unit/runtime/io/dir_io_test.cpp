// DirSource and DirSink on temporary directories: one event per file, delete
// or move after the ack, requeue and reject paths, claims shared by two
// sources (each file once), abandoned claims taken over after claimTtl,
// drain releasing unfinished claims; atomic, uniquely named output files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "fakes/fake_clock.h"
#include "object_source_test_util.h"
#include "runtime/shapes/event_shapes.h"
#include "runtime/sinks/dir_sink.h"
#include "runtime/sources/dir_source.h"

namespace sluice::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sluice::testing::FakeClock;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "sluice-dir-io-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}
std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
std::set<std::string> listNames(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// Advances the clock by one poll interval and waits for the scan it triggers.
void nextScan(FakeClock& clock, DirSource& source, std::chrono::milliseconds poll) {
  clock.waitForSleepers(1);  // the source sleeps on a deadline computed before this advance
  int64_t before = source.scans();
  clock.advance(poll);
  ASSERT_TRUE(eventually([&] { return source.scans() > before; }));
}

DirSourceOptions optionsFor(const TempDir& dir) {
  DirSourceOptions options;
  options.triggerName = "uploads";
  options.directory = dir.path();
  options.pollInterval = 1s;
  options.claimTtl = 60s;
  options.owner = "test-" + std::to_string(getpid());
  return options;
}

TEST(DirSourceTest, OneEventPerFileDeletedAfterAckAndRequeuedFilesComeBack) {
  TempDir dir;
  writeFile(dir / "a.log", "alpha\n");
  writeFile(dir / "b.log", "beta\n");
  writeFile(dir / ".partial", "being written");
  FakeClock clock;
  RecordingDispatcher dispatcher;
  DirSource source(optionsFor(dir), clock);
  ASSERT_TRUE(source.start(dispatcher).isOk());
  ASSERT_TRUE(eventually([&] { return source.scans() >= 1; }));
  ASSERT_EQ(dispatcher.count(), 2u) << "dot-files are ignored";

  std::map<std::string, Dispatched> byKey;
  for (auto& d : dispatcher.all()) byKey[*d.event.key] = d;
  const Event& a = byKey.at("a.log").event;
  EXPECT_EQ(a.source, "dir");
  EXPECT_EQ(a.type, "object.created");
  EXPECT_EQ(a.data, "alpha\n");
  EXPECT_EQ(a.subject, dir / "a.log");
  EXPECT_TRUE(a.id.starts_with(dir.path() + "/a.log@")) << a.id;
  Headers expectedHeaders = {{shapes::kObjectBucketHeader, fs::path(dir.path()).filename().string()},
                             {shapes::kObjectKeyHeader, "a.log"},
                             {shapes::kObjectSizeHeader, "6"},
                             {shapes::kObjectEtagHeader, a.id.substr(a.id.find('@') + 1)}};
  EXPECT_EQ(a.headers, expectedHeaders);
  EXPECT_TRUE(fs::exists(dir / ".sluice-claims/a.log"));

  // A file in flight is not dispatched again by later scans.
  nextScan(clock, source, 1s);
  EXPECT_EQ(dispatcher.count(), 2u);

  byKey.at("a.log").done(Outcome::kAcked);
  byKey.at("b.log").done(Outcome::kRequeue);
  EXPECT_FALSE(fs::exists(dir / "a.log")) << "deleted after the ack";
  EXPECT_FALSE(fs::exists(dir / ".sluice-claims/a.log"));
  EXPECT_TRUE(fs::exists(dir / "b.log")) << "a requeued file stays";
  EXPECT_FALSE(fs::exists(dir / ".sluice-claims/b.log"));

  nextScan(clock, source, 1s);
  ASSERT_EQ(dispatcher.count(), 3u);
  EXPECT_EQ(*dispatcher.take(2).event.key, "b.log");
  dispatcher.take(2).done(Outcome::kRejected);
  EXPECT_FALSE(fs::exists(dir / "b.log"));
  EXPECT_EQ(readFile(dir / ".sluice-failed/b.log"), "beta\n") << "a rejected file is kept aside, never lost";
  ASSERT_TRUE(source.finish(clock.now()).isOk());
}

TEST(DirSourceTest, MoveAfterProcessingKeepsTheFileInTheTargetDirectory) {
  TempDir dir;
  TempDir done;
  writeFile(dir / "x.csv", "1,2,3\n");
  FakeClock clock;
  RecordingDispatcher dispatcher;
  DirSourceOptions options = optionsFor(dir);
  options.afterProcessing = DirAfterProcessing::kMove;
  options.moveTo = done / "processed";
  DirSource source(options, clock);
  ASSERT_TRUE(source.start(dispatcher).isOk());
  ASSERT_TRUE(eventually([&] { return dispatcher.count() == 1; }));
  dispatcher.take(0).done(Outcome::kAcked);
  EXPECT_FALSE(fs::exists(dir / "x.csv"));
  EXPECT_EQ(readFile(done / "processed/x.csv"), "1,2,3\n");
  ASSERT_TRUE(source.finish(clock.now()).isOk());
}

TEST(DirSourceTest, TwoSourcesOnOneDirectoryProcessEachFileOnce) {
  constexpr int kFiles = 200;
  TempDir dir;
  for (int i = 0; i < kFiles; ++i) writeFile(dir / ("f" + std::to_string(i)), std::to_string(i));
  FakeClock clock;
  RecordingDispatcher first;
  RecordingDispatcher second;
  DirSourceOptions options = optionsFor(dir);
  options.maxInFlight = 1000;
  options.owner = "replica-1";
  DirSource one(options, clock);
  options.owner = "replica-2";
  DirSource two(options, clock);
  ASSERT_TRUE(one.start(first).isOk());
  ASSERT_TRUE(two.start(second).isOk());
  ASSERT_TRUE(eventually([&] { return one.scans() >= 1 && two.scans() >= 1; }));
  std::multiset<std::string> seen;
  for (auto* d : {&first, &second}) {
    for (auto& e : d->all()) {
      seen.insert(e.event.data);
      e.done(Outcome::kAcked);
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kFiles)) << "each file dispatched exactly once across both";
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), static_cast<size_t>(kFiles));
  EXPECT_EQ(listNames(dir.path()), (std::set<std::string>{".sluice-claims", ".sluice-failed"}));
  EXPECT_TRUE(listNames(dir / ".sluice-claims").empty());
}

TEST(DirSourceTest, AbandonedClaimIsTakenOverAfterClaimTtl) {
  TempDir dir;
  writeFile(dir / "orphan.json", "{}");
  FakeClock clock;
  fs::create_directories(dir / ".sluice-claims");
  writeFile(dir / ".sluice-claims/orphan.json", "dead-replica\n");
  // The dead replica last refreshed its claim "now" by the test clock.
  auto t = std::chrono::duration_cast<std::chrono::nanoseconds>(clock.wallNow().time_since_epoch()).count();
  timespec times[2] = {{static_cast<time_t>(t / 1'000'000'000), static_cast<long>(t % 1'000'000'000)},
                       {static_cast<time_t>(t / 1'000'000'000), static_cast<long>(t % 1'000'000'000)}};
  ASSERT_EQ(utimensat(AT_FDCWD, (dir / ".sluice-claims/orphan.json").c_str(), times, 0), 0);

  RecordingDispatcher dispatcher;
  DirSource source(optionsFor(dir), clock);  // claimTtl 60 s
  ASSERT_TRUE(source.start(dispatcher).isOk());
  ASSERT_TRUE(eventually([&] { return source.scans() >= 1; }));
  EXPECT_EQ(dispatcher.count(), 0u) << "a live claim of another replica is respected";
  for (int i = 0; i < 30; ++i) nextScan(clock, source, 1s);
  EXPECT_EQ(dispatcher.count(), 0u) << "30 s old: still live";
  for (int i = 0; i < 31; ++i) nextScan(clock, source, 1s);
  ASSERT_EQ(dispatcher.count(), 1u) << "older than claimTtl: taken over";
  EXPECT_EQ(*dispatcher.take(0).event.key, "orphan.json");
  EXPECT_EQ(readFile(dir / ".sluice-claims/orphan.json"), "test-" + std::to_string(getpid()) + "\n");
  ASSERT_TRUE(source.finish(clock.now()).isOk());
}

TEST(DirSourceTest, OwnClaimsAreRefreshedWhileInFlightAndReleasedOnDrain) {
  TempDir dir;
  writeFile(dir / "slow.bin", "zzz");
  FakeClock clock;
  RecordingDispatcher dispatcher;
  DirSourceOptions options = optionsFor(dir);
  options.pollInterval = 10s;
  DirSource source(options, clock);
  ASSERT_TRUE(source.start(dispatcher).isOk());
  ASSERT_TRUE(eventually([&] { return dispatcher.count() == 1; }));
  // Two minutes of processing: the claim's mtime keeps up with the clock, so
  // another replica would not take it over.
  for (int i = 0; i < 12; ++i) nextScan(clock, source, 10s);
  struct stat st {};
  ASSERT_EQ(::stat((dir / ".sluice-claims/slow.bin").c_str(), &st), 0);
  auto claimAge = clock.wallNow() -
                  std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
                      std::chrono::seconds(st.st_mtim.tv_sec)));
  EXPECT_LT(claimAge, options.claimTtl);

  source.stopFetching();
  writeFile(dir / "late.bin", "late");
  nextScan(clock, source, 10s);
  EXPECT_EQ(dispatcher.count(), 1u) << "nothing is dispatched once draining";
  ASSERT_TRUE(source.finish(clock.now()).isOk());
  EXPECT_FALSE(fs::exists(dir / ".sluice-claims/slow.bin")) << "unfinished files are released for other replicas";
  EXPECT_TRUE(fs::exists(dir / "slow.bin"));
  dispatcher.take(0).done(Outcome::kAcked);
  EXPECT_TRUE(fs::exists(dir / "slow.bin")) << "a completion after finish() no longer touches the file";
}

TEST(DirSourceTest, StartRefusesAMissingDirectory) {
  FakeClock clock;
  RecordingDispatcher dispatcher;
  DirSourceOptions options;
  options.triggerName = "uploads";
  options.directory = "/nonexistent/sluice-dir-io";
  DirSource source(options, clock);
  Status status = source.start(dispatcher);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "dir trigger \"uploads\": /nonexistent/sluice-dir-io is not a directory");
}

TEST(DirSinkTest, WritesEveryRecordAsACompleteUniquelyNamedFile) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  TempDir dir;
  FakeClock clock;
  auto sink = DirSink::create({dir.path() + "/", ".json"}, clock);
  ASSERT_TRUE(sink.isOk()) << sink.status().toString();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Record record;
        record.value = "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}";
        (*sink)->write(record, [&](const Status& status) {
          if (status.isOk()) ++ok;
        });
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  std::set<std::string> contents;
  for (const auto& name : listNames(dir.path())) {
    EXPECT_NE(name[0], '.') << "no temporary file left behind: " << name;
    EXPECT_TRUE(name.ends_with(".json")) << name;
    contents.insert(readFile(dir / name));
  }
  EXPECT_EQ(listNames(dir.path()).size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(contents.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_TRUE(contents.contains("{\"t\":3,\"i\":49}"));
}

TEST(DirSinkTest, RefusesAMissingDirectoryNamingIt) {
  FakeClock clock;
  auto sink = DirSink::create({"/nonexistent/sluice-out", ""}, clock);
  ASSERT_FALSE(sink.isOk());
  EXPECT_EQ(sink.status().message(), "dir output: /nonexistent/sluice-out is not a directory");
}

TEST(DirSinkAndSourceTest, FilesFromTheSinkAreReadWholeByASourceWatchingTheSameDirectory) {
  TempDir dir;
  FakeClock clock;
  auto sink = DirSink::create({dir.path(), ".txt"}, clock);
  ASSERT_TRUE(sink.isOk());
  std::string big(1 << 20, 'x');
  Status written = internalError("not called");
  Record record;
  record.value = big;
  (*sink)->write(record, [&](Status s) { written = std::move(s); });
  ASSERT_TRUE(written.isOk());
  RecordingDispatcher dispatcher;
  DirSource source(optionsFor(dir), clock);
  ASSERT_TRUE(source.start(dispatcher).isOk());
  ASSERT_TRUE(eventually([&] { return dispatcher.count() == 1; }));
  EXPECT_EQ(dispatcher.take(0).event.data, big);
  ASSERT_TRUE(source.finish(clock.now()).isOk());
}

}  // namespace
}  // namespace sluice::runtime
