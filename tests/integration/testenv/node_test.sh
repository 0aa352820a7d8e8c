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
