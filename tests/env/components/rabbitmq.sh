# RabbitMQ from Debian's rabbitmq-server package (installed by scripts/deps.sh),
# run as a private node: its own node name, Erlang cookie (via a private
# HOME), epmd on its own port, data/log/config under $SLUICE_ENV_DIR/rabbitmq,
# AMQP and management HTTP on free 127.0.0.1 ports. The system-wide service
# (if any) and its /etc/rabbitmq files are never used. Works as root: the
# package's /usr/sbin wrapper (which su's to the rabbitmq user) is bypassed.
# Sourced by up.sh/down.sh after lib.sh.

RABBITMQ_SCRIPTS=/usr/lib/rabbitmq/bin
RABBITMQ_TEST_USER=sluice

rabbitmq_install() {
  [[ -x $RABBITMQ_SCRIPTS/rabbitmq-server ]] ||
    die "rabbitmq-server is not installed ($RABBITMQ_SCRIPTS missing); run 'make deps'"
  [[ -d /usr/lib/rabbitmq/lib ]] && ls /usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins/rabbitmq_management-* \
    >/dev/null 2>&1 || die "the RabbitMQ management plugin is missing from the rabbitmq-server package"
  command -v epmd >/dev/null || die "epmd (Erlang) is not installed; run 'make deps'"
}

# Environment of every RabbitMQ process of this node (server and CLI tools).
_rabbitmq_env() (
  local dir=$SLUICE_ENV_DIR/rabbitmq
  # shellcheck disable=SC1091
  source "$dir/ports"
  echo "HOME=$dir/home"
  echo "ERL_EPMD_PORT=$RMQ_EPMD_PORT"
  echo "ERL_EPMD_ADDRESS=127.0.0.1"
  echo "RABBITMQ_NODENAME=$RMQ_NODENAME"
  echo "RABBITMQ_USE_LONGNAME=false"
  echo "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1"
  echo "RABBITMQ_NODE_PORT=$RMQ_AMQP_PORT"
  echo "RABBITMQ_DIST_PORT=$RMQ_DIST_PORT"
  # Erlang distribution listens on every interface unless told otherwise; no
  # scheduler busy-waiting, which costs CPU on a small shared machine.
  echo "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none"
  echo "RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf"
  echo "RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf"
  echo "RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config"
  echo "RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins"
  echo "RABBITMQ_MNESIA_BASE=$dir/mnesia"
  echo "RABBITMQ_LOG_BASE=$dir/log"
  echo "RABBITMQ_PID_FILE=$dir/rabbitmq.pid"
  # The CLI tools' own distribution ports; the default (dist port + 10000)
  # may lie above 65535 for a random dist port.
  echo "RABBITMQ_CTL_DIST_PORT_MIN=$RMQ_CTL_PORT_MIN"
  echo "RABBITMQ_CTL_DIST_PORT_MAX=$((RMQ_CTL_PORT_MIN + 10))"
)

_rabbitmq_ready() (
  local dir=$SLUICE_ENV_DIR/rabbitmq
  # shellcheck disable=SC1091
  source "$dir/ports"
  # Management answers with our credentials => boot finished and the default
  # user exists; then the AMQP listener must accept connections too.
  curl -sf -u "$RABBITMQ_TEST_USER:$RMQ_PASSWORD" "http://127.0.0.1:$RMQ_MGMT_PORT/api/overview" >/dev/null &&
    (exec 3<>"/dev/tcp/127.0.0.1/$RMQ_AMQP_PORT") 2>/dev/null &&
    (exec 3<>"/dev/tcp/127.0.0.1/$RMQ_AMQPS_PORT") 2>/dev/null
)

# A free port P such that P..P+10 are below 65536 (for the CLI's port range).
_rabbitmq_low_port() {
  local p
  while :; do
    p=$(free_port)
    ((p < 60000)) && break
  done
  echo "$p"
}

