#include "platform/local/process_runner.h"

#include "common/free_port.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sluice::platform {

Result<int> PosixProcessRunner::spawn(const std::vector<std::string>& argv, const Environment& env) {
  if (argv.empty()) return invalidArgument("spawn: no program");
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The environment is built before fork: the child of a threaded process may
  // only make async-signal-safe calls until exec.
  std::vector<std::string> entries;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    const bool replaced = std::any_of(env.begin(), env.end(), [&](const auto& kv) { return kv.first == name; });
    if (!replaced) entries.push_back(entry);
  }
  for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
  std::vector<char*> envp;
  envp.reserve(entries.size() + 1);
  for (std::string& entry : entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return unavailable(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // A child must not outlive the operator, even when the operator is killed -9.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    // The operator blocks SIGTERM/SIGINT for its sigwait thread; the runtime needs them.
    sigset_t none;
    sigemptyset(&none);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    // Ctrl-C in a terminal reaches the whole process group: the operator drains
    // its children in order instead.
    ::setpgid(0, 0);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  return static_cast<int>(pid);
}

void PosixProcessRunner::signal(int pid, int signalNumber) {
  if (pid > 0) ::kill(pid, signalNumber);
}

std::vector<std::pair<int, int>> PosixProcessRunner::reapExited() {
  std::vector<std::pair<int, int>> out;
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    out.emplace_back(pid, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return out;
}

int PosixProcessRunner::freePort() { return freeLoopbackPort(); }

namespace {

ControlEndpoint loopback(int port) { return {"127.0.0.1", port, "process on port " + std::to_string(port)}; }

}  // namespace

bool HttpRuntimeEndpoint::ready(int port) { return client_.ready(loopback(port), std::chrono::milliseconds(500)); }

Status HttpRuntimeEndpoint::specialize(int port, const std::string& token, const std::string& configuration) {
  Status s = client_.specialize(loopback(port), token, configuration, std::chrono::seconds(10));
  // Any refusal is worth a cold start instead (LocalPlatform falls back).
  return s.isOk() ? s : unavailable(s.message());
}

Status HttpRuntimeEndpoint::invoke(int port, const std::string& trigger, const std::string& eventType,
                                   const std::string& body) {
  // An invocation runs the handler, retries included.
  return client_.invoke(loopback(port), invokeToken_, trigger, eventType, body, std::chrono::seconds(120));
}

}  // namespace sluice::platform
