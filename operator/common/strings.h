// String helpers with one implementation for the operator, the gateway and
// the runtime. Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// The items with `separator` between them: {"a", "b"}, ", " -> "a, b"; {} -> "".
std::string join(const std::vector<std::string>& items, std::string_view separator);

}  // namespace sluice
