#include "runtime/sources/kafka_crash_marks.h"

#include <algorithm>
#include <charconv>

namespace sluice::runtime {

namespace {

constexpr std::string_view kPrefix = "sluice/1 limit=";
constexpr std::string_view kInflight = " inflight=";
constexpr int64_t kMinWindow = 100;
constexpr int64_t kMaxWindow = 20000;

template <typename Number>
bool parseNumber(std::string_view text, Number& value) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && value >= 0;
}

}  // namespace

std::string formatCrashMark(const CrashMark& mark) {
  std::string text(kPrefix);
  text += std::to_string(mark.limit);
  if (mark.inflight >= 0) {
    text += kInflight;
    text += std::to_string(mark.inflight);
  }
  return text;
}

std::optional<CrashMark> parseCrashMark(const std::string& metadata) {
  std::string_view text(metadata);
  if (!text.starts_with(kPrefix)) return std::nullopt;
  text.remove_prefix(kPrefix.size());
  CrashMark mark;
  std::string_view limit = text.substr(0, text.find(' '));
  if (!parseNumber(limit, mark.limit)) return std::nullopt;
  text.remove_prefix(limit.size());
  if (text.empty()) return mark;
  if (!text.starts_with(kInflight) || !parseNumber(text.substr(kInflight.size()), mark.inflight)) return std::nullopt;
  return mark;
}

Probation probationAfter(int64_t committedOffset, const std::string& metadata) {
  Probation probation;
  auto mark = parseCrashMark(metadata);
  if (committedOffset < 0 || !mark) return probation;
  if (mark->inflight >= 0) {
    // One member handles one marked record at a time: its death is that record's.
    probation.end = committedOffset + 1;
    probation.suspect = committedOffset;
    probation.suspectExits = mark->inflight + 1;
    return probation;
  }
  probation.end = mark->limit;
  return probation;
}

int64_t dispatchWindow(size_t dispatchedLastInterval, int maxBatch) {
  const int64_t floor = std::max<int64_t>(kMinWindow, 2 * static_cast<int64_t>(maxBatch));
  return std::clamp<int64_t>(4 * static_cast<int64_t>(dispatchedLastInterval), floor, std::max(floor, kMaxWindow));
}

}  // namespace sluice::runtime
