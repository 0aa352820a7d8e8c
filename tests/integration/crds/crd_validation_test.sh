#!/usr/bin/env bash
# The CRDs are accepted by the real apiserver, teach through `kubectl explain`,
# refuse bad specs at apply time with messages naming the field, and expose
# printer columns and the scale subresource.
source "$(dirname "$0")/../lib.sh"
require_env KUBECONFIG KUBECTL SLUICE_SOURCE_DIR SLUICE_BUILD_DIR

k() { "$KUBECTL" "$@"; }
apply_crds

ns=$(unique_name crd-test)
trap 'k delete namespace "$ns" --wait=false >/dev/null 2>&1 || true' EXIT
k create namespace "$ns" >/dev/null

failures=0
# refused NAME EXPECTED_MESSAGE <<YAML: server-side dry run must fail with exactly that message line,
# and `sluice-operator --local --check` (the same rules, compiled in) must say the same.
localdir=$(mktemp -d)
trap 'k delete namespace "$ns" --wait=false >/dev/null 2>&1 || true; rm -rf "$localdir"' EXIT
refused() {
  local name=$1 expected=$2 out manifest
  manifest=$(cat)
  printf '%s\n' "$manifest" >"$localdir/m.yaml"
  if out=$("$SLUICE_BUILD_DIR/sluice-operator" --local "$localdir" --check 2>&1) || [[ $out != *"$expected"* ]]; then
    echo "FAIL [$name --local]: expected message containing: $expected"; echo "  got: $out"; failures=$((failures + 1))
  fi
  if out=$(k -n "$ns" apply --dry-run=server -f - 2>&1 <<<"$manifest"); then
    echo "FAIL [$name]: accepted, expected refusal: $expected"; failures=$((failures + 1)); return
  fi
  if [[ $out != *"$expected"* ]]; then
    echo "FAIL [$name]: expected message containing: $expected"; echo "  got: $out"; failures=$((failures + 1)); return
  fi
  echo "ok   [$name] $expected"
}

FN='apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: f}'
TRG='apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: t}'
CODE='code: {inline: "def main_handler(event, context): return event"}'

