// RequestGate: an HTTP endpoint on 127.0.0.1 that holds every request it
// receives until the test opens it. Kill tests use it to arrange their moment
// instead of sleeping and hoping the kill lands mid-stream: a replica's HTTP
// output (or a Python test handler, with urlopen) calls url() in the middle of
// its work, the test waits until the gate holds N requests (N events stopped
// half-way in that replica), sends the signal, then opens the gate.
//
// Every request is answered 200 once the gate is open; one still held after
// `maxHold` is answered 503, so a broken test cannot hang a replica forever.
// Test-only. Thread-safe; the destructor opens the gate and joins its threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::testing {

// Python for a test handler (prepend it to the handler's module):
// wait_at_gate(event_id) returns at once unless the environment names a gate
// (SLUICE_TEST_GATE_URL), and there only for the first SLUICE_TEST_GATE_AFTER
// events; after those, every event waits for the gate to answer. The wait is
// bounded so a broken test cannot hang the replica; give the function a
// timeoutSeconds above it, or the runtime interrupts the wait and retries the event.
inline constexpr const char* kPythonWaitAtGate = R"PY(
import os as _gate_os
import urllib.request as _gate_request

_gate_passed = 0

def wait_at_gate(event_id):
    global _gate_passed
    url = _gate_os.environ.get("SLUICE_TEST_GATE_URL")
    if not url:
        return
    _gate_passed += 1
    if _gate_passed > int(_gate_os.environ.get("SLUICE_TEST_GATE_AFTER", "0")):
        _gate_request.urlopen(url, data=event_id.encode(), timeout=300).read()
)PY";

class RequestGate {
 public:
  explicit RequestGate(std::chrono::seconds maxHold = std::chrono::seconds(300));
  ~RequestGate();
  RequestGate(const RequestGate&) = delete;
  RequestGate& operator=(const RequestGate&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/gate"; }

  // Requests received so far, held or answered.
  int received() const;
  // Waits until `count` requests have arrived; false when `timeout` passes first.
  bool waitForRequests(int count, std::chrono::milliseconds timeout);
  // Answers the held requests and every later one at once.
  void open();

 private:
  void acceptLoop();
  void serve(int connection);

  const std::chrono::seconds maxHold_;
  int listener_ = -1;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int received_ = 0;   // guarded by mutex_
  bool open_ = false;  // guarded by mutex_
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> connections_;  // guarded by mutex_
  std::thread acceptor_;
};

}  // namespace sluice::testing
