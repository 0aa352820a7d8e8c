// The `sluice` command line (also installed as `kubectl-sluice`, so `kubectl
// sluice ...` runs it): subcommands init, check, apply, delete, describe,
// build, invoke, logs, dlq ls, dlq redrive, local, simulate, version,
// completion, parsed with CLI11. What it touches from outside (streams, the
// cluster, HTTP, the clock, child programs) comes in through CliEnvironment,
// so unit tests run it in memory.
// Exit codes: 0 done; 1 a runtime or cluster error (unreachable apiserver, a
// missing Function, an invocation answered with a status >= 400, a Trigger
// without a dead letter, an unreachable broker, a `dlq redrive --id` not in
// the dead letter, a failing buildah or pip); 2 a usage or validation error
// (bad flags, manifests with errors, a --trigger of another Function, a
// `build` directory without a handler).
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "cli/build.h"
#include "cli/dlq.h"
#include "common/clock.h"
#include "common/status.h"
#include "http/http_client.h"
#include "kube/resource_client.h"
#include "kube/transport.h"

namespace sluice::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

struct ClusterConnection {
  std::shared_ptr<kube::ResourceClient> client;
  std::string defaultNamespace;                // the kubeconfig context's
  std::shared_ptr<kube::Transport> transport;  // the client's, for what is not JSON (pod logs)
};

struct CliEnvironment {
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  std::istream* in = nullptr;
  // (kubeconfig path, context): the path is --kubeconfig or "" (then
  // $KUBECONFIG's first entry, else ~/.kube/config).
  std::function<Result<ClusterConnection>(const std::string&, const std::string&)> connect;
  std::function<std::shared_ptr<http::HttpClient>()> httpClient;
  const Clock* clock = nullptr;
  // Runs a program (argv[0] a path) to its end; its exit code.
  std::function<int(const std::vector<std::string>&)> run;
  // Runs a program (argv[0] looked up on PATH) to its end, capturing its output (`build`: buildah, pip).
  ProgramRunner capture;
  std::string operatorBinary;  // sluice-operator for `local` and `simulate`
  // `dlq`: the dead letter of a plan and the source it is redriven into (the brokers; fakes in unit tests).
  std::function<Result<std::unique_ptr<DeadLetterStore>>(const DlqPlan&)> openDeadLetters = openDeadLetterStore;
  std::function<Result<std::unique_ptr<Reinjector>>(const DlqPlan&)> openReinjector = cli::openReinjector;
};

// argv without the program name.
int runCli(const std::vector<std::string>& args, CliEnvironment& env);

// The real thing: std streams, the kubeconfig's apiserver, cpprestsdk, the
// system clock, fork/exec, and sluice-operator next to this binary.
CliEnvironment systemEnvironment();

}  // namespace sluice::cli