refused min-above-max 'spec.scaling.minReplicas: Invalid value: "object": minReplicas must not exceed maxReplicas' <<<"$FN
spec: {$CODE, scaling: {minReplicas: 5, maxReplicas: 2}}"
refused negative-min 'spec.scaling.minReplicas: Invalid value: -1: spec.scaling.minReplicas in body should be greater than or equal to 0' <<<"$FN
spec: {$CODE, scaling: {minReplicas: -1}}"
refused unknown-runtime 'spec.runtime: Unsupported value: "node18": supported values: "python3.11", "builtin"' <<<"$FN
spec: {runtime: node18, $CODE}"
refused builtin-without-pipeline 'spec.pipeline: Invalid value: "object": runtime builtin needs a non-empty pipeline' <<<"$FN
spec: {runtime: builtin}"
refused python-without-code 'spec.code: Invalid value: "object": runtime python3.11 needs code (inline, configMapRef or image)' <<<"$FN
spec: {runtime: python3.11}"
refused protocol-without-image 'spec.image: Invalid value: "object": spec.protocol needs spec.image (the handler'"'"'s image)' <<<"$FN
spec: {protocol: python, $CODE}"
refused http-with-code 'spec.code: Invalid value: "object": spec.code does not apply to spec.protocol http (the image holds the handler)' <<<"$FN
spec: {image: 'repo/node:1', protocol: http, $CODE}"
refused http-settings-for-python 'spec.http: Invalid value: "object": spec.http applies to spec.protocol http only' <<<"$FN
spec: {image: 'repo/py:1', protocol: python, http: {port: 3000}, $CODE}"
refused protocol-on-builtin 'spec.protocol: Invalid value: "object": spec.protocol applies to runtime python3.11 only (runtime builtin runs no handler)' <<<"$FN
spec: {runtime: builtin, pipeline: [{mirror: {}}], image: 'repo/py:1', protocol: python}"
refused two-code-sources 'spec.code: Invalid value: "object": code must set exactly one of inline, configMapRef or image' <<<"$FN
spec: {code: {inline: x, image: 'repo/code:1'}}"
refused bad-handler 'spec.handler: Invalid value: "main": spec.handler in body should match' <<<"$FN
spec: {$CODE, handler: main}"
refused bad-duration 'spec.retry.initialBackoff: Invalid value: "soon": spec.retry.initialBackoff in body should match' <<<"$FN
spec: {$CODE, retry: {initialBackoff: soon}}"
refused step-with-two-kinds 'spec.pipeline[0]: Invalid value: "object": a pipeline step must set exactly one of filter, map, project, rename, set, mask, parse, decompress, route or mirror' <<<"$FN
spec: {runtime: builtin, pipeline: [{filter: {expression: 'a == 1'}, mirror: {}}]}"
refused regex-parse-without-pattern 'spec.pipeline[0].parse: Invalid value: "object": parse.format regex needs pattern' <<<"$FN
spec: {runtime: builtin, pipeline: [{parse: {format: regex}}]}"
refused output-with-two-sinks 'spec.outputs[0]: Invalid value: "object": an output must set exactly one of kafka, rabbitmq, http, s3 or dir' <<<"$FN
spec: {runtime: builtin, pipeline: [{mirror: {}}], outputs: [{name: a, dir: {path: /o}, http: {url: 'http://127.0.0.1:1'}}]}"
refused duplicate-output-names 'spec.outputs: Invalid value: "array": output names must be unique' <<<"$FN
spec: {runtime: builtin, pipeline: [{mirror: {}}], outputs: [{name: a, dir: {path: /o}}, {name: a, dir: {path: /p}}]}"
refused trigger-two-sources 'spec: Invalid value: "object": spec must set exactly one source: kafka, rabbitmq, cron, http, objectStore or prometheus' <<<"$TRG
spec: {functionRef: {name: f}, http: {path: /x}, cron: {schedule: '* * * * *'}}"
refused trigger-no-source 'spec: Invalid value: "object": spec must set exactly one source: kafka, rabbitmq, cron, http, objectStore or prometheus' <<<"$TRG
spec: {functionRef: {name: f}}"
refused trigger-no-function 'spec.functionRef: Required value' <<<"$TRG
spec: {http: {path: /x}}"
refused bad-cron 'spec.cron.schedule: Invalid value: "string": must be five cron fields (minute hour day-of-month month day-of-week) or one of @yearly, @monthly, @weekly, @daily, @hourly' <<<"$TRG
spec: {functionRef: {name: f}, cron: {schedule: 'every minute'}}"
refused zero-lag-threshold 'spec.kafka.lagThreshold: Invalid value: 0: spec.kafka.lagThreshold in body should be greater than or equal to 1' <<<"$TRG
spec: {functionRef: {name: f}, kafka: {bootstrapServers: ['127.0.0.1:9092'], topics: [t], consumerGroup: g, lagThreshold: 0}}"
refused routing-keys-without-exchange 'spec.rabbitmq: Invalid value: "object": spec.rabbitmq.routingKeys needs spec.rabbitmq.exchange' <<<"$TRG
spec: {functionRef: {name: f}, rabbitmq: {connectionSecretRef: {name: amqp}, queue: q, routingKeys: [a.b]}}"
refused rabbitmq-cert-without-key 'spec.rabbitmq.tls: Invalid value: "object": certKey and keyKey go together (a client certificate and its key)' <<<"$TRG
spec: {functionRef: {name: f}, rabbitmq: {connectionSecretRef: {name: amqp}, queue: q, tls: {caKey: ca.crt, certKey: tls.crt}}}"
refused rabbitmq-output-key-without-cert 'spec.outputs[0].rabbitmq.tls: Invalid value: "object": certKey and keyKey go together (a client certificate and its key)' <<<"$FN
spec: {runtime: builtin, pipeline: [{mirror: {}}], outputs: [{name: a, rabbitmq: {connectionSecretRef: {name: amqp}, routingKey: q, tls: {keyKey: tls.key}}}]}"
refused empty-exchange 'spec.rabbitmq.exchange: Invalid value: "": spec.rabbitmq.exchange in body should be at least 1 chars long' <<<"$TRG
spec: {functionRef: {name: f}, rabbitmq: {connectionSecretRef: {name: amqp}, queue: q, exchange: ''}}"
refused bad-ordering 'spec.delivery.ordering: Unsupported value: "key": supported values: "partition", "none"' <<<"$TRG
spec: {functionRef: {name: f}, kafka: {bootstrapServers: ['127.0.0.1:9092'], topics: [t], consumerGroup: g}, delivery: {ordering: key}}"
refused zero-trigger-attempts 'spec.delivery.retry.maxAttempts: Invalid value: 0: spec.delivery.retry.maxAttempts in body should be greater than or equal to 1' <<<"$TRG
spec: {functionRef: {name: f}, http: {path: /x}, delivery: {retry: {maxAttempts: 0}}}"
refused bad-trigger-backoff 'spec.delivery.retry.maxBackoff: Invalid value: "later": spec.delivery.retry.maxBackoff in body should match' <<<"$TRG
spec: {functionRef: {name: f}, http: {path: /x}, delivery: {retry: {maxBackoff: later}}}"
refused two-sink-dead-letter 'spec.delivery.deadLetter: Invalid value: "object": spec.delivery.deadLetter must set exactly one of kafka, rabbitmq, http, s3 or dir' <<<"$TRG
spec: {functionRef: {name: f}, http: {path: /x}, delivery: {deadLetter: {dir: {path: /d}, http: {url: 'http://h/'}}}}"
refused http-two-targets 'spec.http: Invalid value: "object": spec.http sets targetConcurrency or targetRequestsPerSecond, not both' <<<"$TRG
spec: {functionRef: {name: f}, http: {path: /x, targetConcurrency: 2, targetRequestsPerSecond: 10}}"
refused http-zero-rps 'spec.http.targetRequestsPerSecond: Invalid value: 0: spec.http.targetRequestsPerSecond in body should be greater than 0' <<<"$TRG
spec: {functionRef: {name: f}, http: {path: /x, targetRequestsPerSecond: 0}}"
refused http-async-without-queue 'spec.http.async: Invalid value: "object": spec.http.async sets exactly one of rabbitmq or kafka' <<<"$TRG
spec: {functionRef: {name: f}, http: {path: /x, async: {}}}"
refused http-async-on-both 'spec.http.async: Invalid value: "object": spec.http.async sets exactly one of rabbitmq or kafka' <<<"$TRG
spec: {functionRef: {name: f}, http: {path: /x, async: {rabbitmq: {connectionSecretRef: {name: r}, queue: q}, kafka: {bootstrapServers: ['127.0.0.1:9092'], topic: t}}}}"
refused http-async-kafka-without-topic 'spec.http.async.kafka.topic: Required value' <<<"$TRG
spec: {functionRef: {name: f}, http: {path: /x, async: {kafka: {bootstrapServers: ['127.0.0.1:9092']}}}}"
refused http-async-reserved-queue 'spec.http.async.rabbitmq: Invalid value: "object": spec.http.async.rabbitmq.queue may not start with "amq." (RabbitMQ reserves those names)' <<<"$TRG
spec: {functionRef: {name: f}, http: {path: /x, async: {rabbitmq: {connectionSecretRef: {name: r}, queue: amq.x}}}}"
refused burst-stable-below-panic 'spec.scaling.burst: Invalid value: "object": spec.scaling.burst.stableWindowSeconds must be at least burst.windowSeconds (the panic window)' <<<"$FN
spec: {runtime: python3.11, $CODE, scaling: {burst: {windowSeconds: 30, stableWindowSeconds: 10}}}"
refused batch-above-in-flight 'spec.delivery: Invalid value: "object": delivery.maxInFlight must be at least delivery.batchSize' <<<"$TRG
spec: {functionRef: {name: f}, kafka: {bootstrapServers: ['127.0.0.1:9092'], topics: [t], consumerGroup: g}, delivery: {batchSize: 500}}"
refused kafka-no-topics 'spec.kafka.topics: Invalid value: 0: spec.kafka.topics in body should have at least 1 items' <<<"$TRG
spec: {functionRef: {name: f}, kafka: {bootstrapServers: ['127.0.0.1:9092'], topics: [], consumerGroup: g}}"
refused s3-without-bucket 'spec.objectStore: Invalid value: "object": objectStore of type s3 needs endpoint and bucket' <<<"$TRG
spec: {functionRef: {name: f}, objectStore: {type: s3, endpoint: 'http://127.0.0.1:9000'}}"
refused webhdfs-https 'spec.objectStore: Invalid value: "object": objectStore of type webhdfs needs an http:// endpoint (https/swebhdfs is not supported)' <<<"$TRG
spec: {functionRef: {name: f}, objectStore: {type: webhdfs, endpoint: 'https://127.0.0.1:9871', path: /in}}"
refused move-without-destination 'spec.objectStore.afterProcessing: Invalid value: "object": afterProcessing.action move needs destinationPrefix' <<<"$TRG
spec: {functionRef: {name: f}, objectStore: {type: dir, path: /in, afterProcessing: {action: move}}}"
refused prometheus-zero-threshold 'spec.prometheus.threshold: Invalid value: "number": must be greater than 0' <<<"$TRG
spec: {functionRef: {name: f}, prometheus: {serverAddress: 'http://127.0.0.1:9090', query: up, threshold: 0}}"

