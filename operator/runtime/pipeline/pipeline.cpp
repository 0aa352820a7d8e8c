#include "runtime/pipeline/pipeline.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cstdio>

#include <re2/re2.h>

#include "common/memory_limit.h"
#include "runtime/expression/expression.h"
#include "runtime/memory/in_flight_budget.h"

namespace sluice::runtime::pipeline {
namespace {

using nlohmann::json;
using namespace config;

// Library messages may quote the payload's bytes; keep error text printable
// ASCII so it is safe in logs and dead-letter headers.
std::string printable(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "<%02X>", c);
      out += hex;
    }
  }
  return out;
}

// The record's fields, parsing its value on first use.
Result<json*> fieldsOf(Item& item) {
  if (!item.object) {
    json parsed = json::parse(item.record.value, nullptr, false);
    if (parsed.is_discarded()) {
      // Say where it broke: nlohmann's exception text names the byte.
      try {
        json again = json::parse(item.record.value);
        (void)again;
      } catch (const json::parse_error& e) {
        return invalidArgument("record value is not JSON: " + printable(e.what()));
      }
      return invalidArgument("record value is not JSON");
    }
    item.object = std::move(parsed);
  }
  if (!item.object->is_object()) {
    return invalidArgument(std::string("record value is a JSON ") + item.object->type_name() + ", not an object");
  }
  return &*item.object;
}

// Back to bytes before an operator that works on the raw value.
void flatten(Item& item) {
  if (item.object && item.changed)
    item.record.value = item.object->dump(-1, ' ', false, json::error_handler_t::replace);
  item.object.reset();
  item.changed = false;
}

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

Status setField(json& object, const std::string& path, json value) {
  auto parts = splitPath(path);
  json* cursor = &object;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    json& next = (*cursor)[parts[i]];
    if (next.is_null()) next = json::object();
    if (!next.is_object()) return invalidArgument("cannot set " + path + ": " + parts[i] + " is not an object");
    cursor = &next;
  }
  (*cursor)[parts.back()] = std::move(value);
  return Status::ok();
}

std::optional<json> removeField(json& object, const std::string& path) {
  auto parts = splitPath(path);
  json* cursor = &object;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto it = cursor->find(parts[i]);
    if (it == cursor->end() || !it->is_object()) return std::nullopt;
    cursor = &*it;
  }
  auto it = cursor->find(parts.back());
  if (it == cursor->end()) return std::nullopt;
  json value = std::move(*it);
  cursor->erase(it);
  return value;
}

// Runs `fn` on each item's fields.
template <typename Fn>
Status forEachObject(std::vector<Item>& items, Fn fn) {
  for (auto& item : items) {
    auto fields = fieldsOf(item);
    if (!fields) return fields.status();
    if (Status s = fn(item, **fields); !s.isOk()) return s;
  }
  return Status::ok();
}

class FilterOperator final : public Operator {
 public:
  explicit FilterOperator(Expression expression) : expression_(std::move(expression)) {}
  const char* name() const override { return "filter"; }
  Status apply(std::vector<Item>& items) const override {
    std::vector<Item> kept;
    for (auto& item : items) {
      auto fields = fieldsOf(item);
      if (!fields) return fields.status();
      auto keep = expression_.test(**fields);
      if (!keep) return keep.status().withContext("expression");
      if (*keep) kept.push_back(std::move(item));
    }
    items = std::move(kept);
    return Status::ok();
  }

 private:
  Expression expression_;
};

class MapOperator final : public Operator {
 public:
  explicit MapOperator(std::vector<std::pair<std::string, Expression>> fields) : fields_(std::move(fields)) {}
  const char* name() const override { return "map"; }
  Status apply(std::vector<Item>& items) const override {
    return forEachObject(items, [&](Item& item, json& object) -> Status {
      for (const auto& [target, expression] : fields_) {
        auto value = expression.evaluate(object);
        if (!value) return value.status().withContext(target);
        if (Status s = setField(object, target, std::move(*value)); !s.isOk()) return s;
      }
      item.changed = true;
      return Status::ok();
    });
  }

