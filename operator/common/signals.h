// The binaries stop on SIGTERM/SIGINT taken by one thread with sigwait().
#pragma once

#include <csignal>

namespace sluice {

// Blocks SIGTERM and SIGINT in the calling thread and returns that set for
// sigwait(). Call it before any other thread starts: threads inherit the mask,
// so no library thread (cpprestsdk's, librdkafka's, Python's) is ever the one
// a stop signal interrupts.
sigset_t blockStopSignals();

}  // namespace sluice
