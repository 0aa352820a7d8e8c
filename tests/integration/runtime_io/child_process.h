// Starting the processes the runtime_io tests drive (sluice-runtime, a private
// Kafka broker's JVM, the test binary itself as a replica): fork, the child's
// output into a log file, a clean signal mask, extra environment, exec.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace sluice::testing {

struct ChildOptions {
  std::string logPath;  // empty: the child writes where the test does
  bool appendLog = false;
  std::vector<std::pair<std::string, std::string>> environment;
};

// Starts args[0] (a path, or a name looked up in PATH) with `args`; returns its pid. Throws if fork fails.
pid_t spawnChild(const std::vector<std::string>& args, const ChildOptions& options = {});

}  // namespace sluice::testing
