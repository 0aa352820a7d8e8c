#include "cli/templates.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "sluice/cli_examples.h"

namespace sluice::cli {

namespace {

const std::map<std::string, const char*>& scenarios() {
  static const std::map<std::string, const char*> examples = {
      {"log-cleansing", kExampleLogCleansing}, {"moderation", kExampleModeration},
      {"stream-pull", kExampleStreamPull},     {"cron-timer", kExampleCronTimer},
      {"kafka-mirror", kExampleKafkaMirror},
  };
  return examples;
}

// `text` with every "{{name}}" replaced by `name`.
std::string fill(std::string text, const std::string& name) {
  for (size_t at = text.find("{{name}}"); at != std::string::npos; at = text.find("{{name}}", at + name.size())) {
    text.replace(at, 8, name);
  }
  return text;
}

std::string indent(const std::string& text, const std::string& prefix) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    out += (line.empty() ? "" : prefix + line) + "\n";
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

constexpr const char* kPythonHandler = R"(import json


def main_handler(event, context):
    # event: the HTTP request (docs/event-shapes.md); the return value is the answer.
    context.logger.info("request %s", event["id"])
    body = event.get("data") or "{}"
    payload = json.loads(body) if isinstance(body, str) else body
    return {"hello": payload.get("name", "world")}
)";

constexpr const char* kPythonFunction =
    R"(# Function {{name}}: a Python handler (handler.py), invoked over HTTP through the gateway.
#   sluice check .  &&  sluice apply .  &&  sluice invoke {{name}} -d '{"name": "sluice"}'
# `sluice check`, `apply` and `local` put handler.py into spec.code.inline first.
apiVersion: sluice.io/v1alpha1
kind: Function
metadata:
  name: {{name}}
  annotations:
    sluice.io/code-file: handler.py
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
)";

constexpr const char* kPythonScaling = R"(  scaling:
    minReplicas: 0
    maxReplicas: 5
)";

constexpr const char* kHttpTrigger =
    R"(# The Function's URL: <gateway>/<namespace>/{{name}} (`sluice describe {{name}}` shows it).
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata:
  name: {{name}}-http
spec:
  functionRef: {name: {{name}}}
  http: {path: /{{name}}}
)";

constexpr const char* kPipelineFunction =
    R"(# Function {{name}}: no code, built-in operators (docs/pipeline.md). Each file
# dropped into /tmp/sluice/{{name}}/incoming is read line by line as JSON; lines
# with a level of WARN or ERROR are kept, trimmed and written as one JSON file
# each to /tmp/sluice/{{name}}/out.   sluice check . && sluice local .
apiVersion: sluice.io/v1alpha1
kind: Function
metadata:
  name: {{name}}
spec:
  runtime: builtin
  pipeline:
    - name: lines
      decompress: {format: auto, split: lines}
    - name: json
      parse: {format: json}
    - name: problems
      filter: {expression: 'level in ["WARN", "ERROR"]'}
    - name: shape
      project: {fields: [time, level, msg]}
  outputs:
    - name: out
      dir: {path: /tmp/sluice/{{name}}/out}
  scaling:
    minReplicas: 0
    maxReplicas: 4
)";

constexpr const char* kPipelineTrigger = R"(# One replica per 10 files waiting, none when the directory is empty.
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata:
  name: {{name}}-files
spec:
  functionRef: {name: {{name}}}
  objectStore:
    type: dir
    path: /tmp/sluice/{{name}}/incoming
    targetObjectCount: 10
    afterProcessing: {action: delete}
)";

// A seed scenario's example split at its document separator: the Trigger
// into trigger.yaml, the rest (with the header comment) into function.yaml.
std::vector<TemplateFile> splitExample(const std::string& text) {
  std::string function;
  std::string trigger;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find("\n---\n", start);
    std::string document = text.substr(start, end == std::string::npos ? std::string::npos : end + 1 - start);
    std::string& into = document.find("\nkind: Trigger\n") != std::string::npos ? trigger : function;
    into += (into.empty() ? "" : "---\n") + document;
    if (end == std::string::npos) break;
    start = end + 5;
  }
  return {{"function.yaml", function}, {"trigger.yaml", trigger}};
}

}  // namespace

std::vector<std::string> templateNames() {
  std::vector<std::string> names = {"python", "pipeline"};
  for (const auto& [name, text] : scenarios()) names.push_back(name);
  return names;
}

Status validateName(const std::string& name, const std::string& field) {
  static const std::regex kLabel("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  if (name.size() > 63 || !std::regex_match(name, kLabel)) {
    return invalidArgument(field + ": \"" + name +
                           "\" is not a valid name (lower-case letters, digits and '-', starting and ending with a "
                           "letter or digit, at most 63 characters)");
  }
  return Status::ok();
}

Result<std::vector<TemplateFile>> renderTemplate(const std::string& templateName, const std::string& functionName) {
  if (auto it = scenarios().find(templateName); it != scenarios().end()) {
    if (!functionName.empty()) {
      return invalidArgument("--name: the seed-scenario template " + templateName +
                             " keeps its example's names (python and pipeline take --name)");
    }
    return splitExample(it->second);
  }
  const std::string name = functionName.empty() ? "my-function" : functionName;
  if (Status valid = validateName(name, "--name"); !valid.isOk()) return valid;
  if (templateName == "python") {
    std::string function = fill(kPythonFunction, name) + indent(kPythonHandler, "      ") + kPythonScaling;
    return std::vector<TemplateFile>{
        {"function.yaml", function}, {"trigger.yaml", fill(kHttpTrigger, name)}, {"handler.py", kPythonHandler}};
  }
  if (templateName == "pipeline") {
    return std::vector<TemplateFile>{{"function.yaml", fill(kPipelineFunction, name)},
                                     {"trigger.yaml", fill(kPipelineTrigger, name)}};
  }
  std::string known;
  for (const std::string& n : templateNames()) known += (known.empty() ? "" : ", ") + n;
  return invalidArgument("--template: no template " + templateName + " (one of " + known + ")");
}

Status writeTemplate(const std::string& dir, const std::vector<TemplateFile>& files, bool overwrite) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const TemplateFile& file : files) {
    if (!overwrite && fs::exists(fs::path(dir) / file.name, ec)) {
      return invalidArgument((fs::path(dir) / file.name).string() + " exists already (--force overwrites it)");
    }
  }
  fs::create_directories(dir, ec);
  if (ec) return Status(StatusCode::kInternal, "cannot create " + dir + ": " + ec.message());
  for (const TemplateFile& file : files) {
    std::ofstream out(fs::path(dir) / file.name, std::ios::binary | std::ios::trunc);
    out << file.text;
    if (!out.flush()) return Status(StatusCode::kInternal, "cannot write " + (fs::path(dir) / file.name).string());
  }
  return Status::ok();
}

}  // namespace sluice::cli
