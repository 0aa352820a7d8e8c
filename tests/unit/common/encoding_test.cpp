// base64, percent-encoding and hex: the one implementation each.
#include "common/encoding.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(Base64Test, EncodesWithPadding) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64Encode(std::string("\x00\xff\xfe", 3)), "AP/+");
}

TEST(Base64Test, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(base64Decode("aGVsbG8=").value(), "hello");
  EXPECT_EQ(base64Decode("aGk=").value(), "hi");
  EXPECT_EQ(base64Decode("aGV5").value(), "hey");
  EXPECT_EQ(base64Decode("aG\nV5").value(), "hey");
  EXPECT_EQ(base64Decode("").value(), "");
  EXPECT_FALSE(base64Decode("a=bc").isOk());
}

TEST(Base64Test, RejectsWhatIsNotBase64AndSaysWhy) {
  EXPECT_EQ(base64Decode("aGk").status().message(), "invalid base64: length is not a multiple of 4");
  EXPECT_EQ(base64Decode("aG@=").status().message(), "invalid base64: unexpected character '@'");
  EXPECT_EQ(base64Decode("aG==aGk=").status().message(), "invalid base64: unexpected character '='");
  EXPECT_EQ(base64Decode("a===").status().message(), "invalid base64: unexpected character '='");
}

TEST(Base64Test, RoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (size_t n = 0; n <= 5; ++n)
    EXPECT_EQ(base64Decode(base64Encode(all.substr(0, all.size() - n))).value(), all.substr(0, all.size() - n));
}

TEST(PercentEncodeTest, KeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(percentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(percentEncode(":/?#[]@!$&'()*+,;= %"), "%3A%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%20%25");
  EXPECT_EQ(percentEncode("app=web,tier in (a)"), "app%3Dweb%2Ctier%20in%20%28a%29");
}

TEST(PercentEncodeTest, EncodesUtf8ByteByByteInUpperCaseHex) {
  EXPECT_EQ(percentEncode("h\xc3\xa9"), "h%C3%A9");
  EXPECT_EQ(percentEncode("\xf0\x9f\x98\x80"), "%F0%9F%98%80");
  EXPECT_EQ(percentEncode(std::string("\x00\x7f", 2)), "%00%7F");
}

TEST(PercentEncodeTest, PathsKeepSlashesAndFormsTurnSpacesIntoPlus) {
  EXPECT_EQ(percentEncode("a b/c", {.keepSlash = true}), "a%20b/c");
  EXPECT_EQ(percentEncode("a b/c+d", {.keepSlash = true, .spaceAsPlus = true}), "a+b/c%2Bd");
  EXPECT_EQ(percentEncode("a/b"), "a%2Fb");
}

TEST(HexEncodeTest, TwoLowerCaseDigitsPerByte) {
  EXPECT_EQ(hexEncode(""), "");
  EXPECT_EQ(hexEncode(std::string("\x00\x0f\xab\xff", 4)), "000fabff");
}

}  // namespace
}  // namespace sluice
