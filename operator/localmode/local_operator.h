// LocalOperator: `sluice-operator --local DIR` — the whole of Sluice on one
// machine, as the same system as on Kubernetes: the Manager runs every
// controller (controllers/setup.h) over informers on an in-memory apiserver
// (kube/memory), with the LocalPlatform as their Platform (both chosen and
// built by cmd/, as the kube ones are). What only local mode needs is here:
//   - every `reloadInterval` DIR's changed manifests go into the store
//     (ManifestLoader: errors with file, line and field, last good objects kept);
//   - every `tickInterval` the platform starts, adopts, drains and replaces
//     processes (LocalPlatform::tick), the Functions whose processes changed
//     are handed to the FunctionController (as pod events would be), and
//     `afterRound` lets the gateway's routes follow the processes;
//   - a Secret that appears or changes hands its namespace's Functions to the
//     FunctionController (the platform reads Secrets, as the kubelet does);
//   - a Function's status.url is logged whenever it changes.
// Cron Triggers fire through the Manager's cron controller, the autoscaler
// and the FunctionController run on their own schedules, exactly as on Kubernetes.
// Not thread-safe: build before run(); run() on one thread; stop it through the stop_token.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "common/clock.h"
#include "reconcile/manager.h"
#include "controllers/setup.h"
#include "kube/memory/in_memory_resource_client.h"
#include "localmode/manifest_loader.h"
#include "platform/local/local_platform.h"

namespace sluice::localmode {

struct LocalOperatorOptions {
  std::string dir;
  std::chrono::milliseconds reloadInterval{1000};
  std::chrono::milliseconds tickInterval{200};
  // Called after each round, once the platform has started, adopted and drained processes.
  std::function<void()> afterRound;
};

class LocalOperator {
 public:
  // `manager` runs on `store`; `controllers` were added to it with `platform` as their Platform.
  LocalOperator(LocalOperatorOptions options, kube::InMemoryResourceClient& store, reconcile::Manager& manager,
                controllers::Controllers& controllers, platform::LocalPlatform& platform, Clock& clock);

  // Reads DIR again; returns the errors of files that changed (each reported once).
  std::vector<std::string> reload();
  // One platform round: tick, hand changed Functions to the FunctionController, afterRound.
  void round();
  // Runs the Manager and the rounds until stop is requested; then drains and
  // stops every replica, and then the Manager. Returns the Manager's exit code.
  int run(const std::stop_token& stop);

 private:
  // Logs a Function's status.url when it is new or changed (informer thread).
  void announceUrl(const kube::Json& function);

  LocalOperatorOptions options_;
  reconcile::Manager& manager_;
  controllers::Controllers& controllers_;
  platform::LocalPlatform& platform_;
  Clock& clock_;
  ManifestLoader loader_;
  std::map<std::string, platform::ReplicaCounts> counts_;  // as last handed on, by Function (run's thread)
  std::mutex urlsMu_;
  std::map<std::string, std::string> urls_;  // status.url last logged, by Function; guarded by urlsMu_
};

}  // namespace sluice::localmode
