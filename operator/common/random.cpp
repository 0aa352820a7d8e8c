#include "common/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "common/encoding.h"

namespace sluice {

Result<std::string> randomHexToken(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t filled = 0;
  while (filled < bytes) {
    ssize_t n = ::getrandom(raw.data() + filled, bytes - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return internalError(std::string("no randomness for a token: getrandom: ") + std::strerror(errno));
    }
    filled += static_cast<size_t>(n);
  }
  return hexEncode(raw);
}

}  // namespace sluice
