# helm, built from its Go module (helm.sh/helm/v3, pinned HELM_VERSION) into
# the cache by build-go-tools.sh. Nothing runs: helm_start only writes the env
# fragment. helm's config, cache and data directories live under
# $SLUICE_ENV_DIR/helm (exported), so tests never write to $HOME.
# Sourced by up.sh/down.sh after lib.sh.

helm_install() {
  bash "$ENV_SCRIPTS_DIR/build-go-tools.sh" helm
}

helm_start() {
  local bin dir=$SLUICE_ENV_DIR/helm
  bin=$(cache_dir helm "$HELM_VERSION")/bin/helm
  [[ -x $bin ]] || die "helm $HELM_VERSION is not built ($bin missing); run helm_install"
  mkdir -p "$dir/config" "$dir/cache" "$dir/data"
  "$bin" version --short >/dev/null 2>&1 || die "$bin does not run"
  {
    echo "export HELM=$bin"
    echo "export HELM_CONFIG_HOME=$dir/config"
    echo "export HELM_CACHE_HOME=$dir/cache"
    echo "export HELM_DATA_HOME=$dir/data"
  } >"$SLUICE_ENV_DIR/helm.env"
}

helm_stop() { :; }
