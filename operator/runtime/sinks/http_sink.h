// HttpSink: sends each record as the body of one HTTP request (POST or PUT)
// to a fixed URL. Only a 2xx answer counts as written; anything else (or a
// network error) fails the write, so the delivery loop retries it and the
// input is not acknowledged. Sent headers: the configured ones (a bearer
// token read from the environment at start-up among them) and the record's
// key as X-Sluice-Key; the record's own headers are not sent, because Kafka
// header bytes need not be valid HTTP header values. write() is synchronous
// and thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/http_client.h"
#include "runtime/sinks/sink.h"

namespace sluice::runtime {

struct HttpSinkOptions {
  std::string url;
  std::string method = "POST";
  std::vector<std::pair<std::string, std::string>> headers;  // sent on every request (may include Authorization)
  std::chrono::milliseconds timeout{10'000};
};

class HttpSink final : public Sink {
 public:
  HttpSink(HttpSinkOptions options, std::shared_ptr<http::HttpClient> client)
      : options_(std::move(options)), client_(std::move(client)) {}

  void write(Record record, WriteCallback done) override;
  Status flush(Clock::TimePoint) override { return Status::ok(); }

 private:
  HttpSinkOptions options_;
  std::shared_ptr<http::HttpClient> client_;
};

}  // namespace sluice::runtime
