"""Helpers the Python drivers of the real-node benchmarks share (bench/cold_start, bench/gateway)."""
import time


def ready(pod):
    """Whether the pod's Ready condition is True."""
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def wait(what, check, timeout=180, every=0.2):
    """Polls check() until it is true; raises after timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(every)
    raise RuntimeError("timed out waiting for " + what)


def pct(values, p):
    """The p-th percentile, nearest rank (with 30 values p99 is the largest)."""
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]
