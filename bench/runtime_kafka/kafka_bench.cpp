// Kafka -> Kafka throughput of one sluice-runtime replica against hand-written
// baselines, on the real broker, measured the same way for every contender:
// each runs as its own process, a poller sums the output topic's high
// watermarks every 5 ms, and a run's rate is (N - first) / (t_last - t_first)
// over the window from the first to the last record seen in the output (so
// process start and group join are excluded alike). CPU is the process's
// utime + stime over the same window, from /proc/<pid>/stat.
//
//   sluice_bench_runtime_kafka produce BOOTSTRAP TOPIC N BYTES
//   sluice_bench_runtime_kafka raw-loop BOOTSTRAP IN OUT GROUP N   (a raw librdkafka consume->produce loop)
//   sluice_bench_runtime_kafka measure BOOTSTRAP OUT N PID         (prints one JSON line)
//   sluice_bench_runtime_kafka paced BOOTSTRAP TOPIC RATE SECONDS BYTES [LINGER_MS]
//       (RATE records/s, each value "<seq>:<wall-clock µs at send>:vvv...", linger.ms=LINGER_MS, default 0:
//        at 20,000/s and more, 0 means about one produce request per record, which is the broker's load
//        then rather than the measured path's)
//   sluice_bench_runtime_kafka latency BOOTSTRAP OUT N SKIP
//       (reads N records of OUT, leaves out those with seq < SKIP (the warm-up: group join), a topic with
//       message.timestamp.type=LogAppendTime, and prints the
//        p50/p99/max of append time minus the send time carried in the value: producer -> sink record)
// run.sh wires them together with the sluice-runtime binary and the Python baseline.
#include <librdkafka/rdkafkacpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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
  std::cerr << "kafka_bench: " << message << "\n";
  std::exit(2);
}

std::unique_ptr<RdKafka::Conf> conf(const std::string& bootstrap) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  if (c->set("bootstrap.servers", bootstrap, error) != RdKafka::Conf::CONF_OK) die(error);
  return c;
}

void set(RdKafka::Conf& c, const std::string& name, const std::string& value) {
  std::string error;
  if (c.set(name, value, error) != RdKafka::Conf::CONF_OK) die(name + ": " + error);
}

int produce(const std::string& bootstrap, const std::string& topic, long n, int bytes) {
  auto c = conf(bootstrap);
  set(*c, "linger.ms", "20");
  set(*c, "batch.num.messages", "10000");
  set(*c, "queue.buffering.max.messages", "1000000");
  std::string error;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(c.get(), error));
  if (!producer) die(error);
  std::string value(static_cast<size_t>(bytes), 'v');
  for (long i = 0; i < n; ++i) {
    std::string key = "k" + std::to_string(i % 1000);
    std::string payload = std::to_string(i) + ":" + value;
    payload.resize(static_cast<size_t>(bytes));
    while (producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, payload.data(),
                             payload.size(), key.data(), key.size(), 0, nullptr) == RdKafka::ERR__QUEUE_FULL) {
      producer->poll(10);
    }
    producer->poll(0);
  }
  if (producer->flush(120000) != RdKafka::ERR_NO_ERROR) die("flush timed out");
  return 0;
}

// What a user writes by hand: poll, produce the same key/value/headers to the
// same partition, serve delivery reports, commit asynchronously now and then.
int rawLoop(const std::string& bootstrap, const std::string& in, const std::string& out, const std::string& group,
            long n) {
  auto pc = conf(bootstrap);
  set(*pc, "enable.idempotence", "true");
  set(*pc, "acks", "all");
  set(*pc, "linger.ms", "5");
  std::string error;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pc.get(), error));
  if (!producer) die(error);
  auto cc = conf(bootstrap);
  set(*cc, "group.id", group);
  set(*cc, "auto.offset.reset", "earliest");
  set(*cc, "enable.auto.commit", "false");
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(cc.get(), error));
  if (!consumer) die(error);
  consumer->subscribe({in});
  long copied = 0;
  while (copied < n) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) die(m->errstr());
    RdKafka::Headers* headers = m->headers() ? RdKafka::Headers::create(m->headers()->get_all()) : nullptr;
    while (true) {
      auto err = producer->produce(out, m->partition(), RdKafka::Producer::RK_MSG_COPY, m->payload(), m->len(),
                                   m->key_pointer(), m->key_len(), m->timestamp().timestamp, headers, nullptr);
      if (err == RdKafka::ERR_NO_ERROR) break;
      if (err != RdKafka::ERR__QUEUE_FULL) die(RdKafka::err2str(err));
      producer->poll(10);
    }
    producer->poll(0);
    if (++copied % 10000 == 0) consumer->commitAsync();
  }
  producer->flush(120000);
  consumer->commitSync();
  consumer->close();
  return 0;
}