 private:
  std::vector<std::pair<std::string, Expression>> fields_;
};

class ProjectOperator final : public Operator {
 public:
  explicit ProjectOperator(std::vector<std::string> fields) : fields_(std::move(fields)) {}
  const char* name() const override { return "project"; }
  Status apply(std::vector<Item>& items) const override {
    return forEachObject(items, [&](Item& item, json& object) -> Status {
      json kept = json::object();
      for (const auto& field : fields_) {
        if (const json* value = findField(object, field)) {
          if (Status s = setField(kept, field, *value); !s.isOk()) return s;
        }
      }
      object = std::move(kept);
      item.changed = true;
      return Status::ok();
    });
  }

 private:
  std::vector<std::string> fields_;
};

class RenameOperator final : public Operator {
 public:
  explicit RenameOperator(std::vector<std::pair<std::string, std::string>> fields) : fields_(std::move(fields)) {}
  const char* name() const override { return "rename"; }
  Status apply(std::vector<Item>& items) const override {
    return forEachObject(items, [&](Item& item, json& object) -> Status {
      for (const auto& [from, to] : fields_) {
        if (auto value = removeField(object, from)) {
          if (Status s = setField(object, to, std::move(*value)); !s.isOk()) return s;
          item.changed = true;
        }
      }
      return Status::ok();
    });
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

class SetOperator final : public Operator {
 public:
  explicit SetOperator(std::vector<std::pair<std::string, json>> fields) : fields_(std::move(fields)) {}
  const char* name() const override { return "set"; }
  Status apply(std::vector<Item>& items) const override {
    return forEachObject(items, [&](Item& item, json& object) -> Status {
      for (const auto& [field, value] : fields_) {
        if (Status s = setField(object, field, value); !s.isOk()) return s;
      }
      item.changed = true;
      return Status::ok();
    });
  }

 private:
  std::vector<std::pair<std::string, json>> fields_;
};

class MaskOperator final : public Operator {
 public:
  explicit MaskOperator(const MaskOperatorConfig& config)
      : field_(config.field), regex_(config.pattern, RE2::Quiet), replacement_(config.replacement) {}
  const char* name() const override { return "mask"; }
  Status apply(std::vector<Item>& items) const override {
    if (field_.empty()) {
      for (auto& item : items) {
        flatten(item);
        RE2::GlobalReplace(&item.record.value, regex_, replacement_);
      }
      return Status::ok();
    }
    return forEachObject(items, [&](Item& item, json& object) -> Status {
      json* value = const_cast<json*>(findField(object, field_));
      if (value == nullptr || !value->is_string()) return Status::ok();  // nothing to mask
      std::string text = value->get<std::string>();
      if (RE2::GlobalReplace(&text, regex_, replacement_) > 0) {
        *value = std::move(text);
        item.changed = true;
      }
      return Status::ok();
    });
  }

 private:
  std::string field_;
  RE2 regex_;
  std::string replacement_;
};

class ParseOperator final : public Operator {
 public:
  explicit ParseOperator(const ParseOperatorConfig& config)
      : config_(config), regex_(config.pattern.empty() ? "x" : config.pattern, RE2::Quiet) {}
  const char* name() const override { return "parse"; }
  Status apply(std::vector<Item>& items) const override {
    for (auto& item : items) {
      std::string text;
      if (config_.field.empty()) {
        flatten(item);
        text = item.record.value;
      } else {
        auto fields = fieldsOf(item);
        if (!fields) return fields.status();
        const json* value = findField(**fields, config_.field);
        if (value == nullptr) return invalidArgument("field " + config_.field + " is missing");
        if (!value->is_string()) {
          return invalidArgument("field " + config_.field + " is a " + value->type_name() + ", not a string");
        }
        text = value->get<std::string>();
      }
      auto parsed = parseText(text);
      if (!parsed) return parsed.status();
      if (config_.field.empty() && config_.target.empty()) {
        item.object = std::move(*parsed);
      } else if (config_.target.empty()) {
        if (!parsed->is_object()) return invalidArgument("parsed value is not an object, so it cannot be merged");
        for (auto& [key, value] : parsed->items()) (*item.object)[key] = std::move(value);
      } else {
        if (!item.object) item.object = json::object();
        if (!item.object->is_object()) return invalidArgument("record value is not a JSON object");
        if (Status s = setField(*item.object, config_.target, std::move(*parsed)); !s.isOk()) return s;
      }
      item.changed = true;
    }
    return Status::ok();
  }

 private:
  Result<json> parseText(const std::string& text) const {
    switch (config_.format) {
      case ParseFormat::kJson: {
        try {
          return json::parse(text);
        } catch (const json::parse_error& e) {
          return invalidArgument("not JSON: " + printable(e.what()));
        }
      }
      case ParseFormat::kRegex: {
        int groups = regex_.NumberOfCapturingGroups();
        std::vector<re2::StringPiece> matches(static_cast<size_t>(groups) + 1);
        if (!regex_.Match(text, 0, text.size(), RE2::UNANCHORED, matches.data(), groups + 1)) {
          return invalidArgument("does not match pattern " + config_.pattern);
        }
        json out = json::object();
        for (const auto& [groupName, index] : regex_.NamedCapturingGroups()) {
          const auto& match = matches[static_cast<size_t>(index)];
          out[groupName] = match.data() == nullptr ? json(nullptr) : json(std::string(match.data(), match.size()));
        }
        return out;
      }
      case ParseFormat::kKeyValue: return parseKeyValue(text);
    }
    return invalidArgument("unknown format");
  }

  // key=value pairs; a value may be double-quoted to hold the pair separator.
  Result<json> parseKeyValue(const std::string& text) const {
    json out = json::object();
    const std::string& pairSep = config_.pairSeparator;
    const std::string& kvSep = config_.keyValueSeparator;
    size_t i = 0;
    while (i < text.size()) {
      if (text.compare(i, pairSep.size(), pairSep) == 0) {
        i += pairSep.size();
        continue;
      }
      size_t sep = text.find(kvSep, i);
      size_t nextPair = text.find(pairSep, i);
      if (sep == std::string::npos || (nextPair != std::string::npos && nextPair < sep)) {
        i = nextPair == std::string::npos ? text.size() : nextPair;  // a token without '=': skipped
        continue;
      }
      std::string key = text.substr(i, sep - i);
      i = sep + kvSep.size();
      std::string value;
      if (i < text.size() && text[i] == '"') {
        size_t close = text.find('"', i + 1);
        if (close == std::string::npos) return invalidArgument("unterminated quote in value of " + key);
        value = text.substr(i + 1, close - i - 1);
        i = close + 1;
      } else {
        size_t end = text.find(pairSep, i);
        value = text.substr(i, end == std::string::npos ? std::string::npos : end - i);
        i = end == std::string::npos ? text.size() : end;
      }
      out[key] = value;
    }
    return out;
  }

  ParseOperatorConfig config_;
  RE2 regex_;
};

class DecompressOperator final : public Operator {
 public:
  // No maxBytes: a quarter of the replica's memory, so one archive cannot take all of it.
  explicit DecompressOperator(const DecompressOperatorConfig& config)
      : config_(config),
        maxBytes_(config.maxBytes > 0 ? config.maxBytes : defaultDecompressBytes(memoryLimitMebibytes())) {}
  const char* name() const override { return "decompress"; }
  Status apply(std::vector<Item>& items) const override {
    std::vector<Item> out;
    for (auto& item : items) {
      flatten(item);
      auto entries = decompress(item.record.value, config_.format, maxBytes_);
      if (!entries) {
        // Name the object (its key) so the dead letter says which upload was refused.
        if (!item.record.key) return entries.status();
        return entries.status().withContext("object \"" + *item.record.key + "\"");
      }
      for (auto& entry : *entries) {
        auto emit = [&](std::string content) {
          Item next;
          next.record.key = item.record.key;
          next.record.headers = item.record.headers;
          if (!entry.name.empty()) next.record.headers.emplace_back("sluice.archive.entry", entry.name);
          next.record.sink = item.record.sink;
          next.record.value = std::move(content);
          next.sourcePartition = item.sourcePartition;
          out.push_back(std::move(next));
        };
        if (!config_.splitLines) {
          emit(std::move(entry.content));
          continue;
        }
        const std::string& content = entry.content;
        size_t start = 0;
        while (start < content.size()) {
          size_t end = content.find('\n', start);
          size_t stop = end == std::string::npos ? content.size() : end;
          size_t length = stop - start;
          if (length > 0 && content[start + length - 1] == '\r') --length;
          if (length > 0) emit(content.substr(start, length));  // blank lines carry no record
          start = stop + 1;
        }
      }
    }
    items = std::move(out);
    return Status::ok();
  }

 private:
  DecompressOperatorConfig config_;
  int64_t maxBytes_;
};

class RouteOperator final : public Operator {
 public:
  explicit RouteOperator(const RouteOperatorConfig& config) : config_(config) {}
  const char* name() const override { return "route"; }
  Status apply(std::vector<Item>& items) const override {
    std::vector<Item> kept;
    for (auto& item : items) {
      auto fields = fieldsOf(item);
      if (!fields) return fields.status();
      const json* value = findField(**fields, config_.field);
      std::string text;
      if (value != nullptr) text = value->is_string() ? value->get<std::string>() : value->dump();
      const std::string* output = nullptr;
      if (value != nullptr) {
        for (const auto& [match, name] : config_.routes) {
          if (match == text) output = &name;
        }
      }
      if (output == nullptr && !config_.defaultOutput.empty()) output = &config_.defaultOutput;
      if (output == nullptr) continue;  // unrouted and no default: dropped on purpose
      item.record.sink = *output;
      kept.push_back(std::move(item));
    }
    items = std::move(kept);
    return Status::ok();
  }

 private:
  RouteOperatorConfig config_;
};

class MirrorOperator final : public Operator {
 public:
  explicit MirrorOperator(MirrorOperatorConfig config) : config_(std::move(config)) {}
  const char* name() const override { return "mirror"; }
  Status apply(std::vector<Item>& items) const override {
    std::erase_if(items, [this](Item& item) {
      if (!mirrorRecord(config_, item.sourceTopic, item.sourcePartition, item.record)) return true;
      item.record.sourceOffset = item.sourceOffset;
      item.record.sourceTime = item.sourceTime;
      return false;
    });
    return Status::ok();
  }

 private:
  MirrorOperatorConfig config_;
};

// libarchive reading from memory, entry by entry.
class ArchiveReader {
 public:
  ArchiveReader() : archive_(archive_read_new()) {}
  ~ArchiveReader() { archive_read_free(archive_); }
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;
  archive* get() { return archive_; }
  std::string error() {
    const char* text = archive_error_string(archive_);
    return text == nullptr ? "unknown libarchive error" : text;
  }

 private:
  archive* archive_;
};

}  // namespace

Result<std::vector<ArchiveEntry>> decompress(const std::string& data, DecompressFormat format, int64_t maxBytes) {
  ArchiveReader reader;
  archive* a = reader.get();
  archive_read_support_filter_all(a);
  bool raw = false;
  switch (format) {
    case DecompressFormat::kAuto:
      archive_read_support_format_zip(a);
      archive_read_support_format_tar(a);
      archive_read_support_format_raw(a);  // a plain compressed stream, or no compression at all
      break;
    case DecompressFormat::kGzip:
      archive_read_support_format_raw(a);
      raw = true;
      break;
    case DecompressFormat::kZip: archive_read_support_format_zip(a); break;
    case DecompressFormat::kTar: archive_read_support_format_tar(a); break;
  }
  if (archive_read_open_memory(a, data.data(), data.size()) != ARCHIVE_OK) {
    return invalidArgument("cannot open archive: " + reader.error());
  }
  std::vector<ArchiveEntry> entries;
  int64_t total = 0;
  archive_entry* entry = nullptr;
  while (true) {
    int rc = archive_read_next_header(a, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) return invalidArgument("cannot read archive: " + reader.error());
    if (raw && archive_filter_code(a, 0) != ARCHIVE_FILTER_GZIP) {
      return invalidArgument("not gzip data");
    }
    bool plainStream = archive_format(a) == ARCHIVE_FORMAT_RAW;
    if (!plainStream && archive_entry_filetype(entry) != AE_IFREG) continue;  // directories, links
    ArchiveEntry out;
    if (!plainStream) out.name = archive_entry_pathname(entry) == nullptr ? "" : archive_entry_pathname(entry);
    char buffer[64 * 1024];
    while (true) {
      la_ssize_t n = archive_read_data(a, buffer, sizeof buffer);
      if (n < 0)
        return invalidArgument("cannot decompress " + (out.name.empty() ? "data" : out.name) + ": " + reader.error());
      if (n == 0) break;
      total += n;
      if (total > maxBytes) {
        return invalidArgument("decompressed size exceeds the limit of " + std::to_string(maxBytes) +
                               " bytes (decompress.maxBytes; default: a quarter of the memory limit)");
      }
      out.content.append(buffer, static_cast<size_t>(n));
    }
    entries.push_back(std::move(out));
  }
  return entries;
}

bool mirrorRecord(const MirrorOperatorConfig& config, const std::string& sourceTopic,
                  std::optional<int32_t> sourcePartition, Record& record) {
  if (!config.targetAlias.empty()) {
    auto origin = std::find_if(record.headers.begin(), record.headers.end(),
                               [](const auto& header) { return header.first == kMirrorOriginHeader; });
    if (origin != record.headers.end() && origin->second == config.targetAlias) return false;
    // A record first written elsewhere keeps its first origin, so a chain A -> B -> A stops at A.
    if (origin == record.headers.end()) record.headers.emplace_back(kMirrorOriginHeader, config.sourceAlias);
  }
  record.partition = sourcePartition;
  switch (config.rename) {
    case MirrorRename::kOutput: break;
    case MirrorRename::kIdentity: record.topic = sourceTopic; break;
    case MirrorRename::kPrefix: record.topic = config.prefix + sourceTopic; break;
  }
  return true;
}

Result<std::unique_ptr<Operator>> makeOperator(const OperatorConfig& config) {
  return std::visit(
      [](const auto& op) -> Result<std::unique_ptr<Operator>> {
        using T = std::decay_t<decltype(op)>;
        if constexpr (std::is_same_v<T, FilterOperatorConfig>) {
          auto expression = Expression::compile(op.expression);
          if (!expression) return expression.status().withContext("filter.expression");
          return std::unique_ptr<Operator>(new FilterOperator(std::move(*expression)));
        } else if constexpr (std::is_same_v<T, MapOperatorConfig>) {
          std::vector<std::pair<std::string, Expression>> fields;
          for (const auto& [target, text] : op.fields) {
            auto expression = Expression::compile(text);
            if (!expression) return expression.status().withContext("map.fields." + target);
            fields.emplace_back(target, std::move(*expression));
          }
          return std::unique_ptr<Operator>(new MapOperator(std::move(fields)));
        } else if constexpr (std::is_same_v<T, ProjectOperatorConfig>) {
          return std::unique_ptr<Operator>(new ProjectOperator(op.fields));
        } else if constexpr (std::is_same_v<T, RenameOperatorConfig>) {
          return std::unique_ptr<Operator>(new RenameOperator(op.fields));
        } else if constexpr (std::is_same_v<T, SetOperatorConfig>) {
          return std::unique_ptr<Operator>(new SetOperator(op.fields));
        } else if constexpr (std::is_same_v<T, MaskOperatorConfig>) {
          if (auto problem = checkRegex(op.pattern); !problem.empty())
            return invalidArgument("mask.pattern: " + problem);
          return std::unique_ptr<Operator>(new MaskOperator(op));
        } else if constexpr (std::is_same_v<T, ParseOperatorConfig>) {
          if (op.format == ParseFormat::kRegex) {
            if (auto problem = checkRegex(op.pattern, true); !problem.empty()) {
              return invalidArgument("parse.pattern: " + problem);
            }
          }
          return std::unique_ptr<Operator>(new ParseOperator(op));
        } else if constexpr (std::is_same_v<T, DecompressOperatorConfig>) {
          return std::unique_ptr<Operator>(new DecompressOperator(op));
        } else if constexpr (std::is_same_v<T, RouteOperatorConfig>) {
          return std::unique_ptr<Operator>(new RouteOperator(op));
        } else {
          return std::unique_ptr<Operator>(new MirrorOperator(op));
        }
      },
      config.op);
}

Result<std::unique_ptr<Pipeline>> Pipeline::build(const std::vector<OperatorConfig>& operators) {
  if (operators.empty()) return invalidArgument("pipeline: must not be empty");
  std::vector<std::unique_ptr<Operator>> built;
  bool mirrorOnly = true;
  std::vector<MirrorOperatorConfig> mirrors;
  for (size_t i = 0; i < operators.size(); ++i) {
    auto op = makeOperator(operators[i]);
    if (!op) return op.status().withContext("pipeline[" + std::to_string(i) + "]");
    const auto* mirror = std::get_if<MirrorOperatorConfig>(&operators[i].op);
    mirrorOnly = mirrorOnly && mirror != nullptr;
    if (mirror != nullptr) mirrors.push_back(*mirror);
    built.push_back(std::move(*op));
  }
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(built), mirrorOnly, std::move(mirrors)));
}

