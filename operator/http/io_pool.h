// IoPool: N event loops (Boost.Asio io_contexts), each run by one thread of
// its own. A server and a client that share a pool can keep a request on one
// thread end to end: the connection a request came in on, the upstream call
// it makes and the answer written back all run on the same loop, so nothing
// is handed to another thread (no condition variable signal, no wake-up of
// a thread blocked in epoll: on 2 shared cores each such hand-off is a
// context switch and a wait for a core). A loop with one thread also skips
// asio's locking of its queue for work posted from that thread.
// Thread-safe. stop() (or the destructor) stops and joins every loop;
// objects using the pool must not outlive it.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sluice::http {

class IoPool {
 public:
  // `loops` event loops (at least 1), running from construction; `name` is in logs.
  explicit IoPool(int loops, std::string name = "io");
  ~IoPool();
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  std::size_t size() const { return loops_.size(); }
  // The loops in turn: where to put a new connection.
  boost::asio::io_context& next();
  // The loop the calling thread runs, or null when it runs none of them.
  boost::asio::io_context* current() const;
  // The calling thread's loop, else the next one.
  boost::asio::io_context& currentOrNext() {
    boost::asio::io_context* here = current();
    return here ? *here : next();
  }
  // Index of a loop of this pool (for per-loop state), or size() if it is not one.
  std::size_t indexOf(const boost::asio::io_context& loop) const;
  // Stops every loop and joins its thread; handlers not run yet are dropped
  // with the pool. Idempotent; not from a thread of the pool.
  void stop();

 private:
  struct Loop;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<std::size_t> turn_{0};
  std::string name_;
};

}  // namespace sluice::http
