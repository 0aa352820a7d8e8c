#!/usr/bin/env bash
# Makes (or updates) a namespace whose pods all run on the real node of
# components/node.sh, without the pods saying so: the apiserver's
# PodNodeSelector admission adds the node selector from the namespace
# annotation and PodTolerationRestriction adds the toleration of the node's
# taint. The namespace also enforces the restricted Pod Security Standard, as
# a production namespace would.
# Usage: node-namespace.sh NAME
source "$(dirname "$0")/lib.sh"

ns=${1:-}
[[ -n $ns && $# -eq 1 ]] || die "usage: node-namespace.sh NAME"
if [[ -z ${KUBECTL:-} || -z ${KUBECONFIG:-} ]]; then
  [[ -f $SLUICE_ENV_DIR/kube.env ]] || die "the kube component is not running: bash tests/env/up.sh kube node"
  # shellcheck disable=SC1091
  source "$SLUICE_ENV_DIR/kube.env"
fi

"$KUBECTL" create namespace "$ns" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
"$KUBECTL" annotate --overwrite namespace "$ns" \
  'scheduler.alpha.kubernetes.io/node-selector=sluice.io/node=real' \
  'scheduler.alpha.kubernetes.io/defaultTolerations=[{"key":"sluice.io/node","operator":"Equal","value":"real","effect":"NoSchedule"}]' \
  >/dev/null
"$KUBECTL" label --overwrite namespace "$ns" pod-security.kubernetes.io/enforce=restricted >/dev/null
