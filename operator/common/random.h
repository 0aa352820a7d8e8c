// Secrets made of random bytes (bearer tokens), read from the kernel's CSPRNG
// (getrandom(2)) and checked: a failure is an error, never a weak token. Any thread.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace sluice {

// `bytes` random bytes as 2 * `bytes` lower-case hex digits.
Result<std::string> randomHexToken(size_t bytes);

}  // namespace sluice
