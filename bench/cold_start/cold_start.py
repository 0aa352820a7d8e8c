#!/usr/bin/env python3
"""Cold start on the real node: from the desired-replicas change to the handler answering.

One round: a pod watch on the Function's label is open; the Function is scaled 0 -> 1
(PATCH spec.replicas, t0 = the apiserver's answer); the end of the operator's part is the
watch reporting a pod with the Function's label (a fresh pod created, or a warm pod
relabelled); the end of the round is the first POST /invoke on that pod's IP that
returns the handler's answer. Then back to 0 and, for warm modes, until the pool is
Ready again. Modes (each a Function of its own, same handler):
  fresh        no warm pool, and a pod shape (an env var) no other Function's pool has, so
               it cannot adopt one: scheduling, sandbox, container and interpreter start
  warm         warmPool.size 1: adoption + /specialize
  warm-secret  warmPool.size 1, a RabbitMQ Trigger with a connection Secret and an
               env var from a Secret: adopted from the pool of its own shape
Usage: cold_start.py NAMESPACE ROUNDS OUT.json   (env: KUBE_APISERVER_URL KUBE_CERT_DIR)
"""
import base64
import calendar
import http.client
import json
import os
import re
import ssl
import statistics
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from kube_bench import pct, wait  # noqa: E402

NS, ROUNDS, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
API = urllib.parse.urlparse(os.environ["KUBE_APISERVER_URL"])
CERTS = os.environ["KUBE_CERT_DIR"]
FUNCTIONS = "/apis/sluice.io/v1alpha1/namespaces/%s/functions" % NS


def tls():
    ctx = ssl.create_default_context(cafile=os.path.join(CERTS, "ca.crt"))
    ctx.load_cert_chain(os.path.join(CERTS, "admin.crt"), os.path.join(CERTS, "admin.key"))
    return ctx


class Api:
    def __init__(self):
        self.conn = http.client.HTTPSConnection(API.hostname, API.port, context=tls(), timeout=30)

    def call(self, method, path, body=None, ctype="application/json"):
        headers = {"Content-Type": ctype} if body is not None else {}
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status >= 300:
            raise RuntimeError("%s %s: %d %s" % (method, path, resp.status, data[:300]))
        return json.loads(data) if data else None


api = Api()


def now_ms():
    return time.time() * 1000.0


def scale(name, replicas):
    api.call("PATCH", "%s/%s" % (FUNCTIONS, name), {"spec": {"replicas": replicas}}, "application/merge-patch+json")
    return now_ms()


def pods_of(selector):
    """Every pod with the label, terminating ones too."""
    return api.call("GET", "/api/v1/namespaces/%s/pods?labelSelector=%s" % (NS, urllib.parse.quote(selector)))["items"]


class PodWatch(threading.Thread):
    """Reports the first pod carrying the label, then its IP once it has one."""

    def __init__(self, selector, rv):
        super().__init__(daemon=True)
        self.selector, self.rv = selector, rv
        self.seen_ms = None
        self.name = None
        self.ip = None
        self.ip_event = threading.Event()
        self.conn = http.client.HTTPSConnection(API.hostname, API.port, context=tls(), timeout=120)

    def run(self):
        path = "/api/v1/namespaces/%s/pods?watch=1&labelSelector=%s&resourceVersion=%s" % (
            NS, urllib.parse.quote(self.selector), self.rv)
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        while not self.ip_event.is_set():
            line = resp.readline()
            if not line:
                return
            event = json.loads(line)
            pod = event["object"]
            if event["type"] == "DELETED" or pod["metadata"].get("deletionTimestamp"):
                continue
            if self.seen_ms is None:
                self.seen_ms = now_ms()
                self.name = pod["metadata"]["name"]
            if pod.get("status", {}).get("podIP"):
                self.ip = pod["status"]["podIP"]
                self.ip_event.set()

    def close(self):
        try:
            self.conn.sock.shutdown(2)
        except Exception:
            pass


