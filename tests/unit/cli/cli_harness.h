// Runs the sluice CLI in memory for the unit tests: captured stdout/stderr, a
// scripted stdin, the in-memory apiserver as "the cluster", a scripted HTTP
// client whose every request takes 12 ms of a FakeClock, and programs that
// are recorded instead of run.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/app.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_http_client.h"
#include "kube/memory/in_memory_resource_client.h"

namespace sluice::cli::testing {

// Sends through a FakeHttpClient, moving the clock as if the answer took 12 ms.
class TimedHttpClient final : public http::HttpClient {
 public:
  TimedHttpClient(sluice::testing::FakeHttpClient& inner, sluice::testing::FakeClock& clock)
      : inner_(inner), clock_(clock) {}
  Result<http::Response> send(const http::Request& request) override {
    clock_.advance(std::chrono::milliseconds(12));
    return inner_.send(request);
  }

 private:
  sluice::testing::FakeHttpClient& inner_;
  sluice::testing::FakeClock& clock_;
};

// Answers pod-log requests from `logs` (path and query -> body; others 404) and records them.
class FakeLogTransport final : public kube::Transport {
 public:
  Result<kube::HttpResponse> send(const kube::HttpRequest& request) override {
    std::lock_guard lock(mu);
    requests.push_back(request.pathAndQuery);
    auto it = logs.find(request.pathAndQuery);
    if (it == logs.end())
      return kube::HttpResponse{404, R"({"kind":"Status","reason":"NotFound","message":"no log"})", ""};
    return kube::HttpResponse{200, it->second, ""};
  }
  Result<kube::HttpResponse> stream(const kube::HttpRequest& request,
                                    const std::function<bool(std::string_view)>& onLine, std::stop_token) override {
    auto whole = send(request);
    if (!whole.isOk() || whole->status != 200) return whole;
    std::istringstream lines(whole->body);
    for (std::string line; std::getline(lines, line);) {
      if (!onLine(line)) break;
    }
    return kube::HttpResponse{200, "", ""};
  }
  std::mutex mu;
  std::map<std::string, std::string> logs;
  std::vector<std::string> requests;
};

struct Harness {
  std::ostringstream out;
  std::ostringstream err;
  std::istringstream in;
  sluice::testing::FakeClock clock;
  std::shared_ptr<kube::InMemoryResourceClient> kube = std::make_shared<kube::InMemoryResourceClient>(clock);
  sluice::testing::FakeHttpClient http;
  std::shared_ptr<FakeLogTransport> transport = std::make_shared<FakeLogTransport>();
  std::vector<std::vector<std::string>> programs;  // what `run` was asked to start
  int programExit = 0;
  bool clusterDown = false;
  std::vector<std::string> connects;  // "kubeconfig|context" of each connection
  CliEnvironment env;

  Harness() {
    env.out = &out;
    env.err = &err;
    env.in = &in;
    env.clock = &clock;
    env.operatorBinary = "/opt/sluice/sluice-operator";
    env.connect = [this](const std::string& kubeconfig, const std::string& context) -> Result<ClusterConnection> {
      connects.push_back(kubeconfig + "|" + context);
      if (clusterDown) return Status(StatusCode::kUnavailable, "GET https://127.0.0.1:1/api: connection refused");
      return ClusterConnection{kube, "team-a", transport};
    };
    env.httpClient = [this] { return std::make_shared<TimedHttpClient>(http, clock); };
    env.run = [this](const std::vector<std::string>& argv) {
      programs.push_back(argv);
      return programExit;
    };
  }

  int run(const std::vector<std::string>& args) {
    out.str("");
    err.str("");
    return runCli(args, env);
  }
};

inline std::string readText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void writeText(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// A fresh directory under the system's temporary one, removed with the object.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("sluice-cli-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

inline std::filesystem::path goldenPath(const std::string& name) {
  return std::filesystem::path(SLUICE_SOURCE_DIR) / "tests/unit/cli/golden" / name;
}

inline std::string golden(const std::string& name) { return readText(goldenPath(name)); }

// `actual` must equal the checked-in tests/unit/cli/golden/NAME. With
// SLUICE_UPDATE_GOLDEN=1 in the environment the file is (re)written instead,
// so a deliberate change of output is one run and a reviewed diff:
//   SLUICE_UPDATE_GOLDEN=1 build/sluice_unit_cli && git diff tests/unit/cli/golden
inline void expectGolden(const std::string& name, const std::string& actual) {
  const char* update = std::getenv("SLUICE_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    writeText(goldenPath(name), actual);
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(goldenPath(name)))
      << "no golden " << goldenPath(name) << " (SLUICE_UPDATE_GOLDEN=1 writes it)";
  EXPECT_EQ(actual, golden(name)) << "golden " << name << " differs (SLUICE_UPDATE_GOLDEN=1 rewrites it)";
}

// `text` with every occurrence of `from` replaced by `to` (a temporary directory by DIR, for a golden).
inline std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); !from.empty() && at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace sluice::cli::testing
