// PythonRuntime: the embedded CPython 3.11 interpreter of a replica, and
// PythonHandler, the Handler that calls a user's `module.function` in it.
//
// Threading: long-lived "workers" run Python calls; the first one initialises
// the interpreter (Python's main thread). Any C++ thread may call
// PythonHandler::handle(); the call is queued, run on a worker, and the caller
// waits for it. A handler loaded with concurrency N (Function.spec.concurrency)
// has up to N calls running at once, each on its own worker (load() starts
// them): while one call sleeps or waits on I/O (GIL released) the others run;
// pure-CPU calls interleave under the one GIL, so scale those with replicas.
// With concurrency 1 (the default) its calls run strictly one at a time. A
// worker releases the GIL while it waits for work and whenever Python does.
//
// Batches: handleEach() runs the handler once per event of a batch inside ONE
// task on one worker (one hand-off and one GIL acquisition per batch), each
// event with its own context, deadline and error, in order; the waiting
// thread wakes only at the running event's deadline or when the batch is done.
//
// Timeouts: when a call overruns its deadline the waiting thread interrupts
// the worker running it, and only that call. On the main thread: SIGUSR2; the
// runtime's Python-level signal handler raises TimeoutError inside the handler
// (this also interrupts time.sleep and other blocking system calls). On the
// other workers Python runs no signal handlers: TimeoutError is raised there
// with PyThreadState_SetAsyncExc as soon as the call runs Python code again,
// and time.sleep (which the runtime replaces by one that a timeout wakes)
// raises it at once; a call blocked in other I/O is stopped when that returns.
// If the call still has not returned after a grace period (it swallowed the
// exception, is stuck in C code that never checks signals, or, off the main
// thread, in a blocking call) the interpreter is declared stuck: healthy() turns false for
// good, further calls fail fast with kUnavailable, and the replica's /healthz
// fails so that it exits and is restarted. A stuck interpreter cannot be
// recycled in-process safely (another thread may not take the GIL from a
// running C function), so a new process is the only safe recycle.
//
// The runtime reserves SIGUSR2 and does not install Python's SIGINT handler.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/config/function_config.h"
#include "runtime/core/handler.h"
#include "runtime/shapes/event_shapes.h"

namespace sluice::runtime::python {

struct LoadOptions {
  std::string codeDir;
  std::vector<std::string> dependencyDirs;  // empty: <codeDir>/vendor if it exists
  std::string handler = "index.main_handler";
  std::map<std::string, std::string> environment;  // set in os.environ before the import
  std::chrono::milliseconds importTimeout{60'000};
};

struct HandlerOptions {
  std::string functionName;
  std::string namespaceName;
  config::EventShape eventShape = config::EventShape::kCanonical;
  shapes::ShapeOptions shapeOptions;
  config::CompatConfig compat;                     // the scf context's uin (the rest is in shapeOptions)
  std::map<std::string, std::string> environment;  // the Function's own variables, listed by the scf context
  int64_t memoryLimitMb = 0;                       // the contexts' memory_limit_in_mb
  std::chrono::milliseconds timeout{30'000};       // timeoutSeconds
  std::chrono::milliseconds stuckGrace{2'000};     // after a timeout, how long to wait for the call to unwind
  int concurrency = 1;                             // calls that may run at once (1..1024), each on its own thread
};

class PythonRuntime;
struct CallSlots;

// Calls one loaded Python function. Thread-safe: at most
// HandlerOptions::concurrency of its calls run at once, the others wait.
class PythonHandler final : public Handler {
 public:
  ~PythonHandler() override;

  Result<std::vector<Record>> handle(const Event& event, const InvocationContext& context) override;
  // Several events in one call: SCF/Lambda "Records" batches (canonical: a list).
  Result<std::vector<Record>> handleBatch(const std::vector<Event>& events, const InvocationContext& context) override;

  bool handlesEach() const override { return true; }
  std::vector<EachResult> handleEach(const std::vector<Event>& events, const InvocationContext& context,
                                     std::chrono::milliseconds timeout) override;

 private:
  friend class PythonRuntime;
  // One call: `events` as a list (handleBatch), or its only event as itself (handle).
  Result<std::vector<Record>> runCall(const std::vector<Event>& events, bool asList, const InvocationContext& context);
  PythonHandler(PythonRuntime& runtime, int64_t functionId, HandlerOptions options, std::shared_ptr<CallSlots> slots)
      : runtime_(runtime),
        functionId_(functionId),
        options_(std::make_shared<const HandlerOptions>(std::move(options))),
        slots_(std::move(slots)) {}

  PythonRuntime& runtime_;
  int64_t functionId_;
  std::shared_ptr<const HandlerOptions> options_;  // shared with a call that may outlive a timed-out wait
  std::shared_ptr<CallSlots> slots_;               // its calls under way, at most options_->concurrency
};

class PythonRuntime {
 public:
  // The process-wide interpreter, started on first use (warm mode calls this at
  // startup so specialisation does not pay for Py_Initialize). Never destroyed:
  // at exit the process ends without finalising Python (a stuck call could
  // otherwise hang the exit); call shutdown() first for a clean drain.
  static PythonRuntime& instance();

  // Imports the handler's module and finds the function. Errors name the
  // module/function and carry the Python exception ("cannot import module
  // \"index\" from /code: SyntaxError: ...").
  Result<std::unique_ptr<PythonHandler>> load(const LoadOptions& load, HandlerOptions options);

  // False once a call stayed stuck past its grace period; never true again.
  bool healthy() const;

  // Flushes Python's stdout/stderr (print output) so drains lose no logs.
  void flush();

  struct Impl;

 private:
  friend class PythonHandler;
  PythonRuntime();
  Impl* impl_;  // owned; intentionally leaked with the singleton
};

// True while the process's interpreter (if any was started) is not stuck.
// For /healthz.
bool pythonHealthy();

}  // namespace sluice::runtime::python