# spec.pod: Sluice's own label keys and anything that leaves the restricted Pod Security Standard.
refused reserved-label 'spec.pod.labels: Invalid value: "object": keys under sluice.io/ and app.kubernetes.io/managed-by are reserved for Sluice' <<<"$FN
spec: {$CODE, pod: {labels: {sluice.io/function: other}}}"
refused reserved-managed-by 'spec.pod.annotations: Invalid value: "object": keys under sluice.io/ and app.kubernetes.io/managed-by are reserved for Sluice' <<<"$FN
spec: {$CODE, pod: {annotations: {app.kubernetes.io/managed-by: me}}}"
refused apparmor-unconfined 'spec.pod.annotations: Invalid value: "object": seccomp annotations and AppArmor annotations other than runtime/default or localhost/ leave the restricted Pod Security Standard' <<<"$FN
spec: {$CODE, pod: {annotations: {container.apparmor.security.beta.kubernetes.io/runtime: unconfined}}}"
refused run-as-root 'spec.pod.securityContext.runAsUser: Invalid value: "integer": runAsUser 0 (root) leaves the restricted Pod Security Standard' <<<"$FN
spec: {$CODE, pod: {securityContext: {runAsUser: 0}}}"
refused run-as-non-root-false 'spec.pod.securityContext.runAsNonRoot: Invalid value: "boolean": runAsNonRoot false leaves the restricted Pod Security Standard' <<<"$FN
spec: {$CODE, pod: {securityContext: {runAsNonRoot: false}}}"
refused seccomp-unconfined 'spec.pod.securityContext.seccompProfile.type: Unsupported value: "Unconfined": supported values: "RuntimeDefault", "Localhost"' <<<"$FN
spec: {$CODE, pod: {securityContext: {seccompProfile: {type: Unconfined}}}}"
refused privileged 'unknown field "spec.pod.securityContext.privileged"' <<<"$FN
spec: {$CODE, pod: {securityContext: {privileged: true}}}"
refused sysctls 'unknown field "spec.pod.securityContext.sysctls"' <<<"$FN
spec: {$CODE, pod: {securityContext: {sysctls: [{name: kernel.msgmax, value: '1'}]}}}"

