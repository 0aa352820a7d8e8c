#include "runtime/python/python_runtime.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include <pybind11/embed.h>
#include <pybind11/stl.h>
#include <structmember.h>

#include "common/clock.h"
#include "common/logging.h"
#include "common/time.h"

namespace py = pybind11;

namespace sluice::runtime::python {

// How many calls of one handler may run at once (its concurrency) and how
// many do. Guarded by the runtime's queue mutex.
struct CallSlots {
  int limit = 1;
  int running = 0;
};

namespace {

using nlohmann::json;

// A thread that runs Python calls. Worker 0 started the interpreter: it is
// Python's main thread, the only one Python runs signal handlers on, so a
// timeout there is a SIGUSR2 (which also cuts short any blocking system call).
// The others (concurrency > 1) are interrupted with PyThreadState_SetAsyncExc,
// raised when the call next runs Python code; time.sleep there waits on
// sleepCv, which the timeout wakes (a signal cannot end their sleep: Python
// retries a system call interrupted outside the main thread).
struct Worker {
  bool main = false;
  unsigned long ident = 0;               // Python's thread id, for PyThreadState_SetAsyncExc
  std::atomic<uint64_t> currentCall{0};  // set by the worker, with the GIL held
  // Set by the waiting thread before it interrupts; read by the worker through
  // _sluice_host.timeout_pending() (the main thread's SIGUSR2 handler) and sleep().
  std::atomic<uint64_t> timeoutCall{0};
  // With the GIL held: whether the worker is in sleep() (which raises the
  // timeout itself), the call whose timeout sleep() raised, and the request
  // id of the running call for its log lines ("-" between calls).
  bool sleeping = false;
  uint64_t raisedCall = 0;
  PyObject* requestId = nullptr;
  std::mutex sleepMutex;
  std::condition_variable sleepCv;
};

// The Worker of the calling thread; null on threads that are not workers.
thread_local Worker* tWorker = nullptr;

std::atomic<bool> gStarted{false};
std::atomic<bool> gHealthy{true};

// The bootstrap module: context object, logging, timeout signal handler,
// loading and JSON encoding. Runs once, on the interpreter's main thread.
const char* kBootstrap = R"PY(
import importlib, json, logging, os, signal, sys, time, traceback
import _sluice_host

class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = _sluice_host.request_id()
        return True

_log_handler = logging.StreamHandler(sys.stderr)
_log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(request_id)s %(name)s: %(message)s"))
_log_handler.addFilter(_RequestIdFilter())
logging.getLogger().addHandler(_log_handler)
logging.getLogger().setLevel(logging.INFO)


class Context(_sluice_host.ContextBase):
    """What a handler learns about its invocation (the canonical and lambda
    shapes; Lambda's attribute names, plus Sluice's own).

    One is built per event by the runtime, which fills the per-call fields of
    ContextBase (request_id, function_name, namespace, trigger, attempt,
    time_limit_in_ms, _deadline: time.monotonic() seconds) straight from C++;
    context_factory() makes a subclass per handler whose class attributes hold
    what never changes (function_version, memory_limit_in_mb, ARNs, log names);
    the rest is derived on access."""

    function_version = "$LATEST"
    memory_limit_in_mb = 0
    invoked_function_arn = ""
    log_group_name = ""
    log_stream_name = ""
    identity = None
    client_context = None

    @property
    def aws_request_id(self):
        return self.request_id

    @property
    def deadline_ms(self):
        return int(time.time() * 1000 + (self._deadline - time.monotonic()) * 1000)

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    @property
    def remaining_time_ms(self):
        return self.get_remaining_time_in_millis()

    @property
    def logger(self):
        return logging.getLogger(self.function_name or "handler")

    def __repr__(self):
        return "Context(request_id=%r, function_name=%r, trigger=%r, attempt=%r)" % (
            self.request_id, self.function_name, self.trigger, self.attempt)


class CognitoIdentity:
    """Lambda's context.identity when the call did not come through Amazon Cognito."""
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self):
        self.cognito_identity_id = None
        self.cognito_identity_pool_id = None

    def __repr__(self):
        return "CognitoIdentity(cognito_identity_id=None, cognito_identity_pool_id=None)"


class ScfContext(dict):
    """Tencent SCF's context: a dict of the documented keys (handlers call
    context.keys() and context["request_id"]) that also reads them as
    attributes. Sluice's extras (trigger, attempt, get_remaining_time_in_millis,
    logger) are attributes only, so the keys are exactly SCF's."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError("SCF context has no key or attribute %r" % name) from None

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    @property
    def logger(self):
        return logging.getLogger(self["function_name"] or "handler")


def context_factory(shape, function_name, namespace, memory_mb, time_limit_ms, region, appid, uin, account, env):
    """The context type of one handler, and for scf the dict each context copies.

    Also puts the platform's own environment variables in os.environ when the
    Function has not set them, as the platform's runtime would."""
    namespace = namespace or "default"
    if shape == "scf":
        system = {
            "SCF_NAMESPACE": namespace,
            "SCF_FUNCTIONNAME": function_name,
            "SCF_FUNCTIONVERSION": "$LATEST",
            "TENCENTCLOUD_REGION": region,
            "TENCENTCLOUD_APPID": appid,
            "TENCENTCLOUD_UIN": uin,
            "TENCENTCLOUD_RUNENV": "SCF",
        }
        for name, value in system.items():
            os.environ.setdefault(name, value)
        variables = dict(system)
        variables.update(env)
        template = {
            "memory_limit_in_mb": memory_mb,
            "time_limit_in_ms": time_limit_ms,
            "request_id": "",
            "environment": json.dumps(variables, separators=(",", ":")),
            "environ": ";".join("%s=%s" % item for item in variables.items()),
            "function_version": "$LATEST",
            "function_name": function_name,
            "namespace": namespace,
            "tencentcloud_region": region,
            "tencentcloud_appid": appid,
            "tencentcloud_uin": uin,
        }
        return ScfContext, template
    stream = "%s/[$LATEST]%s" % (time.strftime("%Y/%m/%d", time.gmtime()), os.urandom(16).hex())
    attributes = {
        "__slots__": (),
        "invoked_function_arn": "arn:aws:lambda:%s:%s:function:%s" % (region, account, function_name),
        "log_group_name": "/aws/lambda/" + function_name,
        "log_stream_name": stream,
        "identity": CognitoIdentity(),
        "client_context": None,
        # The real Lambda runtime reads this from AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a str there.
        "memory_limit_in_mb": str(memory_mb) if shape == "lambda" else memory_mb,
    }
    if shape == "lambda":
        system = {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": attributes["log_group_name"],
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        }
        for name, value in system.items():
            os.environ.setdefault(name, value)
    return type("Context", (Context,), attributes), None


def _on_timeout(signum, frame):
    if _sluice_host.timeout_pending():
        raise TimeoutError("handler exceeded its timeout")

signal.signal(signal.SIGUSR2, _on_timeout)

_time_sleep = time.sleep

def _sleep(secs):
    """time.sleep that a handler's timeout interrupts on every worker thread
    (a signal only interrupts the main thread's)."""
    if not _sluice_host.worker_sleep(secs):
        _time_sleep(secs)

_sleep.__name__, _sleep.__qualname__, _sleep.__module__, _sleep.__doc__ = "sleep", "sleep", "time", _time_sleep.__doc__
time.sleep = _sleep


class LoadError(Exception):
    pass


def load(code_dir, dep_dirs, handler, env):
    module_name, _, function_name = handler.rpartition(".")
    os.environ.update(env)
    for path in reversed([code_dir] + list(dep_dirs)):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
    importlib.invalidate_caches()
    for name in list(sys.modules):
        if name == module_name or name.startswith(module_name + "."):
            del sys.modules[name]
    try:
        module = importlib.import_module(module_name)
    except BaseException as e:
        raise LoadError('cannot import module "%s" from %s: %s: %s' % (module_name, code_dir, type(e).__name__, e))
    fn = getattr(module, function_name, None)
    if fn is None:
        raise LoadError('module "%s" has no function "%s"' % (module_name, function_name))
    if not callable(fn):
        raise LoadError('"%s" is not callable (it is a %s)' % (handler, type(fn).__name__))
    return fn


def encode(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def describe(exc, tb):
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
)PY";

// ------------------------------------------------------------------ ContextBase (GIL held)

// The per-call fields of a handler's `context` as C slots. The bootstrap's
// Python class Context derives from it (adding the derived properties, and a
// __dict__ so handlers may still set their own attributes); the runtime
// allocates a Context per event and fills the slots directly, which costs a
// fraction of a Python __init__ with seven attribute stores.
enum ContextSlot { kRequestId, kFunctionName, kNamespace, kTrigger, kAttempt, kTimeLimitMs, kDeadline, kSlotCount };

struct ContextBaseObject {
  PyObject_HEAD PyObject* slots[kSlotCount];
};

int contextTraverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));  // a heap type's instances keep it alive
  for (PyObject* slot : reinterpret_cast<ContextBaseObject*>(self)->slots) Py_VISIT(slot);
  return 0;
}

