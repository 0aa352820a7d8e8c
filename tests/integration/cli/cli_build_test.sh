#!/usr/bin/env bash
# `sluice build` with the real buildah and pip: a handler directory whose
# requirements.txt names a package (a tiny wheel made here, served by a PEP
# 503 index this test starts on 127.0.0.1) becomes an image with the handler
# under /code and the package under /code/vendor (importable from there,
# no bytecode); built again after every file was touched, it has the SAME
# digest; an edited handler gives another; a requirement the index cannot
# satisfy exits 1 naming requirements.txt with pip's last line; a directory
# without a handler exits 2.
# buildah's storage is machine-wide: every image here is named
# sluice.local/code/test-<unique>..., built on a base made here from scratch
# (not the project's runtime image, which another build may replace
# meanwhile), and removed at the end.
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_BUILD_DIR
((EUID == 0)) || fail "needs root (buildah's storage in /var/lib/containers)"
command -v buildah >/dev/null || fail "needs buildah (make deps)"

work=$(mktemp -d)
id=test-$(date +%s)-$$-$RANDOM
base=sluice.local/code/$id-base:1
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
  [[ -n ${mounted:-} ]] && { buildah umount "$mounted" >/dev/null 2>&1; buildah rm "$mounted" >/dev/null 2>&1; }
  buildah images --format '{{.Name}}:{{.Tag}}' | grep -F "sluice.local/code/$id" | xargs -r buildah rmi -f >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/cli_lib.sh"
sluice() { "$SLUICE_BUILD_DIR/sluice" "$@"; }

# The base: an empty /code, like the runtime image's.
builder=$(buildah from scratch)
mkdir -p "$work/base/code"
buildah copy --quiet "$builder" "$work/base" / >/dev/null
buildah commit --quiet --rm --timestamp 0 "$builder" "$base" >/dev/null || fail "committing $base"

# A wheel of package sluicetinydep 1.0 and a simple index serving it.
python3 "$(dirname "$0")/tiny_index.py" "$work/index"
port=$(free_port)
python3 -m http.server --bind 127.0.0.1 "$port" --directory "$work/index" >"$work/index.log" 2>&1 &
server_pid=$!
index=http://127.0.0.1:$port/simple
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
poll 10 curl -sf -o /dev/null "$index/sluicetinydep/"

handler=$work/handler
mkdir -p "$handler"
cat >"$handler/index.py" <<'PY'
import sluicetinydep


def main_handler(event, context):
    return sluicetinydep.GREETING
PY
echo "sluicetinydep==1.0" >"$handler/requirements.txt"
build() { sluice build "$handler" --name "$id" --base "$base" --index-url "$index" -o json; }

start=$SECONDS
first=$(build) || fail "sluice build failed"
echo "[figure] sluice build with one requirement: $((SECONDS - start)) s"
digest=$(jq -r .digest <<<"$first")
image=$(jq -r .image <<<"$first")
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || fail "digest: $first"
[[ $image == "sluice.local/code/$id:${digest:7:12}" ]] || fail "the image is not tagged by its digest: $first"
[[ $(jq -c .packages <<<"$first") == '["sluicetinydep-1.0"]' ]] || fail "packages: $first"
[[ $(buildah inspect --type image --format '{{.FromImageID}}' "$image") == "${digest#sha256:}" ]] ||
  fail "$image is not the image $digest"

# What the image holds: the handler under /code, the package under /code/vendor, which the runtime
# puts first on sys.path (a Python 3.11 imports it from there), and no bytecode.
mounted=$(buildah from --pull=never "$image")
root=$(buildah mount "$mounted")
[[ -f $root/code/index.py && -f $root/code/vendor/sluicetinydep/__init__.py ]] ||
  fail "/code holds: $(cd "$root/code" && find . | sort | tr '\n' ' ')"
[[ -z $(find "$root/code" -name '*.pyc' -o -name __pycache__) ]] || fail "bytecode in /code"
greeting=$(PYTHONPATH=$root/code/vendor python3 -c 'import sluicetinydep; print(sluicetinydep.GREETING)')
[[ $greeting == "hello from sluicetinydep" ]] || fail "importing from /code/vendor gave: $greeting"
buildah umount "$mounted" >/dev/null
buildah rm "$mounted" >/dev/null
mounted=

# Same files with new times (and a stray bytecode file) and a second build: the same digest.
sleep 1
touch "$handler/index.py" "$handler/requirements.txt"
mkdir -p "$handler/__pycache__" && echo x >"$handler/__pycache__/index.cpython-311.pyc"
second=$(build) || fail "the second sluice build failed"
[[ $(jq -r .digest <<<"$second") == "$digest" ]] || fail "built twice: $digest, then $(jq -r .digest <<<"$second")"

# An edited handler: another digest.
echo "# edited" >>"$handler/index.py"
third=$(build) || fail "the third sluice build failed"
[[ $(jq -r .digest <<<"$third") != "$digest" ]] || fail "an edited handler kept the digest $digest"

# A requirement the index cannot satisfy: exit 1, requirements.txt and pip's last line named.
echo "sluicetinydep==9.9" >"$handler/requirements.txt"
expect_exit 1 build
[[ $err == "sluice build: $handler/requirements.txt: pip install failed (exit 1): ERROR: No matching distribution found for sluicetinydep==9.9" ]] ||
  fail "a bad requirement: $err"

# No handler: exit 2.
mkdir -p "$work/empty" && echo "# notes" >"$work/empty/README.md"
expect_exit 2 sluice build "$work/empty" --name "$id" --base "$base"
[[ $err == "sluice build: $work/empty: no handler: no *.py file at its top level (the handler's module, e.g. index.py for handler index.main_handler)" ]] ||
  fail "no handler: $err"
echo "PASS: built twice to $digest, an edit to $(jq -r .digest <<<"$third"), a bad requirement and no handler refused"
