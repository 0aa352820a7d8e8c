// Several sluice-runtime replicas of one Function, some of them SIGKILLed at
// random moments of a stream and started again, as the kubelet restarts a
// killed container: what the duplicate-bound tests at scale run. Test-only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "runtime_process.h"

namespace sluice::testing {

class KilledReplicas {
 public:
  // `replicas` processes of `configPath`, logs under `dir`; `environment` as RuntimeProcess::start.
  KilledReplicas(std::string configPath, std::string dir, int replicas,
                 std::vector<std::pair<std::string, std::string>> environment = {});

  // Starts every replica and waits until each is ready; false (with the log named) when one is not.
  bool startAll();

  // `kills` times: waits until `progress()` (records done, as the test
  // counts them) passes a random fraction of `total` (sorted, drawn from
  // [0.05, 0.85] so every kill lands mid-stream), then SIGKILLs a random
  // replica and starts it again at once. Fails the test when the stream
  // does not get that far within `timeout`, or a kill does not end the
  // process with SIGKILL, or a restarted one is not ready.
  void killAtRandomMoments(int kills, int64_t total, const std::function<int64_t()>& progress,
                           std::chrono::seconds timeout);

  // SIGTERM to every replica; each must drain and exit 0.
  void drainAll();

  // The seed of the random moments (printed, so a failing run can be replayed).
  uint32_t seed() const { return seed_; }
  // What progress() said at each kill.
  const std::vector<int64_t>& killedAt() const { return killedAt_; }
  std::string logs() const;

 private:
  bool startOne(size_t index);

  std::string configPath_;
  std::string dir_;
  std::vector<std::pair<std::string, std::string>> environment_;
  std::vector<std::unique_ptr<RuntimeProcess>> replicas_;
  std::vector<int> lives_;  // per replica: how many times it was started
  uint32_t seed_;
  std::mt19937 random_;
  std::vector<int64_t> killedAt_;
};

// Duplicates over the ids a sink saw: `copies[i]` is how many times id i
// arrived. Lost: ids that never arrived.
struct DuplicateCount {
  int64_t ids = 0;
  int64_t received = 0;
  int64_t lost = 0;
  int64_t duplicates = 0;  // received - (ids - lost)
  double percent() const { return ids == 0 ? 0.0 : 100.0 * static_cast<double>(duplicates) / ids; }
};
DuplicateCount countCopies(const std::vector<uint32_t>& copies);

// One line for the benchmark record: "[figure] <what>: records N, kills K, lost L, duplicates D (P %), elapsed S s".
std::string figureLine(const std::string& what, const DuplicateCount& count, int kills, double seconds);

}  // namespace sluice::testing