int contextClear(PyObject* self) {
  for (PyObject*& slot : reinterpret_cast<ContextBaseObject*>(self)->slots) Py_CLEAR(slot);
  return 0;
}

void contextDealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  contextClear(self);
  type->tp_free(self);
  Py_DECREF(type);
}

constexpr Py_ssize_t slotOffset(int slot) {
  return static_cast<Py_ssize_t>(offsetof(ContextBaseObject, slots) + sizeof(PyObject*) * slot);
}

PyMemberDef kContextMembers[] = {
    {"request_id", T_OBJECT_EX, slotOffset(kRequestId), 0, nullptr},
    {"function_name", T_OBJECT_EX, slotOffset(kFunctionName), 0, nullptr},
    {"namespace", T_OBJECT_EX, slotOffset(kNamespace), 0, nullptr},
    {"trigger", T_OBJECT_EX, slotOffset(kTrigger), 0, nullptr},
    {"attempt", T_OBJECT_EX, slotOffset(kAttempt), 0, nullptr},
    {"time_limit_in_ms", T_OBJECT_EX, slotOffset(kTimeLimitMs), 0, nullptr},
    {"_deadline", T_OBJECT_EX, slotOffset(kDeadline), 0, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

PyType_Slot kContextTypeSlots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(contextDealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(contextTraverse)},
    {Py_tp_clear, reinterpret_cast<void*>(contextClear)},
    {Py_tp_members, kContextMembers},
    {Py_tp_new, reinterpret_cast<void*>(PyType_GenericNew)},
    {0, nullptr},
};

PyType_Spec kContextTypeSpec = {"_sluice_host.ContextBase", sizeof(ContextBaseObject), 0,
                                Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, kContextTypeSlots};

// "-": the request id of log lines written outside a call. Set at import.
PyObject* gNoRequestId = nullptr;

// The request id the running handler's log lines carry: a C-level slot of the
// worker the log filter reads through _sluice_host.request_id(), so setting it
// per event is a pointer swap. GIL held, on a worker.
void setLogRequestId(PyObject* id) {
  Py_INCREF(id);
  Py_XSETREF(tWorker->requestId, id);
}

// True when the calling worker's running call is past its timeout.
bool timeoutPending() {
  Worker* worker = tWorker;
  if (worker == nullptr) return false;
  uint64_t target = worker->timeoutCall.load();
  return target != 0 && target == worker->currentCall.load();
}

// _sluice_host.worker_sleep: time.sleep on a worker other than the main one,
// ended early by the running call's timeout (raising TimeoutError). False on
// any other thread, which then sleeps with time.sleep itself.
bool workerSleep(py::handle secs) {
  Worker* worker = tWorker;
  if (worker == nullptr || worker->main) return false;
  double seconds = PyFloat_AsDouble(secs.ptr());  // int, float or __float__, as time.sleep takes
  if (seconds == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  if (!(seconds >= 0)) throw py::value_error("sleep length must be non-negative");
  const uint64_t call = worker->currentCall.load();
  auto timedOut = [&] { return call != 0 && worker->timeoutCall.load() == call; };
  bool interrupted = false;
  worker->sleeping = true;
  {
    py::gil_scoped_release release;
    std::unique_lock lock(worker->sleepMutex);
    // Capped so that the wait's deadline stays within steady_clock's range.
    auto wait = std::chrono::duration<double>(std::min(seconds, 1e9));
    interrupted = worker->sleepCv.wait_for(lock, wait, timedOut);
  }
  worker->sleeping = false;
  if (!interrupted) return true;
  worker->raisedCall = call;
  PyErr_SetString(PyExc_TimeoutError, "handler exceeded its timeout");
  throw py::error_already_set();
}

// The calling worker moves on from its running call to `next` (0: none). An
// interrupt aimed at that call and not raised yet must not hit what comes
// next. GIL held (interrupt() checks currentCall with it).
void endCall(uint64_t next) {
  Worker* worker = tWorker;
  uint64_t call = worker->currentCall.load();
  if (!worker->main && call != 0 && worker->timeoutCall.load() == call)
    PyThreadState_SetAsyncExc(worker->ident, nullptr);
  worker->currentCall = next;
}

PYBIND11_EMBEDDED_MODULE(_sluice_host, m) {
  m.def("timeout_pending", &timeoutPending);
  m.def("worker_sleep", &workerSleep);
  gNoRequestId = PyUnicode_InternFromString("-");
  m.def("request_id", [] {
    Worker* worker = tWorker;
    PyObject* id = worker != nullptr && worker->requestId != nullptr ? worker->requestId : gNoRequestId;
    return py::reinterpret_borrow<py::object>(id);
  });
  PyObject* contextBase = PyType_FromSpec(&kContextTypeSpec);
  if (contextBase == nullptr) throw py::error_already_set();
  m.add_object("ContextBase", py::reinterpret_steal<py::object>(contextBase));
}

// A loaded handler: the function, the type of its `context` and, for the scf
// shape, the dict each context starts as (a copy of it).
struct LoadedFunction {
  py::object function;
  py::object contextType;
  py::object contextTemplate;  // None unless scf
};

struct Task {
  uint64_t id = 0;
  std::function<void()> body;        // runs on a worker with the GIL held
  std::shared_ptr<CallSlots> slots;  // null: not a handler call (load, flush, release), never held back
  std::mutex mutex;
  std::condition_variable cv;
  Worker* worker = nullptr;  // guarded by mutex: who runs it, once started
  bool started = false;
  bool done = false;
  bool cancelled = false;
  std::atomic<bool> finished{false};  // `done` readable without the mutex, for the short spin
  // A batch task runs several calls; the one under way and its deadline
  // (steady_clock nanoseconds), for the waiting thread's timeout checks.
  std::atomic<uint64_t> runningCall{0};
  std::atomic<int64_t> runningDeadline{0};
};

// Waking a sleeping thread costs tens of microseconds on a busy machine, more
// than a whole call; both sides therefore poll briefly before they sleep.
constexpr auto kSpin = std::chrono::microseconds(50);

// The Python host keeps real time, never an injected one: its waits are
// condition-variable waits on the monotonic clock, the interrupt that ends an
// overrunning call is a real signal, and the handler's own remaining time is
// read by Python's time.monotonic(). A fake clock could not stop a real handler.
const Clock& hostClock() { return realClock(); }

// ------------------------------------------------------------------ conversions (GIL held)

py::object textOrBytes(const std::string& s) {
  PyObject* text = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "strict");
  if (text == nullptr) {
    PyErr_Clear();
    return py::bytes(s);
  }
  return py::reinterpret_steal<py::object>(text);
}

py::object toPython(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return py::none();
    case json::value_t::boolean: return py::bool_(value.get<bool>());
    case json::value_t::number_integer: return py::int_(value.get<int64_t>());
    case json::value_t::number_unsigned: return py::int_(value.get<uint64_t>());
    case json::value_t::number_float: return py::float_(value.get<double>());
    case json::value_t::string: return textOrBytes(value.get_ref<const std::string&>());
    case json::value_t::array: {
      py::list out(value.size());
      size_t i = 0;
      for (const auto& item : value) out[i++] = toPython(item);
      return out;
    }
    case json::value_t::object: {
      py::dict out;
      for (const auto& [key, item] : value.items()) out[textOrBytes(key)] = toPython(item);
      return out;
    }
    default: return py::none();
  }
}

