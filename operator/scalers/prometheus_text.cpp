#include "scalers/prometheus_text.h"

#include <functional>
#include <sstream>

namespace sluice::scalers {

namespace {

// Where the labels starting at `open` ('{') end: one past their '}', skipping
// quoted values; npos when they never close.
size_t afterLabels(const std::string& line, size_t open) {
  bool quoted = false;
  for (size_t i = open + 1; i < line.size(); ++i) {
    if (quoted && line[i] == '\\') {
      ++i;
    } else if (line[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && line[i] == '}') {
      return i + 1;
    }
  }
  return std::string::npos;
}

// Calls `sample(labelled, value)` for each line of series `name` (value empty
// when it does not parse) until it returns false.
void forEachSample(const std::string& text, const std::string& name,
                   const std::function<bool(bool labelled, std::optional<double> value)>& sample) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#' || line.compare(0, name.size(), name) != 0) continue;
    if (line.size() <= name.size() || (line[name.size()] != ' ' && line[name.size()] != '{')) continue;
    const bool labelled = line[name.size()] == '{';
    const size_t at = labelled ? afterLabels(line, name.size()) : name.size();
    std::optional<double> value;
    if (at != std::string::npos) {
      try {
        value = std::stod(line.substr(at));
      } catch (const std::exception&) {
        value.reset();
      }
    }
    if (!sample(labelled, value)) return;
  }
}

}  // namespace

std::optional<double> findPrometheusSample(const std::string& text, const std::string& name) {
  std::optional<double> found;
  forEachSample(text, name, [&found](bool labelled, std::optional<double> value) {
    if (labelled) return true;
    found = value;
    return false;
  });
  return found;
}

std::optional<double> sumPrometheusSamples(const std::string& text, const std::string& name) {
  std::optional<double> sum;
  forEachSample(text, name, [&sum](bool, std::optional<double> value) {
    if (value) sum = sum.value_or(0) + *value;
    return true;
  });
  return sum;
}

}  // namespace sluice::scalers
