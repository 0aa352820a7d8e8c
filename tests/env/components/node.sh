# A real Kubernetes node beside KWOK's fake ones: containerd + runc + CNI and a
# kubelet registered as Node `localhost`. Sourced by up.sh/down.sh after kube.sh
# (it joins that control plane and signs its certificate with that CA).
#
# Everything of the node lives under $SLUICE_ENV_DIR/node: containerd's root,
# state and socket, runc's state, the kubelet's root and pod logs, the CNI
# config and IP allocations. What cannot live there (the bridge, iptables rules,
# the kubepods cgroups, a few sysctls) is recorded and removed by node_stop.
#
# Isolation from the existing tests: the node registers labelled and tainted
# sluice.io/node=real(:NoSchedule), so pods of ordinary namespaces keep landing
# on the KWOK nodes. tests/env/node-namespace.sh NAME makes a namespace whose
# pods go to this node (PodNodeSelector + PodTolerationRestriction, see kube.sh).
#
# Networking (no kube-proxy, no cluster DNS):
#   pods          10.244.0.0/24 on bridge sluice-br0, gateway 10.244.0.1 (the host)
#   pod -> host   every tests/env service binds 127.0.0.1; a pod reaches it at
#                 10.244.0.1:<same port> (nat PREROUTING DNAT to 127.0.0.1, which
#                 route_localnet=1 on the bridge permits), e.g. Kafka's pod
#                 listener KAFKA_POD_BOOTSTRAP
#   pod -> API    10.0.0.1:443 (the `kubernetes` Service, what in-cluster config
#                 uses) is DNATed to the apiserver on 127.0.0.1; its certificate
#                 has IP SAN 10.0.0.1
#   host -> pod   pod IPs directly
#   pod -> world  dropped (FORWARD), test pods never leave the machine
#
# Images: there is no registry. The pause image is built here (buildah, from
# the pause binary build-go-tools.sh compiles); tests import theirs with
# tests/env/node-import.sh ARCHIVE... and use imagePullPolicy: Never (or
# IfNotPresent with a non-latest tag). Every start begins with an empty
# containerd (only the pause image), so images are imported again after a
# restart of the node.
#
# One node per machine: the kubelet uses the root kubepods cgroups and the
# bridge name is fixed, so beside another environment's kubelet node_start
# only warns and starts nothing (the rest of the environment is unaffected).
#
# Exports: NODE_NAME NODE_POD_GATEWAY NODE_POD_CIDR NODE_BRIDGE
#          NODE_CONTAINERD_SOCKET NODE_CTR NODE_PAUSE_IMAGE NODE_IMPORT NODE_NAMESPACE

NODE_DIR=$SLUICE_ENV_DIR/node
NODE_BRIDGE=sluice-br0
NODE_POD_CIDR=10.244.0.0/24
NODE_POD_GATEWAY=10.244.0.1
NODE_CNI_NETWORK=sluice-pods
NODE_CNI_BIN_DIR=/usr/lib/cni
NODE_LABEL=sluice.io/node=real
NODE_SOCKET=$NODE_DIR/containerd/containerd.sock
# Kernel settings the kubelet (or the bridge plugin) changes; node_stop restores them.
NODE_SYSCTLS=(net.ipv4.ip_forward vm.overcommit_memory kernel.panic kernel.panic_on_oops)
# Which cgroup v1 hierarchies the kubelet's kubepods tree appears in.
NODE_CGROUP_ROOT=/sys/fs/cgroup

node_kubelet_bin() { echo "$(cache_dir kubelet "$KUBE_VERSION")/bin/kubelet"; }
node_pause_tag() { cat "$(cache_dir pause "$KUBE_VERSION")/tag"; }
node_pause_image() { echo "registry.k8s.io/pause:$(node_pause_tag)"; }
node_ctr() { ctr --address "$NODE_SOCKET" --namespace k8s.io "$@"; }

node_install() {
  bash "$ENV_SCRIPTS_DIR/build-go-tools.sh" kubelet pause
  local p
  for p in containerd runc buildah ctr iptables; do
    command -v "$p" >/dev/null || die "$p is missing: run scripts/deps.sh"
  done
  [[ -x $NODE_CNI_BIN_DIR/bridge ]] || die "CNI plugins missing in $NODE_CNI_BIN_DIR: run scripts/deps.sh"
  node_pause_archive >/dev/null
}

