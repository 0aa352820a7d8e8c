#include "runtime/sinks/s3_sink.h"

#include <unistd.h>

namespace sluice::runtime {

S3Sink::S3Sink(S3SinkOptions options, std::shared_ptr<objectstore::S3Client> client, Clock& clock)
    : options_(std::move(options)), client_(std::move(client)), clock_(clock) {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  stem_ = "-" + std::string(host) + "-" + std::to_string(getpid()) + "-";
}

void S3Sink::write(Record record, WriteCallback done) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wallNow().time_since_epoch()).count();
  std::string key =
      options_.prefix + std::to_string(ms) + stem_ + std::to_string(sequence_.fetch_add(1)) + options_.suffix;
  done(client_->put(key, record.value).withContext("s3 output"));
}

}  // namespace sluice::runtime
