// FakeUrlHttpClient: an in-memory http::HttpClient answering fixed responses
// per URL and recording the URLs asked, for readers that GET (the HTTP-based
// scalers). Not thread-safe (scaler tests are single-threaded).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "http/http_client.h"

namespace sluice::testing {

class FakeUrlHttpClient final : public http::HttpClient {
 public:
  void answer(const std::string& url, int status, std::string body) {
    answers_[url] = http::Response{status, {}, std::move(body)};
  }
  void fail(const std::string& url, std::string message) { failures_[url] = std::move(message); }

  Result<http::Response> send(const http::Request& request) override {
    asked.push_back(request.url);
    limits.push_back(request.maxResponseBytes);
    if (auto f = failures_.find(request.url); f != failures_.end()) return unavailable(f->second);
    if (auto a = answers_.find(request.url); a != answers_.end()) return a->second;
    return http::Response{404, {}, "no fake answer for " + request.url};
  }

  std::vector<std::string> asked;
  std::vector<uint64_t> limits;  // maxResponseBytes of each request, in order

 private:
  std::map<std::string, http::Response> answers_;
  std::map<std::string, std::string> failures_;
};

}  // namespace sluice::testing
