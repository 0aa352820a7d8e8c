# Kubernetes control plane for tests: etcd, kube-apiserver (RBAC, client-cert
# auth), kube-controller-manager, kube-scheduler, kubectl, and KWOK managing two
# fake nodes so that scheduled pods become Running. Sourced by up.sh/down.sh.
# The apiserver reaches kubelets by node name (--kubelet-preferred-address-types=Hostname):
# the real node of components/node.sh is named localhost and listens on 127.0.0.1.
# PodNodeSelector/PodTolerationRestriction let tests/env/node-namespace.sh pin a
# whole namespace to that node; namespaces without their annotations are unaffected.
#
# Exports: KUBECONFIG KUBECTL KUBE_APISERVER_URL KUBE_CERT_DIR ETCD_ENDPOINT KUBE_VERSION KWOK_NODES

KUBE_DIR=$SLUICE_ENV_DIR/kube
KUBE_PROCESSES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
KUBE_NODES=(kwok-node-0 kwok-node-1)

kube_bin() { echo "$(cache_dir kube "$KUBE_VERSION")/bin/$1"; }
etcd_bin() { echo "$(cache_dir etcd "$ETCD_VERSION")/bin/etcd"; }
kwok_bin() { echo "$(cache_dir kwok "$KWOK_VERSION")/bin/kwok"; }

kube_install() {
  bash "$ENV_SCRIPTS_DIR/build-go-tools.sh" etcd kube kwok
}

# One CA; a serving cert for 127.0.0.1; an O=system:masters admin client cert;
# a service-account signing key pair. Made once per environment directory.
kube_make_certs() {
  local d=$KUBE_DIR/pki
  [[ -f $d/.done ]] && return 0
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.crt \
      -subj "/CN=sluice-testenv-ca" 2>/dev/null
    cat >serving.ext <<EXT
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
EXT
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile serving.ext -out apiserver.crt 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=sluice-admin" 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile client.ext -out admin.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
  touch "$d/.done"
}

# The apiserver's client certificate towards kubelets (logs, exec, port-forward
# on the real node of components/node.sh). system:masters, so the kubelet's
# Webhook authorizer allows it without an RBAC binding. Made separately so an
# environment whose other certificates predate it gets it too.
kube_make_kubelet_client_cert() {
  local d=$KUBE_DIR/pki
  [[ -f $d/kubelet-client.crt ]] && return 0
  (
    cd "$d" || exit
    openssl req -newkey rsa:2048 -nodes -keyout kubelet-client.key -out kubelet-client.csr \
      -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" 2>/dev/null
    openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile client.ext -out kubelet-client.crt 2>/dev/null
  )
}

# kube_write_kubeconfig FILE URL: an admin kubeconfig with file-referenced certs.
kube_write_kubeconfig() {
  local file=$1 url=$2 d=$KUBE_DIR/pki
  cat >"$file" <<EOF_KC
apiVersion: v1
kind: Config
clusters:
- name: sluice-testenv
  cluster:
    server: $url
    certificate-authority: $d/ca.crt
users:
- name: sluice-admin
  user:
    client-certificate: $d/admin.crt
    client-key: $d/admin.key
contexts:
- name: sluice-testenv
  context:
    cluster: sluice-testenv
    user: sluice-admin
    namespace: default
current-context: sluice-testenv
EOF_KC
}

kube_apiserver_ready() {
  local port=$1 d=$KUBE_DIR/pki
  curl -sf --cacert "$d/ca.crt" --cert "$d/admin.crt" --key "$d/admin.key" "https://127.0.0.1:$port/readyz" >/dev/null
}

# kube_start_apiserver NAME PORT [extra flags...]: also used by kube-private.sh
# to run extra apiservers on the same etcd (an HA control plane) for tests that
# kill an apiserver without disturbing the shared one.
kube_start_apiserver() {
  local name=$1 port=$2
  shift 2
  local d=$KUBE_DIR/pki
  # Made here rather than with the others, so that a private apiserver joining
  # an environment whose certificates predate this one gets it too.
  kube_make_kubelet_client_cert
  start_bg "$name" "$(kube_bin kube-apiserver)" \
    --etcd-servers="$ETCD_ENDPOINT" \
    --secure-port="$port" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --tls-cert-file="$d/apiserver.crt" --tls-private-key-file="$d/apiserver.key" \
    --client-ca-file="$d/ca.crt" \
    --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true \
    --authorization-mode=Node,RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$d/sa.pub" --service-account-signing-key-file="$d/sa.key" \
    --cert-dir="$KUBE_DIR/$name-certs" \
    --kubelet-preferred-address-types=Hostname \
    --kubelet-client-certificate="$d/kubelet-client.crt" --kubelet-client-key="$d/kubelet-client.key" \
    --enable-admission-plugins=PodNodeSelector,PodTolerationRestriction \
    --enable-aggregator-routing=true \
    "$@"
  wait_for "$name" 120 "$SLUICE_ENV_DIR/$name.log" kube_apiserver_ready "$port"
}

kube_running() {
  local p
  for p in "${KUBE_PROCESSES[@]}"; do is_running "$p" || return 1; done
  [[ -f $SLUICE_ENV_DIR/kube.env ]]
}

