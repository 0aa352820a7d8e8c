// Gateway overhead: the same handler called directly on its replica
// (POST /invoke, with the headers the gateway would add) and through
// sluice-gateway, in alternating rounds of one run. Closed loop: C
// connections (kept alive), each sending its next request when the last is
// answered, for S seconds per round. Prints JSON: per target the p50/p99
// latency (ms) and requests per second over all rounds, and the ratios, and
// the same per round (each gateway round next to the direct round beside it).
// SERVICE_MS > 0 asks the handler to take that long (each body carries
// "sleepMs", which bench/gateway/run.sh's handler sleeps): throughput is then
// bounded by the replica, as on a cluster where it has its own cores, rather
// than by the CPU the client, gateway and replica share here.
// Usage: sluice_bench_gateway DIRECT_URL GATEWAY_URL TRIGGER [CONNECTIONS] [SECONDS] [ROUNDS] [SERVICE_MS]
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Target {
  std::string name;
  std::string host;
  std::string port;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<double> latenciesMs;
  long requests = 0;
  long errors = 0;
  double seconds = 0;
};

// One round of one target: its own latency percentiles and rate.
struct RoundFigures {
  double p50Ms = 0;
  double requestsPerSecond = 0;
};

Target parse(const std::string& name, const std::string& url) {
  Target target;
  target.name = name;
  const std::string rest = url.substr(url.find("://") + 3);
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  target.path = slash == std::string::npos ? "/" : rest.substr(slash);
  target.host = authority.substr(0, authority.rfind(':'));
  target.port = authority.substr(authority.rfind(':') + 1);
  return target;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())))];
}