// str (UTF-8; lone surrogates from surrogateescape map back to their bytes),
// bytes, bytearray or memoryview -> bytes. False for anything else.
bool bytesOf(py::handle value, std::string& out) {
  if (PyUnicode_Check(value.ptr())) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(value.ptr(), &size);
    if (data != nullptr) {
      out.assign(data, static_cast<size_t>(size));
      return true;
    }
    PyErr_Clear();
    PyObject* encoded = PyUnicode_AsEncodedString(value.ptr(), "utf-8", "surrogateescape");
    if (encoded == nullptr) {
      PyErr_Clear();
      return false;
    }
    out.assign(PyBytes_AS_STRING(encoded), static_cast<size_t>(PyBytes_GET_SIZE(encoded)));
    Py_DECREF(encoded);
    return true;
  }
  if (PyBytes_Check(value.ptr())) {
    out.assign(PyBytes_AS_STRING(value.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(value.ptr())));
    return true;
  }
  if (PyByteArray_Check(value.ptr())) {
    out.assign(PyByteArray_AS_STRING(value.ptr()), static_cast<size_t>(PyByteArray_GET_SIZE(value.ptr())));
    return true;
  }
  if (PyMemoryView_Check(value.ptr())) {
    py::bytes copy = py::reinterpret_steal<py::bytes>(PyBytes_FromObject(value.ptr()));
    return bytesOf(copy, out);
  }
  return false;
}

std::string typeName(py::handle value) { return Py_TYPE(value.ptr())->tp_name; }

std::string pythonError(py::error_already_set& error) {
  std::string type = error.type() ? py::str(error.type().attr("__name__")).cast<std::string>() : "Exception";
  std::string message = error.value() ? py::str(error.value()).cast<std::string>() : "";
  return message.empty() ? type : type + ": " + message;
}

class RecordBuilder {
 public:
  explicit RecordBuilder(py::module_& bootstrap) : bootstrap_(bootstrap) {}

  // The mapping of a handler's return value (docs/python-handlers.md).
  Status add(py::handle value, bool topLevel, std::vector<Record>& out) {
    if (value.is_none()) return Status::ok();
    Record record;
    if (bytesOf(value, record.value)) {
      out.push_back(std::move(record));
      return Status::ok();
    }
    if (PyUnicode_Check(value.ptr())) return invalidArgument("handler returned a str that is not valid text");
    if (topLevel && (PyList_Check(value.ptr()) || PyTuple_Check(value.ptr()))) {
      for (py::handle item : value) {
        if (Status s = add(item, false, out); !s.isOk()) return s;
      }
      return Status::ok();
    }
    if (PyDict_Check(value.ptr()) && isExplicitRecord(value)) return addExplicit(value, out);
    return addEncoded(value, out);
  }

 private:
  static bool isExplicitRecord(py::handle value) {
    py::dict dict = py::reinterpret_borrow<py::dict>(value);
    if (!dict.contains("value")) return false;
    for (auto item : dict) {
      if (!PyUnicode_Check(item.first.ptr())) return false;
      std::string key = item.first.cast<std::string>();
      if (key != "value" && key != "key" && key != "headers" && key != "sink" && key != "partition") return false;
    }
    return true;
  }

  Status addEncoded(py::handle value, std::vector<Record>& out) {
    Record record;
    if (Status s = encode(value, record.value); !s.isOk()) return s;
    out.push_back(std::move(record));
    return Status::ok();
  }

  Status encode(py::handle value, std::string& out) {
    try {
      out = bootstrap_.attr("encode")(value).cast<std::string>();
      return Status::ok();
    } catch (py::error_already_set& e) {
      return invalidArgument("handler returned a " + typeName(value) +
                             " that cannot be encoded as JSON: " + pythonError(e));
    }
  }

