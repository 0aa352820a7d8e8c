// Compiles Python source with an embedded CPython, without running it, so
// the validator (api::v1alpha1::setPythonSyntaxCheck) refuses inline handler
// code that the replica could never load, at `kubectl apply` and in `sluice
// check`, instead of a replica crash-looping on a SyntaxError. The interpreter
// starts on the first call (isolated: no site, no environment, no signal
// handlers); if it cannot start (no standard library installed), every source
// passes and a warning is logged once, as the replica will still report it.
// Thread-safe: calls take the GIL in turn.
#pragma once

#include <string>

namespace sluice::python_syntax {

// "" when `source` compiles as the module index.py, else e.g.
// "SyntaxError: invalid syntax (index.py, line 2)".
std::string check(const std::string& source);

}  // namespace sluice::python_syntax
