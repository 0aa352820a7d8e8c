#!/usr/bin/env bash
# The real control plane works end to end: kubectl applies a Deployment, the
# controller-manager creates its ReplicaSet and Pods, the scheduler binds them
# to the KWOK nodes, and KWOK reports them Running.
source "$(dirname "$0")/../lib.sh"
require_env KUBECONFIG KUBECTL KWOK_NODES

ns=$(unique_name deploy-test)
trap '"$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true' EXIT
"$KUBECTL" create namespace "$ns" >/dev/null
poll 60 "$KUBECTL" -n "$ns" get serviceaccount default -o name

"$KUBECTL" -n "$ns" apply -f - <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example/web:1
YAML

running() {
  [[ $("$KUBECTL" -n "$ns" get pods -l app=web --field-selector=status.phase=Running -o name | wc -l) -eq 3 ]]
}
poll 120 running

# Exactly three pods, each bound to one of the KWOK nodes, and the Deployment reports them available.
pods=$("$KUBECTL" -n "$ns" get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase}{"\n"}{end}')
echo "$pods"
[[ $(wc -l <<<"$pods") -eq 3 ]] || fail "expected 3 pods, got: $pods"
while read -r name node phase; do
  [[ " $KWOK_NODES " == *" $node "* ]] || fail "pod $name is on '$node', not a KWOK node ($KWOK_NODES)"
  [[ $phase == Running ]] || fail "pod $name is $phase"
done <<<"$pods"
available() { [[ $("$KUBECTL" -n "$ns" get deployment web -o jsonpath='{.status.availableReplicas}') == 3 ]]; }
poll 60 available

# Scaling down is carried out too.
"$KUBECTL" -n "$ns" scale deployment web --replicas=1 >/dev/null
one_left() { [[ $("$KUBECTL" -n "$ns" get pods -l app=web -o name | wc -l) -eq 1 ]]; }
poll 60 one_left
echo "PASS: deployment reached 3 Running pods on KWOK nodes and scaled to 1"
