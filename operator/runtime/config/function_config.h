// FunctionConfig: what one replica runs, parsed from the JSON or YAML file the
// operator renders from a Function and its Triggers (docs/runtime-config.md).
//
// Plain values, built once by parseFunctionConfig() (config_parser.h) and then
// only read; safe to share between threads after construction. Secrets never
// appear here: every credential is given as the NAME of an environment variable
// (fields ending in "Env"), which the operator fills from a Kubernetes Secret.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice::runtime::config {

// ---------------------------------------------------------------- shared parts

// Kafka TLS/SASL settings. Files are paths inside the pod (mounted secrets).
struct KafkaSecurityConfig {
  std::string protocol = "PLAINTEXT";  // PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
  std::string saslMechanism;           // PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512; required for SASL_*
  std::string usernameEnv;             // env var holding the SASL user name
  std::string passwordEnv;             // env var holding the SASL password
  std::string caFile;                  // PEM CA bundle for SSL / SASL_SSL
  std::string certFile;                // client certificate (mutual TLS)
  std::string keyFile;                 // client key (mutual TLS)
  std::string keyPasswordEnv;          // env var holding the client key's password
};

// An AMQP 0-9-1 connection. Either `url` (credentials not allowed inline; use
// usernameEnv/passwordEnv) or `urlEnv` (an env var holding the whole URL,
// credentials included).
struct AmqpConnectionConfig {
  std::string url;  // amqp://host:5672/vhost
  std::string urlEnv;
  std::string usernameEnv;
  std::string passwordEnv;
  // The AMQP heartbeat interval asked of the broker, which closes a connection
  // silent for two of them (and requeues its unacked deliveries).
  int heartbeatSeconds = 30;
  // amqps:// only: env vars holding PEM text (the operator maps them from the
  // connection Secret's keys). No CA: the system's trusted CAs. The client
  // certificate and key go together.
  std::string tlsCaEnv;
  std::string tlsCertEnv;
  std::string tlsKeyEnv;
};

// S3-compatible endpoint and credentials.
struct S3EndpointConfig {
  std::string endpoint;  // http://127.0.0.1:9000 ; the scheme picks TLS or not
  std::string region = "us-east-1";
  std::string bucket;
  std::string prefix;
  std::string accessKeyEnv;
  std::string secretKeyEnv;
  bool pathStyle = true;  // MinIO and most self-hosted stores want path-style addressing
};

// ---------------------------------------------------------------- sources

struct KafkaSourceConfig {
  std::string bootstrapServers;  // "host:port[,host:port...]"
  std::vector<std::string> topics;
  std::string consumerGroup;
  std::string initialOffset = "latest";  // earliest | latest: where a group with no committed offset starts
  int batchSize = 1;                     // events handed to the handler together (1 = one at a time)
  int maxInFlight = 100;                 // events fetched but not yet committed, per replica
  // true (ordering: partition): a partition's records are handled one after
  // another; false (ordering: none): they may run at once, up to the
  // Function's concurrency (offsets are still committed in order).
  bool ordered = true;
  KafkaSecurityConfig security;
  std::map<std::string, std::string> properties;  // extra librdkafka properties (never secrets)
};

struct RabbitMqSourceConfig {
  AmqpConnectionConfig connection;  // flattened in the file: url, urlEnv, usernameEnv, passwordEnv
  std::string queue;
  // Non-empty: before consuming, the queue is declared durable when missing
  // (an existing one keeps its own arguments) and bound to this exchange with
  // each of routingKeys (one binding with key "" when none are given).
  // Without managementUrlEnv, bindings are only ever added.
  std::string exchange;
  std::vector<std::string> routingKeys;
  // Env var holding the management API URL (http://user:password@host:15672);
  // when set and present, bindings to `exchange` with keys no longer in
  // routingKeys are removed.
  std::string managementUrlEnv;
  int prefetch = 10;
  std::optional<int> maxAttempts;  // unset: the function's retry.maxAttempts
  std::string deadLetterQueue;     // empty: nack without requeue (the queue's own DLX, if any, applies)
};

