#!/usr/bin/env python3
"""Rounds of bench/gateway/activation.sh for one Function: request at zero -> desiredReplicas 1.

A `kubectl get fn -w` runs throughout; each line it prints (desiredReplicas) is timestamped on
arrival. One round: wait until the Function is at 0 with no pod, then 0.2-0.7 s (a random point of
the at-zero poll's 500 ms); t0 just before a POST to the
gateway is sent (on its own thread: it only ends at the gateway's request timeout); the figure is
the arrival of the first "1" after t0. Both modes read the watch the same way, so its delay is in
both. Usage: activation.py NAMESPACE FUNCTION URL ROUNDS OUT.json   (env: KUBECTL)
"""
import json
import os
import queue
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from kube_bench import pct, wait  # noqa: E402

NS, FUNCTION, URL, ROUNDS, OUT = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
KUBECTL = os.environ["KUBECTL"]

seen = queue.Queue()  # (arrival, desiredReplicas text)
latest = {"desired": None}
watch = subprocess.Popen([KUBECTL, "-n", NS, "get", "fn", FUNCTION, "-w", "-o",
                          "jsonpath={.status.desiredReplicas}{\"\\n\"}"], stdout=subprocess.PIPE, text=True)


def follow():
    for line in watch.stdout:
        value = line.strip()
        latest["desired"] = value
        seen.put((time.perf_counter(), value))


threading.Thread(target=follow, daemon=True).start()


def pods():
    items = json.loads(subprocess.check_output([KUBECTL, "-n", NS, "get", "pods", "-l",
                                                "sluice.io/function=" + FUNCTION, "-o", "json"]))["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def post():
    request = urllib.request.Request(URL, data=b"{}", method="POST")
    try:
        urllib.request.urlopen(request, timeout=10).read()
    except (urllib.error.URLError, OSError):
        pass  # 504 at the gateway's timeout: no replica answers on KWOK


samples = []
for i in range(ROUNDS):
    wait(FUNCTION + " at zero", lambda: latest["desired"] == "0" and not pods(), timeout=120, every=0.1)
    # Past the round that wrote 0 (the request is not in its measurement), then a random phase: without
    # it every request would come at the same point of the 500 ms at-zero poll after that round.
    time.sleep(random.uniform(0.2, 0.7))
    while not seen.empty():
        seen.get()
    t0 = time.perf_counter()
    threading.Thread(target=post, daemon=True).start()
    while True:
        at, value = seen.get(timeout=60)
        if value == "1" and at >= t0:
            break
    samples.append((at - t0) * 1000.0)
    print("%s round %d: desiredReplicas 1 after %.0f ms" % (FUNCTION, i, samples[-1]), flush=True)
watch.kill()
summary = {"p50": statistics.median(samples), "p99": pct(samples, 99), "min": min(samples), "max": max(samples),
           "mean": statistics.mean(samples)}
json.dump({"summary": summary, "raw_ms": samples}, open(OUT, "w"), indent=1)
