// DirSource: a local (or mounted) directory as a trigger. Each regular file
// directly in the directory becomes one event (its whole content), then is
// deleted or moved once the event is acknowledged.
//
// Several replicas may watch one directory: a file is processed by the one
// that creates its claim, <dir>/.sluice-claims/<name>, with O_EXCL. The owner
// refreshes the claim's mtime every claimTtl/3; a claim older than claimTtl
// is abandoned (its replica died) and is taken over (renamed away first, so
// only one replica wins). The file is deleted or moved before its claim is
// removed, so a file is never processed twice unless a replica dies.
// Files whose names start with '.' are ignored: writers should write a
// dot-file and rename it into place. A file that is rejected (attempts
// exhausted, no dead letter) or too large goes to <dir>/.sluice-failed/.
//
// Threads: one scanning thread; completions act on the file from whichever
// thread reports them (a file is owned by exactly one in-flight event).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "runtime/sources/claimed_objects.h"
#include "runtime/sources/object_source.h"

namespace sluice::runtime {

enum class DirAfterProcessing { kDelete, kMove };

struct DirSourceOptions {
  std::string triggerName;
  std::string directory;
  DirAfterProcessing afterProcessing = DirAfterProcessing::kDelete;
  std::string moveTo;  // kMove: destination directory (created if missing)
  std::chrono::milliseconds pollInterval{10'000};
  std::chrono::milliseconds claimTtl{300'000};
  int maxInFlight = 16;                // files dispatched and not yet finished
  int64_t maxFileBytes = 256LL << 20;  // larger files go to .sluice-failed/
  std::string owner;                   // written into claims; default host-pid
};

class DirSource final : public ObjectSource {
 public:
  DirSource(DirSourceOptions options, Clock& clock);
  ~DirSource() override;

  // Checks the directory (and moveTo) and starts scanning at once.
  Status start(EventDispatcher& dispatcher) override;

  struct State;  // shared with completion callbacks, which may outlive the source

 private:
  void scan() override;
  void refreshClaims() override;
  size_t releaseInFlight() override;

  DirSourceOptions options_;
  std::shared_ptr<State> state_;
};

}  // namespace sluice::runtime
