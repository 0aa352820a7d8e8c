#include "python_syntax/python_syntax.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <mutex>

#include "common/logging.h"

namespace sluice::python_syntax {
namespace {

// Starts the interpreter once and releases the GIL for check()'s callers.
bool started() {
  static const bool ok = [] {
    if (Py_IsInitialized()) return true;
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;
    config.site_import = 0;
    PyStatus status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
      SLUICE_LOG_WARN(
          "python syntax check: the interpreter did not start ({}); inline code is not compiled "
          "before it runs",
          status.err_msg ? status.err_msg : "unknown");
      return false;
    }
    PyEval_SaveThread();
    return true;
  }();
  return ok;
}

std::string text(PyObject* object) {
  if (!object) return "";
  PyObject* str = PyObject_Str(object);
  const char* utf8 = str ? PyUnicode_AsUTF8(str) : nullptr;
  std::string out = utf8 ? utf8 : "";
  Py_XDECREF(str);
  PyErr_Clear();
  return out;
}

// "SyntaxError: invalid syntax (index.py, line 2)" from the pending exception.
std::string pendingError() {
  PyObject* type = nullptr;
  PyObject* error = nullptr;
  PyObject* traceback = nullptr;
  PyErr_Fetch(&type, &error, &traceback);
  if (!type) return "";
  PyErr_NormalizeException(&type, &error, &traceback);
  std::string out = reinterpret_cast<PyTypeObject*>(type)->tp_name;
  PyObject* msg = error ? PyObject_GetAttrString(error, "msg") : nullptr;
  PyObject* line = error ? PyObject_GetAttrString(error, "lineno") : nullptr;
  PyErr_Clear();
  out += ": " + (msg ? text(msg) : text(error));
  if (line && line != Py_None) out += " (index.py, line " + text(line) + ")";
  Py_XDECREF(msg);
  Py_XDECREF(line);
  Py_XDECREF(type);
  Py_XDECREF(error);
  Py_XDECREF(traceback);
  return out;
}

}  // namespace

std::string check(const std::string& source) {
  if (source.find('\0') != std::string::npos) return "SyntaxError: source code cannot contain null bytes";
  if (!started()) return "";
  PyGILState_STATE gil = PyGILState_Ensure();
  PyObject* code = Py_CompileString(source.c_str(), "index.py", Py_file_input);
  std::string why = code ? "" : pendingError();
  Py_XDECREF(code);
  PyGILState_Release(gil);
  return why;
}

}  // namespace sluice::python_syntax
