#include "common/time.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace sluice {

namespace {

using std::chrono::system_clock;

// "YYYY-MM-DDTHH:MM:SS" of a whole second. Each thread keeps the last second it
// formatted: the runtime stamps many events of one second, and gmtime_r +
// strftime cost more than the rest of a canonical event.
const char* wholeSeconds(std::time_t seconds) {
  thread_local bool cachedAny = false;
  thread_local std::time_t cachedSeconds = 0;
  thread_local char cached[40] = {0};
  if (!cachedAny || seconds != cachedSeconds) {
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &utc);
    cachedSeconds = seconds;
    cachedAny = true;
  }
  return cached;
}

bool digits(const std::string& text, size_t at, size_t count, int& value) {
  if (at + count > text.size()) return false;
  value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::string rfc3339(system_clock::time_point time, FractionalSeconds fraction) {
  const long long micros = std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  const long long below = ((micros % 1000000) + 1000000) % 1000000;  // of the second, floored
  const auto seconds = static_cast<std::time_t>((micros - below) / 1000000);
  std::string out = wholeSeconds(seconds);
  if (fraction == FractionalSeconds::kMillis) {
    char text[8];
    std::snprintf(text, sizeof text, ".%03lld", below / 1000);
    out += text;
  } else if (fraction == FractionalSeconds::kMicros) {
    char text[12];
    std::snprintf(text, sizeof text, ".%06lld", below);
    out += text;
  }
  out += 'Z';
  return out;
}

system_clock::time_point parseRfc3339(const std::string& text) {
  std::tm tm{};
  int year, month, day, hour, minute, second;
  if (!digits(text, 0, 4, year) || text.size() < 19 || text[4] != '-' || !digits(text, 5, 2, month) || text[7] != '-' ||
      !digits(text, 8, 2, day) || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') ||
      !digits(text, 11, 2, hour) || text[13] != ':' || !digits(text, 14, 2, minute) || text[16] != ':' ||
      !digits(text, 17, 2, second) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return {};
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  system_clock::time_point time = system_clock::from_time_t(timegm(&tm));
  size_t at = 19;
  if (at < text.size() && text[at] == '.') {
    long long nanos = 0;
    int places = 0;
    for (++at; at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])); ++at, ++places) {
      if (places < 9) nanos = nanos * 10 + (text[at] - '0');
    }
    if (places == 0) return {};
    for (int p = places; p < 9; ++p) nanos *= 10;
    time += std::chrono::duration_cast<system_clock::duration>(std::chrono::nanoseconds(nanos));
  }
  if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    int offsetHours, offsetMinutes;
    if (at + 6 != text.size() || !digits(text, at + 1, 2, offsetHours) || text[at + 3] != ':' ||
        !digits(text, at + 4, 2, offsetMinutes)) {
      return {};
    }
    const auto offset = std::chrono::hours(offsetHours) + std::chrono::minutes(offsetMinutes);
    // Local time = UTC + offset.
    time += text[at] == '+' ? -offset : offset;
  }
  return time;
}

std::string formatUtc(std::chrono::system_clock::time_point time, const char* format) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  size_t size = std::strftime(text, sizeof(text), format, &utc);
  return std::string(text, size);
}

Result<std::chrono::milliseconds> parseDuration(const std::string& text) {
  auto refuse = [&text] {
    return invalidArgument("must be a duration such as \"500ms\", \"2s\", \"1m\" or \"1m30s\", got \"" + text + "\"");
  };
  if (text.empty()) return refuse();
  double millis = 0;
  size_t at = 0;
  while (at < text.size()) {
    const size_t digits = at;
    while (at < text.size() && (std::isdigit(static_cast<unsigned char>(text[at])) || text[at] == '.')) ++at;
    const std::string number = text.substr(digits, at - digits);
    if (number.empty() || number.front() == '.' || number.back() == '.' || number.find('.') != number.rfind('.')) {
      return refuse();
    }
    const size_t unitStart = at;
    while (at < text.size() && std::isalpha(static_cast<unsigned char>(text[at]))) ++at;
    const std::string unit = text.substr(unitStart, at - unitStart);
    // A bare number (seconds) only alone: "1m30" would be ambiguous.
    if (unit.empty() && (digits != 0 || at != text.size())) return refuse();
    const double amount = std::stod(number);
    if (unit == "ms") {
      millis += amount;
    } else if (unit == "s" || unit.empty()) {
      millis += amount * 1000;
    } else if (unit == "m") {
      millis += amount * 60'000;
    } else if (unit == "h") {
      millis += amount * 3'600'000;
    } else {
      return refuse();
    }
    if (millis > 7.0 * 24 * 3'600'000) return invalidArgument("must be at most 168h, got \"" + text + "\"");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(millis)));
}

}  // namespace sluice
