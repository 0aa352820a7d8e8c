// Informer benchmark against the real kube-apiserver of tests/env:
//  1. creates N ConfigMaps (default 10,000) in a fresh namespace;
//  2. starts an informer and times the initial list into the cache, and the
//     resident memory it added (per 1,000 objects);
//  3. patches M objects from several writer threads and times until the
//     informer has applied every watch event (events/s applied), next to the
//     rate the apiserver accepted the writes (the informer cannot go faster);
//  4. writes the figures as JSON to the path given by --out.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "common/logging.h"
#include "kube/informer.h"
#include "kube/kube_client.h"

using namespace sluice;
using Seconds = std::chrono::duration<double>;

namespace {

double residentMegabytes() {
  long pages = 0;
  long resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// Runs fn(i) for i in [0, count) on `threads` threads; returns the failures.
int parallel(int count, int threads, const std::function<bool(int)>& fn) {
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  {
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        for (int i = next++; i < count; i = next++) {
          if (!fn(i)) ++failures;
        }
      });
    }
  }
  return failures.load();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice informer benchmark"};
  std::string kubeconfig;
  std::string out = "informer.json";
  int objects = 10000;
  int updates = 5000;
  int writers = 16;
  app.add_option("--kubeconfig", kubeconfig)->envname("KUBECONFIG")->required();
  app.add_option("--out", out);
  app.add_option("--objects", objects)->capture_default_str();
  app.add_option("--updates", updates)->capture_default_str();
  app.add_option("--writers", writers)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  (void)setLogLevel("warn");

  kube::TransportOptions transportOptions;
  transportOptions.qps = 0;  // the benchmark measures the informer, not our client-side limit
  auto connected = kube::connect(kubeconfig, realClock(), transportOptions);
  if (!connected) {
    std::cerr << "informer bench: " << connected.status().toString() << "\n";
    return 1;
  }
  kube::ResourceClient& client = *connected->client;
  std::string ns = "bench-informer-" + std::to_string(::getpid());
  if (auto created = client.create(kube::resources::kNamespaces, "", {{"metadata", {{"name", ns}}}}); !created) {
    std::cerr << "informer bench: " << created.status().toString() << "\n";
    return 1;
  }

  std::cerr << "creating " << objects << " ConfigMaps in " << ns << "\n";
  auto createStart = std::chrono::steady_clock::now();
  int createFailures = parallel(objects, writers, [&](int i) {
    kube::Json cm = {{"metadata", {{"name", "cm-" + std::to_string(i)}, {"labels", {{"bench", "informer"}}}}},
                     {"data", {{"index", std::to_string(i)}, {"payload", std::string(64, 'x')}}}};
    return client.create(kube::resources::kConfigMaps, ns, cm).isOk();
  });
  double createSeconds = Seconds(std::chrono::steady_clock::now() - createStart).count();

  kube::InformerOptions options;
  options.ns = ns;
  options.labelSelector = "bench=informer";
  options.pageSize = 500;
  double rssBefore = residentMegabytes();
  kube::Informer informer(client, kube::resources::kConfigMaps, options, realClock());
  auto syncStart = std::chrono::steady_clock::now();
  informer.start();
  std::stop_source never;
  informer.waitForSync(never.get_token());
  double syncSeconds = Seconds(std::chrono::steady_clock::now() - syncStart).count();
  double rssAfter = residentMegabytes();
  size_t cached = informer.cache().size();
  std::cerr << "initial sync of " << cached << " objects: " << syncSeconds << " s\n";

  long eventsBefore = informer.eventsApplied();
  auto updateStart = std::chrono::steady_clock::now();
  int updateFailures = parallel(updates, writers, [&](int i) {
    return client
        .patch(kube::resources::kConfigMaps, ns, "cm-" + std::to_string(i % objects), kube::PatchType::kMerge,
               {{"data", {{"round", std::to_string(i)}}}})
        .isOk();
  });
  double writeSeconds = Seconds(std::chrono::steady_clock::now() - updateStart).count();
  long expected = updates - updateFailures;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (informer.eventsApplied() - eventsBefore < expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  double applySeconds = Seconds(std::chrono::steady_clock::now() - updateStart).count();
  long applied = informer.eventsApplied() - eventsBefore;
  informer.stop();
  (void)client.remove(kube::resources::kNamespaces, "", ns);

  kube::Json result = {{"benchmark", "informer"},
                       {"objects", objects},
                       {"objects_cached", cached},
                       {"create_failures", createFailures},
                       {"create_seconds", createSeconds},
                       {"initial_sync_seconds", syncSeconds},
                       {"initial_sync_objects_per_second", cached / syncSeconds},
                       {"rss_before_mb", rssBefore},
                       {"rss_after_sync_mb", rssAfter},
                       {"rss_added_mb_per_1000_objects", (rssAfter - rssBefore) * 1000.0 / std::max<size_t>(cached, 1)},
                       {"watch_updates_written", expected},
                       {"watch_events_applied", applied},
                       {"watch_write_seconds", writeSeconds},
                       {"watch_apply_seconds", applySeconds},
                       {"apiserver_writes_per_second", expected / writeSeconds},
                       {"watch_events_applied_per_second", applied / applySeconds},
                       {"watch_lag_after_last_write_ms", (applySeconds - writeSeconds) * 1000.0},
                       {"writers", writers},
                       {"page_size", options.pageSize}};
  std::ofstream(out) << result.dump(2) << "\n";
  std::cout << result.dump(2) << "\n";
  return (createFailures == 0 && applied == expected && cached == static_cast<size_t>(objects)) ? 0 : 1;
}
