#!/usr/bin/env python3
"""The apiserver's own write ceiling, for bench/scale: creates small ConfigMaps in a fresh namespace
from THREADS keep-alive HTTPS connections for SECONDS and prints {"creates_per_second": ...} as JSON.
Usage: apiserver_writes.py KUBECONFIG NAMESPACE [SECONDS] [THREADS]  (the namespace must exist).
It reads the server, CA and client certificate of the kubeconfig's current context through
`kubectl config view` ($KUBECTL; tests/env's admin kubeconfig names files), so it needs no client library."""
import http.client
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse


def context_of(path):
    config = json.loads(subprocess.run(
        [os.environ.get("KUBECTL", "kubectl"), "--kubeconfig", path, "config", "view", "--raw", "-o", "json"],
        check=True, capture_output=True, text=True).stdout)
    current = config["current-context"]
    ctx = next(c["context"] for c in config["contexts"] if c["name"] == current)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == ctx["user"])
    return cluster, user


def main():
    kubeconfig, namespace = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    cluster, user = context_of(kubeconfig)
    tls = ssl.create_default_context(cafile=cluster["certificate-authority"])
    tls.load_cert_chain(user["client-certificate"], user["client-key"])
    server = urllib.parse.urlparse(cluster["server"])
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    created = [0] * threads
    failed = [0] * threads
    deadline = time.monotonic() + seconds

    def writer(i):
        conn = http.client.HTTPSConnection(server.hostname, server.port, context=tls)
        n = 0
        while time.monotonic() < deadline:
            body = json.dumps({"metadata": {"name": f"w{i}-{n}"}, "data": {"k": "v"}})
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status == 201:
                created[i] += 1
            else:
                failed[i] += 1
            n += 1

    start = time.monotonic()
    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - start
    print(json.dumps({"creates_per_second": round(sum(created) / elapsed, 1), "failed": sum(failed),
                      "threads": threads, "seconds": round(elapsed, 1)}))


if __name__ == "__main__":
    main()
