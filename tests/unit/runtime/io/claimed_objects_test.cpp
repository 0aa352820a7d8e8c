// ClaimedObjects, the in-flight bookkeeping the directory, S3 and WebHDFS
// sources share: admission under the in-flight limit, and closing, which
// releases what is unfinished exactly once and turns later completions into
// no-ops (the object then belongs to whichever replica claims it next).
#include <gtest/gtest.h>

#include "runtime/sources/claimed_objects.h"

namespace sluice::runtime {
namespace {

TEST(ClaimedObjectsTest, AdmitsUpToTheLimitAndSkipsOwnObjects) {
  ClaimedObjects claimed(2);
  EXPECT_EQ(claimed.admit("a"), ClaimedObjects::Admission::kTake);
  claimed.add("a", "v1");
  EXPECT_EQ(claimed.admit("a"), ClaimedObjects::Admission::kAlreadyOurs);
  claimed.add("b", "v1");
  EXPECT_EQ(claimed.admit("c"), ClaimedObjects::Admission::kFull);
  EXPECT_EQ(claimed.admit("b"), ClaimedObjects::Admission::kAlreadyOurs);
  EXPECT_EQ(claimed.keys(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(claimed.complete("a"));
  EXPECT_EQ(claimed.admit("c"), ClaimedObjects::Admission::kTake);
}

TEST(ClaimedObjectsTest, CloseReleasesTheUnfinishedOnceAndLaterCompletionsDoNothing) {
  ClaimedObjects claimed(0);  // a limit below 1 still admits one object
  EXPECT_EQ(claimed.admit("a"), ClaimedObjects::Admission::kTake);
  claimed.add("a", "v1");
  std::vector<std::string> released;
  auto release = [&](const std::string& key) { released.push_back(key); };
  EXPECT_EQ(claimed.closeAndRelease(release), 1u);
  EXPECT_EQ(released, std::vector<std::string>{"a"});
  EXPECT_FALSE(claimed.complete("a"));
  EXPECT_EQ(claimed.closeAndRelease(release), 0u);
  EXPECT_EQ(released.size(), 1u);
}

}  // namespace
}  // namespace sluice::runtime
