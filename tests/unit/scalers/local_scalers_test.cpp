// Directory object counts (a real temporary directory) and cron windows on a
// fake wall clock, including a time zone and bad schedules.
#include <gtest/gtest.h>

#include <date/date.h>

#include <filesystem>
#include <fstream>

#include "fakes/fake_clock.h"
#include "scalers/cron_scaler.h"
#include "scalers/object_count_scaler.h"

namespace sluice::scalers {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(DirectoryObjectCounterTest, CountsFilesUnderThePrefixUpToTheCap) {
  fs::path dir = fs::temp_directory_path() / ("sluice-dir-count-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "in" / "deep");
  for (const char* name : {"in/a.log", "in/b.log", "in/deep/c.log", "other.log"}) std::ofstream(dir / name) << "x";
  DirectoryObjectCounter recursive(dir.string(), "in/", true);
  EXPECT_EQ(*recursive.count(1000), 3);
  EXPECT_EQ(*recursive.count(2), 2);
  DirectoryObjectCounter flat((dir / "in").string(), "", false);
  EXPECT_EQ(*flat.count(1000), 2);
  DirectoryObjectCounter missing((dir / "nope").string(), "", false);
  EXPECT_EQ(missing.count(10).status().code(), StatusCode::kNotFound);
  fs::remove_all(dir);
}

// A FakeClock whose wall time is the given UTC instant.
testing::FakeClock clockAt(date::sys_seconds utc) {
  return testing::FakeClock(Clock::TimePoint{} + std::chrono::hours(1),
                            std::chrono::time_point_cast<std::chrono::system_clock::duration>(utc));
}

date::sys_seconds utc(int y, unsigned m, unsigned d, int h, int min) {
  return date::sys_days(date::year(y) / m / d) + std::chrono::hours(h) + std::chrono::minutes(min);
}

TEST(CronScheduleTest, MatchesStandardFields) {
  auto every15 = CronSchedule::parse("*/15 8-17 * * 1-5");
  ASSERT_TRUE(every15.isOk());
  auto local = [](int y, unsigned m, unsigned d, int h, int min) {
    return date::local_days(date::year(y) / m / d) + std::chrono::hours(h) + std::chrono::minutes(min);
  };
  EXPECT_TRUE(every15->matches(local(2026, 11, 23, 8, 30)));  // a Monday
  EXPECT_FALSE(every15->matches(local(2026, 11, 23, 8, 31)));
  EXPECT_FALSE(every15->matches(local(2026, 11, 22, 8, 30)));  // Sunday
  EXPECT_EQ(*every15->previous(local(2026, 11, 23, 8, 44)), local(2026, 11, 23, 8, 30));
  EXPECT_EQ(*every15->previous(local(2026, 11, 23, 7, 0)), local(2026, 11, 20, 17, 45));  // Friday

  auto sunday7 = CronSchedule::parse("0 0 * * 7");
  ASSERT_TRUE(sunday7.isOk());
  EXPECT_TRUE(sunday7->matches(local(2026, 11, 22, 0, 0)));
}

TEST(CronScheduleTest, BadSchedulesNameTheField) {
  EXPECT_EQ(CronSchedule::parse("61 * * * *").status().message(),
            "cron schedule \"61 * * * *\": minute: 61 is outside 0..59");
  EXPECT_EQ(CronSchedule::parse("* * * *").status().message(),
            "cron schedule \"* * * *\": expected 5 fields (minute hour day-of-month month day-of-week), got 4");
  EXPECT_EQ(CronSchedule::parse("* x * * *").status().message(),
            "cron schedule \"* x * * *\": hour: \"x\" is not a number");
  EXPECT_EQ(CronSchedule::parse("*/0 * * * *").status().message(),
            "cron schedule \"*/0 * * * *\": minute: step 0 in \"*/0\"");
}

TEST(CronWindowScalerTest, FloorInsideTheWindowInItsTimeZone) {
  // 08:00-18:00 in Shanghai (UTC+8) on weekdays.
  CronWindowOptions options{"0 8 * * 1-5", "0 18 * * 1-5", "Asia/Shanghai", 3};
  testing::FakeClock clock = clockAt(utc(2026, 11, 23, 1, 0));  // 09:00 Monday in Shanghai
  auto scaler = CronWindowScaler::create(options, clock);
  ASSERT_TRUE(scaler.isOk()) << scaler.status().toString();
  ScalerReading open = *(*scaler)->read();
  EXPECT_EQ(open.minReplicas, 3);
  EXPECT_TRUE(open.active);
  clock.advance(9h);  // 18:00 Shanghai: closed
  ScalerReading closed = *(*scaler)->read();
  EXPECT_EQ(closed.minReplicas, 0);
  EXPECT_FALSE(closed.active);
  clock.advance(13h + 59min);  // 07:59 Tuesday Shanghai
  EXPECT_FALSE((*scaler)->isOpen());
  clock.advance(1min);
  EXPECT_TRUE((*scaler)->isOpen());
}

TEST(CronWindowScalerTest, UnknownZoneAndBadReplicasAreRefused) {
  testing::FakeClock clock;
  EXPECT_EQ(CronWindowScaler::create({"0 8 * * *", "0 9 * * *", "Mars/Olympus", 1}, clock).status().message(),
            "cron timezone: unknown time zone \"Mars/Olympus\"");
  EXPECT_EQ(CronWindowScaler::create({"0 8 * * *", "0 9 * * *", "UTC", 0}, clock).status().message(),
            "cron desiredReplicas: 0 must be at least 1");
  EXPECT_EQ(CronWindowScaler::create({"0 25 * * *", "0 9 * * *", "UTC", 1}, clock).status().message(),
            "cron start: cron schedule \"0 25 * * *\": hour: 25 is outside 0..23");
}

}  // namespace
}  // namespace sluice::scalers