def invoke_until_answered(ip, expected, timeout=120):
    """When the handler first answers; and when that request was sent, and how many were sent."""
    deadline = time.time() + timeout
    last = ""
    attempts = 0
    while time.time() < deadline:
        try:
            attempts += 1
            sent = now_ms()
            # /invoke is on the data port, with the namespace's invoke token (as the gateway sends it).
            c = http.client.HTTPConnection(ip, 8080, timeout=5)
            c.request("POST", "/invoke", body=b"{}",
                      headers={"Content-Type": "application/json", "X-Sluice-Invoke-Token": invoke_token()})
            r = c.getresponse()
            body = r.read().decode(errors="replace")
            c.close()
            if r.status == 200:
                if body != expected:
                    raise RuntimeError("pod %s answered %r, expected %r" % (ip, body, expected))
                return now_ms(), sent, attempts
            last = "%d %s" % (r.status, body.strip())
        except (ConnectionError, OSError, http.client.HTTPException) as e:
            last = str(e)
        time.sleep(0.002)
    raise RuntimeError("pod %s never answered: %s" % (ip, last))


_invoke_token = []


def invoke_token():
    """The namespace's invoke tokens, from its Secret sluice-control-token (read once)."""
    if not _invoke_token:
        secret = api.call("GET", "/api/v1/namespaces/%s/secrets/sluice-control-token" % NS)
        _invoke_token.append(base64.b64decode(secret["data"]["invoke"]).decode())
    return _invoke_token[0]


def ready_after_answer(ip, timeout=120):
    """When the pod's /readyz first says ready (its trigger sources are running): polled from the host."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection(ip, 8090, timeout=5)
            c.request("GET", "/readyz")
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                return now_ms()
        except (ConnectionError, OSError, http.client.HTTPException):
            pass
        time.sleep(0.002)
    raise RuntimeError("pod %s never reported ready" % ip)


RUNTIME_TRACE = re.compile(r"specialized as function \S+ in [\d.]+ ms \(trace: received at ([\d.]+) ms epoch, "
                           r"parsed \+([\d.]+), handler loaded \+([\d.]+), outputs built \+([\d.]+), "
                           r"answering \+([\d.]+)")
SOURCES_TRACE = re.compile(r"trigger sources running ([\d.]+) ms after /specialize arrived")
OPERATOR_TRACE = re.compile(r"adopted warm pod (\S+) \(trace: apply began at ([\d.]+) ms epoch, pod chosen "
                            r"\+([\d.]+) ms, relabel PATCH \+([\d.]+) ms, /specialize answered \+([\d.]+) ms\)")


def log_of(namespace, pod):
    path = "/api/v1/namespaces/%s/pods/%s/log" % (namespace, pod)
    api.conn.request("GET", path)
    resp = api.conn.getresponse()
    data = resp.read().decode(errors="replace")
    return data if resp.status == 200 else ""


def runtime_trace(pod, t0_epoch):
    """The runtime's own steps of /specialize, in ms after t0 (from its log line)."""
    text = log_of(NS, pod)
    m = RUNTIME_TRACE.search(text)
    if not m:
        return None
    received = float(m.group(1))
    out = {"received": received - t0_epoch}
    for key, g in (("parsed", 2), ("handler_loaded", 3), ("outputs_built", 4), ("answered_after_sources", 5)):
        out[key] = received + float(m.group(g)) - t0_epoch
    s = SOURCES_TRACE.search(text)
    if s:
        out["sources_running"] = received + float(s.group(1)) - t0_epoch
    return out


