#include "runtime_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <cpprest/http_client.h>

#include "child_process.h"

namespace sluice::testing {

int freeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    throw std::runtime_error("bind 127.0.0.1:0 failed");
  }
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  int port = ntohs(address.sin_port);
  close(fd);
  return port;
}

std::string makeTempDir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern + " failed");
  return pattern;
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> dirSinkRecords(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name[0] != '.') names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  std::vector<std::string> records;
  records.reserve(names.size());
  for (const std::string& name : names) records.push_back(readFile(dir + "/" + name));
  return records;
}

HttpReply httpGet(int port, const std::string& path) {
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(10));
    web::http::client::http_client client("http://127.0.0.1:" + std::to_string(port), config);
    auto response = client.request(web::http::methods::GET, path).get();
    return {response.status_code(), response.extract_string(true).get()};
  } catch (const std::exception&) {
    return {};
  }
}

HttpReply httpPost(int port, const std::string& path, const std::string& body, const std::string& authorization) {
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(60));
    web::http::client::http_client client("http://127.0.0.1:" + std::to_string(port), config);
    web::http::http_request request(web::http::methods::POST);
    request.set_request_uri(path);
    if (!authorization.empty()) request.headers().add("Authorization", authorization);
    request.set_body(body);
    auto response = client.request(request).get();
    return {response.status_code(), response.extract_string(true).get()};
  } catch (const std::exception&) {
    return {};
  }
}

HttpReply invokeReplica(int port, const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers, const std::string& token) {
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(60));
    web::http::client::http_client client("http://127.0.0.1:" + std::to_string(port), config);
    web::http::http_request request(web::http::methods::POST);
    request.set_request_uri("/invoke");
    for (const auto& [name, value] : headers) request.headers().add(name, value);
    if (!token.empty()) request.headers().add("X-Sluice-Invoke-Token", token);
    request.set_body(std::vector<unsigned char>(body.begin(), body.end()));
    auto response = client.request(request).get();
    auto bytes = response.extract_vector().get();
    return {response.status_code(), std::string(bytes.begin(), bytes.end())};
  } catch (const std::exception&) {
    return {};
  }
}

namespace {

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

RuntimeProcess::~RuntimeProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    (void)wait();
  }
}

void RuntimeProcess::start(int port, const std::vector<std::string>& args, const std::string& logPath,
                           const std::vector<std::pair<std::string, std::string>>& environment) {
  port_ = port;
  do {
    dataPort_ = freeLoopbackPort();
  } while (dataPort_ == port);
  logPath_ = logPath;
  std::vector<std::string> all = {"--control-bind-address", "127.0.0.1:" + std::to_string(port), "--data-bind-address",
                                  "127.0.0.1:" + std::to_string(dataPort_)};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<std::pair<std::string, std::string>> env = {{"SLUICE_INVOKE_TOKEN", kTestInvokeToken}};
  env.insert(env.end(), environment.begin(), environment.end());
  all.insert(all.begin(), std::string(SLUICE_BUILD_DIR) + "/sluice-runtime");
  pid_ = spawnChild(all, {logPath, false, env});
  startedPid_ = pid_;
}

bool RuntimeProcess::waitReady(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (pid_ <= 0 || waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (httpGet(port_, "/readyz").code == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void RuntimeProcess::signal(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

int RuntimeProcess::wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return exitCodeOf(status);
}

int RuntimeProcess::waitFor(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return exitCodeOf(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

int runRuntimeToExit(const std::vector<std::string>& args, const std::string& logPath,
                     std::chrono::milliseconds timeout) {
  RuntimeProcess process;
  process.start(freeLoopbackPort(), args, logPath);
  int code = process.waitFor(timeout);
  return code;  // the destructor kills a child that did not exit
}

double metricSum(const std::string& metricsText, const std::string& name, const std::string& labelMatch) {
  double sum = 0;
  std::istringstream lines(metricsText);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with(name + "{") && !line.starts_with(name + " ")) continue;
    if (!labelMatch.empty() && line.find(labelMatch) == std::string::npos) continue;
    auto space = line.rfind(' ');
    sum += std::stod(line.substr(space + 1));
  }
  return sum;
}

}  // namespace sluice::testing