// One round: `connections` threads against `target` for `seconds`, each body asking for `serviceMs`.
RoundFigures round(Target& target, int connections, int seconds, int serviceMs) {
  const size_t firstLatency = target.latenciesMs.size();
  const long firstRequests = target.requests;
  std::mutex mu;
  std::atomic<long> errors{0};
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  const auto started = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      std::vector<double> mine;
      asio::io_context io;
      tcp::resolver resolver(io);
      auto endpoints = resolver.resolve(target.host, target.port);
      tcp::socket stream(io);
      asio::connect(stream, endpoints);
      beast::flat_buffer buffer;
      long sequence = 0;
      while (Clock::now() < end) {
        beast::http::request<beast::http::string_body> request(beast::http::verb::post, target.path, 11);
        request.set(beast::http::field::host, target.host);
        for (const auto& [k, v] : target.headers) request.set(k, v);
        request.body() = "{\"id\":\"" + std::to_string(c) + "-" + std::to_string(++sequence) + "\"" +
                         (serviceMs > 0 ? ",\"sleepMs\":" + std::to_string(serviceMs) : std::string()) + "}";
        request.keep_alive(true);
        request.prepare_payload();
        const auto sent = Clock::now();
        beast::error_code ec;
        beast::http::write(stream, request, ec);
        beast::http::response<beast::http::string_body> response;
        if (!ec) beast::http::read(stream, buffer, response, ec);
        if (ec || response.result_int() != 200) {
          ++errors;
          beast::error_code ignored;
          stream.close(ignored);
          buffer.clear();
          asio::connect(stream, endpoints);
          continue;
        }
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
        if (!response.keep_alive()) {
          beast::error_code ignored;
          stream.close(ignored);
          buffer.clear();
          asio::connect(stream, endpoints);
        }
      }
      std::lock_guard lock(mu);
      target.latenciesMs.insert(target.latenciesMs.end(), mine.begin(), mine.end());
      target.requests += static_cast<long>(mine.size());
    });
  }
  for (auto& t : threads) t.join();
  target.errors += errors;
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  target.seconds += elapsed;
  RoundFigures figures;
  figures.p50Ms = percentile(std::vector<double>(target.latenciesMs.begin() + static_cast<std::ptrdiff_t>(firstLatency),
                                                 target.latenciesMs.end()),
                             0.50);
  figures.requestsPerSecond = static_cast<double>(target.requests - firstRequests) / elapsed;
  return figures;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: sluice_bench_gateway DIRECT_URL GATEWAY_URL TRIGGER [CONNECTIONS] [SECONDS] [ROUNDS] "
                 "[SERVICE_MS]\n";
    return 2;
  }
  const int connections = argc > 4 ? std::stoi(argv[4]) : 8;
  const int seconds = argc > 5 ? std::stoi(argv[5]) : 5;
  const int rounds = argc > 6 ? std::stoi(argv[6]) : 3;
  const int serviceMs = argc > 7 ? std::stoi(argv[7]) : 0;
  Target direct = parse("direct", argv[1]);
  // What the gateway adds to a POST / (proxy_response.cpp), so the handler sees the same event.
  direct.headers = {{"content-type", "application/json"},
                    {"sluice.http.method", "POST"},
                    {"sluice.http.path", "/"},
                    {"X-Sluice-Trigger", argv[3]},
                    {"X-Sluice-Event-Type", "http.request"}};
  // The replica's invoke token (the namespace's, as the gateway sends it): SLUICE_BENCH_INVOKE_TOKEN.
  if (const char* token = std::getenv("SLUICE_BENCH_INVOKE_TOKEN"))
    direct.headers.emplace_back("X-Sluice-Invoke-Token", token);
  Target gateway = parse("gateway", argv[2]);
  gateway.headers = {{"content-type", "application/json"}};
  // Warm both paths (interpreter, connections), then alternate so drift hits both.
  round(direct, connections, 1, serviceMs);
  round(gateway, connections, 1, serviceMs);
  for (Target* t : {&direct, &gateway}) {
    t->latenciesMs.clear();
    t->requests = t->errors = 0;
    t->seconds = 0;
  }
  nlohmann::json perRound = nlohmann::json::array();
  for (int r = 0; r < rounds; ++r) {
    RoundFigures d, g;
    if (r % 2 == 0) {
      d = round(direct, connections, seconds, serviceMs);
      g = round(gateway, connections, seconds, serviceMs);
    } else {
      g = round(gateway, connections, seconds, serviceMs);
      d = round(direct, connections, seconds, serviceMs);
    }
    perRound.push_back({{"direct_p50_ms", d.p50Ms},
                        {"gateway_p50_ms", g.p50Ms},
                        {"added_p50_ms", g.p50Ms - d.p50Ms},
                        {"direct_requests_per_s", d.requestsPerSecond},
                        {"gateway_requests_per_s", g.requestsPerSecond},
                        {"throughput_gateway_vs_direct", g.requestsPerSecond / d.requestsPerSecond}});
  }
  nlohmann::json out;
  out["connections"] = connections;
  out["seconds_per_round"] = seconds;
  out["rounds"] = rounds;
  out["service_ms"] = serviceMs;
  out["per_round"] = perRound;
  for (Target* t : {&direct, &gateway}) {
    out[t->name] = {{"requests", t->requests},
                    {"errors", t->errors},
                    {"p50_ms", percentile(t->latenciesMs, 0.50)},
                    {"p99_ms", percentile(t->latenciesMs, 0.99)},
                    {"requests_per_s", static_cast<double>(t->requests) / t->seconds}};
  }
  out["added_p50_ms"] = out["gateway"]["p50_ms"].get<double>() - out["direct"]["p50_ms"].get<double>();
  out["added_p99_ms"] = out["gateway"]["p99_ms"].get<double>() - out["direct"]["p99_ms"].get<double>();
  out["throughput_gateway_vs_direct"] =
      out["gateway"]["requests_per_s"].get<double>() / out["direct"]["requests_per_s"].get<double>();
  std::cout << out.dump(2) << "\n";
  return direct.errors + gateway.errors == 0 ? 0 : 1;
}
