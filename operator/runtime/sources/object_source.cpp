#include "runtime/sources/object_source.h"

#include <unistd.h>

#include "common/logging.h"
#include "runtime/shapes/event_shapes.h"

namespace sluice::runtime {

ObjectSource::ObjectSource(const std::string& kind, std::string unit, std::string triggerName, Clock& clock,
                           std::chrono::milliseconds pollInterval, std::chrono::milliseconds claimTtl)
    : clock_(clock),
      kind_(kind),
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

void ObjectSource::maintainClaims() {
  refreshClaims();
  if (fetching()) sweepAbandonedClaims();
}

Event ObjectSource::objectEvent(const std::string& where, const std::string& version, const std::string& bucket,
                                const std::string& key, std::chrono::system_clock::time_point time,
                                std::string data) const {
  Event event;
  event.id = where + "@" + version;
  event.source = kind_;
  event.type = "object.created";
  event.subject = where;
  event.time = time;
  event.key = key;
  event.headers = {{shapes::kObjectBucketHeader, bucket},
                   {shapes::kObjectKeyHeader, key},
                   {shapes::kObjectSizeHeader, std::to_string(data.size())},
                   {shapes::kObjectEtagHeader, version}};
  event.data = std::move(data);
  return event;
}

std::string ObjectSource::defaultOwner() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return std::string(host) + "-" + std::to_string(getpid());
}

Status ObjectSource::finish(Clock::TimePoint) {
  loop_.stop();
  size_t released = releaseInFlight();
  if (released > 0) SLUICE_LOG_INFO("{}: released {} unfinished {}(s) for other replicas", where_, released, unit_);
  return Status::ok();
}

}  // namespace sluice::runtime
