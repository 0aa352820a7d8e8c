// Checks of a Function or Trigger that its CRD's schema and CEL rules cannot
// make, so `kubectl apply` alone would take the mistake and the replica or
// controller would fail later: a pipeline pattern or expression the
// runtime could not load (its own checkRegex and Expression::compile: a
// parse regex needs a named group), a cron schedule out of range ("0 24 * * *") or an
// unknown IANA time zone, a Kafka topic named "." or "..", a retry whose
// initialBackoff is longer than its maxBackoff, an image reference that does
// not parse (spec.image, spec.code.image), inline Python that does not
// compile (once a binary with an interpreter installed one:
// setPythonSyntaxCheck; the operator and the sluice CLI do). CrdValidator runs
// them after the schema passes, so `sluice check`, `--local --check` and the
// operator's admission webhook give one answer with one wording:
//   spec.cron.schedule: Invalid value: "0 24 * * *": cron schedule "0 24 * * *": hour: 24 is outside 0..23
// Pure but for the installed Python check; thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/crd_validator.h"

namespace sluice::api::v1alpha1 {

// Compiles Python source as the module index.py: "" when it compiles, else
// e.g. "SyntaxError: invalid syntax (index.py, line 2)".
using PythonSyntaxCheck = std::function<std::string(const std::string& source)>;
// Installed once, at start, by a binary that embeds Python (python_syntax::check);
// without one, inline code is not compiled here (the replica still reports it).
void setPythonSyntaxCheck(PythonSyntaxCheck check);

// Every such mistake in `object` (a schema-valid Function or Trigger); empty when none.
std::vector<FieldError> checkSemantics(const nlohmann::json& object);

// A Trigger that names a Function, as the mirror check below sees it.
struct TriggerSource {
  std::string name;
  std::string kind;  // the source's spec key: kafka, rabbitmq, http, cron, objectStore
};

// A mirror's keepUserId and definitions (AMQP properties, RabbitMQ's management
// API) in a Function `spec` with an output, or one of `triggers`, that is not
// RabbitMQ: "spec.pipeline[0].mirror.keepUserId: Invalid value: true: only a
// RabbitMQ mirror keeps the user id (spec.outputs[0] is kafka)". Admission
// knows the outputs only; rendering the replica's config adds the Triggers.
std::vector<FieldError> rabbitMqOnlyMirrorErrors(const nlohmann::json& spec,
                                                 const std::vector<TriggerSource>& triggers = {});

}  // namespace sluice::api::v1alpha1
