// What the Kafka benchmark tools (runtime_kafka, mirror) share: the records a
// topic holds, and a process's CPU time. Header only: bench/CMakeLists.txt
// builds one tool per folder, and this folder has none.
#pragma once

#include <librdkafka/rdkafkacpp.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace sluice::bench {

// The sum of TOPIC's high watermarks over `partitions` partitions; -1 if a query fails.
inline long watermarkSum(RdKafka::Handle& handle, const std::string& topic, int partitions) {
  long sum = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0;
    int64_t high = 0;
    if (handle.query_watermark_offsets(topic, p, &low, &high, 5000) != RdKafka::ERR_NO_ERROR) return -1;
    sum += high;
  }
  return sum;
}

// utime + stime of every thread of PID so far, in seconds; -1 once the process is gone.
inline double cpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  long ticks = 0;
  for (int i = 3; fields >> field && i <= 15; ++i) {
    if (i == 14 || i == 15) ticks += std::stol(field);
  }
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace sluice::bench
