// S3Source: objects under a prefix of an S3-compatible bucket (AWS S3, MinIO)
// as a trigger. Each object becomes one event (its whole content, which a
// decompress operator may split into many records); once the event is
// acknowledged the object is deleted, moved under moveToPrefix, or tagged.
//
// Several replicas may watch one prefix. An object is processed by the replica
// that creates its claim, the object .sluice/claims/<key>, with a conditional
// PUT (If-None-Match: *), so exactly one create wins. The claim holds the
// owner and a heartbeat time that the owner rewrites every claimTtl/3; a claim
// whose heartbeat is older than claimTtl is abandoned (its replica died) and
// is taken over with If-Match on its ETag, so again only one replica wins.
// The object is deleted or moved before its claim is removed, so an object is
// processed twice only when a replica dies mid-way (at-least-once). With
// afterProcessing tag the claim stays, marked done with the object's ETag, so
// a tagged object is not processed again unless it is overwritten.
// Rejected or oversized objects are moved to .sluice/failed/<key>. Stale
// claims whose object is gone (a replica died between moving an object and
// removing its claim) are swept every claimTtl/3.
//
// Threads: one scanning thread; completions act on the object from whichever
// thread reports them (an object is owned by exactly one in-flight event).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "objectstore/s3_client.h"
#include "runtime/sources/claimed_objects.h"
#include "runtime/sources/object_source.h"

namespace sluice::runtime {

enum class S3AfterProcessing { kDelete, kMove, kTag };

struct S3SourceOptions {
  std::string triggerName;
  std::string prefix;
  S3AfterProcessing afterProcessing = S3AfterProcessing::kDelete;
  std::string moveToPrefix;  // kMove: the key's part after `prefix` is appended to it
  std::string tagKey = "sluice-processed";
  std::string tagValue = "true";
  std::chrono::milliseconds pollInterval{10'000};
  std::chrono::milliseconds claimTtl{300'000};
  int maxInFlight = 16;                  // objects dispatched and not yet finished
  int64_t maxObjectBytes = 256LL << 20;  // larger objects go to .sluice/failed/
  std::string owner;                     // written into claims; default host-pid
};

// Where claims and failed objects live in the bucket; never listed as input.
inline constexpr const char* kS3ClaimPrefix = ".sluice/claims/";
inline constexpr const char* kS3FailedPrefix = ".sluice/failed/";

class S3Source final : public ObjectSource {
 public:
  S3Source(S3SourceOptions options, std::shared_ptr<objectstore::S3Client> client, Clock& clock);
  ~S3Source() override;

  // Lists the prefix once (so bad credentials or a missing bucket fail start),
  // then scans on its own thread.
  Status start(EventDispatcher& dispatcher) override;

  struct State;  // shared with completion callbacks, which may outlive the source

 private:
  void scan() override;
  void refreshClaims() override;
  void sweepAbandonedClaims() override;
  size_t releaseInFlight() override;

  S3SourceOptions options_;
  std::shared_ptr<State> state_;
};

}  // namespace sluice::runtime
