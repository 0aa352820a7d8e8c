#include "common/status.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.isOk());
  EXPECT_EQ(s.toString(), "OK");
}

TEST(StatusTest, ContextIsPrefixedToTheMessage) {
  Status s = unavailable("connection refused").withContext("watching pods");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "watching pods: connection refused");
  EXPECT_EQ(s.toString(), "Unavailable: watching pods: connection refused");
}

TEST(StatusTest, OnlyTransientCodesAreRetryable) {
  EXPECT_TRUE(Status(StatusCode::kConflict, "").isRetryable());
  EXPECT_TRUE(Status(StatusCode::kResourceExhausted, "").isRetryable());
  EXPECT_TRUE(unavailable("").isRetryable());
  EXPECT_FALSE(invalidArgument("spec.scaling.minReplicas").isRetryable());
  EXPECT_FALSE(notFound("").isRetryable());
  EXPECT_FALSE(Status(StatusCode::kGone, "").isRetryable());
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> good = 42;
  ASSERT_TRUE(good.isOk());
  EXPECT_EQ(*good, 42);
  EXPECT_TRUE(good.status().isOk());

  Result<int> bad = notFound("configmap default/x");
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bad.status().message(), "configmap default/x");
}

}  // namespace
}  // namespace sluice
