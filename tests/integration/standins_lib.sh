# Real sluice-runtime stand-ins for a Function's KWOK pods (real apiserver +
# KWOK): one per Ready pod, bound on the pod's IP (which the test environment
# makes local), started as the pod appears and stopped when it goes; so
# replicas really consume their Triggers and serve /metrics where the operator
# reads them. Shared by the gateway and autoscaler tests.
# Sourced after ../lib.sh; needs `k` (the test's kubectl), $work (a scratch
# folder) and the array $pids (background processes the test kills at exit).

# standins FUNCTION: keeps one sluice-runtime per Ready pod of FUNCTION (in the background).
# A stand-in is keyed by the pod's name and uid (a pod deleted and made again under the same
# name, as a scale-down then a scale-up do within seconds, is a new replica on a new address),
# and starts only once no stand-in of a gone pod still holds its address: KWOK hands a freed
# pod IP to the next pod at once, while the old stand-in may still be draining on it (a bind
# that fails after the replica joined its consumer group stalls the group for a session timeout).
standins() {
  local function=$1
  mkdir -p "$work/standins"
  (
    set +e
    while :; do
      # A failed list (a busy apiserver) says nothing: stopping every stand-in on it would drain
      # replicas under load (seen as empty 404s from their closing listeners).
      if k get pods -l "sluice.io/function=$function" -o json >"$work/standins/pods.json" 2>/dev/null; then
        jq -r '.items[] | select(.metadata.deletionTimestamp == null and .status.podIP != null)
               | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))
               | "\(.metadata.name) \(.status.podIP) \(.metadata.uid)"' "$work/standins/pods.json" >"$work/standins/want.new" &&
          mv "$work/standins/want.new" "$work/standins/want"
      fi
      [[ -e $work/standins/want ]] || { sleep 0.2; continue; }
      # Gone pods first: their stand-ins drain and free the addresses new pods may be given.
      for file in "$work"/standins/*.pid; do
        [[ -e $file ]] || continue
        key=$(basename "$file" .pid)
        if ! awk '{print $1 "-" $3}' "$work/standins/want" | grep -qx "$key"; then
          kill "$(cat "$file")" 2>/dev/null
          mv "$file" "$work/standins/$key.stopped"
        fi
      done
      while read -r pod ip uid; do
        key="$pod-$uid"
        [[ -e $work/standins/$key.pid ]] && continue
        # A stopped stand-in still draining on this address: next round.
        busy=""
        for file in "$work"/standins/*.stopped; do
          [[ -e $file ]] || continue
          if ! kill -0 "$(cat "$file")" 2>/dev/null; then
            rm -f "$file"
          elif [[ $(cat "${file%.stopped}.ip" 2>/dev/null) == "$ip" ]]; then
            busy=1
          fi
        done
        [[ -z $busy ]] || continue
        # The runtime removes its token file once read: each stand-in gets its own copy.
        k get secret sluice-control-token -o jsonpath='{.data.token}' 2>/dev/null | base64 -d >"$work/standins/$key.token"
        invoke=$(k get secret sluice-control-token -o jsonpath='{.data.invoke}' 2>/dev/null | base64 -d)
        k get configmap "$function-sluice-config" -o json 2>/dev/null |
          jq '.data as $d | ($d["function.json"] | fromjson) + {codeFiles: {"index.py": $d["code.py"]}}' \
            >"$work/standins/$key.json" || continue
        # The pod's Secret-backed environment (broker URLs), as the kubelet would set it.
        local -a secret_env=()
        while read -r var secret skey; do
          [[ -n $var ]] && secret_env+=("$var=$(k get secret "$secret" -o json | jq -r --arg k "$skey" '.data[$k] // ""' | base64 -d)")
        done < <(k get pod "$pod" -o json | jq -r '.spec.containers[0].env[]? | select(.valueFrom.secretKeyRef != null)
                   | "\(.name) \(.valueFrom.secretKeyRef.name) \(.valueFrom.secretKeyRef.key)"')
        env "${secret_env[@]}" SLUICE_INVOKE_TOKEN="$invoke" "$SLUICE_BUILD_DIR/sluice-runtime" \
          --config "$work/standins/$key.json" --control-bind-address "$ip:8090" --data-bind-address "$ip:8080" \
          --specialize-token-file "$work/standins/$key.token" >"$work/standins/$key.log" 2>&1 &
        echo $! >"$work/standins/$key.pid"
        echo "$ip" >"$work/standins/$key.ip"
      done <"$work/standins/want"
      sleep 0.2
    done
  ) &
  pids+=($!)
}
# Stand-ins are children of the loop's subshell: stop them too when the test ends.
stop_standins() {
  local file
  for file in "$work"/standins/*.pid "$work"/standins/*.stopped; do
    [[ -e $file ]] || continue
    kill "$(cat "$file")" 2>/dev/null || true # it may have exited on its own (drained)
  done
}
