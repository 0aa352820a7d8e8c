// makeHandler: the Handler a FunctionConfig asks for — the embedded Python
// host for `runtime: python3.11`, the built-in operator pipeline for
// `runtime: builtin`, an HTTP server beside the runtime for `runtime: http`. Called once per (re)specialisation;
// thread-safe.
#pragma once

#include <memory>

#include "common/status.h"
#include "runtime/config/function_config.h"
#include "runtime/core/handler.h"

namespace sluice::runtime {

// Errors are kInvalidArgument naming the problem (import error, bad pipeline).
// `triggerName`/`bootstrapServers` feed the SCF/Lambda event shapes; they come
// from the function's first trigger when empty.
Result<std::unique_ptr<Handler>> makeHandler(const config::FunctionConfig& config);

// Starts the embedded interpreter (once per process), which the first Python
// handler would otherwise start. A warm replica calls it before it reports
// ready, so /specialize only imports the handler: measured on the real node,
// the interpreter's start was most of an adoption (see BENCHMARKS.md).
void prepareHandlers();

// spec.protocol python (the runtime copied into another image; the pod sets
// SLUICE_PYTHON_FROM_IMAGE=1): points the embedded interpreter at the image's
// Python 3.11 standard library (PYTHONHOME) before it starts, or says why it
// cannot (kFailedPrecondition: another version, or none). OK and nothing done
// without the variable, or with PYTHONHOME already set.
Status usePythonOfImage();

// For /healthz: false once an embedded interpreter is stuck (docs/python-handlers.md).
bool handlersHealthy();

}  // namespace sluice::runtime
