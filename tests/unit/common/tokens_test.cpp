// The token primitives: constant-time comparison, HMAC-SHA256 (RFC 4231
// vectors), the per-namespace invoke token derivation, the key files and the
// ring that follows them, token lists and ids.
#include "common/tokens.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "fakes/fake_clock.h"

namespace sluice {
namespace {

TEST(ConstantTimeEqualsTest, EqualOnlyForTheSameBytes) {
  EXPECT_TRUE(constantTimeEquals("", ""));
  EXPECT_TRUE(constantTimeEquals("s3cret", "s3cret"));
  EXPECT_FALSE(constantTimeEquals("s3cret", "s3creT"));
  EXPECT_FALSE(constantTimeEquals("s3cret", "s3cre")) << "a prefix is not the token";
  EXPECT_FALSE(constantTimeEquals("s3cre", "s3cret"));
  EXPECT_FALSE(constantTimeEquals("", "x"));
  EXPECT_TRUE(constantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3))) << "not a C-string compare";
}

TEST(HmacSha256Test, MatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 1: key 20 x 0x0b, "Hi There".
  EXPECT_EQ(hmacSha256Hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(InvokeTokenTest, OnePerNamespaceAndKeyNoneWithoutAKey) {
  const std::string a = invokeTokenFor("master", "team-a");
  EXPECT_EQ(a, hmacSha256Hex("master", "sluice-invoke:team-a"));
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(invokeTokenFor("master", "team-a"), a) << "derived, so the gateway and the operator agree";
  std::set<std::string> distinct = {a, invokeTokenFor("master", "team-b"), invokeTokenFor("other", "team-a")};
  EXPECT_EQ(distinct.size(), 3u);
  EXPECT_EQ(invokeTokenFor("", "team-a"), "");
}

TEST(InvokeTokenTest, TheListHoldsThePreviousKeysTokenWhileItRollsOut) {
  EXPECT_EQ(invokeTokensFor({"new", ""}, "ns"), invokeTokenFor("new", "ns"));
  EXPECT_EQ(invokeTokensFor({"new", "old"}, "ns"), invokeTokenFor("new", "ns") + "," + invokeTokenFor("old", "ns"));
  EXPECT_EQ(invokeTokensFor({"same", "same"}, "ns"), invokeTokenFor("same", "ns"));
  EXPECT_EQ(invokeTokensFor({}, "ns"), "");
}

TEST(InvokeKeysTest, ReadsKeyAndOptionalPrevious) {
  const auto dir = std::filesystem::temp_directory_path() / ("sluice-keys-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  EXPECT_EQ(readInvokeKeys(dir.string()).status().code(), StatusCode::kNotFound);
  std::ofstream(dir / "key") << "\n";
  EXPECT_EQ(readInvokeKeys(dir.string()).status().message(), "\"" + (dir / "key").string() + "\" is empty");
  std::ofstream(dir / "key") << "k1\n";
  auto keys = readInvokeKeys(dir.string());
  ASSERT_TRUE(keys.isOk());
  EXPECT_EQ(keys->current, "k1");
  EXPECT_EQ(keys->previous, "");
  std::ofstream(dir / "previous") << "k0";
  EXPECT_EQ(readInvokeKeys(dir.string())->previous, "k0");
  std::filesystem::remove_all(dir);
}

TEST(InvokeKeyRingTest, FollowsTheFolderAtMostEveryRecheckAndKeepsTheLastGoodKeys) {
  const auto dir = std::filesystem::temp_directory_path() / ("sluice-ring-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "key") << "k1\n";
  testing::FakeClock clock;
  auto ring = InvokeKeyRing::open(dir.string(), clock, std::chrono::seconds(10));
  ASSERT_TRUE(ring.isOk()) << ring.status().toString();
  const InvokeKeyRing shared = *ring;  // copies share the state
  EXPECT_EQ(ring->keys().current, "k1");
  const uint64_t first = ring->generation();

  // A new key with the old one beside it (the roll-out): seen once the recheck is due.
  std::ofstream(dir / "key") << "k2\n";
  std::ofstream(dir / "previous") << "k1\n";
  clock.advance(std::chrono::seconds(9));
  EXPECT_EQ(ring->keys().current, "k1") << "not read again before the recheck";
  clock.advance(std::chrono::seconds(1));
  EXPECT_EQ(shared.keys().current, "k2");
  EXPECT_EQ(ring->keys().previous, "k1");
  EXPECT_EQ(ring->generation(), first + 1);

  // The folder unreadable for a while (a Secret volume being swapped): the keys stay.
  std::filesystem::remove(dir / "key");
  clock.advance(std::chrono::seconds(10));
  EXPECT_EQ(ring->keys().current, "k2");
  EXPECT_EQ(ring->generation(), first + 1);

  // The previous key dropped.
  std::ofstream(dir / "key") << "k2\n";
  std::filesystem::remove(dir / "previous");
  clock.advance(std::chrono::seconds(10));
  EXPECT_EQ(ring->keys().previous, "");
  EXPECT_EQ(ring->generation(), first + 2);
  std::filesystem::remove_all(dir);

  // generation() reads nothing (the gateway asks it per request): a due
  // change shows only once refresh() (the gateway's tick) or keys() ran.
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "key") << "k3\n";
  clock.advance(std::chrono::seconds(10));
  EXPECT_EQ(ring->generation(), first + 2);
  ring->refresh();
  EXPECT_EQ(ring->generation(), first + 3);
  EXPECT_EQ(ring->keys().current, "k3");
  std::filesystem::remove_all(dir);

  const InvokeKeyRing fixed("a", "b");
  EXPECT_EQ(fixed.keys().current, "a");
  EXPECT_EQ(fixed.keys().previous, "b");
  EXPECT_EQ(InvokeKeyRing::open((dir / "missing").string()).status().code(), StatusCode::kNotFound);
}

TEST(TokenListTest, SplitsOnCommasDroppingEmptyItems) {
  EXPECT_EQ(splitTokenList("a,b"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(splitTokenList(",a,,b,"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(splitTokenList("").empty());
  EXPECT_EQ(splitTokenList("only"), (std::vector<std::string>{"only"}));
}

TEST(TokenIdTest, SixteenHexDigitsThatNameButDoNotTell) {
  const std::string id = tokenId("a-secret-token");
  EXPECT_EQ(id, hmacSha256Hex("sluice token id", "a-secret-token").substr(0, 16));
  EXPECT_EQ(id.size(), 16u);
  EXPECT_NE(tokenId("another"), id);
}

}  // namespace
}  // namespace sluice
