// Object count as a scaling metric: objects waiting under a prefix.
//
// ObjectCounter is the seam per store: DirectoryObjectCounter (a local
// directory), WebHdfsObjectCounter (WebHDFS LISTSTATUS) and S3ObjectCounter
// (ListObjectsV2, in s3_object_counter.h). Each stops counting at `scanCap` so
// a huge bucket costs a bounded number of requests (the value is then the cap).
// ObjectCountScaler turns a count into a reading. Thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "http/http_client.h"
#include "scalers/scaler.h"

namespace sluice::scalers {

class ObjectCounter {
 public:
  virtual ~ObjectCounter() = default;
  virtual std::string describe() const = 0;  // "dir:/data/in", "s3://bucket/prefix"
  virtual Result<int64_t> count(int64_t scanCap) = 0;
};

// Regular files whose path relative to `directory` starts with `prefix`.
class DirectoryObjectCounter final : public ObjectCounter {
 public:
  DirectoryObjectCounter(std::string directory, std::string prefix, bool recursive)
      : directory_(std::move(directory)), prefix_(std::move(prefix)), recursive_(recursive) {}
  std::string describe() const override { return "dir:" + directory_ + "/" + prefix_; }
  Result<int64_t> count(int64_t scanCap) override;

 private:
  std::string directory_;
  std::string prefix_;
  bool recursive_;
};

// Files (type FILE) directly under `path` via GET {endpoint}/webhdfs/v1{path}?op=LISTSTATUS.
class WebHdfsObjectCounter final : public ObjectCounter {
 public:
  WebHdfsObjectCounter(std::string endpoint, std::string path, std::string user, std::shared_ptr<http::HttpClient> http)
      : endpoint_(std::move(endpoint)), path_(std::move(path)), user_(std::move(user)), http_(std::move(http)) {}
  std::string describe() const override { return "webhdfs:" + path_; }
  Result<int64_t> count(int64_t scanCap) override;

 private:
  std::string endpoint_;
  std::string path_;
  std::string user_;
  std::shared_ptr<http::HttpClient> http_;
};

struct ObjectCountOptions {
  double targetObjectCount = 5;  // KEDA aws-s3's default per replica
  double activationTargetObjectCount = 0;
  int64_t scanCap = 1000;
};

class ObjectCountScaler final : public Scaler {
 public:
  ObjectCountScaler(ObjectCountOptions options, std::shared_ptr<ObjectCounter> counter)
      : options_(options), counter_(std::move(counter)) {}
  std::string name() const override { return "objects/" + counter_->describe(); }
  ScalerTarget target() const override {
    return {autoscaler::MetricTargetType::kAverageValue, options_.targetObjectCount,
            options_.activationTargetObjectCount};
  }
  Result<ScalerReading> read() override;

 private:
  ObjectCountOptions options_;
  std::shared_ptr<ObjectCounter> counter_;
};

}  // namespace sluice::scalers
