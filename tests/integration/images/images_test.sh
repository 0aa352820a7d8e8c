#!/usr/bin/env bash
# The images of `make images` (images/build.sh), built from the binaries of
# this build tree, or reused from its cache when nothing changed:
#  1. config: user 65532:65532 (numeric), entrypoint, the OCI labels with this
#     checkout's version (CMakeLists.txt) and revision (git HEAD);
#  2. filesystem: no compiler (gcc, cc, c++, g++, clang, as, ld) and no apt-get;
#     every ELF file we add (the binary, librdkafka) resolves all its libraries
#     inside the image (ldd in a chroot), librdkafka being ours from /usr/local/lib;
#  3. run with runc as uid 65532 on a read-only root (as a restricted pod would):
#     `sluice-operator --help`, `sluice-gateway --help` and `sluice-runtime --help`
#     exit 0, / is not writable;
#  4. the runtime image serves a real Python handler that imports json, base64
#     and hashlib from the image's standard library: started with host
#     networking on a free 127.0.0.1 port, /invoke answers what the handler
#     computed, and SIGTERM drains it to exit 0;
#  5. bring your own image (docs/handler-images.md), with the images of
#     `images/build.sh byo`: the runtime image's bundle, copied out as the
#     install-runtime init container copies it, runs in the python-requests
#     image (no Sluice file in it, no libpython) through the bundle's loader,
#     and its handler imports the image's requests; the node image serves
#     its handler (2xx with the record, 500 for the poison one).
# Needs root, buildah, mmdebstrap and runc (make deps), and the built binaries.
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

((EUID == 0)) || fail "needs root (buildah storage, runc)"
for tool in buildah skopeo runc jq curl; do command -v "$tool" >/dev/null || fail "$tool is not installed (make deps)"; done

