#include "kube/cpprest_transport.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <utility>

// cpprestsdk defines a macro U() that breaks fmt (spdlog); we never use it.
#define _TURN_OFF_PLATFORM_STRING  // NOLINT(bugprone-reserved-identifier): the name cpprestsdk checks
#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <boost/asio/ssl.hpp>

#include "common/logging.h"
#include "kube/token_bucket.h"

namespace sluice::kube {
namespace {

namespace http = web::http;
namespace client = web::http::client;

bool isIdempotent(const std::string& method) { return method == "GET" || method == "HEAD"; }

class CpprestTransport final : public Transport {
 public:
  CpprestTransport(const ClientConfig& config, Clock& clock, TransportOptions options)
      : config_(config),
        clock_(clock),
        options_(std::move(options)),
        token_(clock, config),
        bucket_(clock, options_.qps, options_.burst) {}

  Result<HttpResponse> send(const HttpRequest& request) override {
    for (int attempt = 0;; ++attempt) {
      auto response = sendOnce(request);
      bool last = attempt >= options_.maxRetries;
      Clock::Duration delay = backoff(attempt);
      const char* cause = "unavailable";
      if (!response) {
        if (last || !isIdempotent(request.method) || response.status().code() != StatusCode::kUnavailable) {
          return response;
        }
      } else {
        int code = response->status;
        bool throttled = code == 429;
        bool serverError = code >= 500 && code != 501;
        bool retryable = throttled || (serverError && (!response->retryAfter.empty() || isIdempotent(request.method)));
        if (!retryable || last) return response;
        cause = throttled ? "throttled" : "server_error";
        if (!response->retryAfter.empty()) {
          char* end = nullptr;
          long seconds = std::strtol(response->retryAfter.c_str(), &end, 10);
          if (end != response->retryAfter.c_str() && seconds >= 0) {
            delay = std::min<Clock::Duration>(std::chrono::seconds(seconds), options_.maxRetryDelay);
          }
        }
      }
      SLUICE_LOG_DEBUG("kube {} {}: retrying in {} ms (attempt {})", request.method, request.pathAndQuery,
                       std::chrono::duration_cast<std::chrono::milliseconds>(delay).count(), attempt + 1);
      if (!wait(cause, delay)) return stopped(request);
    }
  }

  Result<HttpResponse> stream(const HttpRequest& request, const std::function<bool(std::string_view)>& onLine,
                              std::stop_token stop) override {
    pplx::cancellation_token_source cancel;
    std::stop_callback onStop(stop, [&cancel] { cancel.cancel(); });
    try {
      // A client of its own: its idle timer is the watch's, and a long-lived
      // stream never holds a pooled connection that short requests wait for.
      client::http_client httpClient(config_.server, clientConfig(request.idleTimeout));
      auto prepared = prepare(request);
      if (!prepared) return prepared.status();
      if (!throttle(stop) || stop.stop_requested()) return Status(StatusCode::kCancelled, "stream cancelled");
      if (options_.onRequest) options_.onRequest(request.method, request.pathAndQuery);
      http::http_response response = httpClient.request(*prepared, cancel.get_token()).get();
      HttpResponse result;
      result.status = response.status_code();
      if (result.status < 200 || result.status >= 300) {
        result.body = response.extract_utf8string(true).get();
        return result;
      }
      auto body = response.body();
      while (!stop.stop_requested()) {
        concurrency::streams::container_buffer<std::string> line;
        size_t n = body.read_line(line).get();
        if (n == 0 && body.is_eof()) break;
        if (line.collection().empty()) continue;
        if (!onLine(line.collection())) break;
      }
      if (stop.stop_requested()) return Status(StatusCode::kCancelled, "stream cancelled");
      return result;
    } catch (const pplx::task_canceled&) {
      return Status(StatusCode::kCancelled, "stream cancelled");
    } catch (const std::exception& e) {
      if (stop.stop_requested()) return Status(StatusCode::kCancelled, "stream cancelled");
      return unavailable(request.method + " " + config_.server + request.pathAndQuery + ": " + e.what());
    }
  }

  Status validateTls() {
    try {
      boost::asio::ssl::context ctx(boost::asio::ssl::context::sslv23);
      configureTls(ctx);
    } catch (const std::exception& e) {
      return invalidArgument(config_.origin + ": TLS material rejected: " + e.what());
    }
    return Status::ok();
  }

