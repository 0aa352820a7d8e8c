#include "runtime/control/rabbitmq_mirror_wiring.h"

#include <amqp.h>

#include <cstdlib>
#include <vector>

#include "clients/amqp_connection.h"
#include "http/http_client.h"
#include "runtime/control/wiring.h"

namespace sluice::runtime {

namespace {

Result<std::string> managementUrl(const std::string& variable, const std::string& field) {
  const char* value = std::getenv(variable.c_str());
  if (value == nullptr) return invalidArgument(field + ": environment variable " + variable + " is not set");
  return std::string(value);
}

// The user an amqp URL logs in as, decoded ("guest" when it names none).
std::string amqpUser(const std::string& url) {
  std::vector<char> buffer(url.begin(), url.end());
  buffer.push_back('\0');
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK || info.user == nullptr) return "guest";
  return info.user;
}

RabbitMqMirrorOptions::Rename renameOf(config::MirrorRename rename) {
  switch (rename) {
    case config::MirrorRename::kIdentity: return RabbitMqMirrorOptions::Rename::kIdentity;
    case config::MirrorRename::kPrefix: return RabbitMqMirrorOptions::Rename::kPrefix;
    case config::MirrorRename::kOutput: break;
  }
  return RabbitMqMirrorOptions::Rename::kOutput;
}

Status startDefinitionsSync(const config::AmqpDefinitionsSyncConfig& sync, const std::string& sourceUrl,
                            const std::string& prefix, RabbitMqSinkOptions& options) {
  const std::string field = "pipeline mirror.definitions";
  auto source = managementUrl(sync.sourceManagementUrlEnv, field + ".sourceManagementUrlEnv");
  if (!source.isOk()) return source.status();
  auto target = managementUrl(sync.targetManagementUrlEnv, field + ".targetManagementUrlEnv");
  if (!target.isOk()) return target.status();
  RabbitMqDefinitionsSyncOptions syncOptions{*source,       clients::amqpVirtualHost(sourceUrl),
                                             *target,       clients::amqpVirtualHost(options.url),
                                             sync.names,    prefix,
                                             sync.interval, sync.prune};
  auto created = RabbitMqDefinitionsSync::create(std::move(syncOptions), http::makeCppRestHttpClient());
  if (!created.isOk()) return created.status().withContext(field);
  options.definitions = std::move(created).value();
  return Status::ok();
}

}  // namespace

Status configureRabbitMqMirror(const config::FunctionConfig* function, const std::string& outputUrl,
                               RabbitMqSinkOptions& options, const std::string& where) {
  if (function == nullptr) return Status::ok();
  const config::MirrorOperatorConfig* mirror = nullptr;
  for (const auto& step : function->pipeline) {
    if (const auto* m = std::get_if<config::MirrorOperatorConfig>(&step.op)) mirror = m;
  }
  const config::RabbitMqSourceConfig* source = nullptr;
  std::string sourceWhere;
  for (const auto& trigger : function->triggers) {
    if (source != nullptr) break;
    source = std::get_if<config::RabbitMqSourceConfig>(&trigger.source);
    sourceWhere = "trigger \"" + trigger.name + "\".rabbitmq";
  }
  if (mirror == nullptr || source == nullptr) return Status::ok();
  const std::string prefix = mirror->rename == config::MirrorRename::kPrefix ? mirror->prefix : "";
  options.mirror = RabbitMqMirrorOptions{renameOf(mirror->rename), prefix, mirror->keepUserId, amqpUser(outputUrl)};
  if (!mirror->definitions) return Status::ok();
  auto sourceUrl = amqpUrl(source->connection, sourceWhere);
  if (!sourceUrl.isOk()) return sourceUrl.status();
  return startDefinitionsSync(*mirror->definitions, *sourceUrl, prefix, options).withContext(where);
}

}  // namespace sluice::runtime
