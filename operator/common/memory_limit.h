// How much memory this process may use, as its container sees it: the
// memory_limit_in_mb the scf and lambda contexts report when the Function
// declares no resources.limits.memory. Reads files only; any thread.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

struct MemoryLimitFiles {
  std::string cgroupRoot = "/sys/fs/cgroup";  // where the cgroup file systems are mounted
  std::string selfCgroup = "/proc/self/cgroup";
  std::string meminfo = "/proc/meminfo";
};

// In MiB: the cgroup v2 memory.max of this process's cgroup (or of the root
// seen from inside a container's cgroup namespace), else the cgroup v1
// memory.limit_in_bytes; "max" or a v1 limit above the machine's memory
// means no limit, and then the machine's MemTotal is the limit. 0 when
// none of those files can be read.
int64_t memoryLimitMebibytes(const MemoryLimitFiles& files = {});

}  // namespace sluice