 private:
  void configureTls(boost::asio::ssl::context& ctx) const {
    if (!config_.caPem.empty()) {
      ctx.add_certificate_authority(boost::asio::buffer(config_.caPem));
    }
    if (!config_.clientCertPem.empty()) {
      ctx.use_certificate_chain(boost::asio::buffer(config_.clientCertPem));
      ctx.use_private_key(boost::asio::buffer(config_.clientKeyPem), boost::asio::ssl::context::pem);
    }
  }

  client::http_client_config clientConfig(std::chrono::seconds idleTimeout) const {
    client::http_client_config cfg;
    cfg.set_timeout(idleTimeout);
    cfg.set_validate_certificates(!config_.insecureSkipTlsVerify);
    cfg.set_ssl_context_callback([this](boost::asio::ssl::context& ctx) { configureTls(ctx); });
    return cfg;
  }

  client::http_client& pooledClient(std::chrono::seconds idleTimeout) {
    std::lock_guard lock(mu_);
    auto& slot = clients_[idleTimeout.count()];
    if (!slot) slot = std::make_unique<client::http_client>(config_.server, clientConfig(idleTimeout));
    return *slot;
  }

  Result<http::http_request> prepare(const HttpRequest& request) {
    http::http_request req(request.method);
    req.set_request_uri(request.pathAndQuery);
    req.headers().add("Accept", "application/json");
    auto token = token_.current();
    if (!token) return token.status();
    if (!token->empty()) req.headers().add("Authorization", "Bearer " + *token);
    if (!request.contentType.empty()) req.set_body(request.body, request.contentType);
    return req;
  }

  // Sleeps `delay` unless the transport's stop (or `also`) is requested
  // first; false then.
  bool wait(const char* cause, Clock::Duration delay, const std::stop_token& also = {}) {
    if (options_.onWait) options_.onWait(cause, delay);
    std::stop_source either;
    std::stop_callback onStop(options_.stop, [&either] { either.request_stop(); });
    std::stop_callback onAlso(also, [&either] { either.request_stop(); });
    clock_.sleepFor(delay, either.get_token());
    return !either.stop_requested();
  }

  static Status stopped(const HttpRequest& request) {
    return {StatusCode::kCancelled, "kube " + request.method + " " + request.pathAndQuery + ": stopping"};
  }

  // The client-side rate limit's wait for this request; false when stopped.
  bool throttle(const std::stop_token& also = {}) {
    auto delay = bucket_.reserve();
    return delay <= Clock::Duration::zero() || wait("rate_limit", delay, also);
  }

  Result<HttpResponse> sendOnce(const HttpRequest& request) {
    try {
      auto prepared = prepare(request);
      if (!prepared) return prepared.status();
      if (!throttle()) return stopped(request);
      if (options_.onRequest) options_.onRequest(request.method, request.pathAndQuery);
      http::http_response response = pooledClient(request.idleTimeout).request(*prepared).get();
      HttpResponse result;
      result.status = response.status_code();
      auto retryAfter = response.headers().find("Retry-After");
      if (retryAfter != response.headers().end()) result.retryAfter = retryAfter->second;
      result.body = response.extract_utf8string(true).get();
      return result;
    } catch (const std::exception& e) {
      return unavailable(request.method + " " + config_.server + request.pathAndQuery + ": " + e.what());
    }
  }

  Clock::Duration backoff(int attempt) const {
    auto delay = options_.retryBaseDelay * (1LL << std::min(attempt, 20));
    return std::min<Clock::Duration>(delay, options_.maxRetryDelay);
  }

  const ClientConfig config_;
  Clock& clock_;
  const TransportOptions options_;
  BearerToken token_;
  TokenBucket bucket_;
  std::mutex mu_;
  std::map<long, std::unique_ptr<client::http_client>> clients_;
};

}  // namespace

Result<std::unique_ptr<Transport>> makeCpprestTransport(const ClientConfig& config, Clock& clock,
                                                        TransportOptions options) {
  auto transport = std::make_unique<CpprestTransport>(config, clock, std::move(options));
  if (auto status = transport->validateTls(); !status.isOk()) return status;
  return std::unique_ptr<Transport>(std::move(transport));
}

}  // namespace sluice::kube
