// LocalRunner: `sluice-operator --local DIR` — the whole of Sluice on one
// machine. Every `reloadInterval` it re-reads DIR's changed manifests into the
// LocalStore (a file with errors keeps its last good objects and reports each
// error once, with file, line and field; other files are unaffected). Every
// `tickInterval` it runs one round of the same AutoscaleReconciler the Kubernetes
// operator runs (it honours each Function's own schedule), renders each
// Function's runtime configuration with the same renderer the FunctionController
// uses, hands the LocalPlatform the desired count (FunctionController's rule)
// and lets it start, adopt, drain and replace processes.
// Not thread-safe: run() on one thread; stop it through the stop_token.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "autoscaler/autoscaler_metrics.h"
#include "common/clock.h"
#include "controller/event_recorder.h"
#include "controllers/autoscaler/autoscale_reconciler.h"
#include "controllers/autoscaler/scaler_factory.h"
#include "local/crd_validator.h"
#include "local/local_store.h"
#include "platform/local/local_platform.h"

namespace sluice::local {

struct LocalRunnerOptions {
  std::string dir;
  std::chrono::milliseconds reloadInterval{1000};
  std::chrono::milliseconds tickInterval{200};
  // Directory triggers are scanned this often and a dead replica's claim is
  // taken over after claimTtl (the runtime's defaults suit many replicas on a
  // shared volume; one machine wants a fast loop).
  std::string dirPollInterval = "250ms";
  std::string dirClaimTtl = "6s";
};

// Adds what a local replica needs to a rendered configuration: the inline
// code as codeFiles (there is no /code volume), and the local directory
// trigger timings. Errors name the field --local cannot run
// (spec.code.configMapRef, spec.code.image).
Result<nlohmann::json> localConfiguration(const nlohmann::json& function, nlohmann::json configuration,
                                          const LocalRunnerOptions& options);

class LocalRunner {
 public:
  LocalRunner(LocalRunnerOptions options, LocalStore& store, platform::LocalPlatform& platform,
              controllers::ScalerFactory& scalers, controller::EventRecorder& events,
              autoscaler::AutoscalerMetrics* metrics, Clock& clock);

  // Reads DIR again; returns the errors of files that changed (each reported once).
  std::vector<std::string> reload();
  // One autoscaler + platform round over every Function.
  void round();
  // Until stop is requested; then drains and stops every replica.
  void run(const std::stop_token& stop);

 private:
  struct FileState {
    long long mtimeNs = 0;
    long long size = -1;
    std::vector<nlohmann::json> objects;  // the last good ones
  };

  LocalRunnerOptions options_;
  LocalStore& store_;
  platform::LocalPlatform& platform_;
  Clock& clock_;
  controllers::AutoscaleReconciler autoscaler_;
  std::map<std::string, FileState> files_;
  std::set<std::string> reportedRenderErrors_;
  void ensureDirectory(const std::string& path);

  std::set<std::string> applied_;             // Function keys handed to the platform
  std::set<std::string> ensuredDirectories_;  // created (or found) once; not checked again
};

}  // namespace sluice::local
