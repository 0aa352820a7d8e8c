// Helpers for runtime integration tests against the real MinIO from
// build/testenv.env (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION):
// a client for a fresh bucket, and gzip compression of test log files.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "objectstore/s3_client.h"

namespace sluice::testing {

// A client for `bucket` on the test MinIO; creates the bucket.
std::shared_ptr<objectstore::S3Client> testBucket(const std::string& bucket);

// Every key under `prefix` (all pages).
std::vector<std::string> listKeys(objectstore::S3Client& client, const std::string& prefix);

// `data` as a .gz file (libarchive's gzip filter over the raw format).
std::string gzipped(const std::string& data);

}  // namespace sluice::testing
