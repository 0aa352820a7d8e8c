#include "s3_test_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "http/http_client.h"
#include "kafka_test_util.h"

namespace sluice::testing {

std::shared_ptr<objectstore::S3Client> testBucket(const std::string& bucket) {
  objectstore::S3Options options;
  options.endpoint = requiredEnv("S3_ENDPOINT");
  options.bucket = bucket;
  options.credentials.accessKey = requiredEnv("S3_ACCESS_KEY");
  options.credentials.secretKey = requiredEnv("S3_SECRET_KEY");
  options.credentials.region = requiredEnv("S3_REGION");
  auto client = std::make_shared<objectstore::S3Client>(options, http::makeCppRestHttpClient(), realClock());
  Status created = client->createBucket();
  EXPECT_TRUE(created.isOk()) << created.toString();
  return client;
}

std::vector<std::string> listKeys(objectstore::S3Client& client, const std::string& prefix) {
  std::vector<std::string> keys;
  std::string continuation;
  do {
    auto page = client.list(prefix, continuation);
    EXPECT_TRUE(page.isOk()) << page.status().toString();
    if (!page.isOk()) break;
    for (const auto& object : page->objects) keys.push_back(object.key);
    continuation = page->nextContinuationToken;
  } while (!continuation.empty());
  return keys;
}

std::string gzipped(const std::string& data) {
  std::vector<char> buffer(data.size() + 65536);
  size_t used = 0;
  archive* writer = archive_write_new();
  archive_write_add_filter_gzip(writer);
  archive_write_set_format_raw(writer);
  archive_write_open_memory(writer, buffer.data(), buffer.size(), &used);
  archive_entry* entry = archive_entry_new();
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_size(entry, static_cast<la_int64_t>(data.size()));
  archive_write_header(writer, entry);
  archive_write_data(writer, data.data(), data.size());
  archive_entry_free(entry);
  archive_write_close(writer);
  archive_write_free(writer);
  return std::string(buffer.data(), used);
}

}  // namespace sluice::testing
