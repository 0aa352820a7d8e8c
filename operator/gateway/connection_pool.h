// ConnectionPool: the gateway's kept-alive connections to replicas, per
// replica address ("ip:port"), at most perAddress idle ones each. A
// connection is handed out only if it has been idle no longer than maxIdle
// (shorter than the replica's own idle timeout, so it is not reused as the
// replica closes it) and the replica has not closed it meanwhile (its FIN is
// peeked without blocking). drop() forgets every idle connection of a replica
// that refused a call (draining). Connections are Boost.Beast tcp_streams;
// what a caller takes is its own until it gives it back.
// Thread-safe.
#pragma once

#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sluice::gateway {

class ConnectionPool {
 public:
  using Stream = boost::beast::tcp_stream;
  using Clock = std::chrono::steady_clock;

  ConnectionPool(std::size_t perAddress, std::chrono::milliseconds maxIdle)
      : perAddress_(perAddress), maxIdle_(maxIdle) {}

  // The most recently given idle connection to `address` still usable, or null.
  // Stale or closed ones met on the way are closed.
  std::unique_ptr<Stream> take(const std::string& address, Clock::time_point now = Clock::now());
  // Keeps `stream` for the next call to `address`, unless perAddress are idle already (then it is closed).
  void give(const std::string& address, std::unique_ptr<Stream> stream, Clock::time_point now = Clock::now());
  void drop(const std::string& address);
  std::size_t idle(const std::string& address) const;

 private:
  struct Idle {
    std::unique_ptr<Stream> stream;
    Clock::time_point since;
  };
  const std::size_t perAddress_;
  const std::chrono::milliseconds maxIdle_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<Idle>> idle_;  // guarded by mu_
};

// Whether an idle connection can still carry a request: the peer has not
// closed it (a zero-byte peek would read its FIN) nor sent anything unasked.
bool stillOpen(boost::beast::tcp_stream& stream);

}  // namespace sluice::gateway