kube_start() {
  if kube_running; then
    log "kube already running"
    return 0
  fi
  kube_stop
  mkdir -p "$KUBE_DIR"
  kube_make_certs
  local d=$KUBE_DIR/pki
  local etcd_port etcd_peer_port api_port kcm_port sched_port kwok_port
  etcd_port=$(free_port) etcd_peer_port=$(free_port) api_port=$(free_port)
  kcm_port=$(free_port) sched_port=$(free_port) kwok_port=$(free_port)
  ETCD_ENDPOINT=http://127.0.0.1:$etcd_port
  local kubeconfig=$KUBE_DIR/admin.kubeconfig
  kube_write_kubeconfig "$kubeconfig" "https://127.0.0.1:$api_port"

  rm -rf "$KUBE_DIR/etcd-data"
  start_bg etcd "$(etcd_bin)" --name testenv --data-dir "$KUBE_DIR/etcd-data" \
    --listen-client-urls "$ETCD_ENDPOINT" --advertise-client-urls "$ETCD_ENDPOINT" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "testenv=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync --quota-backend-bytes=4294967296
  wait_for etcd 60 "$SLUICE_ENV_DIR/etcd.log" curl -sf "$ETCD_ENDPOINT/health"

  kube_start_apiserver kube-apiserver "$api_port"

  start_bg kube-controller-manager "$(kube_bin kube-controller-manager)" \
    --kubeconfig="$kubeconfig" --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$kcm_port" --leader-elect=false \
    --service-account-private-key-file="$d/sa.key" --root-ca-file="$d/ca.crt" \
    --cert-dir="$KUBE_DIR/kcm-certs" \
    --node-monitor-grace-period=1h
  start_bg kube-scheduler "$(kube_bin kube-scheduler)" \
    --kubeconfig="$kubeconfig" --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$sched_port" --leader-elect=false \
    --cert-dir="$KUBE_DIR/scheduler-certs"
  # --node-monitor-grace-period above: KWOK's fake nodes missed the default 50 s
  # heartbeat window about once a minute, so the node lifecycle controller kept
  # flipping them NotReady and marking their pods not Ready (a test waiting for
  # Ready pods then failed). The nodes are fake and never die; only tests that
  # delete pods themselves need pods to go away.
  # Pod IPs come from a loopback range: the operator calls its pods (/drain,
  # /specialize), and those calls must never leave this machine; a test can
  # also stand a real sluice-runtime in for a pod by binding to its IP. Each
  # environment takes its own /16 of 127.0.0.0/8 (127.2-251.x.x), so that
  # environments running side by side never hand two pods (and two stand-ins)
  # the same address.
  local pod_range
  pod_range="127.$((2 + RANDOM % 250)).0.0/16"
  start_bg kwok "$(kwok_bin)" \
    --kubeconfig="$kubeconfig" --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=127.0.0.1 --cidr="$pod_range" --server-address="127.0.0.1:$kwok_port"
  wait_for kube-controller-manager 60 "$SLUICE_ENV_DIR/kube-controller-manager.log" \
    curl -skf "https://127.0.0.1:$kcm_port/healthz"
  wait_for kube-scheduler 60 "$SLUICE_ENV_DIR/kube-scheduler.log" \
    curl -skf "https://127.0.0.1:$sched_port/healthz"

  local kubectl
  kubectl=$(kube_bin kubectl)
  local node
  for node in "${KUBE_NODES[@]}"; do
    "$kubectl" --kubeconfig="$kubeconfig" apply -f - >/dev/null <<EOF_NODE
apiVersion: v1
kind: Node
metadata:
  name: $node
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: $node
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
EOF_NODE
  done
  wait_for kwok 60 "$SLUICE_ENV_DIR/kwok.log" kube_nodes_ready "$kubectl" "$kubeconfig"
  # Pods are refused until the namespace's default ServiceAccount exists.
  wait_for kube-controller-manager 60 "$SLUICE_ENV_DIR/kube-controller-manager.log" \
    "$kubectl" --kubeconfig="$kubeconfig" get serviceaccount default -n default

  cat >"$SLUICE_ENV_DIR/kube.env" <<EOF_ENV
export KUBECONFIG=$kubeconfig
export KUBECTL=$kubectl
export KUBE_APISERVER_URL=https://127.0.0.1:$api_port
export KUBE_CERT_DIR=$d
export ETCD_ENDPOINT=$ETCD_ENDPOINT
export KUBE_VERSION=$KUBE_VERSION
export KWOK_NODES="${KUBE_NODES[*]}"
EOF_ENV
}

kube_nodes_ready() {
  local kubectl=$1 kubeconfig=$2 ready
  ready=$("$kubectl" --kubeconfig="$kubeconfig" get nodes -l type=kwok \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)
  ((ready == ${#KUBE_NODES[@]}))
}

kube_stop() {
  local i
  for ((i = ${#KUBE_PROCESSES[@]} - 1; i >= 0; i--)); do
    stop_bg "${KUBE_PROCESSES[i]}"
  done
  # Private apiservers started by tests (kube-private.sh) go down with the shared one.
  local pidfile
  for pidfile in "$SLUICE_ENV_DIR"/kube-private-*.pid; do
    [[ -f $pidfile ]] && stop_bg "$(basename "$pidfile" .pid)"
  done
  return 0
}