  Status addExplicit(py::handle value, std::vector<Record>& out) {
    py::dict dict = py::reinterpret_borrow<py::dict>(value);
    Record record;
    py::handle body = dict["value"];
    if (!body.is_none() && !bytesOf(body, record.value)) {
      if (Status s = encode(body, record.value); !s.isOk()) return s;
    }
    if (dict.contains("key") && !dict["key"].is_none()) {
      std::string key;
      if (!bytesOf(dict["key"], key)) {
        return invalidArgument("record key must be str, bytes or None, got " + typeName(dict["key"]));
      }
      record.key = std::move(key);
    }
    if (dict.contains("sink") && !dict["sink"].is_none()) {
      if (!PyUnicode_Check(dict["sink"].ptr())) {
        return invalidArgument("record sink must be str, got " + typeName(dict["sink"]));
      }
      record.sink = dict["sink"].cast<std::string>();
    }
    if (dict.contains("partition") && !dict["partition"].is_none()) {
      py::handle partition = dict["partition"];
      if (!PyLong_Check(partition.ptr()) || PyBool_Check(partition.ptr())) {
        return invalidArgument("record partition must be int, got " + typeName(partition));
      }
      long long p = PyLong_AsLongLong(partition.ptr());
      if (p < 0 || p > INT32_MAX) return invalidArgument("record partition out of range: " + std::to_string(p));
      record.partition = static_cast<int32_t>(p);
    }
    if (dict.contains("headers") && !dict["headers"].is_none()) {
      py::handle headers = dict["headers"];
      auto addHeader = [&](py::handle name, py::handle headerValue) -> Status {
        std::string n, v;
        if (!bytesOf(name, n) || !bytesOf(headerValue, v)) {
          return invalidArgument("record header names and values must be str or bytes, got " + typeName(name) + ": " +
                                 typeName(headerValue));
        }
        record.headers.emplace_back(std::move(n), std::move(v));
        return Status::ok();
      };
      if (PyDict_Check(headers.ptr())) {
        for (auto item : py::reinterpret_borrow<py::dict>(headers)) {
          if (Status s = addHeader(item.first, item.second); !s.isOk()) return s;
        }
      } else if (PyList_Check(headers.ptr()) || PyTuple_Check(headers.ptr())) {
        for (py::handle pair : headers) {
          if (!(PyTuple_Check(pair.ptr()) || PyList_Check(pair.ptr())) || py::len(pair) != 2) {
            return invalidArgument("record headers list must hold (name, value) pairs, got " + typeName(pair));
          }
          if (Status s = addHeader(pair[py::int_(0)], pair[py::int_(1)]); !s.isOk()) return s;
        }
      } else {
        return invalidArgument("record headers must be a dict or a list of pairs, got " + typeName(headers));
      }
    }
    out.push_back(std::move(record));
    return Status::ok();
  }

  py::module_& bootstrap_;
};

}  // namespace

// ------------------------------------------------------------------ runtime

// Hidden like pybind11's own types, which it holds.
struct __attribute__((visibility("hidden"))) PythonRuntime::Impl {
  std::thread thread;
  pthread_t threadHandle{};
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Task>> queue;  // guarded by mutex
  std::atomic<size_t> queued{0};
  std::atomic<uint64_t> nextCall{1};

  // Worker 0 is the interpreter's main thread; the others are started by
  // load() for a handler with concurrency > 1 and live as long as the process.
  std::mutex workersMutex;
  std::vector<std::unique_ptr<Worker>> workers;  // guarded by workersMutex

  // GIL held.
  py::module_* bootstrap = nullptr;
  std::map<int64_t, LoadedFunction> functions;
  int64_t nextFunction = 1;

  void threadMain(std::promise<Status>& ready) {
    // No SIGINT handler: signals belong to the replica process, not to Python.
    py::scoped_interpreter interpreter(false);
    try {
      py::module_ module = py::module_::import("types").attr("ModuleType")("_sluice_runtime");
      py::exec(kBootstrap, module.attr("__dict__"));
      py::module_::import("sys").attr("modules")["_sluice_runtime"] = module;
      bootstrap = new py::module_(module);  // lives as long as the interpreter
    } catch (py::error_already_set& e) {
      ready.set_value(internalError("starting Python: " + pythonError(e)));
      return;
    }
    Worker* worker = nullptr;
    {
      std::lock_guard lock(workersMutex);
      workers.push_back(std::make_unique<Worker>());
      worker = workers.back().get();
    }
    worker->main = true;
    ready.set_value(Status::ok());
    serve(*worker);
  }

  // At least `count` workers, so that a handler may run that many calls at once.
  void ensureWorkers(int count) {
    std::lock_guard lock(workersMutex);
    while (workers.size() < static_cast<size_t>(count)) {
      workers.push_back(std::make_unique<Worker>());
      Worker* worker = workers.back().get();
      std::thread([this, worker] {
        py::gil_scoped_acquire gil;  // this thread's own Python thread state, for good
        serve(*worker);
      }).detach();
    }
  }

  // The first queued task that may start: not a handler call, or one whose
  // handler has a free slot (which it takes). Null when none. mutex held.
  std::shared_ptr<Task> takeLocked() {
    for (auto it = queue.begin(); it != queue.end(); ++it) {
      CallSlots* slots = (*it)->slots.get();
      if (slots != nullptr && slots->running >= slots->limit) continue;
      if (slots != nullptr) ++slots->running;
      std::shared_ptr<Task> task = std::move(*it);
      queue.erase(it);
      --queued;
      return task;
    }
    return nullptr;
  }

  // Waits, without the GIL, for a task this worker may start.
  std::shared_ptr<Task> take() {
    py::gil_scoped_release release;
    auto spinUntil = hostClock().now() + kSpin;
    while (queued.load() == 0 && hostClock().now() < spinUntil) std::this_thread::yield();
    std::unique_lock lock(mutex);
    std::shared_ptr<Task> task;
    cv.wait(lock, [&] { return (task = takeLocked()) != nullptr; });
    return task;
  }

  // Gives back the slot `task` held; a call of its handler may now start.
  void releaseSlot(const Task& task) {
    if (!task.slots) return;
    {
      std::lock_guard lock(mutex);
      --task.slots->running;
    }
    cv.notify_one();
  }

  // Runs tasks for ever; GIL held.
  void serve(Worker& worker) {
    tWorker = &worker;
    worker.ident = PyThread_get_thread_ident();
    worker.requestId = Py_NewRef(gNoRequestId);
    while (true) {
      std::shared_ptr<Task> task = take();
      {
        std::lock_guard lock(task->mutex);
        if (!task->cancelled) {
          task->started = true;
          task->worker = &worker;
        }
      }
      if (!task->started) {
        releaseSlot(*task);
        continue;
      }
      task->cv.notify_all();
      worker.currentCall = task->id;
      try {
        task->body();
      } catch (const std::exception& e) {
        SLUICE_LOG_ERROR("python task {} failed outside the handler: {}", task->id, e.what());
      }
      endCall(0);
      releaseSlot(*task);
      {
        std::lock_guard lock(task->mutex);
        task->done = true;
        task->finished = true;
      }
      task->cv.notify_all();
    }
  }

  void enqueue(const std::shared_ptr<Task>& task) {
    {
      std::lock_guard lock(mutex);
      queue.push_back(task);
      ++queued;
    }
    cv.notify_one();
  }

