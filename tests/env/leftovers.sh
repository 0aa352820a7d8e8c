#!/usr/bin/env bash
# Fails, naming them, when processes of this test environment still run: any
# process whose command line names $SLUICE_ENV_DIR (servers, private
# apiservers, load hogs, containerd shims). Run after `make test` by .ci/run
# and by `make test-under-load`, which must leave nothing behind.
# Also fails on what a stopped real node (components/node.sh) may leave outside
# processes: mounts under the env folder (container root filesystems, pod
# volumes, network namespaces), the pod bridge, our iptables rules, kubepods
# cgroups and the container processes in them.
# Usage: leftovers.sh [--node]   (--node: only the node's checks, for a test
# that stops the node while the rest of the environment runs)
source "$(dirname "$0")/lib.sh"
# shellcheck source=components/node.sh
source "$ENV_SCRIPTS_DIR/components/node.sh"

found=0
report() {
  echo "$1" >&2
  echo "$2" >&2
  found=1
}

if [[ ${1:-} != --node ]] && leftovers=$(pgrep -af "$SLUICE_ENV_DIR"); then
  report "processes of the test environment are still running:" "$leftovers"
fi
if leftovers=$(pgrep -af "containerd-shim.* -address $NODE_DIR/"); then
  report "containerd shims of the real node are still running:" "$leftovers"
fi
if leftovers=$(awk -v dir="$SLUICE_ENV_DIR/" 'index($2, dir) == 1 { print $3, $2 }' /proc/self/mounts) && [[ -n $leftovers ]]; then
  report "mounts under the test environment remain:" "$leftovers"
fi
# Our own rules carry a comment naming the env folder; portmap's name our CNI network.
if leftovers=$(iptables-save 2>/dev/null | grep -F -e "sluice-testenv $NODE_DIR\"" -e "name: \\\"$NODE_CNI_NETWORK\\\"") &&
  [[ -n $leftovers ]]; then
  report "iptables rules of the real node remain:" "$leftovers"
fi
# The bridge and kubepods are machine-wide names: only ours when no kubelet runs.
if [[ -z $(pgrep -x kubelet || true) ]]; then
  if ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
    report "the pod bridge remains:" "$(ip -br addr show "$NODE_BRIDGE")"
  fi
  if leftovers=$(node_pod_cgroups) && [[ -n $leftovers ]]; then
    report "kubepods cgroups remain:" "$leftovers"
    for cg in $leftovers; do
      procs=$(cat "$cg/cgroup.procs" 2>/dev/null || true)
      [[ -z $procs ]] || report "processes still in $cg:" "$(ps -o pid=,args= -p "${procs//$'\n'/,}" || true)"
    done
  fi
fi
exit "$found"