# The pause image as a docker-archive, cached by what it is made of (the
# binary, the tag and buildah's version), so a new Kubernetes version or
# buildah rebuilds it. Prints the archive's path.
node_pause_archive() {
  local bin key dir
  bin=$(cache_dir pause "$KUBE_VERSION")/bin/pause
  key=$({
    sha256sum "$bin"
    node_pause_image
    buildah --version
  } | sha256sum | cut -c1-16)
  dir=$(cache_dir pause-image "$key")
  if ! cache_ready pause-image "$key"; then
    log "building the pause image $(node_pause_image)"
    rm -rf "$dir" && mkdir -p "$dir"
    node_buildah_image "$dir/pause.tar" "$(node_pause_image)" "$bin" /pause \
      --entrypoint '["/pause"]' --user 65535:65535
    mark_ready pause-image "$key"
  fi
  echo "$dir/pause.tar"
}

# node_buildah_image ARCHIVE IMAGE FILE DEST [buildah config flags...]: an image
# FROM scratch holding one file, saved as a docker-archive. buildah runs on a
# throwaway storage of its own (vfs, no mounts), so the machine's shared
# /var/lib/containers is never touched.
node_buildah_image() {
  local archive=$1 image=$2 file=$3 dest=$4
  shift 4
  local store
  store=$(mktemp -d "$SLUICE_CACHE/buildah.XXXXXX")
  local b=(buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs)
  local ctr_id
  if ! {
    ctr_id=$("${b[@]}" from scratch) &&
      "${b[@]}" copy "$ctr_id" "$file" "$dest" >/dev/null &&
      "${b[@]}" config "$@" "$ctr_id" &&
      "${b[@]}" commit -q "$ctr_id" "$image" >/dev/null &&
      "${b[@]}" push -q "$image" "docker-archive:$archive:$image"
  } >"$store.log" 2>&1; then
    cat "$store.log" >&2
    "${b[@]}" rm --all >/dev/null 2>&1 || true
    rm -rf "$store" "$store.log"
    die "buildah could not build $image"
  fi
  "${b[@]}" rm --all >/dev/null 2>&1 || true
  rm -rf "$store" "$store.log"
}

# Running, and joined to the apiserver that runs now: a restarted kube
# component has a new port, which the kubelet's kubeconfig and the 10.0.0.1
# DNAT rule would still point past.
node_running() {
  is_running node-containerd && is_running node-kubelet && [[ -f $SLUICE_ENV_DIR/node.env ]] &&
    [[ $(cat "$NODE_DIR/apiserver.url" 2>/dev/null) == "$(node_kube_var KUBE_APISERVER_URL)" ]]
}

node_start() {
  if node_running; then
    log "node already running"
    return 0
  fi
  [[ -f $SLUICE_ENV_DIR/kube.env ]] || die "the node needs the kube component: up.sh kube node"
  node_stop
  node_reclaim_abandoned
  # Another checkout's environment on this machine may own the node: the rest
  # of this environment still comes up, and tests that need the node fail on
  # the missing NODE_* variables, naming the reason kept in node.busy.
  if ! node_machine_free; then
    log "WARNING: real node not started: $NODE_BUSY"
    echo "$NODE_BUSY" >"$SLUICE_ENV_DIR/node.busy"
    return 0
  fi
  # Never delete through a mount that would not go away (a pod's hostPath...).
  [[ -z $(node_mounts) ]] || die "mounts remain under $NODE_DIR: $(node_mounts | tr '\n' ' ')"
  rm -rf --one-file-system "$NODE_DIR" && mkdir -p "$NODE_DIR"
  node_save_sysctls
  node_write_containerd_config
  node_write_cni_config
  node_make_certs
  node_start_containerd
  node_ctr images import "$(node_pause_archive)" >/dev/null
  node_setup_network
  node_start_kubelet
  node_write_env
}

# Values from kube.env (KUBECTL, KUBE_APISERVER_URL...), without exporting them here.
node_kube_var() { (source "$SLUICE_ENV_DIR/kube.env" 2>/dev/null && echo "${!1}"); }

# The kubelet's kubepods cgroups and the bridge are machine-wide: a second node
# (another checkout's environment) would fight over them. Sets NODE_BUSY to
# the reason when the machine is taken.
node_machine_free() {
  local pid
  for pid in $(pgrep -x kubelet || true); do
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--root-dir=$NODE_DIR/" && continue
    NODE_BUSY="another kubelet runs on this machine (pid $pid): one real node per machine"
    return 1
  done
  if ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
    NODE_BUSY="bridge $NODE_BRIDGE exists but is not this environment's (another environment's node?)"
    return 1
  fi
}

