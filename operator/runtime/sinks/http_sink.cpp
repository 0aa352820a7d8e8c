#include "runtime/sinks/http_sink.h"

namespace sluice::runtime {

void HttpSink::write(Record record, WriteCallback done) {
  http::Request request;
  request.method = options_.method;
  request.url = options_.url;
  request.headers = options_.headers;
  if (record.key) {
    bool printable = true;
    for (unsigned char c : *record.key) printable = printable && c >= 0x20 && c < 0x7f;
    if (printable) request.headers.emplace_back("X-Sluice-Key", *record.key);
  }
  request.body = std::move(record.value);
  request.timeout = options_.timeout;
  auto response = client_->send(request);
  const std::string what = "http output " + options_.method + " " + options_.url;
  if (!response.isOk()) {
    done(response.status().withContext("http output"));
    return;
  }
  if (response->status < 200 || response->status > 299) {
    std::string body = response->body.substr(0, 200);
    // 4xx other than throttling will not get better by retrying, but the
    // delivery loop's attempts still bound it and the dead letter keeps the record.
    done(unavailable(what + ": HTTP " + std::to_string(response->status) + (body.empty() ? "" : ": " + body)));
    return;
  }
  done(Status::ok());
}

}  // namespace sluice::runtime
