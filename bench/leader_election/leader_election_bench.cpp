// Leader-election takeover times with real sluice-operator processes over a
// Lease on the real kube-apiserver of tests/env. Per round, in a fresh
// namespace: two operators campaign; the leader is SIGKILLed and we time until
// the Lease names the standby (goal: 20 s; lease 15 s + retry 2 s); a third
// operator joins, the leader gets SIGTERM (it releases the Lease) and we time
// until the Lease names the newcomer (goal: 3 s). The Lease is polled every
// 50 ms, so each figure is at most ~50 ms late. Writes JSON to --out.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "common/logging.h"
#include "kube/kube_client.h"

using namespace sluice;
using Seconds = std::chrono::duration<double>;

namespace {

const std::string kLease = "sluice-bench-lease";

class OperatorProcess {
 public:
  OperatorProcess(const std::string& binary, const std::string& kubeconfig, const std::string& ns,
                  const std::string& identity, const std::string& logPath) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execl(binary.c_str(), binary.c_str(), "--kubeconfig", kubeconfig.c_str(), "--leader-elect",
              "--leader-election-namespace", ns.c_str(), "--leader-election-id", kLease.c_str(),
              "--leader-election-identity", identity.c_str(), "--watch-namespace", ns.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~OperatorProcess() { signal(SIGKILL); }
  void signal(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

std::string holderOf(kube::ResourceClient& client, const std::string& ns) {
  auto lease = client.get(kube::resources::kLeases, ns, kLease);
  if (!lease) return "";
  return (*lease)["spec"].value("holderIdentity", "");
}

// Seconds from `start` until `accept(holder)` holds, polling every 50 ms; -1 after `limit`.
double secondsUntil(kube::ResourceClient& client, const std::string& ns,
                    const std::function<bool(const std::string&)>& accept, std::chrono::steady_clock::time_point start,
                    std::chrono::seconds limit) {
  while (std::chrono::steady_clock::now() - start < limit) {
    if (accept(holderOf(client, ns))) return Seconds(std::chrono::steady_clock::now() - start).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

double median(std::vector<double> values) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Leader-election takeover benchmark"};
  std::string kubeconfig;
  std::string operatorBinary;
  std::string out;
  int rounds = 3;
  app.add_option("--kubeconfig", kubeconfig, "kubeconfig of the test environment")->required();
  app.add_option("--operator", operatorBinary, "path of the sluice-operator binary")->required();
  app.add_option("--out", out, "JSON results file")->required();
  app.add_option("--rounds", rounds, "rounds of (SIGKILL, SIGTERM) takeovers")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  (void)setLogLevel("warn");

  kube::TransportOptions options;
  options.qps = 1000;
  options.burst = 1000;
  auto connected = kube::connect(kubeconfig, realClock(), options);
  if (!connected) {
    std::cerr << "leader election bench: " << connected.status().toString() << "\n";
    return 1;
  }
  auto& client = *connected->client;
  auto logDir = std::filesystem::temp_directory_path() / ("sluice-bench-leader-" + std::to_string(::getpid()));
  std::filesystem::create_directories(logDir);

  std::vector<double> afterKill;
  std::vector<double> afterStop;
  int failures = 0;
  for (int round = 0; round < rounds; ++round) {
    std::string ns = "bench-leader-" + std::to_string(::getpid()) + "-" + std::to_string(round);
    auto created = client.create(kube::resources::kNamespaces, "", {{"metadata", {{"name", ns}}}});
    if (!created) {
      std::cerr << "creating namespace " << ns << ": " << created.status().toString() << "\n";
      return 1;
    }
    auto log = [&](const std::string& id) { return (logDir / (ns + "-" + id + ".log")).string(); };
    {
      auto a = std::make_unique<OperatorProcess>(operatorBinary, kubeconfig, ns, "op-a", log("a"));
      auto b = std::make_unique<OperatorProcess>(operatorBinary, kubeconfig, ns, "op-b", log("b"));
      std::string first;
      double elected = secondsUntil(
          client, ns,
          [&](const std::string& h) {
            first = h;
            return h == "op-a" || h == "op-b";
          },
          std::chrono::steady_clock::now(), std::chrono::seconds(60));
      if (elected < 0) {
        std::cerr << "round " << round << ": no leader within 60 s (logs in " << logDir << ")\n";
        ++failures;
        continue;
      }
      std::this_thread::sleep_for(std::chrono::seconds(3));  // the standby has looked at the Lease
      auto& leader = first == "op-a" ? a : b;
      std::string standby = first == "op-a" ? "op-b" : "op-a";
      auto killedAt = std::chrono::steady_clock::now();
      leader->signal(SIGKILL);
      double kill = secondsUntil(
          client, ns, [&](const std::string& h) { return h == standby; }, killedAt, std::chrono::seconds(90));

      auto c = std::make_unique<OperatorProcess>(operatorBinary, kubeconfig, ns, "op-c", log("c"));
      std::this_thread::sleep_for(std::chrono::seconds(3));  // c is up and campaigning
      auto& current = standby == "op-a" ? a : b;
      auto stoppedAt = std::chrono::steady_clock::now();
      current->signal(SIGTERM);  // returns after the process exited (it released the Lease)
      double stop = secondsUntil(
          client, ns, [&](const std::string& h) { return h == "op-c"; }, stoppedAt, std::chrono::seconds(90));
      c->signal(SIGTERM);
      std::cout << "[figure] leader election round " << round + 1 << ": takeover after SIGKILL " << kill
                << " s, after SIGTERM " << stop << " s" << std::endl;
      if (kill < 0 || stop < 0) {
        ++failures;
      } else {
        afterKill.push_back(kill);
        afterStop.push_back(stop);
      }
    }
    (void)client.remove(kube::resources::kNamespaces, "", ns, {});
  }
  std::filesystem::remove_all(logDir);

  auto maxOf = [](const std::vector<double>& v) { return v.empty() ? -1 : *std::max_element(v.begin(), v.end()); };
  kube::Json result = {{"rounds", rounds},
                       {"failedRounds", failures},
                       {"takeoverAfterSigkillSeconds", afterKill},
                       {"takeoverAfterSigtermSeconds", afterStop},
                       {"sigkillMedianSeconds", median(afterKill)},
                       {"sigkillMaxSeconds", maxOf(afterKill)},
                       {"sigtermMedianSeconds", median(afterStop)},
                       {"sigtermMaxSeconds", maxOf(afterStop)},
                       {"goalSigkillSeconds", 20},
                       {"goalSigtermSeconds", 3},
                       {"leaseSeconds", 15},
                       {"retrySeconds", 2}};
  std::ofstream(out) << result.dump(2) << "\n";
  std::cout << "[figure] leader election: SIGKILL takeover median " << median(afterKill) << " s, max "
            << maxOf(afterKill) << " s (goal 20 s); SIGTERM takeover median " << median(afterStop) << " s, max "
            << maxOf(afterStop) << " s (goal 3 s); " << failures << " failed rounds of " << rounds << std::endl;
  return failures ? 1 : 0;
}
