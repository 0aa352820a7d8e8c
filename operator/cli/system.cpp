// systemEnvironment(): what `sluice` uses outside unit tests.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "cli/app.h"
#include "kube/config.h"
#include "kube/cpprest_transport.h"
#include "kube/kube_client.h"

namespace sluice::cli {

namespace {

std::string defaultKubeconfig() {
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    std::string paths = env;
    return paths.substr(0, paths.find(':'));
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "") + "/.kube/config";
}

Result<ClusterConnection> connectCluster(const std::string& kubeconfig, const std::string& context) {
  const std::string path = kubeconfig.empty() ? defaultKubeconfig() : kubeconfig;
  auto config = kube::loadKubeconfig(path, context);
  if (!config.isOk()) return config.status();
  // A person waits at the terminal: one retry, not the operator's patient backoff.
  kube::TransportOptions options;
  options.maxRetries = 1;
  auto transport = kube::makeCpprestTransport(*config, realClock(), options);
  if (!transport.isOk()) return transport.status();
  std::shared_ptr<kube::Transport> shared(std::move(*transport));
  return ClusterConnection{std::make_shared<kube::KubeClient>(shared), config->defaultNamespace, shared};
}

pid_t child = 0;
void forwardSignal(int signal) {
  if (child > 0) ::kill(child, signal);
}

// Runs argv to its end. SIGINT and SIGTERM are passed on to it, so it drains
// as it would alone (Ctrl-C reaches it twice: the operators stop on the first
// and take no further stop signal).
int runProgram(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  child = ::fork();
  if (child < 0) {
    std::cerr << "sluice: cannot start " << args[0] << "\n";
    return kExitError;
  }
  if (child == 0) {
    ::execv(argv[0], argv.data());
    std::cerr << "sluice: cannot run " << args[0] << ": " << std::strerror(errno) << "\n";
    ::_exit(127);
  }
  std::signal(SIGINT, forwardSignal);
  std::signal(SIGTERM, forwardSignal);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

// sluice-operator next to this binary (build/ and an installed bin/ alike).
std::string siblingOperator() {
  char self[4096] = {};
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  std::string path = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "sluice-operator" : path.substr(0, slash + 1) + "sluice-operator";
}

}  // namespace

CliEnvironment systemEnvironment() {
  CliEnvironment env;
  env.out = &std::cout;
  env.err = &std::cerr;
  env.in = &std::cin;
  env.connect = connectCluster;
  env.httpClient = [] { return http::makeCppRestHttpClient(); };
  env.clock = &realClock();
  env.run = runProgram;
  const char* override = std::getenv("SLUICE_OPERATOR_BINARY");
  env.operatorBinary = override != nullptr && *override != '\0' ? override : siblingOperator();
  return env;
}

}  // namespace sluice::cli