  // Interrupts `call`, past its deadline, on the worker running it.
  static void interrupt(Worker& worker, uint64_t call, pthread_t mainThread) {
    worker.timeoutCall = call;
    if (worker.main) {
      pthread_kill(mainThread, SIGUSR2);
      return;
    }
    {
      std::lock_guard lock(worker.sleepMutex);  // a sleep() about to wait sees timeoutCall
    }
    worker.sleepCv.notify_all();
    // Raising in another thread needs the GIL, which a call stuck in C code may
    // never give up: taken on a thread of its own, so this caller can still
    // declare the interpreter stuck after the grace period.
    std::thread([&worker, call] {
      py::gil_scoped_acquire gil;
      // With the GIL the worker is between two steps: still in `call` or not.
      if (worker.currentCall.load() != call || worker.sleeping || worker.raisedCall == call) return;
      PyThreadState_SetAsyncExc(worker.ident, PyExc_TimeoutError);
    }).detach();
  }

  // Runs a batch task whose body publishes each call it starts in
  // task->runningCall/runningDeadline. Sleeps until the running call's
  // deadline or the end; a call past its deadline is interrupted like run()
  // does, and the batch goes on with the next event. kUnavailable when the
  // interpreter got stuck (the body's results are then not to be read).
  Status runEach(std::function<void()> body, const std::shared_ptr<Task>& task, std::chrono::milliseconds timeout,
                 std::chrono::milliseconds grace) {
    if (!gHealthy) return unavailable("the Python interpreter is stuck; this replica is restarting");
    task->id = nextCall++;
    task->body = std::move(body);
    enqueue(task);
    auto spinUntil = hostClock().now() + kSpin;
    while (!task->finished.load() && hostClock().now() < spinUntil) std::this_thread::yield();
    std::unique_lock lock(task->mutex);
    auto startBy = hostClock().now() + timeout;
    if (!task->cv.wait_until(lock, startBy, [&] { return task->started; })) {
      task->cancelled = true;
      return {StatusCode::kDeadlineExceeded, "timed out after " + std::to_string(timeout.count()) +
                                                 "ms waiting for the Python thread (busy with other calls)"};
    }
    while (!task->done) {
      uint64_t call = task->runningCall.load();
      auto deadline = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(task->runningDeadline.load()));
      if (call == 0) deadline = hostClock().now() + std::chrono::milliseconds(1);
      if (task->cv.wait_until(lock, deadline, [&] { return task->done; })) break;
      if (call == 0 || task->runningCall.load() != call) continue;  // moved on to the next event meanwhile
      interrupt(*task->worker, call, threadHandle);
      if (task->cv.wait_for(lock, grace, [&] { return task->done || task->runningCall.load() != call; })) continue;
      gHealthy = false;
      SLUICE_LOG_ERROR(
          "python call {} ignored its timeout for {}ms more (stuck in C code or swallowed TimeoutError); the "
          "interpreter is stuck and the replica reports unhealthy so it is restarted",
          call, grace.count());
      return unavailable("handler exceeded its timeout of " + std::to_string(timeout.count()) +
                         "ms and did not stop; the interpreter is stuck");
    }
    return Status::ok();
  }

  // Runs `body` on a worker (as one of `slots`' calls when given);
  // DeadlineExceeded when it does not finish by `deadline` (then interrupted;
  // stuck after `grace`).
  Status run(std::function<void()> body, std::chrono::steady_clock::time_point deadline,
             std::chrono::milliseconds grace, std::chrono::milliseconds timeout,
             std::shared_ptr<CallSlots> slots = nullptr) {
    if (!gHealthy) return unavailable("the Python interpreter is stuck; this replica is restarting");
    auto task = std::make_shared<Task>();
    task->id = nextCall++;
    task->body = std::move(body);
    task->slots = std::move(slots);
    enqueue(task);
    auto spinUntil = std::min(deadline, hostClock().now() + kSpin);
    while (!task->finished.load() && hostClock().now() < spinUntil) std::this_thread::yield();
    std::unique_lock lock(task->mutex);
    if (task->cv.wait_until(lock, deadline, [&] { return task->done; })) return Status::ok();
    if (!task->started) {
      task->cancelled = true;
      return {StatusCode::kDeadlineExceeded, "timed out after " + std::to_string(timeout.count()) +
                                                 "ms waiting for the Python thread (busy with other calls)"};
    }
    interrupt(*task->worker, task->id, threadHandle);
    if (task->cv.wait_for(lock, grace, [&] { return task->done; })) {
      return {StatusCode::kDeadlineExceeded,
              "handler exceeded its timeout of " + std::to_string(timeout.count()) + "ms"};
    }
    gHealthy = false;
    SLUICE_LOG_ERROR(
        "python call {} ignored its timeout for {}ms more (stuck in C code or swallowed TimeoutError); the "
        "interpreter is stuck and the replica reports unhealthy so it is restarted",
        task->id, grace.count());
    return {StatusCode::kDeadlineExceeded, "handler exceeded its timeout of " + std::to_string(timeout.count()) +
                                               "ms and did not stop; the interpreter is stuck"};
  }
};

// ------------------------------------------------------------------ one call (GIL held)

namespace {

// New reference to `data` as str, or bytes when it is not UTF-8; nullptr with
// a Python error set when even that fails (out of memory).
PyObject* newTextOrBytes(const std::string& data) {
  PyObject* text = PyUnicode_DecodeUTF8(data.data(), static_cast<Py_ssize_t>(data.size()), "strict");
  if (text != nullptr) return text;
  PyErr_Clear();
  return PyBytes_FromStringAndSize(data.data(), static_cast<Py_ssize_t>(data.size()));
}

// A field that mostly repeats from one event to the next (source, type,
// subject, time): converted once while it stays the same. GIL held; shared by
// the workers, which is safe as `make` runs no Python code (no switch between
// the check and the update).
template <typename Key>
class RepeatedValue {
 public:
  // New reference; `make` (returning a new reference) runs when `key` changed.
  template <typename Make>
  PyObject* get(const Key& key, Make&& make) {
    if (object_ == nullptr || !(key == key_)) {
      PyObject* fresh = make();
      if (fresh == nullptr) return nullptr;
      Py_XSETREF(object_, fresh);
      key_ = key;
    }
    Py_INCREF(object_);
    return object_;
  }

