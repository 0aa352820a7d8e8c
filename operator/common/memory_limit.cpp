#include "common/memory_limit.h"

#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

namespace sluice {
namespace {

std::optional<std::string> firstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

// Bytes in `path` ("max": no limit, nullopt); nullopt when absent or not a number.
std::optional<int64_t> limitIn(const std::string& path) {
  auto line = firstLine(path);
  if (!line || *line == "max") return std::nullopt;
  try {
    size_t end = 0;
    long long bytes = std::stoll(*line, &end);
    if (end == 0 || bytes <= 0) return std::nullopt;
    return bytes;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<int64_t> memTotalBytes(const std::string& meminfo) {
  std::ifstream in(meminfo);
  std::string name;
  int64_t kib = 0;
  std::string unit;
  while (in >> name >> kib >> unit) {
    if (name == "MemTotal:") return kib * 1024;
  }
  return std::nullopt;
}

// The cgroup path of this process for v2 ("0::/path") and for the v1 memory
// controller ("N:memory:/path" or a list holding "memory").
void cgroupPaths(const std::string& selfCgroup, std::string& v2, std::string& v1Memory) {
  std::ifstream in(selfCgroup);
  std::string line;
  while (std::getline(in, line)) {
    size_t first = line.find(':');
    size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (controllers.empty()) {
      v2 = path;
      continue;
    }
    std::stringstream list(controllers);
    std::string controller;
    while (std::getline(list, controller, ',')) {
      if (controller == "memory") v1Memory = path;
    }
  }
}

}  // namespace

int64_t memoryLimitMebibytes(const MemoryLimitFiles& files) {
  std::string v2, v1;
  cgroupPaths(files.selfCgroup, v2, v1);
  std::optional<int64_t> total = memTotalBytes(files.meminfo);
  // Inside a container's cgroup namespace the process's own cgroup is the
  // root of the mount; on a host it is a sub-directory of it.
  std::vector<std::string> candidates;
  if (!v2.empty() && v2 != "/") candidates.push_back(files.cgroupRoot + v2 + "/memory.max");
  candidates.push_back(files.cgroupRoot + "/memory.max");
  if (!v1.empty() && v1 != "/") candidates.push_back(files.cgroupRoot + "/memory" + v1 + "/memory.limit_in_bytes");
  candidates.push_back(files.cgroupRoot + "/memory/memory.limit_in_bytes");
  for (const std::string& path : candidates) {
    std::optional<int64_t> limit = limitIn(path);
    if (!limit) continue;
    // cgroup v1 writes "no limit" as a huge page-aligned number.
    if (total && *limit >= *total) break;
    return *limit / (1024 * 1024);
  }
  return total ? *total / (1024 * 1024) : 0;
}

}  // namespace sluice
