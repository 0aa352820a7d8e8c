#include "http/io_pool.h"

#include <boost/asio/executor_work_guard.hpp>

#include <algorithm>

#include "common/logging.h"

namespace sluice::http {

namespace asio = boost::asio;

struct IoPool::Loop {
  // A concurrency hint of 1: one thread runs this loop, so work it posts to
  // itself goes to a thread-private queue, without locking or waking anyone.
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::thread thread;
};

IoPool::IoPool(int loops, std::string name) : name_(std::move(name)) {
  for (int i = 0; i < std::max(1, loops); ++i) loops_.push_back(std::make_unique<Loop>());
  for (auto& loop : loops_) {
    loop->thread = std::thread([this, io = &loop->io] {
      try {
        io->run();
      } catch (const std::exception& e) {
        SLUICE_LOG_ERROR("{}: {}", name_, e.what());
      }
    });
  }
}

IoPool::~IoPool() { stop(); }

asio::io_context& IoPool::next() { return loops_[turn_.fetch_add(1, std::memory_order_relaxed) % loops_.size()]->io; }

asio::io_context* IoPool::current() const {
  for (const auto& loop : loops_) {
    if (loop->io.get_executor().running_in_this_thread()) return &loop->io;
  }
  return nullptr;
}

std::size_t IoPool::indexOf(const asio::io_context& loop) const {
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    if (&loops_[i]->io == &loop) return i;
  }
  return loops_.size();
}

void IoPool::stop() {
  for (auto& loop : loops_) {
    loop->work.reset();
    loop->io.stop();
  }
  for (auto& loop : loops_) {
    if (loop->thread.joinable()) loop->thread.join();
  }
}

}  // namespace sluice::http
