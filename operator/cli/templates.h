// `sluice init`: the starting points a Function author copies. Each template
// is a directory of function.yaml (the Function), trigger.yaml (its Trigger)
// and, for a Python handler, handler.py, which function.yaml names in its
// `sluice.io/code-file` annotation (code_files.h puts it into spec.code.inline).
// Templates: python (an HTTP-invoked Python handler), pipeline (built-in
// operators, no code, files in -> JSON records out), byo-python (handler.py
// run by an image of one's own with Python 3.11: spec.protocol python, with a
// Containerfile and requirements.txt), byo-http (a Node.js server.js in an
// image of one's own: spec.protocol http, with a Containerfile), and the five seed
// scenarios of examples/ (log-cleansing, moderation, stream-pull, cron-timer,
// kafka-mirror), which keep their example's names. Every template passes
// `sluice check` (a unit test holds that). Pure functions but writeTemplate.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::cli {

struct TemplateFile {
  std::string name;  // relative to the directory
  std::string text;
};

std::vector<std::string> templateNames();

// A seed scenario's template keeps its example's names (no --name).
bool isScenarioTemplate(const std::string& templateName);

// The files of `templateName` for a Function called `functionName` (all but
// the seed scenarios; empty: "my-function").
Result<std::vector<TemplateFile>> renderTemplate(const std::string& templateName, const std::string& functionName);

// A Kubernetes object name (DNS-1123 label, at most 63 characters); the error names `field`.
Status validateName(const std::string& name, const std::string& field);

// Writes `files` into `dir` (created when missing). Refuses, writing nothing,
// when any of them exists already, unless `overwrite`.
Status writeTemplate(const std::string& dir, const std::vector<TemplateFile>& files, bool overwrite);

}  // namespace sluice::cli
