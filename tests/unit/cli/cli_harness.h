// Runs the sluice CLI in memory for the unit tests: captured stdout/stderr, a
// scripted stdin, the in-memory apiserver as "the cluster", a scripted HTTP
// client whose every request takes 12 ms of a FakeClock, and programs that
// are recorded instead of run.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

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

inline std::string golden(const std::string& name) {
  return readText(std::filesystem::path(SLUICE_SOURCE_DIR) / "tests/unit/cli/golden" / name);
}

}  // namespace sluice::cli::testing
