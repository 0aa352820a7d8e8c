#!/usr/bin/env python3
"""First request through the gateway to an HTTP-only Function at zero, on the real node.

One round: the Function has no pod left (and, for warm-pool, its pool has a Ready pod);
t0 = just before a POST to http://<gateway pod>:8080/<ns>/<function>/ is sent; the round's
figure is the time until the handler's answer ("ok:<function>") arrives. The gateway holds
the request while the autoscaler wakes the Function (an adopted warm pod, or a fresh pod).
Then the same-run baseline: POST /invoke on the replica's pod IP (direct) and through the
gateway, the replica now ready (median of 3 each). Then back to zero (the cooldown).
Usage: from_zero.py NAMESPACE GATEWAY_IP ROUNDS OUT.json   (env: KUBECTL)
"""
import base64
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from kube_bench import pct, ready, wait  # noqa: E402

NS, GATEWAY, ROUNDS, OUT = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
KUBECTL = os.environ["KUBECTL"]


def kubectl_json(*args):
    return json.loads(subprocess.check_output([KUBECTL, "-n", NS, *args, "-o", "json"]))


def pods_of(function):
    return kubectl_json("get", "pods", "-l", "sluice.io/function=" + function)["items"]


def post(host, port, path, timeout=60, headers=None):
    """(ms, status, body) of one POST on a new connection."""
    started = time.perf_counter()
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    c.request("POST", path, body=b"{}", headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    r = c.getresponse()
    body = r.read().decode(errors="replace")
    c.close()
    return (time.perf_counter() - started) * 1000.0, r.status, body


def invoke_token():
    secret = kubectl_json("get", "secret", "sluice-control-token")
    return base64.b64decode(secret["data"]["invoke"]).decode()


def round_of(function, warm):
    wait("no pod of " + function, lambda: not pods_of(function))
    if warm:
        wait("a Ready warm pod for " + function,
             lambda: kubectl_json("get", "fn", function).get("status", {}).get("warmReplicas", 0) >= 1)
    expected = "ok:" + function
    path = "/%s/%s/" % (NS, function)
    first_ms, status, body = post(GATEWAY, 8080, path)
    if status != 200 or body != expected:
        raise RuntimeError("%s: the first request got %d %r, expected 200 %r" % (function, status, body, expected))
    replicas = [p for p in pods_of(function) if ready(p) and not p["metadata"].get("deletionTimestamp")]
    if len(replicas) != 1:
        raise RuntimeError("%s: %d Ready replicas after the first request (the cooldown is 3 s)" % (
            function, len(replicas)))
    pod = replicas[0]
    direct, through = [], []
    for _ in range(3):
        # The replica's /invoke: its data port, with the namespace's invoke token (as the gateway sends it).
        ms, status, body = post(pod["status"]["podIP"], 8080, "/invoke", headers={"X-Sluice-Invoke-Token": invoke_token()})
        if status != 200 or body != expected:
            raise RuntimeError("%s: direct call got %d %r" % (function, status, body))
        direct.append(ms)
        ms, status, body = post(GATEWAY, 8080, path)
        if status != 200 or body != expected:
            raise RuntimeError("%s: call through the gateway got %d %r" % (function, status, body))
        through.append(ms)
    adopted = pod["metadata"]["name"].startswith("sluice-warm-")
    return {"first_ms": first_ms, "direct_ready_ms": statistics.median(direct),
            "gateway_ready_ms": statistics.median(through), "pod": pod["metadata"]["name"]}, adopted


MODES = [("warm-pool", "fz-warm", True), ("no-pool", "fz-cold", False)]
if os.environ.get("FROM_ZERO_MODES"):
    MODES = [m for m in MODES if m[0] in os.environ["FROM_ZERO_MODES"].split()]
results = {"rounds": ROUNDS, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "load_average_before": open("/proc/loadavg").read().split()[:3], "modes": {}}
for mode, function, warm in MODES:
    rounds = []
    for i in range(ROUNDS):
        try:
            r, adopted = round_of(function, warm)
        except Exception:
            # What the Function's pods said (a replica that exited shows why), then the failure.
            for pod in pods_of(function):
                name = pod["metadata"]["name"]
                log = subprocess.run([KUBECTL, "-n", NS, "logs", name, "--tail", "20"], capture_output=True, text=True)
                print("--- %s (%s) ---\n%s" % (name, json.dumps(pod.get("status", {}).get("containerStatuses", [])),
                                               log.stdout + log.stderr), file=sys.stderr)
            raise
        if adopted != warm:
            raise RuntimeError("%s round %d: the replica was %s" % (mode, i, "adopted" if adopted else "not adopted"))
        rounds.append(r)
        print("%s round %d: first request %.0f ms (ready replica: direct %.1f ms, via gateway %.1f ms)" % (
            mode, i, r["first_ms"], r["direct_ready_ms"], r["gateway_ready_ms"]), flush=True)
    summary = {}
    for key in ("first_ms", "direct_ready_ms", "gateway_ready_ms"):
        v = [r[key] for r in rounds]
        summary[key] = {"p50": statistics.median(v), "p99": pct(v, 99), "min": min(v), "max": max(v)}
    summary["first_p50_over_direct_p50"] = summary["first_ms"]["p50"] / summary["direct_ready_ms"]["p50"]
    results["modes"][mode] = {"summary": summary, "raw": rounds}
    results["load_average_after"] = open("/proc/loadavg").read().split()[:3]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:  # after each mode: a later failure keeps what was measured
        json.dump(results, f, indent=1)
print("\n| mode | n | first request p50 | p99 | direct to a ready replica p50 | via gateway, ready, p50 |")
print("|---|---:|---:|---:|---:|---:|")
for mode, s in ((m, results["modes"][m]["summary"]) for m in results["modes"]):
    print("| %s | %d | %.0f ms | %.0f ms | %.1f ms | %.1f ms |" % (
        mode, ROUNDS, s["first_ms"]["p50"], s["first_ms"]["p99"], s["direct_ready_ms"]["p50"],
        s["gateway_ready_ms"]["p50"]))
