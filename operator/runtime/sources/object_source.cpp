#include "runtime/sources/object_source.h"

#include "common/logging.h"

namespace sluice::runtime {

ObjectSource::ObjectSource(const std::string& kind, std::string unit, std::string triggerName, Clock& clock,
                           std::chrono::milliseconds pollInterval, std::chrono::milliseconds claimTtl)
    : clock_(clock),
      unit_(std::move(unit)),
      triggerName_(std::move(triggerName)),
      where_(kind + " trigger \"" + triggerName_ + "\""),
      pollInterval_(pollInterval),
      loop_(clock, pollInterval, claimTtl / 3) {}

void ObjectSource::startScanning(EventDispatcher& dispatcher, const std::string& watched) {
  dispatcher_ = &dispatcher;
  loop_.start([this] { scan(); }, [this] { maintainClaims(); });
  SLUICE_LOG_INFO("{}: watching {} every {} ms", where_, watched, pollInterval_.count());
}

Status ObjectSource::finish(Clock::TimePoint) {
  loop_.stop();
  size_t released = releaseInFlight();
  if (released > 0) SLUICE_LOG_INFO("{}: released {} unfinished {}(s) for other replicas", where_, released, unit_);
  return Status::ok();
}

}  // namespace sluice::runtime
