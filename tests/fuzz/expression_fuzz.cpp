// Fuzzes the filter/map expression language: the input's first line is the
// expression, the rest a JSON record it is evaluated on (a fixed record when
// that is not JSON). Compiling and evaluating must end in a value or an error.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/expression/expression.h"

namespace {

const nlohmann::json& fallbackRecord() {
  static const nlohmann::json record = nlohmann::json::parse(
      R"({"level": "ERROR", "status": 503, "latency": 1.5, "msg": "disk full", "user": {"name": "Ada", "roles": ["a"]}})");
  return record;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  auto compiled = sluice::runtime::Expression::compile(input.substr(0, newline));
  if (!compiled) return 0;
  nlohmann::json record = fallbackRecord();
  if (newline != std::string::npos) {
    // Records come from JSON payloads; the pipeline parses them the same way (no exceptions).
    auto parsed = nlohmann::json::parse(input.substr(newline + 1), nullptr, false);
    if (!parsed.is_discarded()) record = std::move(parsed);
  }
  (void)compiled->test(record);
  return 0;
}
