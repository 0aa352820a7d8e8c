// `sluice logs NAME`: the log of every replica pod of a Function (label
// sluice.io/function=NAME, container "runtime"), each line prefixed with its
// pod, optionally only the lines naming a request id (the runtime logs a
// failed event's id with its error). With `follow`, one stream per pod that
// exists at the start, lines interleaved as they come, until every stream
// ends (its pod went away) or the process is stopped.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "kube/resource_client.h"
#include "kube/transport.h"

namespace sluice::cli {

struct LogsOptions {
  int tailLines = 100;    // per pod; < 0: all
  std::string requestId;  // only lines containing it; empty: every line
  bool follow = false;
};

// Calls `onLine("pod-name", line)` (serialised) for the chosen lines. kNotFound when
// the Function has no replica pod (named in the message).
Status functionLogs(kube::ResourceClient& client, kube::Transport& transport, const std::string& ns,
                    const std::string& name, const LogsOptions& options,
                    const std::function<void(const std::string&, const std::string&)>& onLine);

}  // namespace sluice::cli
