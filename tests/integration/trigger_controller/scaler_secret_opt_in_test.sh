# Confused deputy, on the real apiserver: a Kafka Trigger names a SASL Secret
# without the sluice.io/scaler-access opt-in and "bootstrap servers" that are
# a plain TCP listener on 127.0.0.1 standing in for a broker. The operator
# reports the Trigger (ScalerCredentials False naming the Secret and the
# label, a SecretNotOptedIn Event), its autoscaler refuses to build the
# scaler, and the listener receives not one byte (the TriggerController's
# reachability probe may connect, and sends nothing). Once the Secret is
# labelled, the scaler connects and the listener receives Kafka protocol
# bytes: the same path was live, only the opt-in stood in the way.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

own_namespace optin
apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null

# The stand-in broker: accepts connections and records every byte it is sent.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$port" "$work/received" <<'PY' &
import socket, sys, threading
port, path = int(sys.argv[1]), sys.argv[2]
open(path, "wb").close()
lock = threading.Lock()
def serve(conn):
    with conn:
        while data := conn.recv(65536):
            with lock, open(path, "ab") as out:
                out.write(data)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen()
while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
PY
pids+=($!)
received() { stat -c %s "$work/received" 2>/dev/null || echo 0; }
poll 10 test -e "$work/received"

k create secret generic kafka-user --from-literal=username=alice --from-literal=password=s3cret-not-for-you >/dev/null
"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
  --runtime-image sluice/runtime-python:test --log-level debug >"$work/operator.log" 2>&1 &
pids+=($!)
k apply -f - >/dev/null <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: consume}
spec:
  code: {inline: "def main_handler(event, context): return event"}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: orders}
spec:
  functionRef: {name: consume}
  kafka:
    bootstrapServers: ["127.0.0.1:$port"]
    topics: [orders]
    consumerGroup: g
    sasl: {mechanism: PLAIN, secretRef: {name: kafka-user}}
YAML

condition() { k get trigger orders -o jsonpath="{.status.conditions[?(@.type==\"ScalerCredentials\")].$1}"; }
refused() { [[ $(condition reason) == SecretNotOptedIn ]]; }
(poll 60 refused) || fail "no ScalerCredentials=SecretNotOptedIn condition: $(k get trigger orders -o jsonpath='{.status.conditions}')"
expected="spec.kafka.sasl.secretRef: Secret $ns/kafka-user lacks the label sluice.io/scaler-access=\"true\""
[[ $(condition message) == "$expected"* ]] || fail "condition message: $(condition message)"
[[ $(condition status) == False ]] || fail "ScalerCredentials is not False"
event() { [[ $(k get events --field-selector reason=SecretNotOptedIn,involvedObject.name=orders -o jsonpath='{.items[*].message}') == "$expected"* ]]; }
(poll 30 event) || fail "no SecretNotOptedIn Event on the Trigger"
# The autoscaler tried to build the scaler and refused: from here on no scaler exists that could send anything.
built_refused() { grep -q "Trigger orders: .*lacks the label sluice.io/scaler-access" "$work/operator.log"; }
(poll 60 built_refused) || fail "the autoscaler never tried (and refused) the scaler: $(tail -5 "$work/operator.log")"
# Two rebuild attempts (every 5 s while broken) later, still nothing reached the listener.
attempts() { [[ $(grep -c "Trigger orders: .*lacks the label" "$work/operator.log") -ge 2 ]]; }
(poll 60 attempts) || fail "the autoscaler did not retry the build"
[[ $(received) -eq 0 ]] || fail "the stand-in broker received $(received) bytes from a Secret that did not opt in: $(head -c 200 "$work/received" | od -c | head -5)"
grep -q "s3cret-not-for-you" "$work/received" && fail "the password reached the listener"
echo "[step] not opted in: condition, Event, no scaler, 0 bytes at the listener"

# Positive control: the opt-in lets the same scaler connect and speak Kafka to the listener.
k label secret kafka-user sluice.io/scaler-access=true >/dev/null
bytes_arrive() { [[ $(received) -gt 0 ]]; }
(poll 90 bytes_arrive) || fail "after the opt-in the scaler never connected: $(grep orders "$work/operator.log" | tail -3)"
opted_in() { [[ $(condition status) == True ]]; }
(poll 90 opted_in) || fail "ScalerCredentials did not turn True after the opt-in"
echo "PASS: a Secret without sluice.io/scaler-access is never sent (0 bytes); with it the scaler connects ($(received) bytes)"
