# Loads every component definition. Sourced by up.sh and down.sh.
# Order matters: a component may use the env of those before it
# (e.g. Prometheus is configured after the others are up).
ALL_COMPONENTS=(kube node helm kafka rabbitmq minio hdfs prometheus)
for c in "${ALL_COMPONENTS[@]}"; do
  if [[ -f "$ENV_SCRIPTS_DIR/components/$c.sh" ]]; then
    # shellcheck disable=SC1090
    source "$ENV_SCRIPTS_DIR/components/$c.sh"
  fi
done

# build/testenv -> build/testenv.env; a custom SLUICE_ENV_DIR gets its own file beside it.
ENV_FILE="${SLUICE_ENV_DIR%/}.env"

# build/testenv.env = the fragments of every running component.
write_env_file() {
  mkdir -p "$(dirname "$ENV_FILE")"
  {
    echo "# Written by tests/env/up.sh at $(date -u +%FT%TZ); source it to reach the real test servers."
    echo "export SLUICE_ENV_DIR=$SLUICE_ENV_DIR"
    for c in "${ALL_COMPONENTS[@]}"; do
      [[ -f "$SLUICE_ENV_DIR/$c.env" ]] && cat "$SLUICE_ENV_DIR/$c.env"
    done
  } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}
