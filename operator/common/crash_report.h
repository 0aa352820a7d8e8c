// A fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) writes its name and
// a backtrace to stderr before the process dies as it would have. Tests run
// the binaries with their logs captured and no core dumps, so this line is
// often all there is to go on when a crash happens once under load.
#pragma once

namespace sluice {

// Installs the handlers; call once, first thing in main.
void installCrashReport();

}  // namespace sluice
