# Prometheus from Debian's prometheus package (2.42, installed by scripts/deps.sh)
# with its own config and TSDB under $SLUICE_ENV_DIR/prometheus, listening on
# a free 127.0.0.1 port, scraping every second. Besides itself it scrapes
# whatever targets tests drop into $PROMETHEUS_TARGETS_DIR as file_sd JSON
# files (picked up within about a second, no reload needed):
#   [{"targets": ["127.0.0.1:9999"], "labels": {"job": "my-test", "__metrics_path__": "/metrics"}}]
# --web.enable-lifecycle allows POST $PROMETHEUS_URL/-/reload.
# Sourced by up.sh/down.sh after lib.sh.

PROMETHEUS_BIN=/usr/bin/prometheus
PROMTOOL_BIN=/usr/bin/promtool

prometheus_install() {
  [[ -x $PROMETHEUS_BIN && -x $PROMTOOL_BIN ]] ||
    die "prometheus/promtool are not installed; run 'make deps'"
}

_prometheus_ready() {
  curl -sf "http://127.0.0.1:$(cat "$SLUICE_ENV_DIR/prometheus/port")/-/ready" >/dev/null
}

_prometheus_write_env() {
  local port
  port=$(cat "$SLUICE_ENV_DIR/prometheus/port")
  {
    echo "export PROMETHEUS_URL=http://127.0.0.1:$port"
    echo "# Drop file_sd JSON files here to add scrape targets (scraped every 1 s), e.g."
    echo "#   [{\"targets\": [\"127.0.0.1:PORT\"], \"labels\": {\"job\": \"NAME\"}}]"
    echo "export PROMETHEUS_TARGETS_DIR=$SLUICE_ENV_DIR/prometheus-targets"
    echo "export PROMTOOL=$PROMTOOL_BIN"
  } >"$SLUICE_ENV_DIR/prometheus.env"
}

prometheus_start() {
  local dir=$SLUICE_ENV_DIR/prometheus targets=$SLUICE_ENV_DIR/prometheus-targets
  if is_running prometheus && [[ -f $dir/port ]]; then
    log "prometheus already running (pid $(cat "$SLUICE_ENV_DIR/prometheus.pid"))"
    _prometheus_write_env
    return 0
  fi
  stop_bg prometheus
  # Fresh TSDB and no stale targets of an earlier run.
  rm -rf "$dir" "$targets"
  mkdir -p "$dir/data" "$targets"
  local port
  port=$(free_port)
  cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:$port"]
  # Targets added by tests: one or more *.json files in file_sd format. A
  # "job" label in a file overrides the job name below.
  - job_name: testenv-targets
    file_sd_configs:
      - files: ["$targets/*.json"]
        refresh_interval: 1s
EOF
  "$PROMTOOL_BIN" check config "$dir/prometheus.yml" >"$dir/check.log" 2>&1 || {
    cat "$dir/check.log" >&2
    die "promtool rejected the generated Prometheus config"
  }
  echo "$port" >"$dir/port"
  start_bg prometheus "$PROMETHEUS_BIN" \
    --config.file="$dir/prometheus.yml" \
    --storage.tsdb.path="$dir/data" \
    --storage.tsdb.retention.time=1d \
    --web.listen-address="127.0.0.1:$port" \
    --web.enable-lifecycle
  wait_for prometheus 60 "$SLUICE_ENV_DIR/prometheus.log" _prometheus_ready
  _prometheus_write_env
}

prometheus_stop() {
  stop_bg prometheus
}
