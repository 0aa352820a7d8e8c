// Fuzzes the event shapes (canonical, scf, lambda) that turn a replica's
// Events into what a handler receives. The input's first line is a JSON
// header: {"shape": "canonical|scf|lambda", "msk": bool, "region": ...,
// "events": [{"source", "type", "id", "subject", "key", "headers": [[n, v]],
// "partition", "offset", "timeMs"}]}; the bytes after it, split at NUL
// bytes, are the events' payloads (any bytes, as sources deliver them).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/shapes/event_shapes.h"

namespace {

using nlohmann::json;
using sluice::runtime::Event;

std::string stringOr(const json& object, const char* name, const std::string& fallback = "") {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

Event eventFrom(const json& spec) {
  Event event;
  event.id = stringOr(spec, "id");
  event.source = stringOr(spec, "source", "kafka");
  event.type = stringOr(spec, "type");
  event.subject = stringOr(spec, "subject");
  if (spec.contains("key")) event.key = stringOr(spec, "key");
  if (auto it = spec.find("headers"); it != spec.end() && it->is_array()) {
    for (const json& pair : *it) {
      if (pair.is_array() && pair.size() == 2 && pair[0].is_string() && pair[1].is_string()) {
        event.headers.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
      }
    }
  }
  if (auto it = spec.find("partition"); it != spec.end() && it->is_number_integer()) {
    event.partition = static_cast<std::int32_t>(it->get<std::int64_t>());
  }
  if (auto it = spec.find("offset"); it != spec.end() && it->is_number_integer())
    event.offset = it->get<std::int64_t>();
  if (auto it = spec.find("timeMs"); it != spec.end() && it->is_number_integer()) {
    // Any instant within system_clock's range (nanoseconds: about +-292 years), far past and future included.
    event.time =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(it->get<std::int64_t>() % (1LL << 43)));
  }
  return event;
}

sluice::runtime::shapes::ShapeOptions optionsFrom(const json& header) {
  sluice::runtime::shapes::ShapeOptions options;
  options.triggerName = stringOr(header, "trigger", "logs");
  options.functionName = stringOr(header, "function", "fn");
  options.namespaceName = stringOr(header, "namespace", "default");
  options.bootstrapServers = stringOr(header, "bootstrapServers");
  options.region = stringOr(header, "region", options.region);
  options.mskClusterArn = stringOr(header, "mskClusterArn");
  // The harness's own header: a "msk" that is not a boolean is no input for the shapes (value() would throw).
  if (auto it = header.find("msk"); it != header.end() && it->is_boolean() && it->get<bool>())
    options.lambdaKafka = sluice::runtime::config::LambdaKafkaForm::kMsk;
  return options;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  json header = json::parse(input.substr(0, newline), nullptr, false);
  if (!header.is_object()) return 0;
  std::vector<Event> events;
  if (auto it = header.find("events"); it != header.end() && it->is_array()) {
    for (const json& spec : *it) {
      if (spec.is_object()) events.push_back(eventFrom(spec));
    }
  }
  std::size_t at = newline == std::string::npos ? input.size() : newline + 1;
  for (Event& event : events) {
    if (at > input.size()) break;
    const std::size_t end = std::min(input.find('\0', at), input.size());
    event.data = input.substr(at, end - at);
    at = end + 1;
  }
  const std::string shapeName = stringOr(header, "shape", "canonical");
  using sluice::runtime::config::EventShape;
  const EventShape shape =
      shapeName == "scf" ? EventShape::kScf : (shapeName == "lambda" ? EventShape::kLambda : EventShape::kCanonical);
  const auto options = optionsFrom(header);
  // What the Python host does with the result: serialise it (payload bytes replaced where not UTF-8).
  (void)sluice::runtime::shapes::shapeBatch(shape, events, options)
      .dump(-1, ' ', false, json::error_handler_t::replace);
  for (const Event& event : events) {
    (void)sluice::runtime::shapes::shapeEvent(shape, event, options)
        .dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return 0;
}
