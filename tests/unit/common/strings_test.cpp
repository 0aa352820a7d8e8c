// join: the one implementation for the operator, the gateway and the runtime.
#include "common/strings.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(JoinTest, PutsTheSeparatorBetweenItemsOnly) {
  EXPECT_EQ(join({}, ", "), "");
  EXPECT_EQ(join({"a"}, ", "), "a");
  EXPECT_EQ(join({"a:9092", "b:9092", "c:9092"}, ","), "a:9092,b:9092,c:9092");
}

TEST(JoinTest, KeepsEmptyItems) {
  // An empty item is still an item: {"", "b"} is not {"b"}.
  EXPECT_EQ(join({"", "b"}, ","), ",b");
  EXPECT_EQ(join({"a", ""}, ", "), "a, ");
}

}  // namespace
}  // namespace sluice
