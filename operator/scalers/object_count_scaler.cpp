#include "scalers/object_count_scaler.h"

#include <filesystem>
#include <system_error>

#include "common/encoding.h"
#include "objectstore/webhdfs_client.h"

namespace sluice::scalers {

Result<int64_t> DirectoryObjectCounter::count(int64_t scanCap) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path root(directory_);
  if (!fs::is_directory(root, ec)) return notFound("object count of " + describe() + ": not a directory");
  int64_t found = 0;
  auto consider = [&](const fs::directory_entry& entry) {
    if (!entry.is_regular_file(ec)) return;
    std::string relative = entry.path().lexically_relative(root).generic_string();
    if (relative.rfind(prefix_, 0) == 0) ++found;
  };
  if (recursive_) {
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      consider(*it);
      if (found >= scanCap) break;
    }
  } else {
    for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      consider(*it);
      if (found >= scanCap) break;
    }
  }
  if (ec) return unavailable("object count of " + describe() + ": " + ec.message());
  return std::min(found, scanCap);
}

Result<int64_t> WebHdfsObjectCounter::count(int64_t scanCap) {
  std::string base = endpoint_;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string url = base + "/webhdfs/v1" + path_ + "?op=LISTSTATUS";
  if (!user_.empty()) url += "&user.name=" + percentEncode(user_);
  const std::string what = "object count of " + describe();
  Result<http::Response> response = http::get(*http_, url, kHttpTimeout);
  if (!response.isOk()) return response.status().withContext(what);
  if (response->status != 200) {
    return objectstore::webHdfsError(http::Response{response->status, {}, response->body}, what);
  }
  auto entries = objectstore::parseListStatus(response->body);
  if (!entries.isOk()) return entries.status().withContext(what);
  int64_t files = 0;
  for (const objectstore::WebHdfsFileStatus& entry : *entries) {
    if (!objectstore::isWaitingFile(entry)) continue;
    if (++files >= scanCap) break;
  }
  return files;
}

Result<ScalerReading> ObjectCountScaler::read() {
  Result<int64_t> count = counter_->count(options_.scanCap);
  if (!count.isOk()) return count.status();
  ScalerReading reading;
  reading.value = static_cast<double>(*count);
  reading.active = reading.value > options_.activationTargetObjectCount;
  return reading;
}

}  // namespace sluice::scalers