# An environment killed before its teardown (a CI run cut off, a kill -9 of
# up.sh) leaves the machine-wide parts of its node: the bridge, its tagged
# iptables rules, mounts under its folder. With no kubelet and no node
# containerd left on the machine nothing owns them any more, so they are
# torn down here with that environment's own node_stop (its folder names
# what it made) and whatever its folder no longer records goes by name;
# otherwise they would keep every later environment's node from starting.
node_reclaim_abandoned() {
  [[ -z $(pgrep -x kubelet || true) ]] || return 0
  [[ -z $(pgrep -f "containerd --config .*/node/containerd/config.toml" || true) ]] || return 0
  local dir
  for dir in $(iptables-save 2>/dev/null | grep -o 'sluice-testenv [^"]*/node' | cut -d' ' -f2 | sort -u); do
    [[ $dir != "$NODE_DIR" ]] || continue
    log "reclaiming the real node abandoned by $dir"
    (
      NODE_DIR=$dir NODE_SOCKET=$dir/containerd/containerd.sock
      node_stop
      node_delete_tagged_rules "sluice-testenv $dir"
    )
  done
  if ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
    log "removing the abandoned pod bridge $NODE_BRIDGE"
    ip link delete "$NODE_BRIDGE" 2>/dev/null || true
  fi
  return 0
}

# node_delete_tagged_rules TAG: deletes every iptables rule whose comment is TAG.
node_delete_tagged_rules() {
  local table line
  for table in filter nat; do
    while read -r line; do
      eval "iptables -w -t $table -D ${line#-A }" 2>/dev/null || true
    done < <(iptables-save -t "$table" 2>/dev/null | grep -F -- "--comment \"$1\"")
  done
}

node_save_sysctls() {
  local s
  for s in "${NODE_SYSCTLS[@]}"; do
    echo "$s=$(sysctl -n "$s")"
  done >"$NODE_DIR/sysctls.orig"
}

