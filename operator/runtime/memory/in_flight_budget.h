// InFlightBudget: how much a replica may hold in memory at once, in events
// and in bytes, and the rules that size it. The delivery loop keeps the
// counts; sources ask it (EventDispatcher::waitForCapacity) before they fetch
// or read more, so a slow handler holds back intake by bytes as well as by
// events, and 1 MB records cannot pile up a thousand times deeper than 1 KB
// ones. Admission is checked before a fetch, so one fetch may overshoot the
// byte limit by at most its own size; a Kafka source therefore reserves part
// of its trigger's budget for that and for librdkafka's prefetch queue
// (kafkaBudgetShares).
// Plain values and pure functions; thread-safe.
#pragma once

#include <cstdint>

#include "runtime/core/event.h"

namespace sluice::runtime {

inline constexpr int64_t kMebibyte = int64_t{1024} * 1024;

struct InFlightBudget {
  int maxEvents = 1024;
  int64_t maxBytes = 0;  // 0: no byte limit

  // True while another fetch may start: below both limits. A single event
  // larger than maxBytes is still admitted when nothing is in flight, so it
  // cannot wedge its source.
  bool admits(int64_t events, int64_t bytes) const;
};

// What an event costs while in flight: its payload, key and headers.
int64_t eventBytes(const Event& event);

// The byte budget of a replica that declares none: a quarter of its memory
// limit (the rest is the interpreter, the handler's own data and the
// outputs), at least 16 MiB and at most 1 GiB. `memoryLimitMebibytes` <= 0
// (unknown) gives 256 MiB.
int64_t defaultInFlightBytes(int64_t memoryLimitMebibytes);

// How a Kafka trigger's budget is spent: librdkafka's prefetch queue (and
// each fetch request) gets an eighth; the delivery loop admits fetches while
// its in-flight bytes are under three quarters, so in flight + one fetch
// round + the prefetch queue stay within the whole budget.
struct KafkaBudgetShares {
  int64_t prefetchBytes = 0;  // queued.max.messages.kbytes * 1024 and fetch.max.bytes
  int64_t deliveryBytes = 0;  // this trigger's share of the delivery loop's byte limit
};
KafkaBudgetShares kafkaBudgetShares(int64_t triggerBudgetBytes);

// The largest body a decompress operator may expand to when it declares no
// maxBytes: a quarter of the memory limit, at least 16 MiB, at most 1 GiB
// (256 MiB when the limit is unknown).
int64_t defaultDecompressBytes(int64_t memoryLimitMebibytes);

}  // namespace sluice::runtime
