// Logging: the one way Sluice writes logs (spdlog underneath).
//
// Call SLUICE_LOG_INFO("reconciled {}", key) etc. Levels come from
// --log-level / SLUICE_LOG_LEVEL; output is one line per record on stderr,
// either human-readable or JSON (for log collectors). Thread-safe.
#pragma once

#include <string>

#include <spdlog/spdlog.h>

#include "common/status.h"

namespace sluice {

enum class LogFormat { kText, kJson };

// Parses "trace|debug|info|warn|error|off"; the error names the bad value.
Status setLogLevel(const std::string& level);
void setLogFormat(LogFormat format);

}  // namespace sluice

#define SLUICE_LOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define SLUICE_LOG_DEBUG(...) SPDLOG_DEBUG(__VA_ARGS__)
#define SLUICE_LOG_INFO(...) SPDLOG_INFO(__VA_ARGS__)
#define SLUICE_LOG_WARN(...) SPDLOG_WARN(__VA_ARGS__)
#define SLUICE_LOG_ERROR(...) SPDLOG_ERROR(__VA_ARGS__)
