// Secrets the runtime receives at start (the control and invoke tokens) and
// must keep from the handler, which runs in this very process: read once,
// then removed from every place a handler looks without special effort —
// os.environ (built from environ when Python starts), /proc/self/environ (the
// kernel shows the bytes the process started with, so those are zeroed),
// child processes (they inherit environ), and the token file (unlinked).
// A handler that reads this process's memory can still find them: the pod is
// the sandbox, the embedded interpreter is not (SECURITY.md).
// Call at the top of main(), before any thread or the interpreter starts.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::runtime {

// The value of environment variable `name` ("" when unset), which is then
// unset and whose original "NAME=value" bytes are overwritten with zeros.
// `startEnvironment` is main()'s third argument (the block the kernel shows in
// /proc/self/environ), read before anything called setenv.
std::string takeEnvironmentSecret(const char* name, char** startEnvironment);

// The contents of `path`, trailing whitespace trimmed; the file is then
// unlinked (a warning names it when that fails, e.g. a read-only Secret
// volume: such a file stays readable by the handler).
Result<std::string> takeFileSecret(const std::string& path);

}  // namespace sluice::runtime