struct HttpSourceConfig {
  std::string path = "/invoke";  // served by the control server
  // Asynchronous invocations (`X-Sluice-Invocation-Type: Event`): the gateway
  // keeps them in this queue and the replica consumes them as HTTP events,
  // with the Function's retries and dead letter. Unset: synchronous only.
  std::optional<RabbitMqSourceConfig> async;
  // Or (exactly one of the two) the Kafka topic the gateway produces them to,
  // read as a consumer group.
  std::optional<KafkaSourceConfig> asyncKafka;
};

struct CronSourceConfig {
  std::string schedule;  // five-field cron expression, or "@every 30s"
  std::string timezone = "UTC";
  std::string payload;  // becomes Event::data
};

enum class ObjectStoreKind { kS3, kDir, kWebHdfs };
enum class AfterProcessing { kDelete, kMove, kTag };

struct ObjectStoreSourceConfig {
  ObjectStoreKind kind = ObjectStoreKind::kS3;
  std::string endpoint;  // s3: http(s)://host:port ; webhdfs: http(s)://namenode:port
  std::string region = "us-east-1";
  std::string bucket;        // s3 only
  std::string prefix;        // s3: key prefix ; dir/webhdfs: the directory to watch
  std::string accessKeyEnv;  // s3
  std::string secretKeyEnv;  // s3
  std::string user;          // webhdfs user.name (not a secret)
  bool pathStyle = true;
  AfterProcessing afterProcessing = AfterProcessing::kDelete;
  std::string moveToPrefix;                 // kMove: destination prefix (s3) or directory (dir/webhdfs)
  std::string tagKey = "sluice-processed";  // kTag
  std::string tagValue = "true";            // kTag
  std::chrono::milliseconds pollInterval{10'000};
  std::chrono::milliseconds claimTtl{300'000};  // a claim older than this is considered abandoned
};

using SourceConfig =
    std::variant<KafkaSourceConfig, RabbitMqSourceConfig, HttpSourceConfig, CronSourceConfig, ObjectStoreSourceConfig>;

// ---------------------------------------------------------------- sinks

struct KafkaSinkConfig {
  std::string bootstrapServers;
  std::string topic;
  KafkaSecurityConfig security;
  std::map<std::string, std::string> properties;  // extra librdkafka properties (never secrets)
};

struct RabbitMqSinkConfig {
  AmqpConnectionConfig connection;
  std::string exchange;    // "" = the default exchange
  std::string routingKey;  // with the default exchange: the queue name
};

struct HttpSinkConfig {
  std::string url;
  std::string method = "POST";
  std::map<std::string, std::string> headers;  // non-secret headers
  std::string bearerTokenEnv;                  // env var holding a bearer token, optional
  std::chrono::milliseconds timeout{10'000};
};

struct S3SinkConfig {
  S3EndpointConfig endpoint;  // flattened in the file
};

struct DirSinkConfig {
  std::string path;
};

using SinkKindConfig = std::variant<KafkaSinkConfig, RabbitMqSinkConfig, HttpSinkConfig, S3SinkConfig, DirSinkConfig>;

struct SinkConfig {
  std::string name;  // Record::sink refers to this; the first output is the default (Record::sink empty)
  SinkKindConfig sink;
};

// ---------------------------------------------------------------- pipeline

// Field paths below are dotted ("user.address.city") into a JSON record.
struct FilterOperatorConfig {
  std::string expression;  // keep the record when true (docs/pipeline.md)
};
struct MapOperatorConfig {
  std::vector<std::pair<std::string, std::string>> fields;  // target field -> expression, in file order
};
struct ProjectOperatorConfig {
  std::vector<std::string> fields;  // keep only these
};
struct RenameOperatorConfig {
  std::vector<std::pair<std::string, std::string>> fields;  // from -> to
};
struct SetOperatorConfig {
  std::vector<std::pair<std::string, nlohmann::json>> fields;  // field -> literal value
};
struct MaskOperatorConfig {
  std::string field;  // empty: the raw record value
  std::string pattern;
  std::string replacement = "***";  // may use \1..\9
};
enum class ParseFormat { kJson, kRegex, kKeyValue };
struct ParseOperatorConfig {
  ParseFormat format = ParseFormat::kJson;
  std::string field;                // empty: the raw record value; else a string field of a JSON record
  std::string pattern;              // kRegex: RE2 with named groups
  std::string target;               // empty: the parsed fields become the record (merged into it when `field` is set)
  std::string pairSeparator = " ";  // kKeyValue
  std::string keyValueSeparator = "=";  // kKeyValue
};
enum class DecompressFormat { kAuto, kGzip, kZip, kTar };
struct DecompressOperatorConfig {
  DecompressFormat format = DecompressFormat::kAuto;
  bool splitLines = true;  // one record per line; false: one record per archive entry
  int64_t maxBytes = 0;    // refuse archives that expand beyond this (zip bombs); 0: a quarter of the memory limit
};
struct RouteOperatorConfig {
  std::string field;                                        // the field whose value picks the output
  std::vector<std::pair<std::string, std::string>> routes;  // value -> output name
  std::string defaultOutput;                                // unmatched values; empty = drop them
};
// A RabbitMQ mirror's definitions sync: the queues, exchanges and bindings
// of the source vhost selected by `names` declared on the target vhost, through
// both brokers' management APIs, at start and every `interval`.
struct AmqpDefinitionsSyncConfig {
  std::string sourceManagementUrlEnv;  // env var: http://user:password@host:15672 of the source broker
  std::string targetManagementUrlEnv;  // likewise, the target broker
  std::vector<std::string> names;      // queue and exchange names; "^..." is an RE2 pattern (full match)
  std::chrono::milliseconds interval{30'000};
  // Also delete from the target what this replica saw selected on the source
  // and is gone from it (RabbitMqDefinitionsSyncOptions::prune).
  bool prune = false;
};

// Where a mirrored record goes: the output's own topic (today's single-topic
// mirror), the topic of the same name, or "<prefix><topic>" (MirrorMaker 2's
// DefaultReplicationPolicy names copies "<source alias>.<topic>").
enum class MirrorRename { kOutput, kIdentity, kPrefix };
struct MirrorOperatorConfig {
  MirrorRename rename = MirrorRename::kOutput;
  std::string prefix;  // kPrefix only
  // Loop prevention for active/active (both set, or neither): a record with no
  // origin header gets `sluice-mirror-origin: <sourceAlias>`; a record whose
  // origin is targetAlias came from the target cluster and is skipped.
  std::string sourceAlias;
  std::string targetAlias;
  // RabbitMQ -> RabbitMQ only (docs/pipeline.md, "Mirroring RabbitMQ").
  // The source's user-id is kept when it names the output's own user (the
  // broker refuses any other); true keeps it always, for an output user with
  // RabbitMQ's impersonator tag.
  bool keepUserId = false;
  std::optional<AmqpDefinitionsSyncConfig> definitions;
  // Consumer-group failover (rename identity or prefix): the groups on the
  // source cluster, by name or "^regex", whose committed offsets are
  // translated into positions on the target and committed there (for groups
  // not active on the target, never backwards), every groupSyncInterval.
  std::vector<std::string> groups;
  std::chrono::seconds groupSyncInterval{10};
  // How often topic configs changed on the source follow to the target (0: never).
  std::chrono::seconds configSyncInterval{60};
};

using OperatorKindConfig =
    std::variant<FilterOperatorConfig, MapOperatorConfig, ProjectOperatorConfig, RenameOperatorConfig,
                 SetOperatorConfig, MaskOperatorConfig, ParseOperatorConfig, DecompressOperatorConfig,
                 RouteOperatorConfig, MirrorOperatorConfig>;

struct OperatorConfig {
  OperatorKindConfig op;
};

// ---------------------------------------------------------------- function

enum class RuntimeKind { kPython311, kBuiltin, kHttp };
enum class EventShape { kCanonical, kScf, kLambda };

struct BackoffConfig {
  std::chrono::milliseconds initialDelay{200};
  std::chrono::milliseconds maxDelay{30'000};
  double multiplier = 2.0;
  double jitter = 0.2;  // +/- this fraction of each delay, at random
};

// The Lambda Kafka event form: self-managed Apache Kafka, or Amazon MSK.
enum class LambdaKafkaForm { kSelfManaged, kMsk };

// What the scf and lambda shapes and contexts say about where the function
// runs (the Function's spec.compat; docs/event-shapes.md): identifiers the
// real platform would fill in, so handlers that log or parse them see
// well-formed values. Empty strings take the documented defaults.
struct CompatConfig {
  std::string region;     // default: ap-guangzhou (scf), us-east-1 (lambda)
  std::string appId;      // SCF APPID; default 1250000000
  std::string uin;        // SCF account UIN; default 100000000001
  std::string accountId;  // AWS account id (12 digits); default 000000000000
  LambdaKafkaForm lambdaKafka = LambdaKafkaForm::kSelfManaged;
  std::string mskClusterArn;  // aws:kafka events' eventSourceArn; default derived from region, account, trigger
};

struct RetryConfig {
  int maxAttempts = 3;  // including the first try
  BackoffConfig backoff;
};

// One Trigger bound to this function; exactly one source.
struct TriggerConfig {
  std::string name;
  SourceConfig source;
  // Bytes of this trigger's events a replica may hold unacknowledged (Kafka:
  // its prefetch queue included); 0: sized from the memory limit
  // (runtime/memory/in_flight_budget.h).
  int64_t maxInFlightBytes = 0;
  // This trigger's own retries and dead letter (the Trigger's spec.delivery);
  // unset: the function's retry and deadLetter.
  std::optional<RetryConfig> retry = std::nullopt;
  std::optional<SinkConfig> deadLetter = std::nullopt;
};

// runtime http: the handler is an HTTP server in another container of the
// same pod (docs/handler-images.md), reached over the loopback interface.
struct HttpHandlerConfig {
  int port = 8000;         // the CRD's default (api::kDefaultHandlerPort): 8080 is the runtime's own data port
  std::string path = "/";  // the request target each event is POSTed to
};

struct FunctionConfig {
  std::string name;
  std::string namespaceName;
  RuntimeKind runtime = RuntimeKind::kPython311;
  std::string handler = "index.main_handler";  // module.function (python3.11)
  std::string codeDir;                         // holds the handler module (python3.11)
  // Module files carried in the configuration itself (file name -> source), for
  // a warm pod specialized over /specialize, which has no code volume: they are
  // written to a private directory that then serves as codeDir.
  std::map<std::string, std::string> codeFiles;
  std::vector<std::string> dependencyDirs;  // added to sys.path; default: <codeDir>/vendor when present
  std::vector<OperatorConfig> pipeline;     // builtin
  HttpHandlerConfig http;                   // http
  std::chrono::seconds timeout{30};
  RetryConfig retry;
  std::optional<SinkConfig> deadLetter;
  std::vector<SinkConfig> outputs;
  int concurrency = 1;  // events handled at once per replica
  std::vector<TriggerConfig> triggers;
  EventShape eventShape = EventShape::kCanonical;
  std::map<std::string, std::string> environment;  // plain settings passed to the handler's os.environ
  CompatConfig compat;
  // The replica's memory in MiB as the Function declares it (resources.limits.memory);
  // 0: not declared, the contexts read the container's cgroup limit instead.
  int64_t memoryLimitMb = 0;
};

// The sink a record with this name goes to; nullptr if none. Empty name = the first output.
const SinkConfig* findOutput(const FunctionConfig& config, const std::string& name);

const char* toString(ObjectStoreKind kind);
const char* toString(AfterProcessing after);
const char* toString(EventShape shape);
const char* toString(RuntimeKind kind);

}  // namespace sluice::runtime::config
