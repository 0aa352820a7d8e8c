// LocalRunner: `sluice-operator --local DIR` — the whole of Sluice on one
// machine, with the Kubernetes operator's own reconcilers over a LocalStore and
// the LocalPlatform. Every `reloadInterval` it re-reads DIR's changed manifests
// into the store (a file with errors keeps its last good objects and reports
// each error once, with file, line and field; other files are unaffected).
// Every `tickInterval` it runs one round: the AutoscaleReconciler (it honours
// each Function's own schedule), then the FunctionController, which renders
// each Function's configuration, hands it and the desired count to the
// platform and writes the Function's status, exactly as on Kubernetes; then
// the platform starts, adopts, drains and replaces processes. Cron Triggers
// fire through the CronFirer on a thread of their own (a delivery waits on the
// handler; the rounds must go on meanwhile). With a gateway URL, a Function
// with an http Trigger gets status.url, logged whenever it changes, and
// `afterRound` lets the gateway's routes follow the processes.
// Not thread-safe: run() on one thread; stop it through the stop_token.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "api/v1alpha1/crd_validator.h"
#include "autoscaler/autoscaler_metrics.h"
#include "common/clock.h"
#include "controller/event_recorder.h"
#include "controllers/autoscaler/autoscale_reconciler.h"
#include "controllers/autoscaler/scaler_factory.h"
#include "controllers/function/function_controller.h"
#include "controllers/trigger/cron_firer.h"
#include "local/local_store.h"
#include "platform/local/local_platform.h"

namespace sluice::local {

struct LocalRunnerOptions {
  std::string dir;
  std::chrono::milliseconds reloadInterval{1000};
  std::chrono::milliseconds tickInterval{200};
  // The local sluice-gateway's base URL (empty: none, no status.url).
  std::string gatewayUrl;
  // Called after each round, once the platform has started, adopted and drained processes.
  std::function<void()> afterRound;
};

class LocalRunner {
 public:
  LocalRunner(LocalRunnerOptions options, LocalStore& store, platform::LocalPlatform& platform,
              controllers::ScalerFactory& scalers, controller::EventRecorder& events,
              autoscaler::AutoscalerMetrics* metrics, Clock& clock);

  // Reads DIR again; returns the errors of files that changed (each reported once).
  std::vector<std::string> reload();
  // One autoscaler + FunctionController + platform round over every Function.
  void round();
  // Fires the cron Triggers that are due (run() calls it from its cron thread).
  void fireCron();
  // Until stop is requested; then drains and stops every replica.
  void run(const std::stop_token& stop);

 private:
  struct FileState {
    long long mtimeNs = 0;
    long long size = -1;
    std::vector<nlohmann::json> objects;  // the last good ones
  };
  // When a reconciler wants a key looked at again (its ReconcileResult); a
  // terminal error waits for the objects' generations to change.
  struct Schedule {
    Clock::TimePoint next{};
    std::string refusedAt;   // the generations a terminal error was given for
    std::string generation;  // the generation last looked at (cron Triggers)
  };
  // Logs a Function's status.url when it is new or changed.
  void announceUrl(const std::string& key);
  static void reschedule(Schedule& schedule, const controller::ReconcileResult& result, Clock::TimePoint now,
                         std::string generations);

  LocalRunnerOptions options_;
  LocalStore& store_;
  platform::LocalPlatform& platform_;
  Clock& clock_;
  controllers::AutoscaleReconciler autoscaler_;
  controllers::FunctionController functions_;
  controllers::CronFirer cron_;
  std::map<std::string, FileState> files_;
  std::set<std::string> applied_;              // Function keys handed to the platform
  std::map<std::string, Schedule> refused_;    // Functions whose spec was refused
  std::map<std::string, Schedule> cronTimes_;  // cron thread only
  std::map<std::string, std::string> urls_;    // status.url last logged, by Function
};

}  // namespace sluice::local
