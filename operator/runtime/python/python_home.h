// The standard library of the image a replica runs in, for spec.protocol
// python (docs/handler-images.md): the runtime, copied into any image, embeds
// libpython 3.11 and needs that image's own Python 3.11 standard library
// (its packages too: the handler imports what the image installed). Pure
// filesystem reads; any thread.
#pragma once

#include <string>

#include "common/status.h"

namespace sluice::runtime::python {

// The Python prefix (PYTHONHOME) under `root` ("" for /) holding
// lib/python3.11/os.py: /usr/local first (the python:3.11 images), then /usr
// (Debian's python3.11). kFailedPrecondition naming what was found otherwise:
// another Python version, or none.
Result<std::string> findImagePythonHome(const std::string& root);

}  // namespace sluice::runtime::python
