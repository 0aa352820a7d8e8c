# MinIO (S3-compatible, can send bucket notifications), built from its Go
# module by build-go-tools.sh (MinIO publishes only pseudo-versions; pinned in
# versions.sh). One single-drive server on free 127.0.0.1 ports (S3 API and
# console), data under $SLUICE_ENV_DIR/minio, fresh on every start.
# Its Prometheus metrics (/minio/v2/metrics/cluster) need no token.
# Sourced by up.sh/down.sh after lib.sh.

MINIO_TEST_REGION=us-east-1

minio_install() {
  bash "$ENV_SCRIPTS_DIR/build-go-tools.sh" minio
}

_minio_ready() {
  curl -sf "http://127.0.0.1:$(cat "$SLUICE_ENV_DIR/minio/port")/minio/health/ready" >/dev/null
}

_minio_write_env() (
  # shellcheck disable=SC1091
  source "$SLUICE_ENV_DIR/minio/state"
  {
    echo "export S3_ENDPOINT=http://127.0.0.1:$MINIO_PORT"
    echo "export S3_ACCESS_KEY=$MINIO_USER"
    echo "export S3_SECRET_KEY=$MINIO_PASSWORD"
    echo "export S3_REGION=$MINIO_TEST_REGION"
    echo "export S3_CONSOLE_URL=http://127.0.0.1:$MINIO_CONSOLE_PORT"
  } >"$SLUICE_ENV_DIR/minio.env"
)

minio_start() {
  local dir=$SLUICE_ENV_DIR/minio bin
  bin=$(cache_dir minio "$MINIO_VERSION")/bin/minio
  [[ -x $bin ]] || die "MinIO $MINIO_VERSION is not built ($bin missing); run minio_install"
  if is_running minio && [[ -f $dir/state ]]; then
    log "minio already running (pid $(cat "$SLUICE_ENV_DIR/minio.pid"))"
    _minio_write_env
    return 0
  fi
  stop_bg minio
  rm -rf "$dir"
  mkdir -p "$dir/data"
  local port console user password
  port=$(free_port)
  console=$(free_port)
  while [[ $console == "$port" ]]; do console=$(free_port); done
  user=sluice-$(openssl rand -hex 4)
  password=$(openssl rand -hex 16)
  {
    echo "MINIO_PORT=$port"
    echo "MINIO_CONSOLE_PORT=$console"
    echo "MINIO_USER=$user"
    echo "MINIO_PASSWORD=$password"
  } >"$dir/state"
  echo "$port" >"$dir/port"
  start_bg minio env \
    MINIO_ROOT_USER="$user" MINIO_ROOT_PASSWORD="$password" \
    MINIO_SITE_REGION="$MINIO_TEST_REGION" \
    MINIO_PROMETHEUS_AUTH_TYPE=public \
    MINIO_UPDATE=off MINIO_BROWSER=on \
    HOME="$dir" \
    "$bin" server --anonymous \
    --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" "$dir/data"
  wait_for minio 60 "$SLUICE_ENV_DIR/minio.log" _minio_ready
  _minio_write_env
}

minio_stop() {
  stop_bg minio
}
