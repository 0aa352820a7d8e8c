#pragma once

namespace sluice {

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick for port 0), or 0 if the
// kernel refused. Another process may take it before the caller binds, so callers that bind it
// must still handle "address in use".
int freeLoopbackPort();

}  // namespace sluice
