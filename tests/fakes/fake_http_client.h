// FakeHttpClient: records every request and answers from a queue of scripted
// responses (or a default), for unit tests of code built on http::HttpClient.
// It has no server logic of its own. Thread-safe.
#pragma once

#include <deque>
#include <mutex>
#include <vector>

#include "http/http_client.h"

namespace sluice::testing {

class FakeHttpClient final : public http::HttpClient {
 public:
  Result<http::Response> send(const http::Request& request) override {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    if (answers_.empty()) return fallback_;
    Result<http::Response> answer = answers_.front();
    answers_.pop_front();
    return answer;
  }

  void answer(Result<http::Response> response) {
    std::lock_guard lock(mu_);
    answers_.push_back(std::move(response));
  }
  std::vector<http::Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  mutable std::mutex mu_;
  std::deque<Result<http::Response>> answers_;
  Result<http::Response> fallback_ = http::Response{200, {}, ""};
  std::vector<http::Request> requests_;
};

}  // namespace sluice::testing
