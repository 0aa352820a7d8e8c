# Sourced by the bench scripts that need tests/env: loads build/testenv.env
# (exported) unless the caller's shell already points at a cluster. Needs $root.
if [[ -z ${KUBECONFIG:-} && -f $root/build/testenv.env ]]; then
  set -a
  # shellcheck disable=SC1091
  source "$root/build/testenv.env"
  set +a
fi