# A CA and a server certificate signed by it for the TLS listener, made
# afresh with every node (nothing of it outlives the environment).
_rabbitmq_make_certificates() (
  local tls=$SLUICE_ENV_DIR/rabbitmq/tls
  mkdir -p "$tls"
  cd "$tls" || exit 1
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=sluice test RabbitMQ CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -extfile server.ext \
    -out server.crt 2>/dev/null
  # Client certificates for mutual TLS: one the node's CA signed, one from a
  # CA the node does not know (the broker must refuse it).
  openssl req -newkey rsa:2048 -nodes -subj "/CN=sluice test client" -keyout client.key -out client.csr 2>/dev/null
  openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -out client.crt 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=sluice test rogue CA" \
    -keyout rogue-ca.key -out rogue-ca.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=sluice rogue client" -keyout rogue-client.key \
    -out rogue-client.csr 2>/dev/null
  openssl x509 -req -in rogue-client.csr -CA rogue-ca.crt -CAkey rogue-ca.key -CAcreateserial -days 30 \
    -out rogue-client.crt 2>/dev/null
  chmod 644 ./*.key
)

_rabbitmq_write_env() (
  local dir=$SLUICE_ENV_DIR/rabbitmq
  # shellcheck disable=SC1091
  source "$dir/ports"
  {
    echo "export RABBITMQ_AMQP_URL=amqp://$RABBITMQ_TEST_USER:$RMQ_PASSWORD@127.0.0.1:$RMQ_AMQP_PORT/%2f"
    # The TLS listener: its server certificate names localhost and 127.0.0.1
    # and is signed by RABBITMQ_CA_FILE (a CA made for this node only).
    echo "export RABBITMQ_AMQPS_URL=amqps://$RABBITMQ_TEST_USER:$RMQ_PASSWORD@localhost:$RMQ_AMQPS_PORT/%2f"
    echo "export RABBITMQ_CA_FILE=$dir/tls/ca.crt"
    # A client certificate the listener accepts, and one it refuses (another CA).
    echo "export RABBITMQ_CLIENT_CERT_FILE=$dir/tls/client.crt"
    echo "export RABBITMQ_CLIENT_KEY_FILE=$dir/tls/client.key"
    echo "export RABBITMQ_ROGUE_CLIENT_CERT_FILE=$dir/tls/rogue-client.crt"
    echo "export RABBITMQ_ROGUE_CLIENT_KEY_FILE=$dir/tls/rogue-client.key"
    echo "export RABBITMQ_HTTP_URL=http://$RABBITMQ_TEST_USER:$RMQ_PASSWORD@127.0.0.1:$RMQ_MGMT_PORT"
    echo "export RABBITMQ_USER=$RABBITMQ_TEST_USER"
    echo "export RABBITMQ_PASSWORD=$RMQ_PASSWORD"
    echo "# rabbitmqctl bound to this private node (its own epmd port and cookie)."
    echo "export RABBITMQCTL=$dir/rabbitmqctl"
  } >"$SLUICE_ENV_DIR/rabbitmq.env"
)

rabbitmq_start() {
  local dir=$SLUICE_ENV_DIR/rabbitmq
  if is_running rabbitmq && [[ -f $dir/ports ]]; then
    log "rabbitmq already running (pid $(cat "$SLUICE_ENV_DIR/rabbitmq.pid"))"
    _rabbitmq_write_env
    return 0
  fi
  stop_bg rabbitmq
  stop_bg rabbitmq-epmd
  # A fresh node every start: the default user below is created on first boot.
  rm -rf "$dir"
  mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  local password node_id
  password=$(openssl rand -hex 12)
  node_id=$(printf '%s' "$SLUICE_ENV_DIR" | md5sum | cut -c1-8)
  {
    echo "RMQ_NODENAME=sluice-$node_id@localhost"
    echo "RMQ_PASSWORD=$password"
    echo "RMQ_AMQP_PORT=$(free_port)"
    echo "RMQ_AMQPS_PORT=$(free_port)"
    echo "RMQ_MGMT_PORT=$(free_port)"
    echo "RMQ_DIST_PORT=$(free_port)"
    echo "RMQ_EPMD_PORT=$(free_port)"
    echo "RMQ_CTL_PORT_MIN=$(_rabbitmq_low_port)"
  } >"$dir/ports"
  # shellcheck disable=SC1091
  source "$dir/ports"
  _rabbitmq_make_certificates || die "rabbitmq: cannot make the TLS listener's certificates"
  openssl rand -hex 20 >"$dir/home/.erlang.cookie"
  chmod 400 "$dir/home/.erlang.cookie"
  : >"$dir/rabbitmq-env.conf"
  echo '[].' >"$dir/advanced.config"
  echo '[rabbitmq_management].' >"$dir/enabled_plugins"
  cat >"$dir/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$RMQ_AMQP_PORT
# AMQP over TLS beside the plain listener. A client need not present a
# certificate, but one it presents must be signed by the node's CA (verify_peer).
listeners.ssl.default = 127.0.0.1:$RMQ_AMQPS_PORT
ssl_options.cacertfile = $dir/tls/ca.crt
ssl_options.certfile = $dir/tls/server.crt
ssl_options.keyfile = $dir/tls/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
management.tcp.ip = 127.0.0.1
management.tcp.port = $RMQ_MGMT_PORT
# Created on first boot with full rights on vhost /; guest stays loopback-only.
default_vhost = /
default_user = $RABBITMQ_TEST_USER
default_pass = $password
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
# Queue depth over the management API lags by this interval (default 5 s).
collect_statistics_interval = 1000
# Everything to stdout, i.e. to $SLUICE_ENV_DIR/rabbitmq.log.
log.console = true
log.console.level = info
log.file = false
EOF
  # The node's own epmd, so node names never clash with another environment
  # or a system-wide RabbitMQ; started first so erl does not spawn a daemon.
  start_bg rabbitmq-epmd epmd -port "$RMQ_EPMD_PORT" -address 127.0.0.1
  wait_for rabbitmq-epmd 20 "$SLUICE_ENV_DIR/rabbitmq-epmd.log" \
    bash -c "exec 3<>/dev/tcp/127.0.0.1/$RMQ_EPMD_PORT"
  local -a env_args
  mapfile -t env_args < <(_rabbitmq_env)
  # rabbitmqctl with this node's environment (it authenticates by the cookie).
  {
    echo '#!/bin/sh'
    printf "exec env"
    printf " '%s'" "${env_args[@]}"
    printf " %s/rabbitmqctl \"\$@\"\n" "$RABBITMQ_SCRIPTS"
  } >"$dir/rabbitmqctl"
  chmod +x "$dir/rabbitmqctl"
  start_bg rabbitmq env "${env_args[@]}" "$RABBITMQ_SCRIPTS/rabbitmq-server"
  wait_for rabbitmq 180 "$SLUICE_ENV_DIR/rabbitmq.log" _rabbitmq_ready
  _rabbitmq_write_env
}

rabbitmq_stop() {
  stop_bg rabbitmq
  stop_bg rabbitmq-epmd
}
