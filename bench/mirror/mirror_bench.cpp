// Measuring tools for bench/mirror/run.sh: a Kafka mirror A -> B (Sluice's built-in `mirror` or
// MirrorMaker 2) copies a source topic on cluster A to a target topic on cluster B, and these
// programs watch B (and the mirror's process) the same way for every contender. The records are
// written by sluice_bench_runtime_kafka (`produce` for a pre-filled topic, `paced` for a steady rate,
// whose values are "<seq>:<wall-clock µs at send>:vvv...").
//
//   sluice_bench_mirror measure BOOTSTRAP TOPIC N FROM PID
//       Waits for TOPIC (the mirror creates it), sums its high watermarks every 5 ms and prints one
//       JSON line: records/s and records per CPU-second of process PID (utime + stime, all threads,
//       JVM included) over the window from the first poll that saw >= FROM records to the first that
//       saw >= N (FROM leaves out process start, group join and a JVM's first JIT compilations).
//   sluice_bench_mirror lag BOOTSTRAP TOPIC N SKIP GROUP [PID]
//       Reads N records of TOPIC in consumer group GROUP (auto-committing every second, so on cluster
//       A it is also the group whose offsets the mirrors translate) and prints the p50/p99/max of
//       receive time minus the send time carried in the value, records with seq < SKIP left out
//       (warm-up and probes). With PID: that process's CPU-seconds over the counted records too.
//   sluice_bench_mirror commit BOOTSTRAP GROUP TOPIC FRACTION
//       Commits, for GROUP, FRACTION of each partition's high watermark of TOPIC; prints the sum.
//   sluice_bench_mirror committed BOOTSTRAP GROUP TOPIC
//       Prints {"partitions": P, "with_offset": K, "sum": S}: GROUP's committed offsets on TOPIC.
#include <librdkafka/rdkafkacpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../common/kafka_bench_util.h"

namespace {

using sluice::bench::cpuSeconds;
using sluice::bench::watermarkSum;

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& message) {
  std::cerr << "mirror_bench: " << message << "\n";
  std::exit(2);
}

void set(RdKafka::Conf& c, const std::string& name, const std::string& value) {
  std::string error;
  if (c.set(name, value, error) != RdKafka::Conf::CONF_OK) die(name + ": " + error);
}

std::unique_ptr<RdKafka::Conf> conf(const std::string& bootstrap) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  set(*c, "bootstrap.servers", bootstrap);
  return c;
}

std::unique_ptr<RdKafka::Producer> metadataHandle(const std::string& bootstrap) {
  auto c = conf(bootstrap);
  std::string error;
  std::unique_ptr<RdKafka::Producer> handle(RdKafka::Producer::create(c.get(), error));
  if (!handle) die(error);
  return handle;
}

// The partition count of TOPIC, waiting up to `wait` for the topic to exist (a mirror creates its
// target topics when it copies the first record); 0 if it never appears.
int partitionsOf(RdKafka::Handle& handle, const std::string& topic, std::chrono::seconds wait) {
  auto deadline = Clock::now() + wait;
  while (true) {
    RdKafka::Metadata* metadata = nullptr;
    if (handle.metadata(true, nullptr, &metadata, 5000) == RdKafka::ERR_NO_ERROR) {
      std::unique_ptr<RdKafka::Metadata> owned(metadata);
      for (const auto* t : *owned->topics()) {
        if (t->topic() == topic && t->err() == RdKafka::ERR_NO_ERROR && !t->partitions()->empty()) {
          return static_cast<int>(t->partitions()->size());
        }
      }
    }
    if (Clock::now() >= deadline) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int measure(const std::string& bootstrap, const std::string& topic, long n, long from, int pid) {
  auto handle = metadataHandle(bootstrap);
  int partitions = partitionsOf(*handle, topic, std::chrono::seconds(300));
  if (partitions == 0) die("topic " + topic + " did not appear within 300 s");
  auto deadline = Clock::now() + std::chrono::minutes(10);
  long first = -1;
  Clock::time_point tFirst;
  double cpuFirst = 0;
  while (Clock::now() < deadline) {
    long seen = watermarkSum(*handle, topic, partitions);
    double cpuNow = cpuSeconds(pid);
    if (cpuNow < 0) die("process " + std::to_string(pid) + " is gone");
    if (first < 0 && seen >= from) {
      first = seen;
      tFirst = Clock::now();
      cpuFirst = cpuNow;
    }
    if (first >= 0 && seen >= n) {
      double seconds = std::chrono::duration<double>(Clock::now() - tFirst).count();
      double cpu = cpuNow - cpuFirst;
      double records = static_cast<double>(seen - first);
      std::printf(
          "{\"records\": %ld, \"window_s\": %.3f, \"records_per_s\": %.0f, \"cpu_s\": %.3f, "
          "\"records_per_cpu_s\": %.0f}\n",
          seen - first, seconds, records / seconds, cpu, cpu > 0 ? records / cpu : 0.0);
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  die("timed out waiting for " + std::to_string(n) + " records in " + topic);
}

int64_t wallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The sequence number of a value "<seq>:...".
long seqOf(const std::string& value) {
  size_t colon = value.find(':');
  if (colon == std::string::npos) die("value without a sequence number: " + value.substr(0, 40));
  return std::stol(value.substr(0, colon));
}

// The send time of a value "<seq>:<send µs>:..." (a paced record; probes carry none).
int64_t sendMicrosOf(const std::string& value) {
  size_t first = value.find(':');
  size_t second = value.find(':', first + 1);
  if (second == std::string::npos) die("value without a send time: " + value.substr(0, 40));
  return std::stoll(value.substr(first + 1, second - first - 1));
}

std::unique_ptr<RdKafka::KafkaConsumer> lagConsumer(const std::string& bootstrap, const std::string& group) {
  auto c = conf(bootstrap);
  set(*c, "group.id", group);
  set(*c, "auto.offset.reset", "earliest");
  set(*c, "enable.auto.commit", "true");
  set(*c, "auto.commit.interval.ms", "1000");
  // The broker answers a fetch as soon as one record is there; this only bounds an idle wait.
  set(*c, "fetch.wait.max.ms", "10");
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(c.get(), error));
  if (!consumer) die(error);
  return consumer;
}

int lag(const std::string& bootstrap, const std::string& topic, long n, long skip, const std::string& group, int pid) {
  auto consumer = lagConsumer(bootstrap, group);
  consumer->subscribe({topic});
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(n));
  long read = 0;
  double cpuFirst = -1;
  double cpuLast = -1;
  auto deadline = Clock::now() + std::chrono::minutes(5);
  while (read < n && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) die(topic + ": " + m->errstr());
    int64_t now = wallMicros();
    ++read;
    std::string value(static_cast<const char*>(m->payload()), m->len());
    if (seqOf(value) < skip) continue;
    int64_t sent = sendMicrosOf(value);
    if (pid > 0) {
      cpuLast = cpuSeconds(pid);
      if (cpuFirst < 0) cpuFirst = cpuLast;
    }
    ms.push_back(static_cast<double>(now - sent) / 1000.0);
  }
  consumer->commitSync();
  consumer->close();
  if (read < n || ms.empty()) die("only " + std::to_string(read) + " of " + std::to_string(n) + " records in " + topic);
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))];
  };
  double cpu = cpuLast - cpuFirst;
  std::printf("{\"records\": %zu, \"p50_ms\": %.1f, \"p99_ms\": %.1f, \"max_ms\": %.1f", ms.size(), at(0.50), at(0.99),
              ms.back());
  if (pid > 0) {
    std::printf(", \"cpu_s\": %.3f, \"records_per_cpu_s\": %.0f", cpu,
                cpu > 0 ? static_cast<double>(ms.size()) / cpu : 0.0);
  }
  std::printf("}\n");
  return 0;
}

