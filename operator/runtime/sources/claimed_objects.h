// ClaimedObjects: the bookkeeping every object-store source (directory, S3,
// WebHDFS) keeps about the objects it has claimed and dispatched but not yet
// finished: which they are (to refresh their claims and to skip them when
// listing), how many (the in-flight limit), and whether the source has
// closed (completions arriving after finish() must leave the object alone:
// its claim is released and another replica may own it now).
//
// Thread-safe: the scanning thread adds, completions (any thread) complete,
// the control thread closes.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace sluice::runtime {

class ClaimedObjects {
 public:
  explicit ClaimedObjects(int maxInFlight) : maxInFlight_(maxInFlight < 1 ? 1 : maxInFlight) {}

  enum class Admission {
    kTake,         // not ours yet and there is room: try to claim it
    kAlreadyOurs,  // in flight here: skip it
    kFull,         // the in-flight limit is reached: stop listing
  };
  Admission admit(const std::string& key) const;

  // Records a claimed object; `version` (ETag, mtime-size) travels with it.
  void add(const std::string& key, std::string version);

  // A completion: forgets `key`. False once closed: the caller must then leave
  // the object and its claim alone.
  bool complete(const std::string& key);

  // The keys in flight now (their claims need refreshing).
  std::vector<std::string> keys() const;

  // finish(): closes (later completions do nothing) and calls `release` for
  // every object still in flight, so other replicas take them. Returns how
  // many were released; 0 when already closed.
  size_t closeAndRelease(const std::function<void(const std::string& key)>& release);

 private:
  const size_t maxInFlight_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> inFlight_;  // guarded by mu_: key -> version
  bool closed_ = false;                          // guarded by mu_
};

}  // namespace sluice::runtime