int measure(const std::string& bootstrap, const std::string& out, long n, int pid) {
  auto c = conf(bootstrap);
  std::string error;
  std::unique_ptr<RdKafka::Producer> handle(RdKafka::Producer::create(c.get(), error));
  if (!handle) die(error);
  RdKafka::Metadata* metadata = nullptr;
  std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(handle.get(), out, nullptr, error));
  if (handle->metadata(false, topic.get(), &metadata, 10000) != RdKafka::ERR_NO_ERROR) die("metadata of " + out);
  int partitions = static_cast<int>(metadata->topics()->at(0)->partitions()->size());
  delete metadata;
  auto deadline = Clock::now() + std::chrono::minutes(10);
  long first = 0;
  Clock::time_point tFirst;
  double cpuFirst = 0;
  // Sampled on every poll: a baseline loop exits on its own after its last record, and reading its
  // /proc entry only at the end then found nothing (cpu_s -1 in earlier runs). Misses at most 5 ms.
  double cpuLast = 0;
  while (Clock::now() < deadline) {
    long seen = watermarkSum(*handle, out, partitions);
    if (double cpuNow = cpuSeconds(pid); cpuNow >= 0) cpuLast = cpuNow;
    if (seen > 0 && first == 0) {
      first = seen;
      tFirst = Clock::now();
      cpuFirst = cpuLast;
    }
    if (seen >= n) {
      auto tLast = Clock::now();
      double cpu = cpuLast - cpuFirst;
      double seconds = std::chrono::duration<double>(tLast - tFirst).count();
      double rate = static_cast<double>(n - first) / seconds;
      std::printf(
          "{\"records\": %ld, \"window_s\": %.3f, \"events_per_s\": %.0f, \"cpu_s\": %.3f, "
          "\"events_per_cpu_s\": %.0f}\n",
          n - first, seconds, rate, cpu, cpu > 0 ? static_cast<double>(n - first) / cpu : 0.0);
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  die("timed out waiting for " + std::to_string(n) + " records in " + out);
}

int64_t wallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int paced(const std::string& bootstrap, const std::string& topic, long rate, long seconds, int bytes,
          const std::string& lingerMs) {
  auto c = conf(bootstrap);
  set(*c, "linger.ms", lingerMs);
  std::string error;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(c.get(), error));
  if (!producer) die(error);
  const long n = rate * seconds;
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    auto due = start + std::chrono::microseconds(i * 1'000'000 / rate);
    while (Clock::now() < due) {
      producer->poll(0);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    std::string key = "k" + std::to_string(i % 1000);
    std::string payload = std::to_string(i) + ":" + std::to_string(wallMicros()) + ":";
    payload.resize(std::max(payload.size(), static_cast<size_t>(bytes)), 'v');
    while (producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, payload.data(),
                             payload.size(), key.data(), key.size(), 0, nullptr) == RdKafka::ERR__QUEUE_FULL) {
      producer->poll(1);
    }
    producer->poll(0);
  }
  if (producer->flush(120000) != RdKafka::ERR_NO_ERROR) die("flush timed out");
  return 0;
}

int latency(const std::string& bootstrap, const std::string& out, long n, long skip) {
  auto c = conf(bootstrap);
  set(*c, "group.id", "latency-" + std::to_string(getpid()) + "-" + out);
  set(*c, "auto.offset.reset", "earliest");
  set(*c, "enable.auto.commit", "false");
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(c.get(), error));
  if (!consumer) die(error);
  consumer->subscribe({out});
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(n));
  long read = 0;
  auto deadline = Clock::now() + std::chrono::minutes(5);
  while (read < n && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) die(m->errstr());
    if (m->timestamp().type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_LOG_APPEND_TIME) {
      die("topic " + out + " does not use LogAppendTime");
    }
    std::string value(static_cast<const char*>(m->payload()), m->len());
    size_t first = value.find(':');
    if (first == std::string::npos) die("value without a sequence number: " + value);
    ++read;
    if (std::stol(value.substr(0, first)) < skip) continue;  // warm-up (and the readiness probe)
    size_t second = value.find(':', first + 1);
    if (second == std::string::npos) die("value without a send time: " + value);
    int64_t sent = std::stoll(value.substr(first + 1, second - first - 1));
    ms.push_back(static_cast<double>(m->timestamp().timestamp) - static_cast<double>(sent) / 1000.0);
  }
  consumer->close();
  if (read < n || ms.empty()) die("only " + std::to_string(read) + " records in " + out);
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))];
  };
  std::printf("{\"records\": %zu, \"p50_ms\": %.1f, \"p99_ms\": %.1f, \"max_ms\": %.1f}\n", ms.size(), at(0.50),
              at(0.99), ms.back());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 5 && a[0] == "produce") return produce(a[1], a[2], std::stol(a[3]), std::stoi(a[4]));
  if (a.size() == 6 && a[0] == "raw-loop") return rawLoop(a[1], a[2], a[3], a[4], std::stol(a[5]));
  if (a.size() == 5 && a[0] == "measure") return measure(a[1], a[2], std::stol(a[3]), std::stoi(a[4]));
  if ((a.size() == 6 || a.size() == 7) && a[0] == "paced") {
    return paced(a[1], a[2], std::stol(a[3]), std::stol(a[4]), std::stoi(a[5]), a.size() == 7 ? a[6] : "0");
  }
  if (a.size() == 5 && a[0] == "latency") return latency(a[1], a[2], std::stol(a[3]), std::stol(a[4]));
  die("usage: produce BOOTSTRAP TOPIC N BYTES | raw-loop BOOTSTRAP IN OUT GROUP N | measure BOOTSTRAP OUT N PID | "
      "paced BOOTSTRAP TOPIC RATE SECONDS BYTES [LINGER_MS] | latency BOOTSTRAP OUT N SKIP");
}
