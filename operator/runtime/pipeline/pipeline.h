// Pipeline: the built-in operators (filter, map, project, rename, set, mask,
// parse, decompress, route, mirror) chained as a Handler, for functions with
// `runtime: builtin` (docs/pipeline.md).
//
// Records stay raw bytes until an operator needs fields; then the value is
// parsed as JSON once and re-encoded only if an operator changed it. A
// pipeline of only `mirror` copies key, headers, partition and value without
// parsing anything. Errors are per event (kInvalidArgument, naming the
// operator: "pipeline[1] parse: record value is not JSON: ..."), so a bad
// message goes to the dead letter and never stops the stream.
//
// Built once; handle() keeps no state between calls, so one Pipeline may be
// used from many threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "runtime/config/function_config.h"
#include "runtime/core/handler.h"

namespace sluice::runtime::pipeline {

// A record on its way through the operators.
struct Item {
  Record record;
  std::optional<nlohmann::json> object;  // parsed value, when an operator needed fields
  bool changed = false;                  // object differs from record.value
  std::optional<int32_t> sourcePartition;
  std::string sourceTopic;    // the event's subject: its topic, for a Kafka input
  int64_t sourceOffset = -1;  // the event's offset, for a Kafka input
  std::chrono::system_clock::time_point sourceTime{};
};

// The header a mirror with loop prevention stamps with the source cluster's alias.
inline constexpr const char* kMirrorOriginHeader = "sluice-mirror-origin";

// Applies one mirror step to a record read from `sourceTopic`/`sourcePartition`:
// keeps the partition, picks the target topic, stamps or checks the origin.
// False: the record came from the mirror's target cluster and must be skipped.
bool mirrorRecord(const config::MirrorOperatorConfig& config, const std::string& sourceTopic,
                  std::optional<int32_t> sourcePartition, Record& record);

class Operator {
 public:
  virtual ~Operator() = default;
  // Transforms the items in place: may drop, change or add items.
  virtual Status apply(std::vector<Item>& items) const = 0;
  virtual const char* name() const = 0;
};

class Pipeline final : public Handler {
 public:
  // Errors name the operator ("pipeline[2].filter.expression: ...").
  static Result<std::unique_ptr<Pipeline>> build(const std::vector<config::OperatorConfig>& operators);

  Result<std::vector<Record>> handle(const Event& event, const InvocationContext& context) override;

 private:
  explicit Pipeline(std::vector<std::unique_ptr<Operator>> operators, bool mirrorOnly,
                    std::vector<config::MirrorOperatorConfig> mirrors)
      : operators_(std::move(operators)), mirrorOnly_(mirrorOnly), mirrors_(std::move(mirrors)) {}
  std::vector<std::unique_ptr<Operator>> operators_;
  bool mirrorOnly_;
  std::vector<config::MirrorOperatorConfig> mirrors_;  // when mirrorOnly_: the steps, for the copy path
};

Result<std::unique_ptr<Operator>> makeOperator(const config::OperatorConfig& config);

// Splits an archive or compressed blob into its entries (libarchive).
struct ArchiveEntry {
  std::string name;  // "" for a plain gzip stream
  std::string content;
};
Result<std::vector<ArchiveEntry>> decompress(const std::string& data, config::DecompressFormat format,
                                             int64_t maxBytes);

}  // namespace sluice::runtime::pipeline
