// `sluice logs NAME`: the log of every replica pod of a Function (label
// sluice.io/function=NAME, container "runtime"), each line prefixed with its
// pod, optionally only the lines naming a request id (the runtime logs a
// failed event's id with its error). With `follow`, one stream per running
// replica, lines interleaved as they come, and the pods are listed again every
// `rescan`: a replica that starts later (a scale-up, a replacement, a
// restarted container) is followed too, from its first line, until `stop` (the
// process's end on the command line), so a Function at zero is waited for.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "common/status.h"
#include "kube/resource_client.h"
#include "kube/transport.h"

namespace sluice::cli {

struct LogsOptions {
  int tailLines = 100;    // per pod; < 0: all
  std::string requestId;  // only lines containing it; empty: every line
  bool follow = false;
  std::chrono::milliseconds rescan{2000};  // with follow: how often new pods are looked for
  std::stop_token stop;                    // with follow: ends it (default: never)
};

// Calls `onLine("pod-name", line)` (serialised) for the chosen lines. kNotFound when
// the Function has no replica pod (named in the message), unless following; a
// followed pod whose log cannot be read goes to `onError` and the rest go on.
Status functionLogs(kube::ResourceClient& client, kube::Transport& transport, const std::string& ns,
                    const std::string& name, const LogsOptions& options,
                    const std::function<void(const std::string&, const std::string&)>& onLine,
                    const std::function<void(const Status&)>& onError = nullptr);

}  // namespace sluice::cli
