// WebHdfsSource: the files directly in an HDFS directory, read over WebHDFS,
// as a trigger. Each file becomes one event (its whole content, which a
// decompress operator may split into many records); once the event is
// acknowledged the file is deleted, moved (RENAME) into moveTo, or tagged with
// a user.<tagKey> extended attribute.
//
// Several replicas may watch one directory. A file is processed by the
// replica that creates its claim, <dir>/.sluice-claims/<name>, with
// CREATE overwrite=false: HDFS creates a path atomically, so exactly one
// create wins. The claim's modification time is its heartbeat, which the
// owner sets (SETTIMES) every claimTtl/3; a claim older than claimTtl is
// abandoned (its replica died) and is renamed away before a new create, so of
// several replicas seeing it stale only one rename succeeds. The file is
// deleted or moved before its claim is removed, so a file is processed twice
// only when a replica dies mid-way (at-least-once). With afterProcessing tag
// the claim stays, holding "done <mtime>-<length>", so a tagged file is not
// processed again unless it is rewritten. Claims whose file is gone (a
// replica died between finishing a file and removing its claim) are swept
// every claimTtl/3.
// Names starting with '.' or '_' are ignored (in-progress uploads, by
// Hadoop's convention). Rejected or oversized files go to <dir>/.sluice-failed/.
//
// Threads: one scanning thread; completions act on the file from whichever
// thread reports them (a file is owned by exactly one in-flight event).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "objectstore/webhdfs_client.h"
#include "runtime/sources/claimed_objects.h"
#include "runtime/sources/object_source.h"

namespace sluice::runtime {

enum class WebHdfsAfterProcessing { kDelete, kMove, kTag };

struct WebHdfsSourceOptions {
  std::string triggerName;
  std::string directory;  // absolute HDFS path
  WebHdfsAfterProcessing afterProcessing = WebHdfsAfterProcessing::kDelete;
  std::string moveTo;  // kMove: destination directory (created if missing)
  std::string tagKey = "sluice-processed";
  std::string tagValue = "true";
  std::chrono::milliseconds pollInterval{10'000};
  std::chrono::milliseconds claimTtl{300'000};
  int maxInFlight = 16;                // files dispatched and not yet finished
  int64_t maxFileBytes = 256LL << 20;  // larger files go to .sluice-failed/
  std::string owner;                   // written into claims; default host-pid
};

class WebHdfsSource final : public ObjectSource {
 public:
  WebHdfsSource(WebHdfsSourceOptions options, std::shared_ptr<objectstore::WebHdfsClient> client, Clock& clock);
  ~WebHdfsSource() override;

  // Lists the directory once (so a wrong endpoint, user or path fails start),
  // creates the claim and failed directories, then scans on its own thread.
  Status start(EventDispatcher& dispatcher) override;

  struct State;  // shared with completion callbacks, which may outlive the source

 private:
  void scan() override;
  void refreshClaims() override;
  void sweepAbandonedClaims() override;
  size_t releaseInFlight() override;

  WebHdfsSourceOptions options_;
  std::shared_ptr<State> state_;
};

}  // namespace sluice::runtime
