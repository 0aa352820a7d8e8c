#include "common/crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <initializer_list>

namespace sluice {
namespace {

// Only async-signal-safe calls here (so no strsignal): write(2), backtrace_symbols_fd (glibc's
// writes straight to the fd; backtrace() itself is primed in install below so
// its first call does not load libgcc inside the handler).
const char* signalName(int signo) {
  switch (signo) {
    case SIGSEGV: return "Segmentation fault";
    case SIGBUS: return "Bus error";
    case SIGFPE: return "Floating point exception";
    case SIGILL: return "Illegal instruction";
    case SIGABRT: return "Aborted";
    default: return "unexpected signal";
  }
}

void onFatalSignal(int signo) {
  const char* name = signalName(signo);
  const char prefix[] = "\nfatal signal: ";
  (void)!write(STDERR_FILENO, prefix, sizeof(prefix) - 1);
  (void)!write(STDERR_FILENO, name, strlen(name));
  (void)!write(STDERR_FILENO, "; backtrace:\n", 13);
  void* frames[64];
  int count = backtrace(frames, 64);
  backtrace_symbols_fd(frames, count, STDERR_FILENO);
  // SA_RESETHAND restored the default action: re-raise to die as the signal says.
  raise(signo);
}

}  // namespace

void installCrashReport() {
  void* warmup[1];
  backtrace(warmup, 1);
  struct sigaction action {};
  action.sa_handler = onFatalSignal;
  action.sa_flags = SA_RESETHAND | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (int signo : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(signo, &action, nullptr);
}

}  // namespace sluice
