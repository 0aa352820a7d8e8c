// BeastUpstream: the real Upstream, over Boost.Beast on its own threads.
// POSTs to http://<address>/invoke, on a kept-alive connection to that
// replica when one is idle (and still open, idle no longer than maxIdle),
// else on a new one. A failed connect (refused, unreachable, no answer within
// connectTimeout) is kNotReached, and so is a kept-alive connection that
// fails while the request is written (the replica cannot have all of it);
// anything failing after the request was written is kFailed or kTimedOut.
// A 503 with X-Sluice-Not-Handled (the runtime refusing all invocations, e.g.
// while it drains) is kRefused, and that replica's idle connections are dropped.
// It runs on event loops of an http::IoPool: one it owns (`threads` loops),
// or the gateway's, shared with the server the requests come in on; then a
// call runs on the loop of the thread that forwards it (the loop that read
// the client's request), over kept-alive connections of that loop, so a
// request and its answer never change threads (io_pool.h).
// Thread-safe; destroy after every call has ended.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "gateway/upstream.h"

namespace sluice::http {
class IoPool;
}  // namespace sluice::http

namespace sluice::gateway {

struct BeastUpstreamOptions {
  int threads = 2;  // loops of its own pool, when it is given none
  std::chrono::milliseconds connectTimeout{1000};
  std::size_t maxResponseBytes = std::size_t{64} * 1024 * 1024;
  std::string invokePath = "/invoke";
  // Idle kept-alive connections kept per replica and event loop (connection_pool.h); 0: a
  // new connection per call. A replica that drains answers "503 draining" with
  // "Connection: close" (runtime/control/control_server.h), so no kept
  // connection outlives its replica's service.
  std::size_t idleConnectionsPerReplica = 32;
  // Shorter than any replica's keep-alive timeout, so a kept-alive connection
  // is not reused as the replica closes it.
  std::chrono::milliseconds maxIdle{2000};
};

class BeastUpstream final : public Upstream {
 public:
  // `pool`: the loops to run on (outliving this), else a pool of its own.
  explicit BeastUpstream(BeastUpstreamOptions options = {}, http::IoPool* pool = nullptr);
  ~BeastUpstream() override;
  void forward(const std::string& address, const UpstreamRequest& request, std::chrono::milliseconds timeout,
               std::function<void(UpstreamResult)> done) override;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::gateway
