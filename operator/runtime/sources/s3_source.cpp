#include "runtime/sources/s3_source.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "common/time.h"
#include "runtime/shapes/event_shapes.h"

namespace sluice::runtime {

namespace {

int64_t epochMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool startsWith(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// Runs the after-processing of finished objects (remove or move the object,
// then release its claim) on a few threads of its own. The delivery loop
// reports the objects of one batch one after another; done there, in turn,
// the last object of a batch of k stayed listed, its record already written,
// for 2k requests, and a replica killed meanwhile left every such object to
// be processed again (issue 16: 2 duplicates in 1,000 objects over 5 kills).
class AfterProcessing {
 public:
  explicit AfterProcessing(int threads) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~AfterProcessing() { stop(); }
  AfterProcessing(const AfterProcessing&) = delete;
  AfterProcessing& operator=(const AfterProcessing&) = delete;

  // Queues `task`; once stopped, runs it here.
  void run(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      if (!stopped_) {
        tasks_.push_back(std::move(task));
        cv_.notify_one();
        return;
      }
    }
    task();
  }

  // Finishes what is queued, then ends the threads.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
    for (std::thread& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
  }

 private:
  void work() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stopped_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopped, nothing left
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopped_ = false;
  std::vector<std::thread> workers_;
};

constexpr int kAfterProcessingThreads = 4;

}  // namespace

struct S3Source::State {
  S3SourceOptions options;
  std::shared_ptr<objectstore::S3Client> client;
  Clock& clock;
  ClaimedObjects claimed;                          // object key -> ETag
  AfterProcessing after{kAfterProcessingThreads};  // stopped by releaseInFlight(), before State can go

  State(S3SourceOptions o, std::shared_ptr<objectstore::S3Client> c, Clock& k)
      : options(std::move(o)), client(std::move(c)), clock(k), claimed(options.maxInFlight) {}

  static std::string claimKey(const std::string& key) { return kS3ClaimPrefix + key; }

  // A claim's body: "<owner>\n<heartbeat epoch ms>\n", or "done <etag>\n"
  // once a tagged object is finished.
  std::string claimBody() const { return options.owner + "\n" + std::to_string(epochMs(clock.wallNow())) + "\n"; }

  // Takes the claim of `key`; false when another replica holds a live one,
  // finished it (tag mode, same ETag), or the store is unreachable.
  bool claim(const std::string& key, const std::string& etag) {
    const std::string claimName = claimKey(key);
    for (int tries = 0; tries < 2; ++tries) {
      objectstore::S3PutConditions create;
      create.ifNoneMatchAny = true;
      Status created = client->put(claimName, claimBody(), create);
      if (created.isOk()) return true;
      // MinIO answers a concurrent conditional create with 409 instead of 412.
      if (created.code() != StatusCode::kFailedPrecondition && created.code() != StatusCode::kConflict) {
        SLUICE_LOG_WARN("s3 trigger {}: cannot claim {}: {}", options.triggerName, key, created.toString());
        return false;
      }
      std::string claimEtag;
      auto existing = client->get(claimName, &claimEtag);
      if (existing.status().code() == StatusCode::kNotFound) continue;  // released meanwhile: try again
      if (!existing.isOk()) return false;
      if (startsWith(*existing, "done ")) {
        if (existing->substr(5, existing->find('\n') - 5) == etag) return false;
      } else {
        size_t line = existing->find('\n');
        int64_t heartbeat = line == std::string::npos ? 0 : std::strtoll(existing->c_str() + line + 1, nullptr, 10);
        if (epochMs(clock.wallNow()) - heartbeat <= options.claimTtl.count()) return false;
      }
      // Abandoned (or done for an older version of the object): replace it
      // only if nobody else replaced it first.
      objectstore::S3PutConditions takeOver;
      takeOver.ifMatchEtag = claimEtag;
      if (!client->put(claimName, claimBody(), takeOver).isOk()) return false;
      SLUICE_LOG_WARN("s3 trigger {}: took over the abandoned claim of {}", options.triggerName, key);
      return true;
    }
    return false;
  }

