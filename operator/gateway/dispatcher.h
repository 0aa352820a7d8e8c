// Dispatcher: the gateway's routing core, per Function: which Ready replica a
// request goes to, how many a replica takes at once, and who waits.
//
// - Least outstanding requests: a call goes to the replica with the fewest
//   calls in flight (ties rotate), never to one at the Function's
//   spec.concurrency; the rest wait in the Function's FIFO queue, bounded by
//   queueLimit (a full queue is refused at once: kQueueFull).
// - A Function at zero replicas is routable: its calls wait in the queue until
//   a replica is Ready (the autoscaler reads loads() to wake it up; each call
//   queued at zero is also told to the waiting-at-zero listener, which pushes
//   it to the autoscaler at once: activation_feed.h).
// - A call whose connection could not be made (nothing sent) goes back to the
//   front of the queue and that replica is skipped for retryBackoff; one the
//   replica refused before its handler (draining) goes back too, and that
//   replica gets no more calls; a call that reached a handler is never sent again.
//   A replica that broke a connection after the request was sent (kFailed,
//   e.g. it was killed) is skipped for retryBackoff too.
// - Every call has a deadline (requestTimeout from submit()): still queued
//   then, or unanswered by the replica, it ends kTimedOut.
// Time comes from the Clock; tick() (every few tens of ms in the gateway)
// expires deadlines and retries after backoff.
// Thread-safe; callbacks (Upstream::forward, Call::done) run without the lock held.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "gateway/request_rate.h"
#include "gateway/upstream.h"

namespace sluice::gateway {

struct Replica {
  std::string name;     // the pod's name
  std::string address;  // host:port of its invoke endpoint
};

// What the gateway knows of one routable Function (one with an http Trigger).
struct FunctionRoute {
  std::vector<Replica> replicas;  // Ready, not terminating
  int concurrency = 1;            // calls one replica takes at once
};

enum class CallEnd {
  kAnswered,        // the replica answered; see response
  kNotFound,        // no such routable Function
  kQueueFull,       // refused at once: the Function's queue is full
  kTimedOut,        // the deadline passed (queued, or waiting for the replica)
  kUpstreamFailed,  // the connection broke after the request was sent
  kStopping,        // still queued when the gateway stopped: never sent
};

struct CallResult {
  CallEnd end = CallEnd::kAnswered;
  UpstreamResponse response;
  std::string replica;  // who answered or failed
  std::string detail;   // why, for kTimedOut and kUpstreamFailed
  int attempts = 0;     // connections tried
};

struct Call {
  UpstreamRequest request;
  std::function<void(CallResult)> done;
};

struct DispatcherOptions {
  std::size_t queueLimit = 1000;  // per Function
  std::chrono::milliseconds requestTimeout{60'000};
  std::chrono::milliseconds retryBackoff{100};
  // The trailing window of each Function's requestsPerSecond (loads()): as
  // long as the autoscaler's panic window, so its readings miss no arrival.
  std::chrono::milliseconds rateWindow{6'000};
};

struct FunctionLoad {
  std::string key;   // namespace/name
  int pending = 0;   // queued, waiting for a replica
  int inFlight = 0;  // sent to a replica, not answered yet
  int replicas = 0;
  double requestsPerSecond = 0;  // calls submitted or recorded, over DispatcherOptions::rateWindow
};

class Dispatcher {
 public:
  Dispatcher(DispatcherOptions options, Upstream& upstream, Clock& clock);
  ~Dispatcher();

  // Makes `key` routable with these replicas (replacing the previous set;
  // calls in flight on a dropped replica finish there) and sends what waits.
  void setFunction(const std::string& key, FunctionRoute route);
  // Not routable any more: its queued calls end kNotFound.
  void removeFunction(const std::string& key);
  void submit(const std::string& key, Call call);
  // Counts a call that reached `key` another way (an asynchronous invocation
  // accepted into its queue) in its requestsPerSecond, as submit() counts its own.
  void recordArrival(const std::string& key);
  // Expires deadlines and sends calls whose retry backoff is over.
  void tick();
  // Every routable Function's queue and in-flight counts, sorted by key.
  std::vector<FunctionLoad> loads() const;
  // Ends every queued call (kStopping): the gateway is stopping.
  void shutdown();
  // Told (without the lock held) the key of a Function each time a call is
  // queued for it while it has no replica (none: nobody is told).
  void setWaitingAtZeroListener(std::function<void(const std::string& key)> listener);
  // The Functions with calls queued and no replica, sorted by key.
  std::vector<std::string> waitingAtZero() const;
  // The clock its deadlines and rates are on: the gateway times requests by it too.
  Clock& clock() const { return clock_; }

 private:
  struct ReplicaState {
    Replica replica;
    int outstanding = 0;
    Clock::TimePoint coolUntil{};
    bool retired = false;  // it refused a call (draining): never picked again
  };
  struct QueuedCall {
    Call call;
    Clock::TimePoint deadline;
    int attempts = 0;
  };
  struct FunctionState {
    std::vector<std::shared_ptr<ReplicaState>> replicas;
    int concurrency = 1;
    std::deque<QueuedCall> queue;
    int inFlight = 0;
    std::size_t rotation = 0;
    // Made with the options' window on the first call; mutable: reading it drops old buckets.
    mutable std::optional<RequestRate> arrivals;
  };
  using Actions = std::vector<std::function<void()>>;

  // Sends queued calls while a replica has room. Caller holds mu_.
  void pumpLocked(const std::string& key, FunctionState& function, Actions& actions);
  void onUpstreamResult(const std::string& key, const std::shared_ptr<ReplicaState>& replica, QueuedCall call,
                        UpstreamResult result);
  static void run(Actions& actions);

  const DispatcherOptions options_;
  Upstream& upstream_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, FunctionState> functions_;         // guarded by mu_
  std::function<void(const std::string&)> waitingAtZero_;  // guarded by mu_
};

}  // namespace sluice::gateway
