#include "common/logging.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(LoggingTest, AcceptsKnownLevels) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "off"}) {
    EXPECT_TRUE(setLogLevel(level).isOk()) << level;
  }
  ASSERT_TRUE(setLogLevel("info").isOk());
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
}

TEST(LoggingTest, RejectsUnknownLevelNamingIt) {
  Status s = setLogLevel("verbose");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "log level \"verbose\" is not one of trace, debug, info, warn, error, off");
}

}  // namespace
}  // namespace sluice
