// RFC 3339: formatting with and without fractional seconds, parsing with fractions and zones.
#include "common/time.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using std::chrono::system_clock;
using namespace std::chrono_literals;

system_clock::time_point at(std::chrono::system_clock::duration sinceEpoch) {
  return system_clock::time_point(sinceEpoch);
}

// 2026-11-23T22:48:48Z
constexpr std::chrono::seconds kSample{1795474128};

TEST(Rfc3339Test, FormatsWholeSecondsMillisAndMicros) {
  EXPECT_EQ(rfc3339(at(kSample)), "2026-11-23T22:48:48Z");
  EXPECT_EQ(rfc3339(at(kSample + 123456us)), "2026-11-23T22:48:48Z");
  EXPECT_EQ(rfc3339(at(kSample + 123456us), FractionalSeconds::kMillis), "2026-11-23T22:48:48.123Z");
  EXPECT_EQ(rfc3339(at(kSample + 123456us), FractionalSeconds::kMicros), "2026-11-23T22:48:48.123456Z");
  EXPECT_EQ(rfc3339(at(kSample + 7ms), FractionalSeconds::kMillis), "2026-11-23T22:48:48.007Z");
  EXPECT_EQ(rfc3339(at(0s), FractionalSeconds::kMicros), "1970-01-01T00:00:00.000000Z");
}

TEST(Rfc3339Test, TimesBeforeTheEpochCountFromTheSecondBelow) {
  EXPECT_EQ(rfc3339(at(-1ms), FractionalSeconds::kMillis), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(rfc3339(at(-1ms)), "1969-12-31T23:59:59Z");
}

TEST(Rfc3339Test, ParsesWholeSecondsAndFractions) {
  EXPECT_EQ(parseRfc3339("2026-11-23T22:48:48Z"), at(kSample));
  EXPECT_EQ(parseRfc3339("2026-11-23T22:48:48.5Z"), at(kSample + 500ms));
  EXPECT_EQ(parseRfc3339("2026-11-23T22:48:48.123456Z"), at(kSample + 123456us));
  EXPECT_EQ(parseRfc3339("2026-11-23T22:48:48"), at(kSample)) << "no zone reads as UTC";
}

TEST(Rfc3339Test, ParsesZoneOffsets) {
  EXPECT_EQ(parseRfc3339("2026-11-24T00:48:48+02:00"), at(kSample));
  EXPECT_EQ(parseRfc3339("2026-11-23T17:18:48.25-05:30"), at(kSample + 250ms));
}

TEST(Rfc3339Test, RoundTrips) {
  const auto t = at(kSample + 654321us);
  EXPECT_EQ(parseRfc3339(rfc3339(t, FractionalSeconds::kMicros)), t);
  EXPECT_EQ(parseRfc3339(rfc3339(t)), at(kSample));
}

TEST(Rfc3339Test, WhatIsNotATimestampIsTheEpoch) {
  EXPECT_EQ(parseRfc3339(""), system_clock::time_point{});
  EXPECT_EQ(parseRfc3339("yesterday"), system_clock::time_point{});
  EXPECT_EQ(parseRfc3339("2026-13-23T22:48:48Z"), system_clock::time_point{});
  EXPECT_EQ(parseRfc3339("2026-11-23T22:48:48.Z"), system_clock::time_point{});
  EXPECT_EQ(parseRfc3339("2026-11-23T22:48:48+0200"), system_clock::time_point{});
}

TEST(FormatUtcTest, FormatsInUtcWithTheCLocale) {
  auto time = std::chrono::system_clock::time_point(std::chrono::seconds(1'428'582'896));
  EXPECT_EQ(formatUtc(time, "%d/%b/%Y:%H:%M:%S +0000"), "09/Apr/2015:12:34:56 +0000");
  EXPECT_EQ(formatUtc(time, "%Y%m%dT%H%M%SZ"), "20150409T123456Z");
}

TEST(FromEpochTest, ConvertsWhatTheClockHolds) {
  EXPECT_EQ(fromEpoch<std::chrono::milliseconds>(1'428'582'896'123),
            system_clock::time_point(std::chrono::milliseconds(1'428'582'896'123)));
  EXPECT_EQ(fromEpoch<std::chrono::seconds>(-1), system_clock::time_point(std::chrono::seconds(-1)));
  EXPECT_EQ(fromEpoch<std::chrono::milliseconds>(0), system_clock::time_point{});
  // 9,223,372,036,854 ms is the last whole millisecond a nanosecond clock holds (2262-04-11).
  EXPECT_TRUE(fromEpoch<std::chrono::milliseconds>(9'223'372'036'854).has_value());
}

TEST(FromEpochTest, WhatTheClockCannotHoldIsNullopt) {
  EXPECT_FALSE(fromEpoch<std::chrono::milliseconds>(9'223'372'036'855).has_value());
  EXPECT_FALSE(fromEpoch<std::chrono::milliseconds>(INT64_MAX).has_value());
  EXPECT_FALSE(fromEpoch<std::chrono::milliseconds>(INT64_MIN).has_value());
  EXPECT_FALSE(fromEpoch<std::chrono::seconds>(-9'300'000'000).has_value());
  // An AMQP timestamp is unsigned: one past INT64_MAX arrives as a negative count.
  EXPECT_FALSE(fromEpoch<std::chrono::seconds>(static_cast<int64_t>(uint64_t{1} << 63)).has_value());
}

// The CRDs' pattern allows compound durations ("1m30s"); the runtime reads each the same way.
TEST(DurationTest, SingleAndCompoundDurationsAndTheirRefusals) {
  EXPECT_EQ(*parseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*parseDuration("2s"), std::chrono::milliseconds(2000));
  EXPECT_EQ(*parseDuration("1.5m"), std::chrono::milliseconds(90'000));
  EXPECT_EQ(*parseDuration("3"), std::chrono::milliseconds(3000));
  EXPECT_EQ(*parseDuration("1h"), std::chrono::milliseconds(3'600'000));
  EXPECT_EQ(*parseDuration("1m30s"), std::chrono::milliseconds(90'000));
  EXPECT_EQ(*parseDuration("1h2m3.5s"), std::chrono::milliseconds(3'723'500));
  EXPECT_EQ(*parseDuration("1s500ms"), std::chrono::milliseconds(1500));
  for (const char* bad : {"", "-1s", "1x", "1m30", "s", ".5s", "1.s", "1..2s", "1.2.3s", "ms"}) {
    EXPECT_EQ(parseDuration(bad).status().message(),
              std::string("must be a duration such as \"500ms\", \"2s\", \"1m\" or \"1m30s\", got \"") + bad + "\"")
        << bad;
  }
  EXPECT_EQ(parseDuration("1000h").status().message(), "must be at most 168h, got \"1000h\"");
  EXPECT_EQ(parseDuration("100h100h").status().message(), "must be at most 168h, got \"100h100h\"");
}

}  // namespace
}  // namespace sluice
