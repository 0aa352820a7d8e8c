#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace sluice::testing {

namespace {

int connectTo(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  return fd;
}

// Copies `from` to `to` until either side ends; then ends both directions.
void pump(int from, int to) {
  char buffer[16384];
  while (true) {
    ssize_t got = read(from, buffer, sizeof(buffer));
    if (got <= 0) break;
    for (ssize_t sent = 0; sent < got;) {
      // send, not write: a peer that has gone (the test kills one side on purpose) must end
      // the relay with EPIPE, not kill the test process with SIGPIPE (seen in a CI run).
      ssize_t n = send(to, buffer + sent, static_cast<size_t>(got - sent), MSG_NOSIGNAL);
      if (n <= 0) {
        got = -1;
        break;
      }
      sent += n;
    }
    if (got < 0) break;
  }
  shutdown(from, SHUT_RDWR);
  shutdown(to, SHUT_RDWR);
}

}  // namespace

std::pair<std::string, int> hostAndPort(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  const size_t end = url.find('/', start);
  std::string authority = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (size_t at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  const size_t colon = authority.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("no port in " + url);
  return {authority.substr(0, colon), std::stoi(authority.substr(colon + 1))};
}

TcpProxy::TcpProxy(std::string host, int port) : host_(std::move(host)), targetPort_(port) {
  listener_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || listen(listener_, 64) != 0 ||
      getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("proxy: cannot listen");
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

TcpProxy::~TcpProxy() { kill(); }

std::string TcpProxy::through(const std::string& url) const {
  auto [host, port] = hostAndPort(url);
  const std::string from = host + ":" + std::to_string(port);
  const size_t at = url.find(from);
  return url.substr(0, at) + "127.0.0.1:" + std::to_string(port_) + url.substr(at + from.size());
}

void TcpProxy::acceptLoop() {
  while (!killed_) {
    pollfd waiting{listener_, POLLIN, 0};
    if (poll(&waiting, 1, 100) <= 0) continue;
    int client = accept(listener_, nullptr, nullptr);
    if (client < 0) continue;
    relay(client);
  }
}

void TcpProxy::relay(int client) {
  int server = connectTo(host_, targetPort_);
  std::lock_guard lock(mu_);
  if (server < 0 || killed_) {
    close(client);
    if (server >= 0) close(server);
    return;
  }
  sockets_.insert(sockets_.end(), {client, server});
  relays_.emplace_back([client, server] { pump(client, server); });
  relays_.emplace_back([client, server] { pump(server, client); });
}

void TcpProxy::kill() {
  if (killed_.exchange(true)) return;
  // New connections are refused from now on, at once: a connection left in
  // the backlog would wait for its handshake's timeout, as only a host that
  // vanished (no process to refuse it) makes a client do.
  shutdown(listener_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  close(listener_);
  std::vector<std::thread> relays;
  {
    std::lock_guard lock(mu_);
    for (int fd : sockets_) shutdown(fd, SHUT_RDWR);
    relays.swap(relays_);
  }
  for (auto& relay : relays) relay.join();
  std::lock_guard lock(mu_);
  for (int fd : sockets_) close(fd);
  sockets_.clear();
}

}  // namespace sluice::testing
