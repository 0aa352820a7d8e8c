#include "request_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace sluice::testing {

namespace {

// Waits up to 200 ms for `fd` to be readable, so loops notice stopping.
bool readable(int fd) {
  pollfd entry{fd, POLLIN, 0};
  return poll(&entry, 1, 200) > 0;
}

// The Content-Length of a request head (0 when absent), header names matched without case.
size_t contentLength(std::string head) {
  std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto at = head.find("\r\ncontent-length:");
  return at == std::string::npos ? 0 : std::stoul(head.substr(at + 17));
}

}  // namespace

RequestGate::RequestGate(std::chrono::seconds maxHold) : maxHold_(maxHold) {
  listener_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || listen(listener_, 64) != 0) {
    close(listener_);
    throw std::runtime_error("request gate: cannot listen on 127.0.0.1:0");
  }
  socklen_t length = sizeof(address);
  getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

RequestGate::~RequestGate() {
  open();
  stopping_ = true;
  acceptor_.join();
  // No new connection starts now that the acceptor is gone.
  for (std::thread& connection : connections_) connection.join();
  close(listener_);
}

int RequestGate::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

bool RequestGate::waitForRequests(int count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return received_ >= count; });
}

void RequestGate::open() {
  {
    std::lock_guard lock(mutex_);
    open_ = true;
  }
  changed_.notify_all();
}

void RequestGate::acceptLoop() {
  while (!stopping_) {
    if (!readable(listener_)) continue;
    int connection = accept(listener_, nullptr, nullptr);
    if (connection < 0) continue;
    std::lock_guard lock(mutex_);
    connections_.emplace_back([this, connection] { serve(connection); });
  }
}

void RequestGate::serve(int connection) {
  // The whole request is read before it counts, so a held request is one the
  // client has finished sending (its event is waiting on the answer).
  std::string request;
  size_t headEnd = std::string::npos;
  char buffer[4096];
  while (!stopping_) {
    if (headEnd != std::string::npos && request.size() >= headEnd + 4 + contentLength(request.substr(0, headEnd))) {
      break;
    }
    if (!readable(connection)) continue;
    ssize_t n = recv(connection, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      close(connection);
      return;
    }
    request.append(buffer, static_cast<size_t>(n));
    if (headEnd == std::string::npos) headEnd = request.find("\r\n\r\n");
  }
  if (stopping_) {
    close(connection);
    return;
  }
  bool opened = false;
  {
    std::unique_lock lock(mutex_);
    ++received_;
    changed_.notify_all();
    opened = changed_.wait_for(lock, maxHold_, [&] { return open_; });
  }
  const std::string reply = opened
                                ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                : "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  (void)send(connection, reply.data(), reply.size(), MSG_NOSIGNAL);
  close(connection);
}

}  // namespace sluice::testing
