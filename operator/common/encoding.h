// Byte encodings, one implementation each for the operator and the runtime:
// base64 (RFC 4648, standard alphabet, padded), percent-encoding (RFC 3986)
// and lower-case hex; and UTF-8 validation. Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

std::string base64Encode(std::string_view bytes);
// Skips line breaks and blanks (Kubernetes and PEM data wrap); errors name what is wrong.
Result<std::string> base64Decode(std::string_view text);

struct PercentEncoding {
  bool keepSlash = false;    // a path: '/' stays
  bool spaceAsPlus = false;  // application/x-www-form-urlencoded: ' ' becomes '+'
};
// Every byte but RFC 3986's unreserved (A-Z a-z 0-9 - . _ ~) becomes %XX
// (upper-case hex), so a UTF-8 character becomes one %XX per byte.
std::string percentEncode(std::string_view text, PercentEncoding how = {});

// Two lower-case hex digits per byte.
std::string hexEncode(std::string_view bytes);

// The offset of the first byte of `text` that does not start a valid UTF-8
// sequence (overlong forms, surrogates and values past U+10FFFF included), or
// std::string_view::npos when all of it is UTF-8.
size_t invalidUtf8At(std::string_view text);

}  // namespace sluice