# Good specs are stored with their defaults filled in.
k -n "$ns" apply -f - >/dev/null <<YAML
$FN
spec: {$CODE}
---
$TRG
spec: {functionRef: {name: f}, kafka: {bootstrapServers: ['127.0.0.1:9092'], topics: [logs], consumerGroup: g}}
YAML
check() {
  local what=$1 expected=$2 got
  got=$(k -n "$ns" get "${@:3}")
  if [[ $got == "$expected" ]]; then echo "ok   [$what] $got"; else echo "FAIL [$what]: expected '$expected', got '$got'"; failures=$((failures + 1)); fi
}
check default-handler index.main_handler function f -o jsonpath='{.spec.handler}'
check default-scaling '0 100 2 300 3' function f -o jsonpath='{.spec.scaling.minReplicas} {.spec.scaling.maxReplicas} {.spec.scaling.drainTargetSeconds} {.spec.scaling.scaleDown.stabilizationWindowSeconds} {.spec.retry.maxAttempts}'

check default-lag '10 0 latest' trigger t -o jsonpath='{.spec.kafka.lagThreshold} {.spec.kafka.activationLagThreshold} {.spec.kafka.initialOffset}'

# Short names, the category and printer columns.
header=$(k -n "$ns" get fn | awk 'NR==1' | tr -s ' ')
[[ $header == "NAME RUNTIME DESIRED READY WARM TRIGGERS STATUS URL AGE" ]] || { echo "FAIL [fn-columns]: $header"; failures=$((failures + 1)); }
header=$(k -n "$ns" get trg | awk 'NR==1' | tr -s ' ')
[[ $header == "NAME TYPE FUNCTION METRIC ACTIVE AGE" ]] || { echo "FAIL [trg-columns]: $header"; failures=$((failures + 1)); }
[[ $(k -n "$ns" get sluice -o name | sort | tr '\n' ' ') == "function.sluice.io/f trigger.sluice.io/t " ]] ||
  { echo "FAIL [category]: $(k -n "$ns" get sluice -o name)"; failures=$((failures + 1)); }