std::vector<RdKafka::TopicPartition*> partitionList(const std::string& topic, int partitions) {
  std::vector<RdKafka::TopicPartition*> list;
  for (int p = 0; p < partitions; ++p) list.push_back(RdKafka::TopicPartition::create(topic, p));
  return list;
}

std::unique_ptr<RdKafka::KafkaConsumer> groupHandle(const std::string& bootstrap, const std::string& group) {
  auto c = conf(bootstrap);
  set(*c, "group.id", group);
  set(*c, "enable.auto.commit", "false");
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(c.get(), error));
  if (!consumer) die(error);
  return consumer;
}

int commit(const std::string& bootstrap, const std::string& group, const std::string& topic, double fraction) {
  auto consumer = groupHandle(bootstrap, group);
  int partitions = partitionsOf(*consumer, topic, std::chrono::seconds(30));
  if (partitions == 0) die("topic " + topic + " not found");
  auto list = partitionList(topic, partitions);
  long sum = 0;
  for (auto* tp : list) {
    int64_t low = 0;
    int64_t high = 0;
    if (consumer->query_watermark_offsets(topic, tp->partition(), &low, &high, 5000) != RdKafka::ERR_NO_ERROR) {
      die("watermarks of " + topic);
    }
    tp->set_offset(static_cast<int64_t>(static_cast<double>(high) * fraction));
    sum += tp->offset();
  }
  // An explicit-offset commit from a consumer outside the group's generation: accepted while the
  // group has no members, which is the state a group is in before it fails over.
  if (auto err = consumer->commitSync(list); err != RdKafka::ERR_NO_ERROR) die("commit: " + RdKafka::err2str(err));
  RdKafka::TopicPartition::destroy(list);
  consumer->close();
  std::printf("%ld\n", sum);
  return 0;
}

int committed(const std::string& bootstrap, const std::string& group, const std::string& topic) {
  auto consumer = groupHandle(bootstrap, group);
  int partitions = partitionsOf(*consumer, topic, std::chrono::seconds(30));
  if (partitions == 0) die("topic " + topic + " not found");
  auto list = partitionList(topic, partitions);
  if (auto err = consumer->committed(list, 10000); err != RdKafka::ERR_NO_ERROR) {
    die("committed: " + RdKafka::err2str(err));
  }
  long sum = 0;
  int withOffset = 0;
  for (auto* tp : list) {
    if (tp->offset() < 0) continue;
    sum += tp->offset();
    ++withOffset;
  }
  RdKafka::TopicPartition::destroy(list);
  consumer->close();
  std::printf("{\"partitions\": %d, \"with_offset\": %d, \"sum\": %ld}\n", partitions, withOffset, sum);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 6 && a[0] == "measure") {
    return measure(a[1], a[2], std::stol(a[3]), std::stol(a[4]), std::stoi(a[5]));
  }
  if ((a.size() == 6 || a.size() == 7) && a[0] == "lag") {
    return lag(a[1], a[2], std::stol(a[3]), std::stol(a[4]), a[5], a.size() == 7 ? std::stoi(a[6]) : 0);
  }
  if (a.size() == 5 && a[0] == "commit") return commit(a[1], a[2], a[3], std::stod(a[4]));
  if (a.size() == 4 && a[0] == "committed") return committed(a[1], a[2], a[3]);
  die("usage: measure BOOTSTRAP TOPIC N FROM PID | lag BOOTSTRAP TOPIC N SKIP GROUP [PID] | "
      "commit BOOTSTRAP GROUP TOPIC FRACTION | committed BOOTSTRAP GROUP TOPIC");
}
