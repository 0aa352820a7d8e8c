// systemEnvironment(): what `sluice` uses outside unit tests.
#include <fcntl.h>
#include <poll.h>
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

// Reads the child's stdout and stderr (fds[0], fds[1]) to their ends, together so neither pipe fills.
void readBoth(int fds[2], std::string& out, std::string& err) {
  struct pollfd polls[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
  std::string* into[2] = {&out, &err};
  int open = 2;
  char buffer[65536];
  while (open > 0) {
    if (::poll(polls, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (polls[i].fd < 0 || polls[i].revents == 0) continue;
      ssize_t n = ::read(polls[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        into[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(polls[i].fd);
        polls[i].fd = -1;
        --open;
      }
    }
  }
}

// Runs argv (looked up on PATH) with its output captured. A third pipe, closed by a successful exec
// (O_CLOEXEC), carries exec's errno otherwise: a program that is missing is told from one that failed.
ProgramOutput captureProgram(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  int out[2], err[2], status[2];
  if (::pipe(out) != 0 || ::pipe(err) != 0 || ::pipe2(status, O_CLOEXEC) != 0) {
    return {false, 127, "", std::string("pipe: ") + std::strerror(errno)};
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {out[0], out[1], err[0], err[1], status[0], status[1]}) ::close(fd);
    return {false, 127, "", std::string("fork: ") + std::strerror(errno)};
  }
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::close(out[0]);
    ::close(err[0]);
    ::close(status[0]);
    ::execvp(argv[0], argv.data());
    int code = errno;
    (void)!::write(status[1], &code, sizeof code);
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  ::close(status[1]);
  ProgramOutput result;
  int fds[2] = {out[0], err[0]};
  readBoth(fds, result.out, result.err);
  int execErrno = 0;
  if (::read(status[0], &execErrno, sizeof execErrno) == static_cast<ssize_t>(sizeof execErrno)) {
    result.started = false;
    result.err = std::string("cannot run ") + args[0] + ": " + std::strerror(execErrno);
  }
  ::close(status[0]);
  int waited = 0;
  while (::waitpid(pid, &waited, 0) < 0 && errno == EINTR) {
  }
  result.exitCode = WIFSIGNALED(waited) ? 128 + WTERMSIG(waited) : WEXITSTATUS(waited);
  return result;
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
  env.capture = captureProgram;
  const char* override = std::getenv("SLUICE_OPERATOR_BINARY");
  env.operatorBinary = override != nullptr && *override != '\0' ? override : siblingOperator();
  return env;
}

}  // namespace sluice::cli