 private:
  Key key_{};
  PyObject* object_ = nullptr;  // lives as long as the interpreter
};

// Puts `value` (a new reference, consumed) under `key`; false with a Python
// error set when value is null or the insert failed.
bool setStolen(PyObject* dict, PyObject* key, PyObject* value) {
  if (value == nullptr) return false;
  int rc = PyDict_SetItem(dict, key, value);
  Py_DECREF(value);
  return rc == 0;
}

// The headers dict: names sorted like the JSON path; a name that repeats maps
// to the list of its values, in order. New reference or nullptr (error set).
PyObject* headersToPython(const Headers& headers) {
  PyObject* out = PyDict_New();
  if (out == nullptr || headers.empty()) return out;
  std::vector<const std::pair<std::string, std::string>*> sorted;
  sorted.reserve(headers.size());
  for (const auto& header : headers) sorted.push_back(&header);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  for (size_t i = 0; i < sorted.size();) {
    size_t end = i + 1;
    while (end < sorted.size() && sorted[end]->first == sorted[i]->first) ++end;
    PyObject* value = nullptr;
    if (end - i == 1) {
      value = newTextOrBytes(sorted[i]->second);
    } else {
      value = PyList_New(static_cast<Py_ssize_t>(end - i));
      for (size_t j = i; value != nullptr && j < end; ++j) {
        PyObject* item = newTextOrBytes(sorted[j]->second);
        if (item == nullptr)
          Py_CLEAR(value);
        else
          PyList_SET_ITEM(value, static_cast<Py_ssize_t>(j - i), item);
      }
    }
    PyObject* name = newTextOrBytes(sorted[i]->first);
    bool ok = name != nullptr && setStolen(out, name, value);
    if (name == nullptr) Py_XDECREF(value);
    Py_XDECREF(name);
    if (!ok) {
      Py_DECREF(out);
      return nullptr;
    }
    i = end;
  }
  return out;
}

// The canonical event dict (docs/event-shapes.md) built directly from the
// Event with the C API: the same keys, values and key order (sorted, as the
// JSON path gives) without an nlohmann::json in between. `id` receives a new
// reference to the dict's "id" value. GIL held.
py::object canonicalToPython(const Event& event, py::object* id = nullptr) {
  static const char* kNames[] = {"data",      "headers", "id",      "key",  "offset",
                                 "partition", "source",  "subject", "time", "type"};
  static PyObject** keys = [] {
    auto* interned = new PyObject*[std::size(kNames)];  // lives as long as the interpreter
    for (size_t i = 0; i < std::size(kNames); ++i) interned[i] = PyUnicode_InternFromString(kNames[i]);
    return interned;
  }();
  static RepeatedValue<std::string> source, subject, type;
  static RepeatedValue<std::chrono::system_clock::time_point> time;
  auto optionalInt = [](const auto& value) -> PyObject* {
    if (!value) Py_RETURN_NONE;
    return PyLong_FromLongLong(static_cast<long long>(*value));
  };
  PyObject* out = _PyDict_NewPresized(static_cast<Py_ssize_t>(std::size(kNames)));
  if (out == nullptr) throw py::error_already_set();
  PyObject* idObject = newTextOrBytes(event.id);
  Py_XINCREF(idObject);  // one for the dict, one for `id`
  py::object idHolder = py::reinterpret_steal<py::object>(idObject);
  bool ok =
      setStolen(out, keys[0], newTextOrBytes(event.data)) &&  //
      setStolen(out, keys[1], headersToPython(event.headers)) && setStolen(out, keys[2], idObject) &&
      setStolen(out, keys[3], event.key ? newTextOrBytes(*event.key) : Py_NewRef(Py_None)) &&
      setStolen(out, keys[4], optionalInt(event.offset)) && setStolen(out, keys[5], optionalInt(event.partition)) &&
      setStolen(out, keys[6], source.get(event.source, [&] { return newTextOrBytes(event.source); })) &&
      setStolen(out, keys[7], subject.get(event.subject, [&] { return newTextOrBytes(event.subject); })) &&
      setStolen(
          out, keys[8],
          time.get(event.time, [&] { return newTextOrBytes(rfc3339(event.time, FractionalSeconds::kMillis)); })) &&
      setStolen(out, keys[9], type.get(event.type, [&] { return newTextOrBytes(event.type); }));
  if (!ok) {
    Py_DECREF(out);
    throw py::error_already_set();
  }
  if (id != nullptr) *id = std::move(idHolder);
  return py::reinterpret_steal<py::object>(out);
}

// What the contexts of one call or batch share, converted once.
struct ContextShared {
  py::object functionName, namespaceName, trigger, attempt, timeLimitMs;

  ContextShared(const HandlerOptions& options, const std::string& triggerName, int attemptNumber)
      : functionName(py::str(options.functionName)),
        namespaceName(py::str(options.namespaceName)),
        trigger(py::str(triggerName)),
        attempt(py::int_(attemptNumber)),
        timeLimitMs(py::int_(static_cast<int64_t>(options.timeout.count()))) {}
};

// An scf context for one call: a copy of the handler's template with this
// call's request id, and the per-call attributes beside the keys.
py::object makeScfContext(const LoadedFunction& loaded, const ContextShared& shared, py::handle requestId,
                          PyObject* deadlineObject) {
  static PyObject* requestIdKey = PyUnicode_InternFromString("request_id");
  static PyObject* deadlineName = PyUnicode_InternFromString("_deadline");
  static PyObject* triggerName = PyUnicode_InternFromString("trigger");
  static PyObject* attemptName = PyUnicode_InternFromString("attempt");
  py::object deadline = py::reinterpret_steal<py::object>(deadlineObject);
  py::object context =
      py::reinterpret_steal<py::object>(PyObject_CallOneArg(loaded.contextType.ptr(), loaded.contextTemplate.ptr()));
  if (!context || PyDict_SetItem(context.ptr(), requestIdKey, requestId.ptr()) != 0 ||
      PyObject_GenericSetAttr(context.ptr(), deadlineName, deadline.ptr()) != 0 ||
      PyObject_GenericSetAttr(context.ptr(), triggerName, shared.trigger.ptr()) != 0 ||
      PyObject_GenericSetAttr(context.ptr(), attemptName, shared.attempt.ptr()) != 0) {
    throw py::error_already_set();
  }
  return context;
}

// The context for one call (bootstrap.Context's per-handler subclass, or an
// scf dict); `requestId` is a str.
py::object makeContext(const LoadedFunction& loaded, const ContextShared& shared, py::handle requestId,
                       std::chrono::steady_clock::time_point deadline) {
  // time.monotonic() reads CLOCK_MONOTONIC, as steady_clock does on Linux.
  PyObject* deadlineObject = PyFloat_FromDouble(std::chrono::duration<double>(deadline.time_since_epoch()).count());
  if (deadlineObject == nullptr) throw py::error_already_set();
  if (!loaded.contextTemplate.is_none()) return makeScfContext(loaded, shared, requestId, deadlineObject);
  auto* type = reinterpret_cast<PyTypeObject*>(loaded.contextType.ptr());
  PyObject* context = type->tp_alloc(type, 0);
  if (context == nullptr) {
    Py_DECREF(deadlineObject);
    throw py::error_already_set();
  }
  PyObject** slots = reinterpret_cast<ContextBaseObject*>(context)->slots;
  slots[kRequestId] = Py_NewRef(requestId.ptr());
  slots[kFunctionName] = Py_NewRef(shared.functionName.ptr());
  slots[kNamespace] = Py_NewRef(shared.namespaceName.ptr());
  slots[kTrigger] = Py_NewRef(shared.trigger.ptr());
  slots[kAttempt] = Py_NewRef(shared.attempt.ptr());
  slots[kTimeLimitMs] = Py_NewRef(shared.timeLimitMs.ptr());
  slots[kDeadline] = deadlineObject;
  return py::reinterpret_steal<py::object>(context);
}

// Calls the handler on one event (already a Python object) whose request id
// is `requestId` (a str; `requestIdText` for log lines); the status and
// records of the call.
void callHandlerOnce(py::module_& bootstrap, const LoadedFunction& loaded, const HandlerOptions& options,
                     const ContextShared& shared, py::handle event, py::handle requestId,
                     const std::string& requestIdText, int attempt, std::chrono::steady_clock::time_point deadline,
                     Status& status, std::vector<Record>& records) {
  try {
    setLogRequestId(requestId.ptr());
    py::object contextObject = makeContext(loaded, shared, requestId, deadline);
    PyObject* args[2] = {event.ptr(), contextObject.ptr()};
    py::object result = py::reinterpret_steal<py::object>(PyObject_Vectorcall(loaded.function.ptr(), args, 2, nullptr));
    if (!result) throw py::error_already_set();
    RecordBuilder builder(bootstrap);
    status = builder.add(result, true, records);
  } catch (py::error_already_set& e) {
    status = internalError(pythonError(e));
    if (e.matches(PyExc_TimeoutError) && timeoutPending()) {
      status = Status(StatusCode::kDeadlineExceeded, pythonError(e));
    }
    try {
      std::string trace = bootstrap.attr("describe")(e.value(), e.trace()).cast<std::string>();
      SLUICE_LOG_WARN("handler {} failed on {} (attempt {}): {}", options.functionName, requestIdText, attempt, trace);
    } catch (py::error_already_set&) {
    }
  } catch (const std::exception& e) {
    status = internalError(std::string("calling the handler: ") + e.what());
  }
  setLogRequestId(gNoRequestId);
}

// The request id as a str: the event's id object when it is one, else
// decoded strictly (an id that is not UTF-8 fails the call, as before).
py::object requestIdObject(const std::string& text, py::object fromEvent = {}) {
  if (fromEvent && PyUnicode_Check(fromEvent.ptr())) return fromEvent;
  return py::str(text);
}

}  // namespace

