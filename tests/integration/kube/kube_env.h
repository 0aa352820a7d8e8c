// Helpers for integration tests against the real kube-apiserver of tests/env.
// Addresses come only from the environment (KUBECONFIG etc.); a missing
// variable fails the test with a message saying what to do.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "kube/kube_client.h"

namespace sluice::kube::testing {

// Value of an environment variable, or "" after recording a test failure.
std::string requireEnv(const char* name);

// A client for $KUBECONFIG (a high client-side QPS limit: tests create many objects).
std::shared_ptr<ResourceClient> connectFromEnv(const std::string& kubeconfig = "");

// "prefix-<pid>-<counter>-<random>": unique across concurrent and repeated runs.
std::string uniqueName(const std::string& prefix);

// Polls `condition` every 50 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Creates a namespace on construction and deletes it on destruction.
class ScopedNamespace {
 public:
  ScopedNamespace(ResourceClient& client, const std::string& prefix);
  ~ScopedNamespace();
  const std::string& name() const { return name_; }

 private:
  ResourceClient& client_;
  std::string name_;
};

// Runs a command through bash and returns its stdout; fails the test on a non-zero exit.
std::string runCommand(const std::string& command);

}  // namespace sluice::kube::testing