work=$(mktemp -d)
containers=()
runc_ids=()
cleanup() {
  local rc=$? id
  for id in "${runc_ids[@]}"; do runc delete --force "$id" >/dev/null 2>&1 || true; done
  for id in "${containers[@]}"; do
    buildah umount "$id" >/dev/null 2>&1 || true
    buildah rm "$id" >/dev/null 2>&1 || true
  done
  ((rc == 0)) || tail -n 40 "$work"/*.log >&2 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The binaries are this build tree's (make test has built them); build.sh only
# packs them, or takes both archives from its cache when nothing changed. The
# tags are per machine: hold build.sh's lock until the end, so a test in another
# worktree cannot retag them between our build and our checks.
cache=${SLUICE_IMAGES_CACHE:-$HOME/.cache/sluice/images}
mkdir -p "$cache"
exec 8>"$cache/.lock"
flock 8
SLUICE_IMAGES_LOCK_HELD=1 SLUICE_IMAGES_SKIP_BUILD=1 BUILD_DIR=$SLUICE_BUILD_DIR bash "$SLUICE_SOURCE_DIR/images/build.sh" >"$work/build.log" 2>&1 ||
  fail "images/build.sh failed: $(tail -n 20 "$work/build.log")"
SLUICE_IMAGES_LOCK_HELD=1 BUILD_DIR=$SLUICE_BUILD_DIR bash "$SLUICE_SOURCE_DIR/images/build.sh" byo >"$work/build-byo.log" 2>&1 ||
  fail "images/build.sh byo failed: $(tail -n 20 "$work/build-byo.log")"
version=$(sed -n 's/^project(sluice VERSION \([0-9.]*\).*/\1/p' "$SLUICE_SOURCE_DIR/CMakeLists.txt")
revision=$(git -C "$SLUICE_SOURCE_DIR" rev-parse HEAD)
for name in sluice-operator sluice-gateway sluice-runtime-python; do
  [[ -s $SLUICE_BUILD_DIR/images/$name.tar ]] || fail "no archive $SLUICE_BUILD_DIR/images/$name.tar"
done
grep -q "localhost/sluice-runtime-python:$version" "$SLUICE_BUILD_DIR/images/sizes.txt" || fail "sizes.txt lacks the runtime image"

# 1. The image config, as the archive containerd imports carries it; the local
# store must hold the same build (its key label).
check_config() {
  local ref=$1 title=$2 entrypoint=$3 config label want
  config=$(skopeo inspect --config "docker-archive:$SLUICE_BUILD_DIR/images/$title.tar" | jq .config) ||
    fail "cannot read the config of $SLUICE_BUILD_DIR/images/$title.tar"
  [[ $(buildah inspect --type image "$ref" | jq -r '.OCIv1.config.Labels["io.sluice.image.key"]') == \
    "$(jq -r '.Labels["io.sluice.image.key"]' <<<"$config")" ]] || fail "$ref in buildah's store is not the archive's build"
  [[ $(jq -r .User <<<"$config") == 65532:65532 ]] || fail "$ref: User is $(jq -r .User <<<"$config"), not 65532:65532"
  [[ $(jq -c .Entrypoint <<<"$config") == "[\"$entrypoint\"]" ]] || fail "$ref: entrypoint $(jq -c .Entrypoint <<<"$config")"
  for label in title=$title version=$version revision=$revision licenses=Apache-2.0 \
    source=https://github.com/sluice-io/sluice; do
    want=${label#*=}
    [[ $(jq -r --arg k "org.opencontainers.image.${label%%=*}" '.Labels[$k]' <<<"$config") == "$want" ]] ||
      fail "$ref: label org.opencontainers.image.${label%%=*} is not $want: $(jq -c .Labels <<<"$config")"
  done
  for label in description created; do
    [[ -n $(jq -r --arg k "org.opencontainers.image.$label" '.Labels[$k] // empty' <<<"$config") ]] ||
      fail "$ref: no label org.opencontainers.image.$label"
  done
}
check_config "localhost/sluice-operator:$version" sluice-operator /usr/local/bin/sluice-operator
check_config "localhost/sluice-runtime-python:$version" sluice-runtime-python /usr/local/bin/sluice-runtime
check_config "localhost/sluice-gateway:$version" sluice-gateway /usr/local/bin/sluice-gateway
runtime_env=$(buildah inspect --type image "localhost/sluice-runtime-python:$version" | jq -c .OCIv1.config.Env)
for var in PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1; do
  jq -e --arg v "$var" 'index($v) != null' <<<"$runtime_env" >/dev/null || fail "runtime image env lacks $var"
done

# mount_image VAR REF: a working container of REF (removed on exit), mounted;
# its mount point goes into VAR. Not in a $(...) subshell, so the cleanup list
# keeps the container.
mount_image() {
  local id
  id=$(buildah from --name "sluice-images-test-$$-$RANDOM" "$2")
  containers+=("$id")
  printf -v "$1" %s "$(buildah mount "$id")"
}
operator_root="" runtime_root=""
mount_image operator_root "localhost/sluice-operator:$version"
mount_image runtime_root "localhost/sluice-runtime-python:$version"

# 2. What the filesystem holds.
check_filesystem() {
  local root=$1 binary=$2 tool dir file out
  for tool in gcc cc c++ g++ cpp clang as ld x86_64-linux-gnu-gcc-12 apt-get apt; do
    for dir in usr/bin usr/sbin usr/local/bin; do
      [[ ! -e $root/$dir/$tool ]] || fail "$binary image holds /$dir/$tool"
    done
  done
  [[ ! -d $root/usr/lib/gcc ]] || ! find "$root/usr/lib/gcc" -name cc1\* | grep -q . || fail "$binary image holds cc1"
  for file in "/usr/local/bin/$binary" /usr/local/lib/librdkafka.so.1 /usr/local/lib/librdkafka++.so.1; do
    out=$(chroot "$root" /usr/bin/ldd "$file") || fail "ldd $file failed in the $binary image: $out"
    ! grep -q 'not found' <<<"$out" || fail "$file in the $binary image: $(grep 'not found' <<<"$out")"
    ! grep -q "$HOME\|/root/" <<<"$out" || fail "$file in the $binary image loads from the host's home: $out"
  done
  out=$(chroot "$root" /usr/bin/ldd "/usr/local/bin/$binary")
  grep -q 'librdkafka.so.1 => /usr/local/lib/librdkafka.so.1' <<<"$out" ||
    fail "$binary does not load our librdkafka from /usr/local/lib: $out"
}
check_filesystem "$operator_root" sluice-operator
check_filesystem "$runtime_root" sluice-runtime
[[ $(stat -c %u:%g "$runtime_root/code") == 65532:65532 ]] || fail "/code in the runtime image is not owned by 65532"
# The gateway links no librdkafka: only its own libraries must resolve.
gateway_root=""
mount_image gateway_root "localhost/sluice-gateway:$version"
out=$(chroot "$gateway_root" /usr/bin/ldd /usr/local/bin/sluice-gateway) || fail "ldd sluice-gateway failed in its image: $out"
! grep -q 'not found' <<<"$out" || fail "sluice-gateway in its image: $(grep 'not found' <<<"$out")"
for tool in gcc cc c++ apt-get; do [[ ! -e $gateway_root/usr/bin/$tool ]] || fail "gateway image holds /usr/bin/$tool"; done

# 3. runc, as a restricted pod runs it: uid/gid 65532, read-only root, /tmp a
# tmpfs (the emptyDir), no capabilities, host network (no network namespace).
# bundle NAME ROOT ARG...: writes $work/NAME/config.json for ROOT; the image's
# env is passed; BIND=src:dst (optional) adds a read-only bind mount.
bundle() {
  local name=$1 root=$2
  shift 2
  mkdir -p "$work/$name"
  (cd "$work/$name" && runc spec)
  local args env
  args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
  env=$(jq -c . <<<"${IMAGE_ENV:-[\"PATH=/usr/local/bin:/usr/bin:/bin\"]}")
  jq --arg root "$root" --argjson args "$args" --argjson env "$env" --arg bind "${BIND:-}" --arg cwd "${CWD:-/}" '
    .root = {path: $root, readonly: true}
    | .process.terminal = false | .process.args = $args | .process.env = $env | .process.cwd = $cwd
    | .process.user = {uid: 65532, gid: 65532}
    | .process.capabilities = {bounding: [], effective: [], permitted: [], inheritable: [], ambient: []}
    | .process.noNewPrivileges = true
    | .linux.namespaces |= map(select(.type != "network"))
    | .mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"]}]
    | if $bind == "" then . else
        .mounts += [{destination: ($bind | split(":")[1]), type: "bind", source: ($bind | split(":")[0]),
                     options: ["rbind", "ro"]}] end' \
    "$work/$name/config.json" >"$work/$name/config.json.new"
  mv "$work/$name/config.json.new" "$work/$name/config.json"
}
# run_in NAME ROOT ARG...: runs to completion; prints stdout+stderr, returns the exit code.
run_in() {
  local name=$1 id="sluice-images-test-$$-$1"
  bundle "$@"
  runc_ids+=("$id")
  runc run --bundle "$work/$name" "$id" </dev/null 2>&1
}

out=$(run_in operator-help "$operator_root" /usr/local/bin/sluice-operator --help) ||
  fail "sluice-operator --help exited non-zero in its image: $out"
grep -qi usage <<<"$out" || fail "sluice-operator --help printed no usage: $out"
# The operator's validator compiles inline Python with the interpreter its image carries (the
# admission webhook refuses a SyntaxError as `sluice check` does): --local --check as the image runs it.
mkdir -p "$work/manifests"
cat >"$work/manifests/fn.yaml" <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: broken}
spec:
  code:
    inline: |
      def main_handler(event, context):
          return event +
YAML
out=$(BIND="$work/manifests:/manifests" run_in operator-check "$operator_root" \
  /usr/local/bin/sluice-operator --local /manifests --check) && fail "a SyntaxError passed --check in the operator image"
grep -q 'spec.code.inline: Invalid value: SyntaxError: invalid syntax (index.py, line 2)' <<<"$out" ||
  fail "the operator image did not compile the inline code: $out"
out=$(run_in gateway-help "$gateway_root" /usr/local/bin/sluice-gateway --help) ||
  fail "sluice-gateway --help exited non-zero in its image: $out"
grep -qi usage <<<"$out" || fail "sluice-gateway --help printed no usage: $out"
out=$(IMAGE_ENV=$runtime_env run_in runtime-help "$runtime_root" /usr/local/bin/sluice-runtime --help) ||
  fail "sluice-runtime --help exited non-zero in its image: $out"
grep -q -- --control-bind-address <<<"$out" || fail "sluice-runtime --help printed no options: $out"
out=$(run_in whoami "$runtime_root" /bin/sh -c 'id -u; id -g; touch /probe 2>/dev/null && echo writable || echo read-only')
[[ $out == $'65532\n65532\nread-only' ]] || fail "expected uid/gid 65532 on a read-only root, got: $out"

# 4. A Python handler, in the runtime image, through /invoke.
mkdir -p "$work/code"
cat >"$work/code/index.py" <<'PY'
import base64
import hashlib
import json
import sys


def main_handler(event, context):
    body = json.loads(event["data"])
    text = base64.b64decode(body["b64"]).decode()
    return json.dumps({"text": text.upper(), "sha256": hashlib.sha256(text.encode()).hexdigest()[:12],
                       "python": "%d.%d" % sys.version_info[:2], "prefix": sys.prefix})
PY
cat >"$work/code/function.json" <<'JSON'
{"name": "images-test", "runtime": "python3.11", "codeDir": "/code",
 "triggers": [{"name": "web", "http": {}}]}
JSON
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
invoke_token=images-test-invoke-token
serve_env=$(jq -c --arg t "SLUICE_INVOKE_TOKEN=$invoke_token" '. + [$t]' <<<"$runtime_env")
IMAGE_ENV=$serve_env BIND=$work/code:/code CWD=/code bundle runtime-serve "$runtime_root" \
  /usr/local/bin/sluice-runtime --config /code/function.json --control-bind-address "127.0.0.1:$port" \
  --data-bind-address "127.0.0.1:$data_port" --drain-grace 5
serve_id="sluice-images-test-$$-serve"
runc_ids+=("$serve_id")
runc run --bundle "$work/runtime-serve" "$serve_id" </dev/null >"$work/runtime.log" 2>&1 &
serve_pid=$!
ready() {
  kill -0 "$serve_pid" 2>/dev/null || fail "sluice-runtime exited in its image: $(cat "$work/runtime.log")"
  curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null
}
poll 60 ready
payload=$(printf '{"b64": "%s"}' "$(printf 'hello from the image' | base64)")
reply=$(curl -sS --max-time 30 -w '\n%{http_code}' -X POST -H "X-Sluice-Invoke-Token: $invoke_token" \
  --data-binary "$payload" "http://127.0.0.1:$data_port/invoke")
want_sha=$(printf 'hello from the image' | sha256sum | cut -c1-12)
want='{"text": "HELLO FROM THE IMAGE", "sha256": "'$want_sha'", "python": "3.11", "prefix": "/usr"}'
[[ $reply == "$want"$'\n200' ]] || fail "/invoke answered: $reply (want $want and 200)"
runc kill "$serve_id" TERM
status=0
wait "$serve_pid" || status=$?
((status == 0)) || fail "sluice-runtime exited $status on SIGTERM: $(cat "$work/runtime.log")"

# 5. Bring your own image. The bundle leaves the runtime image as the init container's `cp -R` takes it.
mkdir -p "$work/sluice"
cp -R "$runtime_root/usr/local/lib/sluice-runtime-bundle/." "$work/sluice/"
python_root="" node_root=""
mount_image python_root "localhost/sluice-e2e-python-requests:$version"
mount_image node_root "localhost/sluice-e2e-node-handler:$version"
[[ ! -e $python_root/usr/local/bin/sluice-runtime ]] && ! ls "$python_root"/usr/lib/x86_64-linux-gnu/libpython3* >/dev/null 2>&1 ||
  fail "the python-requests image holds a Sluice runtime or a libpython: the test would prove nothing"
mkdir -p "$work/byo-code"
cat >"$work/byo-code/index.py" <<'PY'
import sys

import requests


def main_handler(event, context):
    return "requests %s python %d.%d prefix %s data %s" % (
        requests.__version__, sys.version_info[0], sys.version_info[1], sys.prefix, event["data"])
PY
cat >"$work/byo-code/function.json" <<'JSON'
{"name": "byo-python", "runtime": "python3.11", "codeDir": "/code",
 "triggers": [{"name": "web", "http": {}}]}
JSON
# The python-requests image's root with the emptyDir at /sluice (a bind of the copied bundle) and /code.
port=$(free_port)
data_port=$(free_port)
byo_env=$(jq -nc --arg t "SLUICE_INVOKE_TOKEN=$invoke_token" \
  '["PATH=/usr/local/bin:/usr/bin:/bin", "SLUICE_PYTHON_FROM_IMAGE=1", "PYTHONDONTWRITEBYTECODE=1", $t]')
IMAGE_ENV=$byo_env BIND=$work/byo-code:/code bundle byo-python "$python_root" \
  /sluice/lib/ld-linux-x86-64.so.2 --library-path /sluice/lib /sluice/bin/sluice-runtime \
  --config /code/function.json --control-bind-address "127.0.0.1:$port" --data-bind-address "127.0.0.1:$data_port"
jq --arg src "$work/sluice" '.mounts += [{destination: "/sluice", type: "bind", source: $src, options: ["rbind", "ro"]}]' \
  "$work/byo-python/config.json" >"$work/byo-python/config.json.new" && mv "$work/byo-python/config.json.new" "$work/byo-python/config.json"
serve_id="sluice-images-test-$$-byo-python"
runc_ids+=("$serve_id")
runc run --bundle "$work/byo-python" "$serve_id" </dev/null >"$work/byo-python.log" 2>&1 &
serve_pid=$!
poll 60 ready || fail "the copied runtime never became ready in the python-requests image: $(cat "$work/byo-python.log")"
reply=$(curl -sS --max-time 30 -w '\n%{http_code}' -X POST -H "X-Sluice-Invoke-Token: $invoke_token" \
  --data-binary 'hi' "http://127.0.0.1:$data_port/invoke")
[[ $reply =~ ^requests\ 2\.[0-9.]+\ python\ 3\.11\ prefix\ /usr\ data\ hi$'\n'200$ ]] ||
  fail "the handler in the python-requests image answered: $reply ($(tail -5 "$work/byo-python.log"))"
byo_python_reply=${reply%$'\n'200}
runc kill "$serve_id" TERM
status=0
wait "$serve_pid" || status=$?
((status == 0)) || fail "the copied sluice-runtime exited $status on SIGTERM: $(cat "$work/byo-python.log")"

node_port=$(free_port)
IMAGE_ENV=$(jq -nc --arg p "PORT=$node_port" '["PATH=/usr/bin:/bin", $p]') bundle byo-node "$node_root" \
  /usr/bin/node /app/handler.js
node_id="sluice-images-test-$$-byo-node"
runc_ids+=("$node_id")
runc run --bundle "$work/byo-node" "$node_id" </dev/null >"$work/byo-node.log" 2>&1 &
node_pid=$!
node_up() { curl -s -o /dev/null -X POST --data-binary '{}' "http://127.0.0.1:$node_port/"; }
poll 60 node_up || fail "the node image never served: $(cat "$work/byo-node.log")"
reply=$(curl -sS -w '\n%{http_code}' -X POST --data-binary '{"id":"b-1"}' "http://127.0.0.1:$node_port/")
[[ $reply =~ ^\{\"id\":\"b-1\",\"handledBy\":\"node\ v[0-9.]+\"\}$'\n'200$ ]] || fail "the node handler answered: $reply"
reply=$(curl -sS -o /dev/null -w '%{http_code}' -X POST --data-binary 'poison' "http://127.0.0.1:$node_port/")
[[ $reply == 500 ]] || fail "the node handler answered $reply to the poison record, not 500"
runc kill "$node_id" TERM
wait "$node_pid" || true
echo "PASS: images (user 65532, labels $version/$revision, no compiler, libraries resolve, --help, Python handler; runtime bundle in the python-requests image: $byo_python_reply; node handler image)"
