#include "runtime/sources/webhdfs_source.h"

#include <algorithm>
#include <set>
#include <vector>

#include "common/logging.h"
#include "common/time.h"

namespace sluice::runtime {

namespace {

constexpr const char* kClaimDir = ".sluice-claims";
constexpr const char* kFailedDir = ".sluice-failed";

int64_t epochMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool startsWith(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// The file's version: a rewritten file (new mtime or length) is a new object.
std::string versionOf(const objectstore::WebHdfsFileStatus& file) {
  return std::to_string(file.modificationTimeMs) + "-" + std::to_string(file.length);
}

}  // namespace

struct WebHdfsSource::State {
  WebHdfsSourceOptions options;
  std::shared_ptr<objectstore::WebHdfsClient> client;
  Clock& clock;
  ClaimedObjects claimed;  // file name -> version

  State(WebHdfsSourceOptions o, std::shared_ptr<objectstore::WebHdfsClient> c, Clock& k)
      : options(std::move(o)), client(std::move(c)), clock(k), claimed(options.maxInFlight) {}

  std::string filePath(const std::string& name) const { return options.directory + "/" + name; }
  std::string claimPath(const std::string& name) const { return options.directory + "/" + kClaimDir + "/" + name; }
  std::string failedPath(const std::string& name) const { return options.directory + "/" + kFailedDir + "/" + name; }

  // A claim's heartbeat is its modification time, which the owner sets
  // (SETTIMES, a NameNode-only call that fails once the claim is gone, so a
  // late refresh never resurrects a released claim) every claimTtl/3.
  bool fresh(int64_t heartbeatMs) const { return epochMs(clock.wallNow()) - heartbeatMs <= options.claimTtl.count(); }

  // Takes the claim of `name`; false when another replica holds a live one,
  // finished it (tag mode: a "done <version>" marker for this version), or
  // HDFS is unreachable.
  bool claim(const std::string& name, const std::string& version) {
    const std::string path = claimPath(name);
    for (int tries = 0; tries < 2; ++tries) {
      Status created = client->create(path, options.owner + "\n", false);
      if (created.isOk()) {
        (void)client->setModificationTime(path, epochMs(clock.wallNow()));
        return true;
      }
      if (created.code() != StatusCode::kAlreadyExists) {
        SLUICE_LOG_WARN("webhdfs trigger {}: cannot claim {}: {}", options.triggerName, name, created.toString());
        return false;
      }
      auto existing = client->status(path);
      if (existing.status().code() == StatusCode::kNotFound) continue;  // released meanwhile: try again
      if (!existing.isOk() || fresh(existing->modificationTimeMs)) return false;
      if (options.afterProcessing == WebHdfsAfterProcessing::kTag) {
        auto body = client->read(path);
        if (!body.isOk() || *body == "done " + version + "\n") return false;
      }
      // Abandoned. Rename it away first: of several replicas seeing it stale,
      // only one rename succeeds, and the exclusive create decides the new owner.
      const std::string stale = path + ".stale." + options.owner;
      if (!client->rename(path, stale).isOk()) return false;
      auto renamed = client->status(stale);
      if (renamed.isOk() && renamed->modificationTimeMs != existing->modificationTimeMs) {
        // Another replica took it over between our look and our rename: its
        // fresh claim is what we moved, so put it back.
        (void)client->rename(stale, path);
        return false;
      }
      (void)client->remove(stale);
      SLUICE_LOG_WARN("webhdfs trigger {}: took over the abandoned claim of {}", options.triggerName, name);
    }
    return false;
  }

  void release(const std::string& name) {
    Status removed = client->remove(claimPath(name));
    if (!removed.isOk()) {
      SLUICE_LOG_WARN("webhdfs trigger {}: releasing the claim of {}: {} (it expires after the claim TTL)",
                      options.triggerName, name, removed.toString());
    }
  }

  // RENAME, replacing an older file of the same name at the destination (as
  // rename(2) would): HDFS refuses to rename onto an existing file.
  Status moveFile(const std::string& from, const std::string& to) {
    Status moved = client->rename(from, to);
    if (moved.isOk() || moved.code() != StatusCode::kAlreadyExists) return moved;
    if (Status removed = client->remove(to); !removed.isOk()) return removed;
    return client->rename(from, to);
  }

