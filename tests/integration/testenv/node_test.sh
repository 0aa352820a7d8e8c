#!/usr/bin/env bash
# The real node of tests/env (components/node.sh) runs real pods:
#  - Node localhost is Ready, labelled and tainted so ordinary pods stay on KWOK;
#  - a pod that says nothing about nodes, in a namespace from node-namespace.sh
#    (restricted Pod Security), is placed on it and runs with a 10.244.0.x IP;
#  - from that pod, a host service bound to 127.0.0.1 answers at 10.244.0.1:<port>
#    and the apiserver at $KUBERNETES_SERVICE_HOST:443 (10.0.0.1) accepts the
#    pod's service-account token (a SelfSubjectReview names the account);
#  - `kubectl logs` reaches the kubelet;
#  - `down.sh node` leaves nothing behind (leftovers.sh --node); the node is
#    started again afterwards for the tests that follow.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_ENV_DIR NODE_NAME NODE_POD_GATEWAY NODE_NAMESPACE NODE_CTR
env_dir=$SLUICE_SOURCE_DIR/tests/env
t0=$SECONDS

own_namespace node-test
ready=$("$KUBECTL" get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')
[[ $ready == True ]] || fail "node $NODE_NAME is not Ready ($ready)"
taints=$("$KUBECTL" get node "$NODE_NAME" -o jsonpath='{.spec.taints[*].key}={.spec.taints[*].value}:{.spec.taints[*].effect}')
[[ $taints == *sluice.io/node=real:NoSchedule* ]] || fail "node $NODE_NAME lacks the sluice.io/node taint: $taints"

image=$(bash "$env_dir/node-busybox-image.sh") || fail "could not build/import the busybox test image"
bash "$NODE_NAMESPACE" "$ns"
poll 60 k get serviceaccount default -o name >/dev/null

# A host service on 127.0.0.1 only, with a body no other server would send.
mkdir -p "$work/www"
body="sluice node test $ns"
printf '%s' "$body" >"$work/www/index.html"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$work/www" "$port" >"$work/http.log" 2>&1 &
pids+=($!)
poll 10 curl -sf "http://127.0.0.1:$port/" -o /dev/null

# Kafka's pod listener, when the kafka component runs: 10.244.0.1 <port>.
kafka=""
[[ -z ${KAFKA_POD_BOOTSTRAP:-} ]] || kafka="${KAFKA_POD_BOOTSTRAP%:*} ${KAFKA_POD_BOOTSTRAP##*:}"

# The pod's checks print marked lines to its log; it then idles so it is Running.
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  terminationGracePeriodSeconds: 0
  securityContext:
    runAsNonRoot: true
    runAsUser: 65534
    seccompProfile: {type: RuntimeDefault}
  volumes:
  - {name: tmp, emptyDir: {}}
  containers:
  - name: client
    image: $image
    imagePullPolicy: Never
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
    volumeMounts:
    - {name: tmp, mountPath: /tmp}
    command:
    - /bin/busybox
    - sh
    - -c
    - |
      echo "HOST_BODY=\$(wget -q -O- http://$NODE_POD_GATEWAY:$port/)"
      token=\$(cat /var/run/secrets/kubernetes.io/serviceaccount/token)
      wget -S -O /tmp/review --no-check-certificate \\
        --header "Authorization: Bearer \$token" --header "Content-Type: application/json" \\
        --post-data '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}' \\
        "https://\$KUBERNETES_SERVICE_HOST:\$KUBERNETES_SERVICE_PORT/apis/authentication.k8s.io/v1/selfsubjectreviews" \\
        2>/tmp/headers
      echo "API_HOST=\$KUBERNETES_SERVICE_HOST:\$KUBERNETES_SERVICE_PORT"
      echo "API_STATUS=\$(sed -n 's/^ *\(HTTP\/[0-9.]* [0-9]*\).*/\1/p' /tmp/headers)"
      echo "API_USER=\$(sed -n 's/.*"username": *"\([^"]*\)".*/\1/p' /tmp/review)"
      if [ -n "$kafka" ]; then
        # Kafka ApiVersions v0, correlation id 1: size, key 18, version 0, id, null client id.
        printf '\\000\\000\\000\\012\\000\\022\\000\\000\\000\\000\\000\\001\\377\\377' |
          timeout 5 nc $kafka | head -c 10 | od -An -tx1 | tr -d ' \\n' | sed 's/^/KAFKA_REPLY=/'
        echo
      fi
      echo DONE
      exec sleep 3600
YAML
t_apply=$SECONDS
running() { [[ $(k get pod client -o jsonpath='{.status.phase}') == Running ]]; }
poll 60 running
echo "pod Running $((SECONDS - t_apply)) s after apply"

node=$(k get pod client -o jsonpath='{.spec.nodeName}')
ip=$(k get pod client -o jsonpath='{.status.podIP}')
tolerations=$(k get pod client -o jsonpath='{.spec.tolerations[*].key}')
selector=$(k get pod client -o jsonpath='{.spec.nodeSelector.sluice\.io/node}')
[[ $node == "$NODE_NAME" ]] || fail "pod is on '$node', not $NODE_NAME"
[[ $ip == 10.244.0.* ]] || fail "pod IP '$ip' is not in 10.244.0.0/24"
[[ $selector == real && $tolerations == *sluice.io/node* ]] ||
  fail "the namespace's node selector/toleration were not added (selector '$selector', tolerations '$tolerations')"

# kubectl logs goes apiserver -> kubelet (127.0.0.1) -> containerd.
done_logging() { k logs client 2>/dev/null | grep -qx DONE; }
poll 30 done_logging
logs=$(k logs client)
echo "$logs"
grep -qxF "HOST_BODY=$body" <<<"$logs" || fail "the host service did not answer through $NODE_POD_GATEWAY:$port"
grep -qx "API_HOST=10.0.0.1:443" <<<"$logs" || fail "in-cluster config does not point at 10.0.0.1:443"
grep -qx "API_STATUS=HTTP/1.1 201" <<<"$logs" || fail "the apiserver did not accept the pod's token (201 expected)"
grep -qxF "API_USER=system:serviceaccount:$ns:default" <<<"$logs" ||
  fail "the SelfSubjectReview does not name the pod's service account"
if [[ -n $kafka ]]; then
  # size (any), then correlation id 1 and error code 0 (NONE)
  grep -qE "^KAFKA_REPLY=[0-9a-f]{8}000000010000$" <<<"$logs" ||
    fail "Kafka did not answer the pod at $KAFKA_POD_BOOTSTRAP"
  # ...and the metadata it hands out names the address the pod can reach.
  if command -v kcat >/dev/null; then
    kcat -b "127.0.0.1:${KAFKA_POD_BOOTSTRAP##*:}" -L -m 5 | grep -qF "at $KAFKA_POD_BOOTSTRAP" ||
      fail "Kafka's pod listener does not advertise $KAFKA_POD_BOOTSTRAP"
  fi
else
  echo "(kafka component not running: its pod listener is not checked)"
fi
# exec goes the same way, through containerd's streaming server.
[[ $(k exec client -- /bin/busybox echo exec-ok) == exec-ok ]] || fail "kubectl exec into the pod failed"
# Pod traffic never leaves the machine.
[[ $(iptables -S FORWARD) == *"-s $NODE_POD_CIDR ! -d $NODE_POD_CIDR"*"-j DROP"* ]] ||
  fail "no FORWARD rule drops pod traffic leaving the machine"

# Stopping the node leaves nothing behind, even with a pod running; then it
# comes back for whatever runs next.
bash "$env_dir/down.sh" node
bash "$env_dir/leftovers.sh" --node || fail "down.sh node left things behind"
bash "$env_dir/up.sh" node
echo "PASS: real node ran a restricted pod that reached a host service and the apiserver ($((SECONDS - t0)) s)"