node_write_containerd_config() {
  local d=$NODE_DIR/containerd
  mkdir -p "$d" "$NODE_DIR/runc"
  # restrict_oom_score_adj: this VM denies raising a process's OOM priority;
  # without it every sandbox fails ("can't get final child's PID from pipe").
  # netns_mounts_under_state_dir: pod network namespaces are mounted under our
  # state dir, not in the machine's /run/netns.
  # Root (runc): container state under our folder, not /run/containerd/runc.
  cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$NODE_SOCKET"

[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(node_pause_image)"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$NODE_DIR/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$NODE_CNI_BIN_DIR"
    conf_dir = "$NODE_DIR/cni/net.d"
    max_conf_num = 1
EOF
}

# bridge (host side is the gateway, no masquerade: pod traffic is not meant to
# leave) + host-local (allocations kept under our folder) + portmap (hostPort)
# + loopback, which containerd adds by itself.
node_write_cni_config() {
  mkdir -p "$NODE_DIR/cni/net.d" "$NODE_DIR/cni/ipam"
  cat >"$NODE_DIR/cni/net.d/10-sluice.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NODE_CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$NODE_DIR/cni/ipam",
        "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "$NODE_POD_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

# The kubelet's client certificate (the Node authorizer's identity
# system:node:localhost) signed by kube.sh's CA, and its kubeconfig.
node_make_certs() {
  local ca_dir d=$NODE_DIR/pki
  ca_dir=$(node_kube_var KUBE_CERT_DIR)
  mkdir -p "$d"
  (
    cd "$d" || exit
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl req -newkey rsa:2048 -nodes -keyout kubelet.key -out kubelet.csr \
      -subj "/O=system:nodes/CN=system:node:localhost" 2>/dev/null
    openssl x509 -req -in kubelet.csr -CA "$ca_dir/ca.crt" -CAkey "$ca_dir/ca.key" \
      -CAcreateserial -CAserial "$d/ca.srl" -days 3650 -extfile client.ext -out kubelet.crt 2>/dev/null
  )
  cat >"$NODE_DIR/kubelet.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sluice-testenv
  cluster:
    server: $(node_kube_var KUBE_APISERVER_URL)
    certificate-authority: $ca_dir/ca.crt
users:
- name: kubelet
  user:
    client-certificate: $d/kubelet.crt
    client-key: $d/kubelet.key
contexts:
- name: kubelet
  context: {cluster: sluice-testenv, user: kubelet}
current-context: kubelet
EOF
}

node_start_containerd() {
  start_bg node-containerd containerd --config "$NODE_DIR/containerd/config.toml"
  wait_for node-containerd 60 "$SLUICE_ENV_DIR/node-containerd.log" \
    ctr --address "$NODE_SOCKET" version
}

# The iptables rules of this node, one per line as arguments after -I/-D
# (table first). node_stop deletes exactly these.
node_iptables_rules() {
  local api_port=$1 tag="sluice-testenv $NODE_DIR"
  echo "filter FORWARD -s $NODE_POD_CIDR ! -d $NODE_POD_CIDR -m comment --comment '$tag' -j DROP"
  echo "nat PREROUTING -i $NODE_BRIDGE -d $NODE_POD_GATEWAY -p tcp -m comment --comment '$tag' -j DNAT --to-destination 127.0.0.1"
  echo "nat PREROUTING -i $NODE_BRIDGE -d 10.0.0.1 -p tcp --dport 443 -m comment --comment '$tag' -j DNAT --to-destination 127.0.0.1:$api_port"
}

# The bridge is made here, before the kubelet, so route_localnet can be set on
# it (the CNI bridge plugin adopts an existing bridge of that name).
node_setup_network() {
  local api_url api_port
  api_url=$(node_kube_var KUBE_APISERVER_URL)
  api_port=${api_url##*:}
  ip link add "$NODE_BRIDGE" type bridge
  touch "$NODE_DIR/bridge.created"
  ip addr add "$NODE_POD_GATEWAY/${NODE_POD_CIDR#*/}" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  sysctl -qw "net.ipv4.conf.$NODE_BRIDGE.route_localnet=1"
  echo "$api_url" >"$NODE_DIR/apiserver.url"
  node_iptables_rules "$api_port" >"$NODE_DIR/iptables.rules"
  local table chain rule
  while read -r table chain rule; do
    eval "iptables -w -t $table -I $chain $rule"
  done <"$NODE_DIR/iptables.rules"
}

node_start_kubelet() {
  local k=$NODE_DIR/kubelet port healthz_port ca_dir
  port=$(free_port) healthz_port=$(free_port)
  ca_dir=$(node_kube_var KUBE_CERT_DIR)
  mkdir -p "$k" "$NODE_DIR/pod-logs" "$k/volume-plugins"
  # Image GC off (threshold 100 %): test images are imported, not pullable.
  # Eviction only when nearly out of everything: a busy shared disk must not
  # evict test pods.
  cat >"$k/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $healthz_port
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $ca_dir/ca.crt}
authorization:
  mode: Webhook
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://$NODE_SOCKET
podLogsDir: $NODE_DIR/pod-logs
volumePluginDir: $k/volume-plugins
registerWithTaints:
- {key: sluice.io/node, value: real, effect: NoSchedule}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%}
maxPods: 50
serializeImagePulls: false
EOF
  start_bg node-kubelet "$(node_kubelet_bin)" --config="$k/config.yaml" \
    --kubeconfig="$NODE_DIR/kubelet.kubeconfig" --hostname-override=localhost \
    --root-dir="$k/" --cert-dir="$k/pki" --node-labels="$NODE_LABEL" \
    --pod-infra-container-image="$(node_pause_image)" --v=1
  echo "$port" >"$NODE_DIR/kubelet.port"
  wait_for node-kubelet 60 "$SLUICE_ENV_DIR/node-kubelet.log" node_ready "$(date +%s)"
}

# node_ready SINCE: Node localhost is Ready by a heartbeat of this kubelet (a
# Node object left by an earlier start still says Ready for a while).
node_ready() {
  local since=$1 kubectl status
  kubectl=$(node_kube_var KUBECTL)
  status=$(KUBECONFIG=$(node_kube_var KUBECONFIG) "$kubectl" get node localhost \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}')
  [[ ${status%% *} == True ]] && (($(date -d "${status#* }" +%s) >= since))
}

node_write_env() {
  cat >"$SLUICE_ENV_DIR/node.env" <<EOF
# The real node (kubelet + containerd): pods in namespaces made by \$NODE_NAMESPACE
# run there and reach host services at \$NODE_POD_GATEWAY:<port>.
export NODE_NAME=localhost
export NODE_POD_GATEWAY=$NODE_POD_GATEWAY
export NODE_POD_CIDR=$NODE_POD_CIDR
export NODE_BRIDGE=$NODE_BRIDGE
export NODE_CONTAINERD_SOCKET=$NODE_SOCKET
export NODE_CTR="ctr --address $NODE_SOCKET --namespace k8s.io"
export NODE_PAUSE_IMAGE=$(node_pause_image)
export NODE_IMPORT=$ENV_SCRIPTS_DIR/node-import.sh
export NODE_NAMESPACE=$ENV_SCRIPTS_DIR/node-namespace.sh
EOF
}

# ---- stop ---------------------------------------------------------------

# Stops everything node_start made, also after a crash or a half-done start;
# each step only touches what this environment owns.
node_stop() {
  stop_bg node-kubelet
  node_remove_containers
  stop_bg node-containerd
  node_kill_shims
  node_kill_pods_cgroup_processes
  node_unmount_all
  node_remove_cgroups
  node_teardown_network
  node_restore_sysctls
  node_remove_host_files
  rm -f "$SLUICE_ENV_DIR/node.busy"
  return 0
}

# Kills and deletes every task and container while containerd still runs, so
# the shims exit by themselves (and remove their sockets in /run/containerd/s).
node_remove_containers() {
  is_running node-containerd || return 0
  local id
  # Sandboxes torn down here skip CNI DEL, which would drop libcni's cached
  # results; they are named <network>-<container id>-<interface>.
  for id in $(node_ctr containers ls -q 2>/dev/null); do
    rm -f /var/lib/cni/results/"$NODE_CNI_NETWORK-$id"-* /var/lib/cni/results/cni-loopback-"$id"-*
  done
  for id in $(node_ctr tasks ls -q 2>/dev/null); do
    node_ctr tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
  done
  for id in $(node_ctr tasks ls -q 2>/dev/null); do
    node_ctr tasks delete -f "$id" >/dev/null 2>&1 || true
  done
  for id in $(node_ctr containers ls -q 2>/dev/null); do
    node_ctr containers delete "$id" >/dev/null 2>&1 || true
  done
}

# Shims (and the containers under them) outlive containerd. Ours are those
# whose -address is our socket; containerd 1.6 names a shim's socket
# /run/containerd/s/sha256(<address>/<namespace>/<id>), removed here too.
node_kill_shims() {
  local pid args id ns
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $NODE_SOCKET" || true); do
    args=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    id=$(grep -A1 -x -- -id <<<"$args" | tail -n1)
    ns=$(grep -A1 -x -- -namespace <<<"$args" | tail -n1)
    log "killing containerd shim $pid ($ns/$id)"
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "/run/containerd/s/$(printf '%s' "$NODE_SOCKET/$ns/$id" | sha256sum | cut -d' ' -f1)"
    # A sandbox's shim has the sandbox's id: libcni's cached results of its pod.
    rm -f /var/lib/cni/results/"$NODE_CNI_NETWORK-$id"-* /var/lib/cni/results/cni-loopback-"$id"-*
  done
}

# The kubelet's kubepods cgroups, in every v1 hierarchy that has them, deepest
# first. Nothing while a kubelet runs: ours is stopped before they are
# touched, so they belong to another environment's node.
node_pod_cgroups() {
  [[ -z $(pgrep -x kubelet || true) ]] || return 0
  local h
  for h in "$NODE_CGROUP_ROOT"/*/; do
    [[ -d ${h}kubepods ]] && find "${h}kubepods" -depth -type d
  done
  return 0
}

# Container processes left by killed shims still sit in the kubepods cgroups.
node_kill_pods_cgroup_processes() {
  local cg pid
  for cg in $(node_pod_cgroups); do
    while read -r pid; do
      kill -KILL "$pid" 2>/dev/null || true
    done < <(cat "$cg/cgroup.procs" 2>/dev/null)
  done
}

node_remove_cgroups() {
  local cg
  for cg in $(node_pod_cgroups); do
    rmdir "$cg" 2>/dev/null || sleep 0.2
    [[ ! -d $cg ]] || rmdir "$cg" 2>/dev/null || log "cannot remove cgroup $cg"
  done
}

# Mounts of this environment: anything under our folder (overlay rootfs,
# pod volumes, netns bind mounts, shm), deepest first.
node_mounts() {
  awk -v dir="$NODE_DIR/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r
}

node_unmount_all() {
  local m
  for m in $(node_mounts); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "cannot unmount $m"
  done
}

node_teardown_network() {
  if [[ -f $NODE_DIR/iptables.rules ]]; then
    local table chain rule
    while read -r table chain rule; do
      eval "iptables -w -t $table -D $chain $rule" 2>/dev/null || true
    done <"$NODE_DIR/iptables.rules"
    rm -f "$NODE_DIR/iptables.rules"
  fi
  # Veths of pods whose netns went with their mounts vanish by themselves;
  # the bridge is ours only when we made it.
  if [[ -f $NODE_DIR/bridge.created ]]; then
    ip link delete "$NODE_BRIDGE" 2>/dev/null || true
    rm -f "$NODE_DIR/bridge.created"
  fi
  # KUBE-* chains are machine-wide names: left alone while another kubelet runs.
  if [[ -z $(pgrep -x kubelet || true) ]]; then
    node_remove_chains iptables
    node_remove_chains ip6tables
  fi
}

# node_remove_chains IPTABLES: removes, in every table, the KUBE-* chains (the
# kubelet's canary and hint chains; called only when no kubelet runs) and the
# CNI-* chains; but while another CNI user (a buildah/podman network: its
# rules name its network in a comment) has rules there, only our pods' rules
# and chains go. Jumps to removed chains go first; one iptables-restore
# --noflush per table.
node_remove_chains() {
  local bin=$1 table script
  command -v "$bin-save" >/dev/null || return 0
  for table in filter nat mangle raw; do
    script=$("$bin-save" -t "$table" 2>/dev/null | NETWORK=$NODE_CNI_NETWORK python3 -c '
import os, re, sys
ours = re.compile(r"name: \\?\"%s\\?\"" % re.escape(os.environ["NETWORK"]))
chains, rules = [], []  # rules: (chain, line, jump target)
for line in sys.stdin:
    line = line.rstrip("\n")
    if line.startswith(":"):
        chains.append(line[1:].split()[0])
    elif line.startswith("-A "):
        m = re.search(r" -[jg] (\S+)", line)
        rules.append((line.split()[1], line, m.group(1) if m else None))
names = re.compile(r"name: \\?\"([^\"\\]*)\\?\"")
def foreign(line):
    return any(n != os.environ["NETWORK"] for n in names.findall(line))
# With no other CNI user in this table every CNI chain goes; else only ours:
# the chains our rules (those naming our network) jump to. The shared portmap
# chains (CNI-HOSTPORT-*) then stay for the other user.
cni = {c for c in chains if c.startswith("CNI-")}
others = any(foreign(l) for ch, l, t in rules if ch in cni or t in cni)
ours_cni = {t for ch, l, t in rules if t in cni and ours.search(l) and not foreign(l)}
gone = (ours_cni if others else cni) | {c for c in chains if c.startswith("KUBE-")}
for ch, l, t in rules:  # our other entries in chains that stay
    if ch not in gone and t not in gone and ours.search(l):
        print("-D" + l[2:])
for ch, l, t in rules:
    if t in gone and ch not in gone:
        print("-D" + l[2:])
for c in sorted(gone):
    print("-F " + c)
for c in sorted(gone):
    print("-X " + c)
')
    [[ -n $script ]] || continue
    printf '*%s\n%s\nCOMMIT\n' "$table" "$script" | "$bin-restore" -w --noflush 2>/dev/null ||
      log "could not remove the KUBE-*/CNI-* chains of $bin table $table"
  done
}

# Not while another environment's kubelet runs: it relies on the same values.
node_restore_sysctls() {
  [[ -f $NODE_DIR/sysctls.orig ]] || return 0
  [[ -z $(pgrep -x kubelet || true) ]] || return 0
  local line
  while read -r line; do
    [[ $(sysctl -n "${line%%=*}") == "${line#*=}" ]] || sysctl -qw "$line" || true
  done <"$NODE_DIR/sysctls.orig"
  rm -f "$NODE_DIR/sysctls.orig"
}

# Files the kubelet and libcni write outside our folder: container log links
# in /var/log/containers (into our pod-logs), libcni's result cache, and the
# kubelet's device-plugin socket (a fixed path in the device plugin API).
# Only while no other kubelet runs: those paths are machine-wide.
node_remove_host_files() {
  local f
  for f in /var/log/containers/*.log; do
    [[ -L $f && $(readlink "$f") == "$NODE_DIR/"* ]] && rm -f "$f"
  done
  rm -f /var/lib/cni/results/"$NODE_CNI_NETWORK"-*
  if [[ -z $(pgrep -x kubelet || true) ]]; then
    rm -f /var/lib/kubelet/device-plugins/kubelet.sock
    # (folders the kubelet and the shims create; removed only when empty)
    rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet /var/log/containers 2>/dev/null || true
    rmdir /run/containerd/s /run/containerd /var/lib/cni/results /var/lib/cni 2>/dev/null || true
  fi
  return 0
}
