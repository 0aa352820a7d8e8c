#include "gateway/connection_pool.h"

#include <sys/socket.h>

#include <cerrno>

namespace sluice::gateway {

bool stillOpen(boost::beast::tcp_stream& stream) {
  char byte = 0;
  const ssize_t peeked = ::recv(stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

std::unique_ptr<ConnectionPool::Stream> ConnectionPool::take(const std::string& address, Clock::time_point now) {
  std::unique_ptr<Stream> usable;
  std::vector<std::unique_ptr<Stream>> stale;  // closed outside the lock
  {
    std::lock_guard lock(mu_);
    auto it = idle_.find(address);
    if (it == idle_.end()) return nullptr;
    while (!it->second.empty() && !usable) {
      Idle candidate = std::move(it->second.back());
      it->second.pop_back();
      if (now - candidate.since <= maxIdle_ && stillOpen(*candidate.stream)) {
        usable = std::move(candidate.stream);
      } else {
        stale.push_back(std::move(candidate.stream));
      }
    }
    if (it->second.empty()) idle_.erase(it);
  }
  return usable;
}

void ConnectionPool::give(const std::string& address, std::unique_ptr<Stream> stream, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto& list = idle_[address];
  if (list.size() < perAddress_) list.push_back(Idle{std::move(stream), now});
}

void ConnectionPool::drop(const std::string& address) {
  std::vector<Idle> dropped;
  {
    std::lock_guard lock(mu_);
    auto it = idle_.find(address);
    if (it == idle_.end()) return;
    dropped = std::move(it->second);
    idle_.erase(it);
  }
}

std::size_t ConnectionPool::idle(const std::string& address) const {
  std::lock_guard lock(mu_);
  auto it = idle_.find(address);
  return it == idle_.end() ? 0 : it->second.size();
}

}  // namespace sluice::gateway
