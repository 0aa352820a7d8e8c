// Random tokens: the length asked for, hex only, and not the same twice.
#include "common/random.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(RandomHexTokenTest, IsTwoHexDigitsPerByteAndFresh) {
  auto a = randomHexToken(32);
  auto b = randomHexToken(32);
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  ASSERT_TRUE(b.isOk()) << b.status().toString();
  EXPECT_EQ(a->size(), 64u);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(randomHexToken(0).value(), "");
}

}  // namespace
}  // namespace sluice