  void release(const std::string& key) {
    Status removed = client->remove(claimKey(key));
    if (!removed.isOk()) {
      SLUICE_LOG_WARN("s3 trigger {}: releasing the claim of {}: {} (it expires after the claim TTL)",
                      options.triggerName, key, removed.toString());
    }
  }

  Status moveObject(const std::string& key, const std::string& to) {
    Status copied = client->copy(key, to);
    if (!copied.isOk()) return copied;
    return client->remove(key);
  }

  void finishObject(const std::string& key, const std::string& etag, Outcome outcome) {
    if (!claimed.complete(key)) return;  // the claim was released; whoever owns the object now decides
    Status status;
    bool keepClaim = false;
    switch (outcome) {
      case Outcome::kAcked:
        if (options.afterProcessing == S3AfterProcessing::kDelete) {
          status = client->remove(key);
        } else if (options.afterProcessing == S3AfterProcessing::kMove) {
          status = moveObject(key, options.moveToPrefix + key.substr(options.prefix.size()));
        } else {
          status = client->tag(key, options.tagKey, options.tagValue);
          // The claim becomes the "done" marker that keeps the object from being taken again.
          if (status.isOk()) status = client->put(claimKey(key), "done " + etag + "\n");
          keepClaim = true;
        }
        break;
      case Outcome::kRejected:
        status = moveObject(key, kS3FailedPrefix + key);
        if (status.isOk())
          SLUICE_LOG_ERROR("s3 trigger {}: {} rejected, moved to {}", options.triggerName, key, kS3FailedPrefix);
        break;
      case Outcome::kRequeue: break;  // left in place: the next scan takes it again
    }
    if (!status.isOk()) {
      // Keep the claim: it goes stale after claimTtl and the object is tried
      // again then, instead of at every scan.
      SLUICE_LOG_ERROR("s3 trigger {}: after processing {}: {}", options.triggerName, key, status.toString());
      return;
    }
    if (!keepClaim) release(key);
  }
};

S3Source::S3Source(S3SourceOptions options, std::shared_ptr<objectstore::S3Client> client, Clock& clock)
    : ObjectSource("s3", "object", options.triggerName, clock, options.pollInterval, options.claimTtl),
      options_(std::move(options)) {
  if (options_.owner.empty()) options_.owner = defaultOwner();
  if (options_.maxInFlight < 1) options_.maxInFlight = 1;
  state_ = std::make_shared<State>(options_, std::move(client), clock_);
}

S3Source::~S3Source() { (void)finish(clock_.now()); }

Status S3Source::start(EventDispatcher& dispatcher) {
  const std::string& where = this->where();
  if (options_.afterProcessing == S3AfterProcessing::kMove) {
    if (options_.moveToPrefix.empty()) return invalidArgument(where + ": afterProcessing move needs moveToPrefix");
    // Moved objects would be listed again under the watched prefix (a moveToPrefix
    // nested inside it is fine: scan() skips it).
    if (options_.moveToPrefix == options_.prefix)
      return invalidArgument(where + ": moveToPrefix must differ from prefix");
  }
  auto probe = state_->client->list(options_.prefix, "", 1);
  if (!probe.isOk()) return probe.status().withContext(where);
  startScanning(dispatcher, state_->client->describe(options_.prefix));
  return Status::ok();
}

size_t S3Source::releaseInFlight() {
  // The drain has waited for the delivery loop: every finished object is queued; finish those first.
  state_->after.stop();
  return state_->claimed.closeAndRelease([this](const std::string& key) { state_->release(key); });
}

void S3Source::refreshClaims() {
  for (const auto& key : state_->claimed.keys()) {
    Status refreshed = state_->client->put(State::claimKey(key), state_->claimBody());
    if (!refreshed.isOk()) {
      SLUICE_LOG_WARN("s3 trigger {}: refreshing the claim of {}: {}", options_.triggerName, key, refreshed.toString());
    }
  }
}

void S3Source::sweepAbandonedClaims() {
  // A replica killed after moving an object but before removing its claim
  // leaves a claim that no listing of the object will ever reach again.
  std::string continuation;
  do {
    auto page = state_->client->list(std::string(kS3ClaimPrefix) + options_.prefix, continuation);
    if (!page.isOk()) return;
    for (const objectstore::S3Object& claim : page->objects) {
      std::string key = claim.key.substr(std::string(kS3ClaimPrefix).size());
      if (state_->claimed.admit(key) == ClaimedObjects::Admission::kAlreadyOurs) continue;
      auto body = state_->client->get(claim.key);
      if (!body.isOk()) continue;
      if (!startsWith(*body, "done ")) {
        size_t line = body->find('\n');
        int64_t heartbeat = line == std::string::npos ? 0 : std::strtoll(body->c_str() + line + 1, nullptr, 10);
        if (epochMs(clock_.wallNow()) - heartbeat <= options_.claimTtl.count()) continue;
      }
      if (state_->client->head(key).status().code() != StatusCode::kNotFound) continue;
      if (state_->client->remove(claim.key).isOk()) {
        SLUICE_LOG_INFO("s3 trigger {}: removed the abandoned claim of {}, whose object is gone", options_.triggerName,
                        key);
      }
    }
    continuation = page->nextContinuationToken;
  } while (!continuation.empty());
}

void S3Source::scan() {
  std::string continuation;
  do {
    auto page = state_->client->list(options_.prefix, continuation);
    if (!page.isOk()) {
      SLUICE_LOG_WARN("s3 trigger {}: {}", options_.triggerName, page.status().toString());
      return;
    }
    for (const objectstore::S3Object& object : page->objects) {
      if (!fetching() || !hasRoom()) return;
      const std::string& key = object.key;
      if (key.empty() || key.back() == '/' || startsWith(key, ".sluice/")) continue;
      if (options_.afterProcessing == S3AfterProcessing::kMove && startsWith(key, options_.moveToPrefix)) continue;
      ClaimedObjects::Admission admission = state_->claimed.admit(key);
      if (admission == ClaimedObjects::Admission::kFull) return;
      if (admission == ClaimedObjects::Admission::kAlreadyOurs) continue;
      if (!state_->claim(key, object.etag)) continue;
      if (object.size > options_.maxObjectBytes) {
        Status moved = state_->moveObject(key, kS3FailedPrefix + key);
        SLUICE_LOG_ERROR("s3 trigger {}: {} is {} bytes, over the {} byte limit: moved to {} ({})",
                         options_.triggerName, key, object.size, options_.maxObjectBytes, kS3FailedPrefix,
                         moved.toString());
        state_->release(key);
        continue;
      }
      objectstore::S3Object read;
      auto content = state_->client->get(key, read);
      if (!content.isOk()) {
        // Gone: finished and removed by another replica between our listing and our claim.
        if (content.status().code() != StatusCode::kNotFound) {
          SLUICE_LOG_WARN("s3 trigger {}: {}", options_.triggerName, content.status().toString());
        }
        state_->release(key);
        continue;
      }
      const std::string etag = read.etag.empty() ? object.etag : read.etag;
      const std::string where = state_->client->describe(key);  // s3://bucket/key
      const std::string bucket = where.substr(5, where.size() - 5 - key.size() - 1);
      Event event =
          objectEvent(where, etag, bucket, key, parseRfc3339(object.lastModified), std::move(content).value());
      // What the platform shapes report beyond the basics (docs/event-shapes.md).
      event.headers.emplace_back(shapes::kObjectUrlHeader, state_->client->objectUrl(key));
      if (!read.versionId.empty()) event.headers.emplace_back(shapes::kObjectVersionIdHeader, read.versionId);
      if (!read.contentType.empty()) event.headers.emplace_back(shapes::kObjectContentTypeHeader, read.contentType);
      state_->claimed.add(key, etag);
      std::weak_ptr<State> weak = state_;
      // No lane: objects are independent and run in parallel.
      dispatcher_->dispatch(std::move(event), "", options_.triggerName, [weak, key, etag](Outcome outcome) {
        // The task may use the State: the source stops `after` (waiting for its tasks) before dropping it.
        if (auto state = weak.lock()) {
          State* raw = state.get();
          raw->after.run([raw, key, etag, outcome] { raw->finishObject(key, etag, outcome); });
        }
      });
    }
    continuation = page->nextContinuationToken;
  } while (!continuation.empty() && fetching());
}

}  // namespace sluice::runtime
