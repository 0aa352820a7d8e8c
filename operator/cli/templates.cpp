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

constexpr const char* kByoPythonFunction =
    R"(# Function {{name}}: a Python handler (handler.py) run in an image of your own
# with Python 3.11 and your packages (spec.protocol python, docs/handler-images.md).
#   podman build -t registry.example/{{name}}:1 . && podman push registry.example/{{name}}:1
#   then set spec.image to it; sluice check . && sluice apply . && sluice invoke {{name}} -d '{"name": "sluice"}'
# The image's entrypoint and user are not used; its Python 3.11 runs handler.py in-process.
apiVersion: sluice.io/v1alpha1
kind: Function
metadata:
  name: {{name}}
  annotations:
    sluice.io/code-file: handler.py
spec:
  image: docker.io/library/python:3.11-slim
  protocol: python
  handler: index.main_handler
  code:
    inline: |
)";

constexpr const char* kByoPythonContainerfile =
    R"(# The handler's image: Python 3.11 (the runtime embeds CPython 3.11) and its packages.
# The pod runs it as UID 65532 with a read-only root filesystem: install system-wide.
FROM docker.io/library/python:3.11-slim
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
)";

constexpr const char* kByoPythonRequirements = "# The handler's packages, one a line (pip install -r).\n";

constexpr const char* kByoHttpFunction =
    R"(# Function {{name}}: a handler in any language, here Node.js (server.js), in an image
# of your own serving HTTP on $PORT (spec.protocol http, docs/handler-images.md).
#   podman build -t registry.example/{{name}}:1 . && podman push registry.example/{{name}}:1
#   sluice check . && sluice apply . && sluice invoke {{name}} -d '{"name": "sluice"}'
# Each event is a POST with the event's data as the body and ce-* headers; a 2xx
# answer is success (its body the output), any other status a failure (retried).
apiVersion: sluice.io/v1alpha1
kind: Function
metadata:
  name: {{name}}
spec:
  image: registry.example/{{name}}:1
  protocol: http
  http:
    port: 8000
    path: /
  concurrency: 16
  timeoutSeconds: 30
  scaling:
    minReplicas: 0
    maxReplicas: 5
)";

constexpr const char* kByoHttpServer =
    R"(// The handler: an HTTP server on $PORT (8000), every interface. One POST per event.
const http = require("http");

const port = Number(process.env.PORT || 8000);

http
  .createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const id = req.headers["ce-id"];
      let payload;
      try {
        payload = JSON.parse(Buffer.concat(chunks).toString() || "{}");
      } catch (e) {
        // Any status but 2xx is a failure: retried, then dead-lettered with this body.
        console.log(`request ${id}: ${e.message}`);
        res.writeHead(400, { "content-type": "text/plain" }).end(`bad JSON: ${e.message}`);
        return;
      }
      console.log(`request ${id}`);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ hello: payload.name || "world" }));
    });
  })
  .listen(port, "0.0.0.0", () => console.log(`listening on ${port}`));
)";

constexpr const char* kByoHttpContainerfile =
    R"(# The handler's image: any base, any language; its entrypoint serves HTTP on $PORT.
FROM docker.io/library/node:20-slim
COPY server.js /app/server.js
USER 65532
CMD ["node", "/app/server.js"]
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
  std::vector<std::string> names = {"python", "pipeline", "byo-python", "byo-http"};
  for (const auto& [name, text] : scenarios()) names.push_back(name);
  return names;
}

bool isScenarioTemplate(const std::string& templateName) { return scenarios().contains(templateName); }

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
                             " keeps its example's names (python, pipeline, byo-python and byo-http take --name)");
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
  if (templateName == "byo-python") {
    std::string function = fill(kByoPythonFunction, name) + indent(kPythonHandler, "      ") + kPythonScaling;
    return std::vector<TemplateFile>{{"function.yaml", function},
                                     {"trigger.yaml", fill(kHttpTrigger, name)},
                                     {"handler.py", kPythonHandler},
                                     {"Containerfile", kByoPythonContainerfile},
                                     {"requirements.txt", kByoPythonRequirements}};
  }
  if (templateName == "byo-http") {
    return std::vector<TemplateFile>{{"function.yaml", fill(kByoHttpFunction, name)},
                                     {"trigger.yaml", fill(kHttpTrigger, name)},
                                     {"server.js", kByoHttpServer},
                                     {"Containerfile", kByoHttpContainerfile}};
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