def round_of(name, expected, warm):
    selector = "sluice.io/function=" + name
    # Until the last round's pod is gone, not only terminating: the operator waits for the
    # deletions it expects before it acts again, and that wait is not a cold start.
    wait("no pod of " + name, lambda: not pods_of(selector))
    if warm:
        wait("a Ready warm pod for " + name,
             lambda: api.call("GET", "%s/%s" % (FUNCTIONS, name)).get("status", {}).get("warmReplicas", 0) >= 1)
    rv = api.call("GET", "/api/v1/namespaces/%s/pods?limit=1" % NS)["metadata"]["resourceVersion"]
    watch = PodWatch(selector, rv)
    watch.start()
    time.sleep(0.3)  # the watch is established
    t0 = scale(name, 1)
    if not watch.ip_event.wait(120):
        raise RuntimeError("no pod with an IP for " + name)
    t_handler, t_sent, attempts = invoke_until_answered(watch.ip, expected)
    t_ready = ready_after_answer(watch.ip)
    watch.close()
    # An adopted pod keeps the warm pool's name; a fresh replica is "<function>-<ordinal>".
    adopted = watch.name.startswith("sluice-warm-")
    result = {"operator_ms": watch.seen_ms - t0, "handler_ms": t_handler - t0, "ready_ms": t_ready - t0,
              "pod": watch.name, "t0_epoch_ms": t0, "invoke_sent_ms": t_sent - t0, "invoke_attempts": attempts}
    if adopted:
        result["runtime_trace_ms"] = runtime_trace(watch.name, t0)
    scale(name, 0)
    return result, adopted


MODES = [("fresh", "cs-fresh", False), ("warm", "cs-warm", True), ("warm-secret", "cs-secret", True)]
if os.environ.get("COLD_START_MODES"):  # e.g. "warm warm-secret", for a trace of adoptions only
    MODES = [m for m in MODES if m[0] in os.environ["COLD_START_MODES"].split()]
results = {"rounds": ROUNDS, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "modes": {}}
for mode, name, warm in MODES:
    expected = "ok:%s:%s" % (name, "bench-key" if mode == "warm-secret" else "")
    rounds = []
    for i in range(ROUNDS):
        r, adopted = round_of(name, expected, warm)
        if warm != adopted:
            raise RuntimeError("%s round %d: the replica was %s from a warm pool" % (
                mode, i, "adopted" if adopted else "not adopted"))
        rounds.append(r)
        print("%s round %d: operator %.0f ms, handler %.0f ms" % (mode, i, r["operator_ms"], r["handler_ms"]),
              flush=True)
    summary = {}
    for key in ("operator_ms", "handler_ms", "ready_ms"):
        v = [r[key] for r in rounds]
        summary[key] = {"p50": statistics.median(v), "p99": pct(v, 99), "min": min(v), "max": max(v)}
    results["modes"][mode] = {"summary": summary, "raw": rounds}



REFILL = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\].*warm pool \S+: created pod", re.M)


def operator_traces():
    """The operator's adoption trace lines, by adopted pod (every operator pod's log: one of them leads),
    and when its warm pool controller created replacement pods (epoch ms; the log's clock is UTC)."""
    system_ns = os.environ["COLD_START_SYSTEM_NS"]
    traces, refills = {}, []
    for pod in api.call("GET", "/api/v1/namespaces/%s/pods" % system_ns)["items"]:
        text = log_of(system_ns, pod["metadata"]["name"])
        for m in OPERATOR_TRACE.finditer(text):
            began = float(m.group(2))
            traces[m.group(1)] = {"apply_began_epoch": began, "chosen": float(m.group(3)),
                                  "relabelled": float(m.group(4)), "specialize_answered": float(m.group(5))}
        for m in REFILL.finditer(text):
            stamp = calendar.timegm(time.strptime(m.group(1)[:19], "%Y-%m-%d %H:%M:%S")) * 1000.0
            refills.append(stamp + float(m.group(1)[20:]))
    return traces, sorted(refills)


# The trace of each adoption, in ms after t0 (the bench's PATCH of spec.replicas answered).
STEPS = ["apply_began", "pod_chosen", "relabel_patched", "watch_saw_pod", "specialize_received", "parsed",
         "handler_loaded", "outputs_built", "answered_after_sources", "specialize_answered", "invoke_sent",
         "handler_answered", "sources_running", "ready"]
# The critical path from the change to the handler's answer (the watch, the sources and readiness run beside it).
CHAIN = ["apply_began", "pod_chosen", "relabel_patched", "specialize_received", "handler_loaded",
         "answered_after_sources", "specialize_answered", "handler_answered"]
