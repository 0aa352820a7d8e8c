// TcpProxy: a TCP relay on 127.0.0.1 in front of a real server, the test's
// stand-in for a broker it may kill without disturbing the other tests that
// share the server: kill() closes the listening socket and every relayed
// connection, as a broker process killed with -9 leaves its clients (their
// connections end, new ones are refused). Test-only. Thread-safe; the
// destructor kills it and joins its threads.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::testing {

class TcpProxy {
 public:
  // Listens on a free loopback port, relaying each connection to host:port.
  TcpProxy(std::string host, int port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // `url` (scheme://[user@]host:port/rest) with this proxy's address instead.
  std::string through(const std::string& url) const;
  void kill();

 private:
  void acceptLoop();
  void relay(int client);

  std::string host_;
  int targetPort_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> killed_{false};
  std::mutex mu_;
  std::vector<int> sockets_;         // guarded by mu_
  std::vector<std::thread> relays_;  // guarded by mu_
  std::thread acceptor_;
};

// The host and port of `url` (scheme://[user@]host:port/...).
std::pair<std::string, int> hostAndPort(const std::string& url);

}  // namespace sluice::testing
