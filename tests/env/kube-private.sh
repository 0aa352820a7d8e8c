#!/usr/bin/env bash
# Extra kube-apiservers on the shared etcd, for tests that must kill or restart
# an apiserver without disturbing the shared one (two apiservers on one etcd are
# an ordinary HA control plane: both serve the same objects).
#
#   kube-private.sh start NAME    start (or keep) one; prints export lines:
#                                 KUBECONFIG (for it) and KUBE_PRIVATE_URL
#   kube-private.sh kill NAME     SIGKILL it (the port is kept for restart)
#   kube-private.sh restart NAME  start it again on the same port
#   kube-private.sh stop NAME     stop it gracefully and forget it
# Extra apiserver flags for `start` may follow NAME (e.g. --etcd-compaction-interval=10s).
# Needs the shared environment up (tests/env/up.sh kube).
source "$(dirname "$0")/lib.sh"
source "$ENV_SCRIPTS_DIR/components/kube.sh"

[[ -f $SLUICE_ENV_DIR/kube.env ]] || die "the shared Kubernetes environment is not up (run make testenv-up)"
# shellcheck disable=SC1091
source "$SLUICE_ENV_DIR/kube.env"

action=${1:-}
name=${2:-}
[[ -n $action && -n $name ]] || die "usage: kube-private.sh start|kill|restart|stop NAME [apiserver flags...]"
[[ $name =~ ^[a-z0-9-]+$ ]] || die "NAME must match [a-z0-9-]+, got '$name'"
shift 2
proc=kube-private-$name
state=$KUBE_DIR/private-$name

print_env() {
  echo "export KUBECONFIG=$state.kubeconfig"
  echo "export KUBE_PRIVATE_URL=https://127.0.0.1:$(cat "$state.port")"
}

case $action in
  start)
    if ! is_running "$proc"; then
      [[ -f $state.port ]] || free_port >"$state.port"
      printf '%q ' "$@" >"$state.flags"
      kube_write_kubeconfig "$state.kubeconfig" "https://127.0.0.1:$(cat "$state.port")"
      kube_start_apiserver "$proc" "$(cat "$state.port")" "$@" >&2
    fi
    print_env
    ;;
  kill)
    if is_running "$proc"; then
      kill -KILL -- "-$(cat "$SLUICE_ENV_DIR/$proc.pid")" 2>/dev/null || kill -KILL "$(cat "$SLUICE_ENV_DIR/$proc.pid")"
      while is_running "$proc"; do sleep 0.1; done
    fi
    rm -f "$SLUICE_ENV_DIR/$proc.pid"
    ;;
  restart)
    [[ -f $state.port ]] || die "no private apiserver '$name' was started"
    is_running "$proc" && die "private apiserver '$name' is still running; kill it first"
    eval "flags=($(cat "$state.flags" 2>/dev/null))"
    kube_start_apiserver "$proc" "$(cat "$state.port")" "${flags[@]}" >&2
    print_env
    ;;
  stop)
    stop_bg "$proc"
    rm -f "$state.port" "$state.flags" "$state.kubeconfig"
    ;;
  *) die "unknown action '$action' (start|kill|restart|stop)" ;;
esac
