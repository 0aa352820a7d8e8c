// Label and field selectors as the apiserver parses and matches them, for the
// in-memory ResourceClient: labels (=, ==, !=, in, notin, key, !key) and
// fields (=, ==, != on any dotted path, a missing field comparing as "").
// Errors are the apiserver's 400 BadRequest. Thread-safe (pure functions).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "kube/resource_client.h"

namespace sluice::kube {

struct SelectorRequirement {
  enum Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kNotExists } op;
  std::string key;
  std::vector<std::string> values;
};
using Selector = std::vector<SelectorRequirement>;

Result<Selector> parseLabelSelector(const std::string& selector);
Result<Selector> parseFieldSelector(const std::string& selector);
// True when `object` satisfies every requirement of both.
bool matches(const Selector& labels, const Selector& fields, const Json& object);

}  // namespace sluice::kube
