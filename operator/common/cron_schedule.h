// CronSchedule: the five standard cron fields (minute hour day-of-month
// month day-of-week; `*`, lists, ranges, steps; day-of-week 0 or 7 is Sunday;
// when both day fields are restricted either may match, as cron does). Here,
// below both, so the cron scalers that fire Triggers and the API's validator
// that refuses a bad schedule (crd_validator, the admission webhook) read a
// schedule with one parser. Immutable; thread-safe.
#pragma once

#include <bitset>
#include <optional>
#include <string>

#include <date/date.h>

#include "common/status.h"

namespace sluice {

class CronSchedule {
 public:
  // Errors name the field: "cron schedule \"61 * * * *\": minute: 61 is outside 0..59".
  static Result<CronSchedule> parse(const std::string& expression);

  bool matches(date::local_seconds minute) const;
  // The latest matching minute at or before `at`, looking back at most 366 days.
  std::optional<date::local_seconds> previous(date::local_seconds at) const;

 private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> daysOfMonth_;
  std::bitset<13> months_;
  std::bitset<7> daysOfWeek_;
  bool dayOfMonthRestricted_ = false;
  bool dayOfWeekRestricted_ = false;
  bool dayMatches(date::year_month_day day) const;
};

// "@daily" -> "0 0 * * *"; other text is returned unchanged.
std::string expandCronMacro(const std::string& expression);

// OK when `name` is an IANA time zone of the tz database ("Europe/Paris", "UTC"); else
// kInvalidArgument "unknown time zone \"NAME\"".
Status checkTimeZone(const std::string& name);

}  // namespace sluice
