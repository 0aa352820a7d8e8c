// FakeHttpGetter: an in-memory HttpGetter answering fixed responses per URL and
// recording the URLs asked. Not thread-safe (scaler tests are single-threaded).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "scalers/http_getter.h"

namespace sluice::testing {

class FakeHttpGetter final : public scalers::HttpGetter {
 public:
  void answer(const std::string& url, int status, std::string body) { answers_[url] = {status, std::move(body)}; }
  void fail(const std::string& url, std::string message) { failures_[url] = std::move(message); }

  Result<scalers::HttpResponse> get(const std::string& url, const scalers::HttpHeaders& = {}) override {
    asked.push_back(url);
    if (auto f = failures_.find(url); f != failures_.end()) return unavailable(f->second);
    if (auto a = answers_.find(url); a != answers_.end()) return a->second;
    return scalers::HttpResponse{404, "no fake answer for " + url};
  }

  std::vector<std::string> asked;

 private:
  std::map<std::string, scalers::HttpResponse> answers_;
  std::map<std::string, std::string> failures_;
};

}  // namespace sluice::testing