# kubectl explain teaches every field.
explain=$(k explain function.spec.scaling.cooldownSeconds)
[[ $explain == *"Idle time at one replica before scaling to zero."* ]] || { echo "FAIL [explain]: $explain"; failures=$((failures + 1)); }

explain=$(k explain trigger.spec.delivery.retry.maxAttempts)
[[ $explain == *"Attempts in all, counting the first"* ]] || { echo "FAIL [explain-retry]: $explain"; failures=$((failures + 1)); }
explain=$(k explain trigger.spec.rabbitmq.routingKeys)
[[ $explain == *"Routing keys of the bindings of the queue"* ]] || { echo "FAIL [explain-keys]: $explain"; failures=$((failures + 1)); }

explain=$(k explain trigger.spec.rabbitmq.tls.caKey)
[[ $explain == *"Key of the CA certificate(s) the server's certificate must chain to"* ]] || { echo "FAIL [explain-amqps]: $explain"; failures=$((failures + 1)); }
explain=$(k explain function.spec.outputs.rabbitmq.tls)
[[ $explain == *"TLS for an amqps:// URL"*certKey*keyKey* ]] || { echo "FAIL [explain-amqps-output]: $explain"; failures=$((failures + 1)); }

# The scale subresource pins spec.replicas.
k -n "$ns" scale function f --replicas=3 >/dev/null
check scale-subresource 3 function f -o jsonpath='{.spec.replicas}'

((failures == 0)) || fail "$failures CRD checks failed"
echo "PASS: CRD validation, defaults, columns, explain and scale"