PythonRuntime::PythonRuntime() : impl_(new Impl) {
  std::promise<Status> ready;
  auto started = ready.get_future();
  impl_->thread = std::thread([this, &ready] { impl_->threadMain(ready); });
  impl_->threadHandle = impl_->thread.native_handle();
  impl_->thread.detach();  // lives until the process exits
  Status status = started.get();
  if (!status.isOk()) {
    SLUICE_LOG_ERROR("{}", status.message());
    gHealthy = false;
  }
  gStarted = true;
}

PythonRuntime& PythonRuntime::instance() {
  static PythonRuntime* runtime = new PythonRuntime();  // never destroyed, see header
  return *runtime;
}

bool PythonRuntime::healthy() const { return gHealthy; }

bool pythonHealthy() { return !gStarted || gHealthy; }

void PythonRuntime::flush() {
  Status ignored = impl_->run(
      [this] {
        try {
          impl_->bootstrap->attr("flush")();
        } catch (py::error_already_set&) {
        }
      },
      hostClock().now() + std::chrono::seconds(5), std::chrono::seconds(1), std::chrono::seconds(5));
  (void)ignored;
}

Result<std::unique_ptr<PythonHandler>> PythonRuntime::load(const LoadOptions& load, HandlerOptions options) {
  std::vector<std::string> dependencyDirs = load.dependencyDirs;
  if (dependencyDirs.empty() && std::filesystem::is_directory(load.codeDir + "/vendor")) {
    dependencyDirs.push_back(load.codeDir + "/vendor");
  }
  struct Outcome {
    Status status;
    int64_t id = 0;
  };
  auto outcome = std::make_shared<Outcome>();
  Impl* impl = impl_;
  const shapes::ShapeOptions& shape = options.shapeOptions;
  // The platform identifiers the contexts report (docs/event-shapes.md).
  const std::string uin = options.compat.uin.empty() ? shapes::kDefaultScfUin : options.compat.uin;
  std::map<std::string, std::string> environment = options.environment;
  for (const auto& [name, value] : load.environment) environment.emplace(name, value);
  auto factoryArgs =
      std::make_tuple(std::string(config::toString(options.eventShape)), options.functionName, options.namespaceName,
                      options.memoryLimitMb, static_cast<int64_t>(options.timeout.count()), shape.region, shape.appId,
                      uin, shape.accountId, environment);
  Status ran = impl_->run(
      [impl, outcome, load, dependencyDirs, factoryArgs] {
        try {
          // First, so the platform's environment variables are there when the module is imported.
          py::tuple context = std::apply(
              [&](const auto&... args) { return py::tuple(impl->bootstrap->attr("context_factory")(args...)); },
              factoryArgs);
          py::object fn = impl->bootstrap->attr("load")(load.codeDir, dependencyDirs, load.handler, load.environment);
          outcome->id = impl->nextFunction++;
          impl->functions[outcome->id] = LoadedFunction{fn, context[0], context[1]};
        } catch (py::error_already_set& e) {
          bool loadError = e.matches(impl->bootstrap->attr("LoadError"));
          std::string message = loadError ? py::str(e.value()).cast<std::string>() : pythonError(e);
          outcome->status = invalidArgument(message);
        }
      },
      hostClock().now() + load.importTimeout, options.stuckGrace, load.importTimeout);
  if (!ran.isOk()) return ran.withContext("loading " + load.handler);
  if (!outcome->status.isOk()) return outcome->status;
  const int concurrency = std::clamp(options.concurrency, 1, 1024);
  impl_->ensureWorkers(concurrency);
  auto slots = std::make_shared<CallSlots>();
  slots->limit = concurrency;
  return std::unique_ptr<PythonHandler>(new PythonHandler(*this, outcome->id, std::move(options), std::move(slots)));
}

// ------------------------------------------------------------------ handler

PythonHandler::~PythonHandler() {
  // The function object may only be released with the GIL: hand it to a worker.
  PythonRuntime::Impl* impl = runtime_.impl_;
  int64_t id = functionId_;
  auto task = std::make_shared<Task>();
  task->id = impl->nextCall++;
  task->body = [impl, id] { impl->functions.erase(id); };
  impl->enqueue(task);
}

Result<std::vector<Record>> PythonHandler::handle(const Event& event, const InvocationContext& context) {
  return runCall({event}, /*asList=*/false, context);
}

// A list trigger's batch is a list even when it holds one event (the last
// record of a partition, a requeued one): the handler is written for lists.
Result<std::vector<Record>> PythonHandler::handleBatch(const std::vector<Event>& events,
                                                       const InvocationContext& context) {
  return runCall(events, /*asList=*/true, context);
}

