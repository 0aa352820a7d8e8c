// Handler micro-benchmarks: the cost of one embedded-Python call and the
// throughput of built-in pipelines, in-process (no broker), one thread.
// Prints one JSON object; bench/runtime_handler/run.sh stores it.
//
// Usage: sluice_bench_runtime_handler <scratch-dir>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime/config/config_parser.h"
#include "runtime/pipeline/pipeline.h"
#include "runtime/python/python_runtime.h"

namespace {

using namespace sluice::runtime;
using Clock = std::chrono::steady_clock;

Event smallEvent(int i) {
  Event e;
  e.id = "bench/0/" + std::to_string(i);
  e.source = "kafka";
  e.type = "kafka.record";
  e.subject = "bench";
  e.key = "key-" + std::to_string(i % 1000);
  e.headers = {{"trace", "abc"}, {"origin", "bench"}};
  e.partition = i % 8;
  e.offset = i;
  e.data = R"({"level":"ERROR","status":503,"msg":"disk full on node-)" + std::to_string(i % 100) + R"("})";
  return e;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// events/s of `fn` over `events`, best of `rounds`.
template <typename Fn>
double rate(const std::vector<Event>& events, int rounds, Fn fn) {
  double best = 0;
  for (int r = 0; r < rounds; ++r) {
    auto start = Clock::now();
    size_t outputs = 0;
    for (const auto& e : events) outputs += fn(e);
    double s = seconds(Clock::now() - start);
    if (outputs == 0) std::cerr << "no outputs?\n";
    best = std::max(best, static_cast<double>(events.size()) / s);
  }
  return best;
}

std::unique_ptr<pipeline::Pipeline> pipelineOf(const std::string& yaml) {
  auto config = config::parseFunctionConfig(
      "name: b\nruntime: builtin\noutputs: [{name: o, dir: {path: /tmp}}]\npipeline:\n" + yaml);
  if (!config) throw std::runtime_error(config.status().toString());
  auto built = pipeline::Pipeline::build(config->pipeline);
  if (!built) throw std::runtime_error(built.status().toString());
  return std::move(*built);
}

}  // namespace

int main(int argc, char** argv) {
  std::string scratch = argc > 1 ? argv[1] : "/tmp/sluice-bench-handler";
  std::filesystem::create_directories(scratch);
  nlohmann::json out;

  // ---- pipelines
  std::vector<Event> events;
  for (int i = 0; i < 1'000'000; ++i) events.push_back(smallEvent(i));
  InvocationContext context;
  double rawCopy = rate(events, 3, [](const Event& e) {
    std::vector<Record> records(1);
    records[0].key = e.key;
    records[0].value = e.data;
    records[0].headers = e.headers;
    records[0].partition = e.partition;
    return records.size();
  });
  auto mirror = pipelineOf("  - mirror: {}\n");
  double mirrorRate = rate(events, 3, [&](const Event& e) { return mirror->handle(e, context)->size(); });
  events.resize(200'000);
  auto filter = pipelineOf("  - filter: {expression: 'level == \"ERROR\" && status >= 500'}\n");
  double filterRate = rate(events, 3, [&](const Event& e) { return filter->handle(e, context)->size(); });
  auto transform = pipelineOf(
      "  - filter: {expression: 'status >= 500'}\n  - mask: {field: msg, pattern: 'node-\\d+', replacement: 'node-*'}\n"
      "  - set: {fields: {env: prod}}\n");
  double transformRate = rate(events, 3, [&](const Event& e) { return transform->handle(e, context)->size(); });
  out["pipeline"] = {{"events_per_s_raw_copy_loop", rawCopy},
                     {"events_per_s_mirror", mirrorRate},
                     {"mirror_vs_raw_copy", mirrorRate / rawCopy},
                     {"events_per_s_filter_json", filterRate},
                     {"events_per_s_filter_mask_set", transformRate}};

  // ---- python
  {
    std::ofstream(scratch + "/index.py") << "def main_handler(event, context):\n    return event['data']\n"
                                            "def noop(event, context):\n    return None\n";
  }
  auto& runtime = python::PythonRuntime::instance();
  python::LoadOptions load;
  load.codeDir = scratch;
  python::HandlerOptions options;
  options.functionName = "bench";
  auto echo = runtime.load(load, options);
  load.handler = "index.noop";
  auto noop = runtime.load(load, options);
  if (!echo || !noop) {
    std::cerr << "load failed\n";
    return 1;
  }
  events.resize(50'000);
  double echoRate = rate(events, 3, [&](const Event& e) { return (*echo)->handle(e, context)->size(); });
  double noopRate = rate(events, 3, [&](const Event& e) { return 1 + (*noop)->handle(e, context)->size(); });
  // Four C++ threads calling at once (as a delivery loop with concurrency 4 does): calls queue up and
  // run back to back on the Python thread.
  double concurrentRate = 0;
  {
    constexpr int kThreads = 4;
    auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (size_t i = static_cast<size_t>(t); i < events.size(); i += kThreads)
          (void)(*echo)->handle(events[i], context);
      });
    }
    for (auto& thread : threads) thread.join();
    concurrentRate = static_cast<double>(events.size()) / seconds(Clock::now() - start);
  }
  out["python"] = {{"calls_per_s_echo_canonical", echoRate},
                   {"calls_per_s_echo_4_callers", concurrentRate},
                   {"us_per_call_echo_canonical", 1e6 / echoRate},
                   {"calls_per_s_noop", noopRate},
                   {"us_per_call_noop", 1e6 / noopRate}};
  std::cout << out.dump(2) << std::endl;
  return 0;
}
