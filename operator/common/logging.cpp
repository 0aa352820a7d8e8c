#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace sluice {

Status setLogLevel(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  // from_str maps unknown names to "off"; only accept "off" when asked for it.
  if (parsed == spdlog::level::off && level != "off") {
    return invalidArgument("log level \"" + level + "\" is not one of trace, debug, info, warn, error, off");
  }
  spdlog::set_level(parsed);
  return Status::ok();
}

void setLogFormat(LogFormat format) {
  if (format == LogFormat::kJson) {
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","thread":%t,"msg":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%t] %v");
  }
}

}  // namespace sluice
