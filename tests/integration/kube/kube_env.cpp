#include "kube_env.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "common/clock.h"

namespace sluice::kube::testing {

std::string requireEnv(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) {
    ADD_FAILURE() << name << " is not set: start the test environment (make testenv-up) and source build/testenv.env";
    return "";
  }
  return value;
}

std::shared_ptr<ResourceClient> connectFromEnv(const std::string& kubeconfig) {
  std::string path = kubeconfig.empty() ? requireEnv("KUBECONFIG") : kubeconfig;
  if (path.empty()) return nullptr;
  TransportOptions options;
  options.qps = 1000;
  options.burst = 1000;
  auto connected = connect(path, realClock(), options);
  if (!connected) {
    ADD_FAILURE() << connected.status().toString();
    return nullptr;
  }
  return connected->client;
}

std::string uniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}() % 100000;
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + std::to_string(salt);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

ScopedNamespace::ScopedNamespace(ResourceClient& client, const std::string& prefix)
    : client_(client), name_(uniqueName(prefix)) {
  auto created = client_.create(resources::kNamespaces, "", {{"metadata", {{"name", name_}}}});
  if (!created) ADD_FAILURE() << "creating namespace " << name_ << ": " << created.status().toString();
}

ScopedNamespace::~ScopedNamespace() { (void)client_.remove(resources::kNamespaces, "", name_); }

std::string runCommand(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(("bash -c '" + command + "'").c_str(), "r");
  if (!pipe) {
    ADD_FAILURE() << "cannot run " << command;
    return "";
  }
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  int rc = ::pclose(pipe);
  if (rc != 0) ADD_FAILURE() << "command failed (" << rc << "): " << command << "\n" << output;
  return output;
}

}  // namespace sluice::kube::testing
