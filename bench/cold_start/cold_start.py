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
import http.client
import json
import os
import ssl
import statistics
import sys
import threading
import time
import urllib.parse

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


def ready(pod):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def wait(what, check, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError("timed out waiting for " + what)


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
    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection(ip, 8090, timeout=5)
            c.request("POST", "/invoke", body=b"{}", headers={"Content-Type": "application/json"})
            r = c.getresponse()
            body = r.read().decode(errors="replace")
            c.close()
            if r.status == 200:
                if body != expected:
                    raise RuntimeError("pod %s answered %r, expected %r" % (ip, body, expected))
                return now_ms()
            last = "%d %s" % (r.status, body.strip())
        except (ConnectionError, OSError, http.client.HTTPException) as e:
            last = str(e)
        time.sleep(0.002)
    raise RuntimeError("pod %s never answered: %s" % (ip, last))


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
    t_handler = invoke_until_answered(watch.ip, expected)
    watch.close()
    # An adopted pod keeps the warm pool's name; a fresh replica is "<function>-<ordinal>".
    adopted = watch.name.startswith("sluice-warm-")
    scale(name, 0)
    return {"operator_ms": watch.seen_ms - t0, "handler_ms": t_handler - t0, "pod": watch.name}, adopted


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


MODES = [("fresh", "cs-fresh", False), ("warm", "cs-warm", True), ("warm-secret", "cs-secret", True)]
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
    for key in ("operator_ms", "handler_ms"):
        v = [r[key] for r in rounds]
        summary[key] = {"p50": statistics.median(v), "p99": pct(v, 99), "min": min(v), "max": max(v)}
    results["modes"][mode] = {"summary": summary, "raw": rounds}

fresh = results["modes"]["fresh"]["summary"]["handler_ms"]["p50"]
for mode in ("warm", "warm-secret"):
    s = results["modes"][mode]["summary"]["handler_ms"]
    results["modes"][mode]["fresh_p50_over_this_p50"] = fresh / s["p50"]
with open(OUT, "w") as f:
    json.dump(results, f, indent=1)
print("\n| mode | n | operator p50 | operator p99 | handler p50 | handler p99 |")
print("|---|---:|---:|---:|---:|---:|")
for mode, _, _ in MODES:
    s = results["modes"][mode]["summary"]
    print("| %s | %d | %.0f ms | %.0f ms | %.0f ms | %.0f ms |" % (
        mode, ROUNDS, s["operator_ms"]["p50"], s["operator_ms"]["p99"], s["handler_ms"]["p50"], s["handler_ms"]["p99"]))
for mode in ("warm", "warm-secret"):
    print("fresh pod p50 / %s p50: %.1fx" % (mode, results["modes"][mode]["fresh_p50_over_this_p50"]))
