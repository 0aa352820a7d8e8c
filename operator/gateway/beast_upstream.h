// BeastUpstream: the real Upstream, over Boost.Beast on its own threads.
// POSTs to http://<address>/invoke on a fresh connection per call; a failed
// connect (refused, unreachable, no answer within connectTimeout) is
// kNotReached, anything failing after that kFailed or kTimedOut.
// Thread-safe; destroy after every call has ended.
#pragma once

#include <cstddef>
#include <memory>

#include "gateway/upstream.h"

namespace sluice::gateway {

struct BeastUpstreamOptions {
  int threads = 2;
  std::chrono::milliseconds connectTimeout{1000};
  std::size_t maxResponseBytes = 64 * 1024 * 1024;
  std::string invokePath = "/invoke";
};

class BeastUpstream final : public Upstream {
 public:
  explicit BeastUpstream(BeastUpstreamOptions options = {});
  ~BeastUpstream() override;
  void forward(const std::string& address, const UpstreamRequest& request, std::chrono::milliseconds timeout,
               std::function<void(UpstreamResult)> done) override;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::gateway
