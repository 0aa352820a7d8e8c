// Fuzzes the runtime's function configuration parser (JSON or YAML text, as
// /specialize receives it): any input must give a config or an error, never a
// crash, a leak or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/config/config_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = sluice::runtime::config::parseFunctionConfig(text);
  // An error always says what is wrong.
  if (!parsed.isOk() && parsed.status().message().empty()) __builtin_trap();
  return 0;
}