  void finishFile(const std::string& name, const std::string& version, Outcome outcome) {
    if (!claimed.complete(name)) return;  // the claim was released; whoever owns the file now decides
    const std::string path = filePath(name);
    Status status;
    bool keepClaim = false;
    switch (outcome) {
      case Outcome::kAcked:
        if (options.afterProcessing == WebHdfsAfterProcessing::kDelete) {
          status = client->remove(path);
        } else if (options.afterProcessing == WebHdfsAfterProcessing::kMove) {
          status = moveFile(path, options.moveTo + "/" + name);
        } else {
          status = client->setXAttr(path, options.tagKey, options.tagValue);
          // The claim becomes the "done" marker that keeps the file from being taken again.
          if (status.isOk()) status = client->create(claimPath(name), "done " + version + "\n", true);
          // Backdated, so the marker reads as no live claim: only its content matters.
          if (status.isOk()) (void)client->setModificationTime(claimPath(name), 0);
          keepClaim = true;
        }
        break;
      case Outcome::kRejected:
        status = moveFile(path, failedPath(name));
        if (status.isOk())
          SLUICE_LOG_ERROR("webhdfs trigger {}: {} rejected, moved to {}/", options.triggerName, name, kFailedDir);
        break;
      case Outcome::kRequeue: break;  // left in place: the next scan takes it again
    }
    if (!status.isOk()) {
      // Keep the claim: it goes stale after claimTtl and the file is tried
      // again then, instead of at every scan.
      SLUICE_LOG_ERROR("webhdfs trigger {}: after processing {}: {}", options.triggerName, name, status.toString());
      return;
    }
    if (!keepClaim) release(name);
  }
};

WebHdfsSource::WebHdfsSource(WebHdfsSourceOptions options, std::shared_ptr<objectstore::WebHdfsClient> client,
                             Clock& clock)
    : ObjectSource("webhdfs", "file", options.triggerName, clock, options.pollInterval, options.claimTtl),
      options_(std::move(options)) {
  if (options_.owner.empty()) options_.owner = defaultOwner();
  while (options_.directory.size() > 1 && options_.directory.back() == '/') options_.directory.pop_back();
  while (options_.moveTo.size() > 1 && options_.moveTo.back() == '/') options_.moveTo.pop_back();
  if (options_.maxInFlight < 1) options_.maxInFlight = 1;
  state_ = std::make_shared<State>(options_, std::move(client), clock_);
}

WebHdfsSource::~WebHdfsSource() { (void)finish(clock_.now()); }

Status WebHdfsSource::start(EventDispatcher& dispatcher) {
  const std::string& where = this->where();
  if (!startsWith(options_.directory, "/"))
    return invalidArgument(where + ": the directory must be an absolute HDFS path, got \"" + options_.directory + "\"");
  if (options_.afterProcessing == WebHdfsAfterProcessing::kMove) {
    if (options_.moveTo.empty()) return invalidArgument(where + ": afterProcessing move needs moveToPrefix");
    if (options_.moveTo == options_.directory) return invalidArgument(where + ": moveToPrefix must differ from prefix");
  }
  auto probe = state_->client->list(options_.directory);
  if (!probe.isOk()) return probe.status().withContext(where);
  for (const std::string& dir : {options_.directory + "/" + kClaimDir, options_.directory + "/" + kFailedDir}) {
    if (Status made = state_->client->mkdirs(dir); !made.isOk()) return made.withContext(where);
  }
  if (options_.afterProcessing == WebHdfsAfterProcessing::kMove) {
    if (Status made = state_->client->mkdirs(options_.moveTo); !made.isOk()) return made.withContext(where);
  }
  startScanning(dispatcher, state_->client->describe(options_.directory));
  return Status::ok();
}

size_t WebHdfsSource::releaseInFlight() {
  return state_->claimed.closeAndRelease([this](const std::string& name) { state_->release(name); });
}

void WebHdfsSource::refreshClaims() {
  const int64_t now = epochMs(clock_.wallNow());
  for (const auto& name : state_->claimed.keys()) {
    Status refreshed = state_->client->setModificationTime(state_->claimPath(name), now);
    // NotFound: finished and released between listing our keys and now.
    if (!refreshed.isOk() && refreshed.code() != StatusCode::kNotFound) {
      SLUICE_LOG_WARN("webhdfs trigger {}: refreshing the claim of {}: {}", options_.triggerName, name,
                      refreshed.toString());
    }
  }
}

void WebHdfsSource::sweepAbandonedClaims() {
  // A replica killed after deleting or moving a file but before removing its
  // claim leaves a claim that no listing of the file will ever reach again.
  auto files = state_->client->list(options_.directory);
  if (!files.isOk()) return;
  std::set<std::string> present;
  for (const auto& entry : *files) present.insert(entry.name);
  auto claims = state_->client->list(options_.directory + "/" + kClaimDir);
  if (!claims.isOk()) return;
  for (const auto& claim : *claims) {
    const size_t staleSuffix = claim.name.find(".stale.");
    const std::string name = staleSuffix == std::string::npos ? claim.name : claim.name.substr(0, staleSuffix);
    if (present.contains(name) || state_->fresh(claim.modificationTimeMs)) continue;
    if (state_->claimed.admit(name) == ClaimedObjects::Admission::kAlreadyOurs) continue;
    if (state_->client->remove(options_.directory + "/" + kClaimDir + "/" + claim.name).isOk()) {
      SLUICE_LOG_INFO("webhdfs trigger {}: removed the abandoned claim {}, whose file is gone", options_.triggerName,
                      claim.name);
    }
  }
}

void WebHdfsSource::scan() {
  auto listed = state_->client->list(options_.directory);
  if (!listed.isOk()) {
    SLUICE_LOG_WARN("webhdfs trigger {}: {}", options_.triggerName, listed.status().toString());
    return;
  }
  std::vector<objectstore::WebHdfsFileStatus> files;
  for (auto& entry : *listed) {
    if (!objectstore::isWaitingFile(entry)) continue;
    files.push_back(std::move(entry));
  }
  // Oldest first, so a backlog drains in arrival order.
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
    return a.modificationTimeMs != b.modificationTimeMs ? a.modificationTimeMs < b.modificationTimeMs : a.name < b.name;
  });
  for (const objectstore::WebHdfsFileStatus& file : files) {
    if (!fetching() || !hasRoom()) return;
    ClaimedObjects::Admission admission = state_->claimed.admit(file.name);
    if (admission == ClaimedObjects::Admission::kFull) return;
    if (admission == ClaimedObjects::Admission::kAlreadyOurs) continue;
    const std::string version = versionOf(file);
    if (!state_->claim(file.name, version)) continue;
    const std::string path = state_->filePath(file.name);
    if (file.length > options_.maxFileBytes) {
      Status moved = state_->moveFile(path, state_->failedPath(file.name));
      SLUICE_LOG_ERROR("webhdfs trigger {}: {} is {} bytes, over the {} byte limit: moved to {}/ ({})",
                       options_.triggerName, file.name, file.length, options_.maxFileBytes, kFailedDir,
                       moved.toString());
      state_->release(file.name);
      continue;
    }
    auto content = state_->client->read(path);
    if (!content.isOk()) {
      // Gone: finished and removed by another replica between our listing and our claim.
      if (content.status().code() != StatusCode::kNotFound) {
        SLUICE_LOG_WARN("webhdfs trigger {}: {}", options_.triggerName, content.status().toString());
      }
      state_->release(file.name);
      continue;
    }
    Event event = objectEvent(state_->client->describe(path), version,
                              options_.directory.substr(options_.directory.rfind('/') + 1), file.name,
                              fromEpoch<std::chrono::milliseconds>(file.modificationTimeMs).value_or(clock_.wallNow()),
                              std::move(content).value());
    state_->claimed.add(file.name, version);
    std::weak_ptr<State> weak = state_;
    // No lane: files are independent and run in parallel.
    dispatcher_->dispatch(std::move(event), "", options_.triggerName,
                          [weak, name = file.name, version](Outcome outcome) {
                            if (auto state = weak.lock()) state->finishFile(name, version, outcome);
                          });
  }
}

}  // namespace sluice::runtime
