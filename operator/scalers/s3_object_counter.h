// S3ObjectCounter: objects under a prefix of an S3-compatible bucket, counted
// with ListObjectsV2 (path-style URLs, SigV4), page by page up to the scan cap.
// Keys ending in "/" (folder markers) are not objects. Thread-compatible.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "objectstore/sigv4.h"
#include "scalers/object_count_scaler.h"

namespace sluice::scalers {

struct S3Location {
  std::string endpoint;  // http://127.0.0.1:9000
  std::string bucket;
  std::string prefix;
  objectstore::SigV4Credentials credentials;
};

class S3ObjectCounter final : public ObjectCounter {
 public:
  S3ObjectCounter(S3Location location, std::shared_ptr<http::HttpClient> http, const Clock& clock)
      : location_(std::move(location)), http_(std::move(http)), clock_(clock) {}
  std::string describe() const override { return "s3://" + location_.bucket + "/" + location_.prefix; }
  Result<int64_t> count(int64_t scanCap) override;

 private:
  S3Location location_;
  std::shared_ptr<http::HttpClient> http_;
  const Clock& clock_;
};

}  // namespace sluice::scalers
