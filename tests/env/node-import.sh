#!/usr/bin/env bash
# Imports image archives into the real node's containerd (namespace k8s.io,
# the one the kubelet uses), so pods can run them without a registry.
# Usage: node-import.sh ARCHIVE...
#   ARCHIVE: a docker-archive (`buildah push IMG docker-archive:X.tar:IMG`) or an
#   oci-archive (`buildah push IMG oci-archive:X.tar:IMG`) tar.
# Prints the names of the imported images. Pods should use them with
# imagePullPolicy: Never (IfNotPresent works for tags other than :latest).
source "$(dirname "$0")/lib.sh"

(($#)) || die "usage: node-import.sh ARCHIVE..."
if [[ -z ${NODE_CONTAINERD_SOCKET:-} ]]; then
  [[ -f $SLUICE_ENV_DIR/node.env ]] || die "the real node is not running: bash tests/env/up.sh kube node"
  # shellcheck disable=SC1091
  source "$SLUICE_ENV_DIR/node.env"
fi

# ctr names an image from an oci-archive by its index's ref.name annotation;
# an archive naming only a tag would import nameless, so it is refused here.
import_one() {
  local archive=$1 ref
  ref=$(tar -xOf "$archive" index.json 2>/dev/null |
    python3 -c 'import json,sys
for m in json.load(sys.stdin).get("manifests", []):
    print(m.get("annotations", {}).get("org.opencontainers.image.ref.name", "")); break' 2>/dev/null || true)
  if [[ -n $ref && $ref != */* ]]; then
    die "$archive: its OCI index names the image only '$ref'; push it with a full name (oci-archive:X.tar:registry/name:tag)"
  fi
  local out
  out=$(ctr --address "$NODE_CONTAINERD_SOCKET" --namespace k8s.io images import "$archive" 2>&1) || {
    echo "$out" >&2
    die "ctr could not import $archive"
  }
  # "unpacking NAME (sha256:...)...done" per image
  sed -nE 's/^unpacking ([^ ]+) .*/\1/p' <<<"$out"
}

for archive in "$@"; do
  [[ -f $archive ]] || die "no such archive: $archive"
  import_one "$archive"
done
