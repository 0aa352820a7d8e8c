#include "scalers/cron_scaler.h"

#include <date/tz.h>

#include <algorithm>

namespace sluice::scalers {

Result<std::unique_ptr<CronWindowScaler>> CronWindowScaler::create(CronWindowOptions options, const Clock& clock) {
  Result<CronSchedule> start = CronSchedule::parse(options.start);
  if (!start.isOk()) return start.status().withContext("cron start");
  Result<CronSchedule> end = CronSchedule::parse(options.end);
  if (!end.isOk()) return end.status().withContext("cron end");
  if (options.desiredReplicas < 1) {
    return invalidArgument("cron desiredReplicas: " + std::to_string(options.desiredReplicas) + " must be at least 1");
  }
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(options.timezone);
  } catch (const std::exception& e) {
    return invalidArgument("cron timezone: unknown time zone \"" + options.timezone + "\"");
  }
  return std::unique_ptr<CronWindowScaler>(new CronWindowScaler(std::move(options), *start, *end, zone, clock));
}

bool CronWindowScaler::isOpen() const {
  auto zone = static_cast<const date::time_zone*>(zone_);
  auto wall = date::floor<std::chrono::seconds>(clock_.wallNow());
  date::local_seconds local = zone->to_local(wall);
  std::optional<date::local_seconds> started = start_.previous(local);
  if (!started) return false;
  std::optional<date::local_seconds> ended = end_.previous(local);
  return !ended || *started > *ended;
}

Result<ScalerReading> CronWindowScaler::read() {
  ScalerReading reading;
  if (isOpen()) {
    reading.value = options_.desiredReplicas;
    reading.minReplicas = options_.desiredReplicas;
    reading.active = true;
  }
  return reading;
}

Result<std::unique_ptr<CronTickScaler>> CronTickScaler::create(CronTickOptions options, const Clock& clock) {
  Result<CronSchedule> schedule = CronSchedule::parse(expandCronMacro(options.schedule));
  if (!schedule.isOk()) return schedule.status().withContext("cron schedule");
  if (options.replicas < 0) {
    return invalidArgument("cron replicas: " + std::to_string(options.replicas) + " is negative");
  }
  if (options.windowSeconds < 0) {
    return invalidArgument("cron windowSeconds: " + std::to_string(options.windowSeconds) + " is negative");
  }
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(options.timezone);
  } catch (const std::exception&) {
    return invalidArgument("cron timezone: unknown time zone \"" + options.timezone + "\"");
  }
  return std::unique_ptr<CronTickScaler>(new CronTickScaler(std::move(options), *schedule, zone, clock));
}

bool CronTickScaler::isOpen() const {
  auto zone = static_cast<const date::time_zone*>(zone_);
  auto wall = date::floor<std::chrono::seconds>(clock_.wallNow());
  date::local_seconds local = zone->to_local(wall);
  std::optional<date::local_seconds> fired = schedule_.previous(local);
  if (!fired) return false;
  const auto age = local - *fired;
  // An explicit window is a floor the user asked for, delivered or not.
  if (age < std::chrono::seconds(options_.windowSeconds)) return true;
  // The CronFirer tries to deliver a firing for its whole minute (or a longer
  // window); until it has settled the firing, a replica must be there to take it.
  if (age >= std::chrono::seconds(std::max(options_.windowSeconds, 60))) return false;
  if (!options_.settledBefore) return true;
  std::optional<std::chrono::system_clock::time_point> settled = options_.settledBefore();
  return !settled || zone->to_sys(*fired, date::choose::earliest) >= *settled;
}

Result<ScalerReading> CronTickScaler::read() {
  ScalerReading reading;
  if (isOpen()) {
    const int floor = std::max(options_.replicas, 1);
    reading.value = floor;
    reading.minReplicas = floor;
    reading.active = true;
  }
  return reading;
}

Result<std::optional<std::chrono::system_clock::time_point>> latestCronFiring(
    const std::string& schedule, const std::string& timezone, std::chrono::system_clock::time_point at) {
  Result<CronSchedule> parsed = CronSchedule::parse(expandCronMacro(schedule));
  if (!parsed.isOk()) return parsed.status().withContext("cron schedule");
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(timezone);
  } catch (const std::exception&) {
    return invalidArgument("cron timezone: unknown time zone \"" + timezone + "\"");
  }
  std::optional<date::local_seconds> fired = parsed->previous(zone->to_local(date::floor<std::chrono::seconds>(at)));
  if (!fired) return std::optional<std::chrono::system_clock::time_point>();
  // A firing inside a daylight-saving gap or overlap: the earlier instant, as cron daemons do.
  return std::optional<std::chrono::system_clock::time_point>(zone->to_sys(*fired, date::choose::earliest));
}

}  // namespace sluice::scalers