Result<std::vector<Record>> Pipeline::handle(const Event& event, const InvocationContext& /*context*/) {
  if (mirrorOnly_) {
    // The mirror path: a straight copy, no parsing (the benchmark's hot loop).
    std::vector<Record> out(1);
    out[0].key = event.key;
    out[0].value = event.data;
    out[0].headers = event.headers;
    out[0].partition = event.partition;
    out[0].sourceOffset = event.offset.value_or(-1);
    out[0].sourceTime = event.time;
    for (const auto& mirror : mirrors_) {
      if (!mirrorRecord(mirror, event.subject, event.partition, out[0])) return std::vector<Record>{};
    }
    return out;
  }
  std::vector<Item> items(1);
  items[0].record.key = event.key;
  items[0].record.value = event.data;
  items[0].record.headers = event.headers;
  items[0].sourcePartition = event.partition;
  items[0].sourceTopic = event.subject;
  // Only a mirror's records keep where they were read (offset translation); see mirrorRecord.
  items[0].sourceOffset = event.offset.value_or(-1);
  items[0].sourceTime = event.time;
  for (size_t i = 0; i < operators_.size(); ++i) {
    Status status = operators_[i]->apply(items);
    if (!status.isOk()) {
      return status.withContext("pipeline[" + std::to_string(i) + "] " + operators_[i]->name());
    }
    if (items.empty()) break;
  }
  std::vector<Record> out;
  out.reserve(items.size());
  for (auto& item : items) {
    flatten(item);
    out.push_back(std::move(item.record));
  }
  return out;
}

}  // namespace sluice::runtime::pipeline