traces, refills = operator_traces()
for mode, _, warm in MODES:
    if not warm:
        continue
    steps = {k: [] for k in STEPS}
    for r in results["modes"][mode]["raw"]:
        op, rt = traces.get(r["pod"]), r.get("runtime_trace_ms")
        if not op or not rt:
            continue
        began = op["apply_began_epoch"] - r["t0_epoch_ms"]
        t = {"apply_began": began, "pod_chosen": began + op["chosen"], "relabel_patched": began + op["relabelled"],
             "watch_saw_pod": r["operator_ms"], "specialize_received": rt["received"], "parsed": rt["parsed"],
             "handler_loaded": rt["handler_loaded"], "outputs_built": rt["outputs_built"],
             "answered_after_sources": rt["answered_after_sources"],
             "specialize_answered": began + op["specialize_answered"], "invoke_sent": r["invoke_sent_ms"],
             "handler_answered": r["handler_ms"],
             "sources_running": rt.get("sources_running", rt["answered_after_sources"]), "ready": r["ready_ms"]}
        r["trace_ms"] = t
        # The pool's replacement pod (its start competes for the CPU): the first creation after t0.
        later = [x - r["t0_epoch_ms"] for x in refills if x >= r["t0_epoch_ms"] - 50]
        if later:
            r["refill_created_ms"] = later[0]
        for k in STEPS:
            steps[k].append(t[k])
    n = len(steps["ready"])
    results["modes"][mode]["trace_rounds"] = n
    if n:
        results["modes"][mode]["trace_summary_ms"] = {
            k: {"p50": statistics.median(v), "p99": pct(v, 99)} for k, v in steps.items()}
        print("\n%s: adoption trace over %d rounds, ms after the PATCH of spec.replicas (p50 / p99)" % (mode, n))
        for k in STEPS:
            print("  %-24s %7.1f %7.1f" % (k, statistics.median(steps[k]), pct(steps[k], 99)))
        # Each step's own share of the critical path: the time since the step before it on that path.
        segments = {"t0->apply_began": steps["apply_began"]}
        for a, b in zip(CHAIN, CHAIN[1:]):
            segments["%s->%s" % (a, b)] = [y - x for x, y in zip(steps[a], steps[b])]
        results["modes"][mode]["trace_segments_ms"] = {
            k: {"p50": statistics.median(v), "p99": pct(v, 99), "max": max(v)} for k, v in segments.items()}
        slowest = sorted((r for r in results["modes"][mode]["raw"] if "trace_ms" in r), key=lambda r: -r["handler_ms"])
        for r in slowest[:3]:
            print("  slow round (%s): %s; refill created %s" % (
                r["pod"], ", ".join("%s %.1f" % (k, r["trace_ms"][k]) for k in STEPS), r.get("refill_created_ms")))
        created = [r["refill_created_ms"] for r in results["modes"][mode]["raw"] if "refill_created_ms" in r]
        if created:
            print("  pool refill pod created: p50 %.1f, min %.1f ms after t0" % (statistics.median(created), min(created)))

if "fresh" in results["modes"]:
    fresh = results["modes"]["fresh"]["summary"]["handler_ms"]["p50"]
    for mode in ("warm", "warm-secret"):
        if mode in results["modes"]:
            s = results["modes"][mode]["summary"]["handler_ms"]
            results["modes"][mode]["fresh_p50_over_this_p50"] = fresh / s["p50"]
with open(OUT, "w") as f:
    json.dump(results, f, indent=1)
print("\n| mode | n | operator p50 | operator p99 | handler p50 | handler p99 | ready p50 | ready p99 |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for mode, _, _ in MODES:
    s = results["modes"][mode]["summary"]
    print("| %s | %d | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms |" % (
        mode, ROUNDS, s["operator_ms"]["p50"], s["operator_ms"]["p99"], s["handler_ms"]["p50"], s["handler_ms"]["p99"],
        s["ready_ms"]["p50"], s["ready_ms"]["p99"]))
for mode in ("warm", "warm-secret"):
    if "fresh_p50_over_this_p50" in results["modes"].get(mode, {}):
        print("fresh pod p50 / %s p50: %.1fx" % (mode, results["modes"][mode]["fresh_p50_over_this_p50"]))
