#include "log_cleansing_fixture.h"

#include <signal.h>

#include <filesystem>
#include <iostream>

namespace sluice::testing {

using nlohmann::json;
using namespace std::chrono_literals;

std::string logFile(int file, int lines) {
  std::string text;
  for (int l = 0; l < lines; ++l) {
    std::string level = l % 10 == 9 ? "DEBUG" : (l % 7 == 0 ? "ERROR" : "INFO");
    text += "ts=2026-11-30T10:00:00Z level=" + level + " id=f" + std::to_string(file) + "-l" + std::to_string(l) +
            " card=4111222233334444 msg=\"checkout done\"\n";
  }
  return text;
}

int keptLines(int files, int lines) { return files * (lines - lines / 10); }

namespace {
std::string lineId(int file, int line) { return "f" + std::to_string(file) + "-l" + std::to_string(line); }
}  // namespace

LogCleansingFixture::LogCleansingFixture(const std::string& name, const json& objectStore)
    : topic(uniqueName(name)), dir(makeTempDir(name)), configPath(dir + "/function.json") {
  createTopic(bootstrap, topic, 3);
  config = {
      {"name", name},
      {"runtime", "builtin"},
      {"pipeline", json::array({{{"decompress", {{"format", "gzip"}}}},
                                {{"mask", {{"pattern", "card=\\d{12}(\\d{4})"}, {"replacement", "card=****\\1"}}}},
                                {{"parse", {{"format", "keyvalue"}}}},
                                {{"filter", {{"expression", "level != \"DEBUG\""}}}}})},
      {"outputs", json::array({{{"name", "cleaned"}, {"kafka", {{"bootstrapServers", bootstrap}, {"topic", topic}}}}})},
      {"triggers", json::array({{{"name", "uploads"}, {"objectStore", objectStore}}})}};
  writeFile(configPath, config.dump(2));
}

std::string LogCleansingFixture::writeGatedConfig(const std::string& gateUrl, int files, int lines) const {
  // A kept line (DEBUG lines never reach an output) in the middle of the file.
  int middle = lines / 2;
  if (middle % 10 == 9) --middle;
  json routes = json::object();
  for (int file = 0; file < files; ++file) routes[lineId(file, middle)] = "gate";
  json gated = config;
  gated["pipeline"].push_back({{"route", {{"field", "id"}, {"routes", routes}, {"default", "cleaned"}}}});
  // Longer than any test waits: a timed-out request would be retried, then fail the file.
  gated["outputs"].push_back({{"name", "gate"}, {"http", {{"url", gateUrl}, {"timeout", "600s"}}}});
  std::string path = dir + "/gated.json";
  writeFile(path, gated.dump(2));
  return path;
}

LogCleansingFixture::~LogCleansingFixture() { std::filesystem::remove_all(dir); }

std::map<std::string, int> LogCleansingFixture::cleanedIds(int files, int lines, std::chrono::seconds timeout) const {
  std::map<std::string, int> ids;
  for (const auto& r : consumeAll(bootstrap, topic, keptLines(files, lines), 3s, timeout)) {
    json value = json::parse(r.value);
    EXPECT_EQ(value["card"], "****4444") << r.value;
    EXPECT_NE(value["level"], "DEBUG") << r.value;
    EXPECT_EQ(value["msg"], "checkout done") << r.value;
    ++ids[value["id"].get<std::string>()];
  }
  return ids;
}

size_t totalRecords(const std::map<std::string, int>& ids) {
  size_t total = 0;
  for (const auto& [id, n] : ids) total += n;
  return total;
}

void expectEveryKeptLineOnce(const std::map<std::string, int>& ids, int files, int lines) {
  EXPECT_EQ(totalRecords(ids), static_cast<size_t>(keptLines(files, lines))) << "duplicates or losses";
  for (int file = 0; file < files; ++file) {
    for (int l = 0; l < lines; ++l) {
      auto it = ids.find(lineId(file, l));
      EXPECT_EQ(it == ids.end() ? 0 : it->second, l % 10 == 9 ? 0 : 1) << lineId(file, l);
    }
  }
}

void expectEveryKeptLineAtLeastOnce(const std::map<std::string, int>& ids, int files, int lines,
                                    const std::string& figure) {
  int missing = 0;
  for (int file = 0; file < files; ++file) {
    for (int l = 0; l < lines; ++l) {
      if (l % 10 != 9 && !ids.contains(lineId(file, l))) ++missing;
    }
  }
  EXPECT_EQ(missing, 0) << "lines lost";
  const int expected = keptLines(files, lines);
  EXPECT_EQ(ids.size(), static_cast<size_t>(expected));
  const size_t total = totalRecords(ids);
  std::cout << "[figure] " << figure << ": " << total << " records for " << expected << " lines, duplicate rate "
            << 100.0 * static_cast<double>(total - expected) / expected << "%\n";
}

void killOneHalfWayThroughAFile(const LogCleansingFixture& f, int files, int lines, RuntimeProcess& one,
                                RuntimeProcess& two, const std::string& figure) {
  RequestGate gate;
  one.start(freeLoopbackPort(), {"--config", f.writeGatedConfig(gate.url(), files, lines)}, f.dir + "/one.log");
  // The gate holding a request is the moment: a file's records are being written (its middle line is
  // held), and neither it nor the files claimed after it are acknowledged.
  ASSERT_TRUE(gate.waitForRequests(1, 120s)) << "replica one never reached the middle of a file\n" << one.log();
  two.start(freeLoopbackPort(), {"--config", f.configPath}, f.dir + "/two.log");
  ASSERT_TRUE(two.waitReady(60s)) << two.log();
  HttpReply metrics = httpGet(one.port(), "/metrics");
  const double inFlight = metricSum(metrics.body, "sluice_runtime_events_received_total", "trigger=\"uploads\"") -
                          metricSum(metrics.body, "sluice_runtime_events_processed_total", "trigger=\"uploads\"");
  one.signal(SIGKILL);
  EXPECT_EQ(one.wait(), 128 + SIGKILL);
  gate.open();
  std::cout << "[figure] " << figure << ": files in flight at the killed replica just before the signal " << inFlight
            << "\n";
}

ReplicaPair::ReplicaPair(const LogCleansingFixture& f) {
  one.start(freeLoopbackPort(), {"--config", f.configPath}, f.dir + "/one.log");
  two.start(freeLoopbackPort(), {"--config", f.configPath}, f.dir + "/two.log");
}

::testing::AssertionResult ReplicaPair::waitReady() {
  if (!one.waitReady(60s)) return ::testing::AssertionFailure() << one.log();
  if (!two.waitReady(60s)) return ::testing::AssertionFailure() << two.log();
  return ::testing::AssertionSuccess();
}

void ReplicaPair::terminate() {
  one.signal(SIGTERM);
  two.signal(SIGTERM);
  EXPECT_EQ(one.waitFor(60s), 0) << one.log();
  EXPECT_EQ(two.waitFor(60s), 0) << two.log();
}

double ReplicaPair::processed(const std::string& figure, const std::string& what) {
  double processed = 0;
  for (RuntimeProcess* replica : {&one, &two}) {
    HttpReply metrics = httpGet(replica->port(), "/metrics");
    double mine = metricSum(metrics.body, "sluice_runtime_events_processed_total", "trigger=\"uploads\"");
    std::cout << "[figure] " << figure << ", replica on port " << replica->port() << ": " << what << " processed "
              << mine << "\n";
    processed += mine;
  }
  return processed;
}

}  // namespace sluice::testing
