// `sluice local DIR`: runs DIR with `sluice-operator --local`. A directory
// whose Functions name a code file (check.h) is run from a copy in which each
// manifest has its code inlined (JSON documents, which are YAML), written
// under `stageRoot`; any other is run in place, so the operator follows edits
// to its manifests as they happen.
#pragma once

#include <string>

#include "common/status.h"

namespace sluice::cli {

// The directory to pass to --local: `dir` itself, or the staged copy.
// Errors are the manifests' own (check.h), one per line, as kInvalidArgument.
Result<std::string> localDirectory(const std::string& dir, const std::string& stageRoot);

}  // namespace sluice::cli