Result<std::vector<Record>> PythonHandler::runCall(const std::vector<Event>& events, bool asList,
                                                   const InvocationContext& context) {
  if (events.empty()) return std::vector<Record>{};
  auto now = hostClock().now();
  auto deadline = now + options_->timeout;
  if (context.deadline.time_since_epoch().count() != 0 && context.deadline < deadline) deadline = context.deadline;

  struct Call {
    json shaped;
    Status status;
    std::vector<Record> records;
  };
  auto call = std::make_shared<Call>();
  // Name the trigger the events came through, not the first configured one: a
  // function with a cron and an HTTP trigger must be able to tell them apart.
  shapes::ShapeOptions shapeOptions = options_->shapeOptions;
  if (!context.triggerName.empty()) shapeOptions.triggerName = context.triggerName;
  call->shaped = asList ? shapes::shapeBatch(options_->eventShape, events, shapeOptions)
                        : shapes::shapeEvent(options_->eventShape, events.front(), shapeOptions);
  PythonRuntime::Impl* impl = runtime_.impl_;
  int64_t functionId = functionId_;
  std::shared_ptr<const HandlerOptions> options = options_;
  InvocationContext ctx = context;

  Status ran = impl->run(
      [impl, functionId, options, ctx, deadline, call] {
        try {
          ContextShared shared(*options, ctx.triggerName, ctx.attempt);
          py::object event = toPython(call->shaped);
          py::object requestId = requestIdObject(ctx.requestId);
          // A copy: the handler may be released (its entry erased) while this call runs.
          LoadedFunction function = impl->functions.at(functionId);
          callHandlerOnce(*impl->bootstrap, function, *options, shared, event, requestId, ctx.requestId, ctx.attempt,
                          deadline, call->status, call->records);
        } catch (py::error_already_set& e) {
          call->status = internalError(pythonError(e));
        }
      },
      deadline, options_->stuckGrace, options_->timeout, slots_);
  if (!ran.isOk()) return ran;
  if (!call->status.isOk()) return call->status;
  return std::move(call->records);
}

namespace {

// One handleEach batch, shared by the caller and the worker (which may outlive the call).
struct EachCall {
  std::vector<json> shaped;  // empty for the canonical shape: built from `events` on the worker
  const std::vector<Event>* events = nullptr;
  std::mutex access;       // held while the worker reads `events`
  bool abandoned = false;  // guarded by access: the caller returned, `events` may be gone
  std::vector<Status> statuses;
  std::vector<std::vector<Record>> records;
  std::vector<double> seconds;
  std::vector<std::string> ids;
};

// The Python event and request id of batch item i; false when the caller is gone (nothing to run).
// A failure to build them is item i's status.
bool eventObjects(EachCall& call, size_t i, py::object& event, py::object& requestId) {
  try {
    if (!call.shaped.empty()) {
      event = toPython(call.shaped[i]);
      requestId = requestIdObject(call.ids[i]);
      return true;
    }
    // The canonical event, converted while the caller's events exist.
    std::lock_guard lock(call.access);
    if (call.abandoned) return false;
    py::object eventId;
    try {
      event = canonicalToPython((*call.events)[i], &eventId);
    } catch (py::error_already_set& e) {
      call.statuses[i] = internalError("building the event: " + pythonError(e));
    }
    if (event) requestId = requestIdObject(call.ids[i], eventId);
  } catch (py::error_already_set& e) {
    call.statuses[i] = internalError(pythonError(e));
  }
  return true;
}

// The batch's results: each item's records or error; a run that failed as a whole fails every item.
void resultsOf(EachCall& call, const Status& ran, std::chrono::milliseconds timeout, std::vector<EachResult>& results) {
  for (size_t i = 0; i < results.size(); ++i) {
    if (!ran.isOk()) {
      results[i].outputs = ran;
      continue;
    }
    results[i].seconds = call.seconds[i];
    if (call.statuses[i].isOk()) {
      results[i].outputs = std::move(call.records[i]);
    } else if (call.statuses[i].code() == StatusCode::kDeadlineExceeded) {
      results[i].outputs = Status(StatusCode::kDeadlineExceeded,
                                  "handler exceeded its timeout of " + std::to_string(timeout.count()) + "ms");
    } else {
      results[i].outputs = call.statuses[i];
    }
  }
}

}  // namespace

std::vector<EachResult> PythonHandler::handleEach(const std::vector<Event>& events, const InvocationContext& context,
                                                  std::chrono::milliseconds timeout) {
  std::vector<EachResult> results(events.size());
  if (events.empty()) return results;
  if (timeout > options_->timeout) timeout = options_->timeout;
  auto call = std::make_shared<EachCall>();
  shapes::ShapeOptions shapeOptions = options_->shapeOptions;
  if (!context.triggerName.empty()) shapeOptions.triggerName = context.triggerName;
  const bool canonical = options_->eventShape == config::EventShape::kCanonical;
  call->events = &events;
  call->ids.reserve(events.size());
  if (!canonical) call->shaped.reserve(events.size());
  for (const Event& event : events) {
    if (!canonical) call->shaped.push_back(shapes::shapeEvent(options_->eventShape, event, shapeOptions));
    call->ids.push_back(event.id);
  }
  call->statuses.resize(events.size());
  call->records.resize(events.size());
  call->seconds.assign(events.size(), 0.0);

  PythonRuntime::Impl* impl = runtime_.impl_;
  auto task = std::make_shared<Task>();
  task->slots = slots_;
  Task* raw = task.get();
  int64_t functionId = functionId_;
  std::shared_ptr<const HandlerOptions> options = options_;
  std::string trigger = context.triggerName;
  int attempt = context.attempt;
  const ShedCheck* shedding = context.shedding;
  Status ran = impl->runEach(
      [impl, raw, functionId, options, call, trigger, attempt, timeout, shedding] {
        py::module_& bootstrap = *impl->bootstrap;
        const LoadedFunction function = impl->functions.at(functionId);  // a copy, as in handleBatch
        std::optional<ContextShared> shared;
        try {
          shared.emplace(*options, trigger, attempt);
        } catch (py::error_already_set& e) {
          for (Status& status : call->statuses) status = internalError(pythonError(e));
          return;
        }
        for (size_t i = 0; i < call->ids.size(); ++i) {
          if (shedding != nullptr && (*shedding)()) {
            // Under memory pressure: the rest of the batch is redelivered to the next replica.
            for (size_t rest = i; rest < call->ids.size(); ++rest) call->statuses[rest] = shedStatus();
            break;
          }
          auto started = hostClock().now();
          uint64_t id = impl->nextCall++;
          raw->runningDeadline =
              std::chrono::duration_cast<std::chrono::nanoseconds>((started + timeout).time_since_epoch()).count();
          raw->runningCall = id;
          tWorker->currentCall = id;
          py::object event, requestId;
          if (!eventObjects(*call, i, event, requestId)) return;
          if (call->statuses[i].isOk()) {
            callHandlerOnce(bootstrap, function, *options, *shared, event, requestId, call->ids[i], attempt,
                            started + timeout, call->statuses[i], call->records[i]);
          }
          endCall(raw->id);
          raw->runningCall = 0;
          call->seconds[i] = std::chrono::duration<double>(hostClock().now() - started).count();
        }
      },
      task, timeout, options_->stuckGrace);
  {
    // From here on the worker must not read `events` (they belong to our caller).
    std::lock_guard lock(call->access);
    call->abandoned = true;
  }
  resultsOf(*call, ran, timeout, results);
  return results;
}

}  // namespace sluice::runtime::python
