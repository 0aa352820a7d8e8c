#include "common/cron_schedule.h"

#include <date/tz.h>

#include <sstream>
#include <vector>

namespace sluice {

namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

Result<int> number(const std::string& text, const std::string& field) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    return invalidArgument(field + ": \"" + text + "\" is not a number");
  }
  // No field goes past 59; longer digit strings would overflow std::stoi.
  if (text.size() > 4) return invalidArgument(field + ": " + text + " is too large");
  return std::stoi(text);
}

// Fills `bits` for one field; `low..high` is its range.
template <size_t N>
Status parseField(const std::string& text, const std::string& field, int low, int high, std::bitset<N>& bits,
                  bool& restricted) {
  restricted = text != "*";
  for (const std::string& item : split(text, ',')) {
    std::string range = item;
    int step = 1;
    if (size_t slash = item.find('/'); slash != std::string::npos) {
      range = item.substr(0, slash);
      Result<int> s = number(item.substr(slash + 1), field);
      if (!s.isOk()) return s.status();
      if (*s == 0) return invalidArgument(field + ": step 0 in \"" + item + "\"");
      step = *s;
    }
    int from = low;
    int to = high;
    if (range != "*") {
      size_t dash = range.find('-');
      Result<int> a = number(range.substr(0, dash), field);
      if (!a.isOk()) return a.status();
      from = to = *a;
      if (dash != std::string::npos) {
        Result<int> b = number(range.substr(dash + 1), field);
        if (!b.isOk()) return b.status();
        to = *b;
      } else if (item.find('/') != std::string::npos) {
        to = high;  // "5/15" means from 5 on, every 15
      }
    }
    if (from < low || to > high || from > to) {
      return invalidArgument(field + ": " + range + " is outside " + std::to_string(low) + ".." + std::to_string(high));
    }
    for (int v = from; v <= to; v += step) bits.set(static_cast<size_t>(v % static_cast<int>(N)));
  }
  return Status::ok();
}

}  // namespace

Result<CronSchedule> CronSchedule::parse(const std::string& expression) {
  std::vector<std::string> fields;
  std::istringstream in(expression);
  for (std::string f; in >> f;) fields.push_back(f);
  const std::string context = "cron schedule \"" + expression + "\"";
  if (fields.size() != 5) {
    return invalidArgument(context + ": expected 5 fields (minute hour day-of-month month day-of-week), got " +
                           std::to_string(fields.size()));
  }
  CronSchedule s;
  bool ignored = false;
  Status status = parseField(fields[0], "minute", 0, 59, s.minutes_, ignored);
  if (status.isOk()) status = parseField(fields[1], "hour", 0, 23, s.hours_, ignored);
  if (status.isOk()) status = parseField(fields[2], "day-of-month", 1, 31, s.daysOfMonth_, s.dayOfMonthRestricted_);
  if (status.isOk()) status = parseField(fields[3], "month", 1, 12, s.months_, ignored);
  // 7 folds onto 0 (Sunday) through the modulo in parseField.
  if (status.isOk()) status = parseField(fields[4], "day-of-week", 0, 7, s.daysOfWeek_, s.dayOfWeekRestricted_);
  if (!status.isOk()) return status.withContext(context);
  return s;
}

bool CronSchedule::dayMatches(date::year_month_day day) const {
  if (!months_.test(static_cast<unsigned>(day.month()))) return false;
  bool dom = daysOfMonth_.test(static_cast<unsigned>(day.day()));
  bool dow = daysOfWeek_.test(date::weekday(date::sys_days(day)).c_encoding());
  if (dayOfMonthRestricted_ && dayOfWeekRestricted_) return dom || dow;
  return dom && dow;
}

bool CronSchedule::matches(date::local_seconds minute) const {
  auto day = date::floor<date::days>(minute);
  date::hh_mm_ss<std::chrono::seconds> time(minute - day);
  return dayMatches(date::year_month_day(date::sys_days(day.time_since_epoch()))) &&
         hours_.test(static_cast<size_t>(time.hours().count())) &&
         minutes_.test(static_cast<size_t>(time.minutes().count()));
}

std::optional<date::local_seconds> CronSchedule::previous(date::local_seconds at) const {
  auto today = date::floor<date::days>(at);
  date::hh_mm_ss<std::chrono::seconds> now(at - today);
  for (int back = 0; back <= 366; ++back) {
    auto day = today - date::days(back);
    if (!dayMatches(date::year_month_day(date::sys_days(day.time_since_epoch())))) continue;
    int hourFrom = back == 0 ? static_cast<int>(now.hours().count()) : 23;
    for (int h = hourFrom; h >= 0; --h) {
      if (!hours_.test(static_cast<size_t>(h))) continue;
      int minuteFrom = back == 0 && h == hourFrom ? static_cast<int>(now.minutes().count()) : 59;
      for (int m = minuteFrom; m >= 0; --m) {
        if (minutes_.test(static_cast<size_t>(m))) return day + std::chrono::hours(h) + std::chrono::minutes(m);
      }
    }
  }
  return std::nullopt;
}

std::string expandCronMacro(const std::string& expression) {
  static const std::pair<const char*, const char*> kMacros[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
      {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"}};
  for (const auto& [macro, fields] : kMacros) {
    if (expression == macro) return fields;
  }
  return expression;
}

Status checkTimeZone(const std::string& name) {
  try {
    (void)date::locate_zone(name);
  } catch (const std::exception&) {
    return invalidArgument("unknown time zone \"" + name + "\"");
  }
  return Status::ok();
}

}  // namespace sluice
