// Cron windows: a floor of replicas while a schedule window is open.
//
// CronSchedule (common/cron_schedule.h) reads the five standard fields.
// CronWindowScaler is open from the latest `start` firing until the next `end`
// firing, evaluated in `timezone` (IANA name) on the Clock's wall time; while
// open it asks for `desiredReplicas` as a floor and counts as activity.
// Thread-compatible.
#pragma once

#include <bitset>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <date/date.h>

#include "common/clock.h"
#include "common/cron_schedule.h"
#include "scalers/scaler.h"

namespace sluice::scalers {

using sluice::CronSchedule;
using sluice::expandCronMacro;

struct CronWindowOptions {
  std::string start;  // "0 8 * * 1-5"
  std::string end;    // "0 18 * * 1-5"
  std::string timezone = "UTC";
  int desiredReplicas = 1;
};

class CronWindowScaler final : public Scaler {
 public:
  // Validates both schedules and the time zone.
  static Result<std::unique_ptr<CronWindowScaler>> create(CronWindowOptions options, const Clock& clock);
  std::string name() const override { return "cron/" + options_.start + ".." + options_.end; }
  ScalerTarget target() const override { return {autoscaler::MetricTargetType::kAverageValue, 1, 0}; }
  Result<ScalerReading> read() override;
  bool isOpen() const;

 private:
  CronWindowScaler(CronWindowOptions options, CronSchedule start, CronSchedule end, const void* zone,
                   const Clock& clock)
      : options_(std::move(options)), start_(start), end_(end), zone_(zone), clock_(clock) {}
  CronWindowOptions options_;
  CronSchedule start_;
  CronSchedule end_;
  const void* zone_;  // const date::time_zone*, kept opaque so tz.h stays out of this header
  const Clock& clock_;
};

// A cron Trigger's tick (crds: spec.cron): from each firing of `schedule` it
// asks for a floor of max(replicas, 1), because the tick is delivered by a
// replica, so one must run even when the Function idles at zero. The floor
// holds until the firing is settled (delivered, failed terminally or missed:
// the CronFirer's status.lastFireTime reached it), at most for the delivery
// window max(windowSeconds, 60) s, and in any case for windowSeconds. Once it
// ends, the Function's cooldown and scale-down rules apply as to any other
// activity. Without `settledBefore` nothing is known settled and the floor
// holds the whole delivery window. Also accepts @yearly, @annually, @monthly,
// @weekly, @daily, @midnight and @hourly.
struct CronTickOptions {
  std::string schedule;
  std::string timezone = "UTC";
  int replicas = 0;
  int windowSeconds = 0;
  // Every firing before this instant is settled; nullopt when not known (yet).
  std::function<std::optional<std::chrono::system_clock::time_point>()> settledBefore;
};

class CronTickScaler final : public Scaler {
 public:
  static Result<std::unique_ptr<CronTickScaler>> create(CronTickOptions options, const Clock& clock);
  std::string name() const override { return "cron/" + options_.schedule; }
  ScalerTarget target() const override { return {autoscaler::MetricTargetType::kAverageValue, 1, 0}; }
  Result<ScalerReading> read() override;
  bool isOpen() const;

 private:
  CronTickScaler(CronTickOptions options, CronSchedule schedule, const void* zone, const Clock& clock)
      : options_(std::move(options)), schedule_(schedule), zone_(zone), clock_(clock) {}
  CronTickOptions options_;
  CronSchedule schedule_;
  const void* zone_;  // const date::time_zone*
  const Clock& clock_;
};

// The latest firing of a cron Trigger's `schedule` (macros allowed) at or before
// `at`, evaluated in `timezone`; nullopt when none within a year. Errors name
// the field as CronTickScaler::create does.
Result<std::optional<std::chrono::system_clock::time_point>> latestCronFiring(const std::string& schedule,
                                                                              const std::string& timezone,
                                                                              std::chrono::system_clock::time_point at);

}  // namespace sluice::scalers
