#include "runtime/control/process_secrets.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/logging.h"

namespace sluice::runtime {

std::string takeEnvironmentSecret(const char* name, char** startEnvironment) {
  const char* current = std::getenv(name);
  std::string value = current ? current : "";
  // unsetenv only drops the pointer from environ; the kernel still shows the
  // start-up bytes in /proc/self/environ. Find each "NAME=" entry there first
  // (environ starts as that very array, and unsetenv shifts it), then zero it.
  const size_t prefix = std::strlen(name);
  std::vector<char*> entries;
  for (char** entry = startEnvironment; entry && *entry; ++entry) {
    if (std::strncmp(*entry, name, prefix) == 0 && (*entry)[prefix] == '=') entries.push_back(*entry);
  }
  ::unsetenv(name);
  for (char* entry : entries) std::memset(entry, 0, std::strlen(entry));
  return value;
}

Result<std::string> takeFileSecret(const std::string& path) {
  std::ifstream in(path);
  if (!in) return invalidArgument("cannot read \"" + path + "\"");
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (::unlink(path.c_str()) != 0) {
    SLUICE_LOG_WARN("could not remove the token file {} after reading it ({}): the handler can read it too", path,
                    std::strerror(errno));
  }
  return token;
}

}  // namespace sluice::runtime
