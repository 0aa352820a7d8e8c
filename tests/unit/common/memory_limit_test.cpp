#include "common/memory_limit.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace sluice {
namespace {

namespace fs = std::filesystem;

// A fake /sys/fs/cgroup, /proc/self/cgroup and /proc/meminfo under a temp dir.
struct FakeMachine {
  fs::path root = fs::temp_directory_path() / ("memlimit-" + std::to_string(::getpid()));
  MemoryLimitFiles files{(root / "cgroup").string(), (root / "self_cgroup").string(), (root / "meminfo").string()};

  FakeMachine() {
    fs::remove_all(root);
    fs::create_directories(root / "cgroup");
    write("meminfo", "MemTotal:       16384000 kB\nMemFree:  1 kB\n");
  }
  ~FakeMachine() { fs::remove_all(root); }
  void write(const std::string& relative, const std::string& text) {
    fs::create_directories((root / relative).parent_path());
    std::ofstream(root / relative) << text;
  }
};

TEST(MemoryLimitTest, CgroupV2OfTheContainerNamespace) {
  FakeMachine m;
  m.write("self_cgroup", "0::/\n");
  m.write("cgroup/memory.max", "268435456\n");
  EXPECT_EQ(memoryLimitMebibytes(m.files), 256);
}

TEST(MemoryLimitTest, CgroupV2OfTheProcessOnAHost) {
  FakeMachine m;
  m.write("self_cgroup", "0::/kubepods/pod1/c1\n");
  m.write("cgroup/kubepods/pod1/c1/memory.max", "536870912\n");
  EXPECT_EQ(memoryLimitMebibytes(m.files), 512);
}

TEST(MemoryLimitTest, CgroupV1WhenThereIsNoV2) {
  FakeMachine m;
  m.write("self_cgroup", "4:memory:/\n0::/\n");
  m.write("cgroup/memory/memory.limit_in_bytes", "134217728\n");
  EXPECT_EQ(memoryLimitMebibytes(m.files), 128);
}

TEST(MemoryLimitTest, NoLimitMeansTheMachinesMemory) {
  FakeMachine m;
  m.write("self_cgroup", "0::/\n");
  m.write("cgroup/memory.max", "max\n");
  EXPECT_EQ(memoryLimitMebibytes(m.files), 16000);
  m.write("cgroup/memory.max", "");
  m.write("cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");  // v1's "unlimited"
  EXPECT_EQ(memoryLimitMebibytes(m.files), 16000);
}

TEST(MemoryLimitTest, NothingReadableIsZero) {
  EXPECT_EQ(memoryLimitMebibytes({"/nonexistent", "/nonexistent", "/nonexistent"}), 0);
  EXPECT_GT(memoryLimitMebibytes(), 0) << "this machine has a limit or a MemTotal";
}

}  // namespace
}  // namespace sluice
