#include "killed_replicas.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <sstream>
#include <string>
#include <thread>

namespace sluice::testing {

using namespace std::chrono_literals;

namespace {

// HH:MM:SS.mmm, as the replicas' logs stamp their lines (to read the two side by side).
std::string wallClock() {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm local{};
  localtime_r(&seconds, &local);
  std::ostringstream text;
  text << std::put_time(&local, "%H:%M:%S") << '.' << std::setw(3) << std::setfill('0') << millis;
  return text.str();
}

// SLUICE_KILL_SEED replays the kill moments of a run that failed (it prints its seed).
uint32_t killSeed() {
  const char* seed = std::getenv("SLUICE_KILL_SEED");
  return seed != nullptr && *seed != '\0' ? static_cast<uint32_t>(std::stoul(seed)) : std::random_device{}();
}

}  // namespace

KilledReplicas::KilledReplicas(std::string configPath, std::string dir, int replicas,
                               std::vector<std::pair<std::string, std::string>> environment)
    : configPath_(std::move(configPath)),
      dir_(std::move(dir)),
      environment_(std::move(environment)),
      lives_(static_cast<size_t>(replicas), 0),
      seed_(killSeed()),
      random_(seed_) {
  for (int i = 0; i < replicas; ++i) replicas_.push_back(std::make_unique<RuntimeProcess>());
}

bool KilledReplicas::startOne(size_t index) {
  RuntimeProcess& replica = *replicas_[index];
  const std::string log = dir_ + "/replica-" + std::to_string(index) + "-" + std::to_string(lives_[index]++) + ".log";
  replica.start(freeLoopbackPort(), {"--config", configPath_}, log, environment_);
  return replica.waitReady(60s);
}

bool KilledReplicas::startAll() {
  for (size_t i = 0; i < replicas_.size(); ++i) {
    replicas_[i]->start(freeLoopbackPort(), {"--config", configPath_},
                        dir_ + "/replica-" + std::to_string(i) + "-" + std::to_string(lives_[i]++) + ".log",
                        environment_);
  }
  // Started together, so the group's first assignment covers all of them.
  for (const auto& replica : replicas_) {
    if (!replica->waitReady(60s)) {
      ADD_FAILURE() << "a replica never became ready\n" << replica->log();
      return false;
    }
  }
  return true;
}

void KilledReplicas::killAtRandomMoments(int kills, int64_t total, const std::function<int64_t()>& progress,
                                         std::chrono::seconds timeout) {
  std::cout << "[figure] kill moments seed " << seed_ << "\n";
  std::uniform_real_distribution<double> fraction(0.05, 0.85);
  std::vector<int64_t> marks;
  for (int k = 0; k < kills; ++k) marks.push_back(static_cast<int64_t>(fraction(random_) * static_cast<double>(total)));
  std::sort(marks.begin(), marks.end());
  std::uniform_int_distribution<size_t> pick(0, replicas_.size() - 1);
  std::uniform_int_distribution<int> jitterMs(0, 200);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int64_t mark : marks) {
    int64_t done = progress();
    while (done < mark) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "the stream stalled at " << done << " of " << total << " before kill " << killedAt_.size() + 1 << "\n"
          << logs();
      std::this_thread::sleep_for(50ms);
      done = progress();
    }
    // Not exactly at the mark: a moment within the next 200 ms.
    std::this_thread::sleep_for(std::chrono::milliseconds(jitterMs(random_)));
    size_t victim = pick(random_);
    RuntimeProcess& replica = *replicas_[victim];
    killedAt_.push_back(progress());
    replica.signal(SIGKILL);
    std::cout << "[kill] " << killedAt_.size() << ": replica " << victim << " (pid " << replica.startedPid() << ") at "
              << killedAt_.back() << " done, " << wallClock() << "\n";
    ASSERT_EQ(replica.wait(), 128 + SIGKILL) << "replica " << victim << " was not running\n" << replica.log();
    ASSERT_TRUE(startOne(victim)) << "replica " << victim << " restarted but never became ready\n" << replica.log();
    ASSERT_LT(killedAt_.back(), total) << "kill " << killedAt_.size() << " landed after the stream ended";
  }
}

void KilledReplicas::drainAll() {
  for (const auto& replica : replicas_) replica->signal(SIGTERM);
  for (const auto& replica : replicas_) EXPECT_EQ(replica->waitFor(120s), 0) << replica->log();
}

std::string KilledReplicas::logs() const {
  std::string all;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    std::string log = replicas_[i]->log();
    if (log.size() > 4000) log = "..." + log.substr(log.size() - 4000);
    all += "--- replica " + std::to_string(i) + "\n" + log;
  }
  return all;
}

DuplicateCount countCopies(const std::vector<uint32_t>& copies) {
  DuplicateCount count;
  count.ids = static_cast<int64_t>(copies.size());
  for (uint32_t n : copies) {
    count.received += n;
    if (n == 0) ++count.lost;
    if (n > 1) count.duplicates += n - 1;
  }
  return count;
}

std::string figureLine(const std::string& what, const DuplicateCount& count, int kills, double seconds) {
  std::ostringstream line;
  line << "[figure] " << what << ": records " << count.ids << ", kills " << kills << ", lost " << count.lost
       << ", duplicates " << count.duplicates << " (" << std::fixed << std::setprecision(4) << count.percent()
       << " %), elapsed " << std::setprecision(1) << seconds << " s";
  return line.str();
}

}  // namespace sluice::testing
