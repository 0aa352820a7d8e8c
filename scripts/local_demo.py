#!/usr/bin/env python3
"""`make run`: seed scenario 1 (log cleansing) on this machine, end to end.

Starts `sluice-operator --local` on a copy of examples/01-log-cleansing (paths
moved under the work directory), drops gzip'd log files into the input
directory in waves with peaks and valleys, and shows what Sluice does: replicas,
backlog, records processed and scale events (redrawn in place on a terminal,
plain periodic lines otherwise). At the end: a summary (files, records,
replica-seconds against static peak provisioning), written as JSON too, and a
check that every generated record arrived cleaned. Ctrl-C stops it early, and
the operator stops every replica on the way out.

Exit codes: 0 every record arrived cleaned; 1 records missing or not cleaned,
or the operator left processes behind; 2 could not start.
"""
import argparse
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

EXAMPLE = "examples/01-log-cleansing/log-cleansing.yaml"
EXAMPLE_INPUT = "/tmp/sluice/log-cleansing/incoming"
EXAMPLE_OUTPUT = "/tmp/sluice/log-cleansing/cleaned"
USERS = ["alice", "bob", "carol", "dave", "erin", "frank"]
LEVELS = ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"]


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def waves(total_seconds):
    """(start second, files, lines per file): two peaks and a valley, then quiet
    for the last ~45% so the replicas visibly go back to zero."""
    scale = total_seconds / 120.0
    return [
        (round(3 * scale, 1), 36, 250),   # first peak
        (round(24 * scale, 1), 6, 250),   # valley: a trickle
        (round(40 * scale, 1), 48, 250),  # second, higher peak
    ]


def write_log_file(directory, name, lines, first_id, rng):
    """Writes `lines` log lines as a gzip file, atomically (dot-file + rename), and
    returns the ids it holds."""
    ids = []
    body = []
    for i in range(lines):
        rid = "rec-%08d" % (first_id + i)
        ids.append(rid)
        user = rng.choice(USERS)
        ip = "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        body.append("2026-11-30T22:%02d:%02dZ %s %s login by %s@example.com from %s took %dms" %
                    (rng.randrange(60), rng.randrange(60), rng.choice(LEVELS), rid, user, ip, rng.randrange(900)))
    temp = os.path.join(directory, "." + name + ".tmp")
    with gzip.open(temp, "wb") as f:
        f.write(("\n".join(body) + "\n").encode())
    os.rename(temp, os.path.join(directory, name))
    return ids


def scrape(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=1) as r:
            text = r.read().decode()
    except Exception:
        return None
    values = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^(sluice_local_[a-z_]+)(\{[^}]*\})? ([0-9.eE+-]+)$', line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        values[(m.group(1), labels.get("function", ""), labels.get("state", ""))] = float(m.group(3))
    return values


def count_files(directory):
    try:
        return sum(1 for e in os.scandir(directory) if e.is_file() and not e.name.startswith("."))
    except FileNotFoundError:
        return 0


def children_of(pid):
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]
    except Exception:
        return []


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120, help="how long the demo runs (default 120)")
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--work-dir", default="build/demo", help="inputs, outputs, logs, summary.json")
    parser.add_argument("--kill-replica-at", type=float, default=None,
                        help="SIGKILL one replica this many seconds in (fault injection for tests)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--settle-seconds", type=float, default=0,
                        help="after --seconds, wait up to this long for the backlog to drain and replicas to reach "
                             "zero (tests on a busy machine); 0: stop at --seconds")
    args = parser.parse_args()

    source_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build = os.path.abspath(os.path.join(source_dir, args.build_dir) if not os.path.isabs(args.build_dir)
                            else args.build_dir)
    work = os.path.abspath(args.work_dir)
    operator = os.path.join(build, "sluice-operator")
    if not os.access(operator, os.X_OK):
        print("demo: %s is missing; run `make build` first" % operator, file=sys.stderr)
        return 2
    shutil.rmtree(work, ignore_errors=True)
    manifests = os.path.join(work, "manifests")
    incoming = os.path.join(work, "incoming")
    cleaned = os.path.join(work, "cleaned")
    for d in (manifests, incoming, cleaned):
        os.makedirs(d)
    with open(os.path.join(source_dir, EXAMPLE)) as f:
        manifest = f.read().replace(EXAMPLE_INPUT, incoming).replace(EXAMPLE_OUTPUT, cleaned)
    with open(os.path.join(manifests, "log-cleansing.yaml"), "w") as f:
        f.write(manifest)

    port = free_port()
    log_path = os.path.join(work, "operator.log")
    log = open(log_path, "w")
    proc = subprocess.Popen([operator, "--local", manifests, "--metrics-bind-address", "127.0.0.1:%d" % port,
                             "--warm-pool", "1", "--drain-grace", "10"], stdout=log, stderr=subprocess.STDOUT)
    tty = sys.stdout.isatty()
    rng = random.Random(args.seed)
    plan = waves(args.seconds)
    # Each wave's files are spread over ~4 s so the backlog visibly builds.
    schedule = []
    for start, files, lines in plan:
        for i in range(files):
            schedule.append((start + 4.0 * i / files, lines))
    schedule.sort()
    generated_ids = []
    files_written = 0
    history = []  # (seconds, replicas alive, desired, backlog, processed)
    events = []
    last_desired = 0
    peak = 0
    replica_seconds = 0.0
    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    start = time.monotonic()
    next_line = 0.0
    killed = None
    key = "default/log-cleanse"
    drawn = 0
    while not stop["now"]:
        now = time.monotonic() - start
        while schedule and schedule[0][0] <= now:
            _, lines = schedule.pop(0)
            name = "partner-%04d.log.gz" % files_written
            generated_ids += write_log_file(incoming, name, lines, len(generated_ids), rng)
            files_written += 1
        metrics = scrape(port) or {}
        alive = int(sum(metrics.get(("sluice_local_replicas", key, s), 0) for s in ("starting", "ready")))
        desired = int(metrics.get(("sluice_local_desired_replicas", key, ""), 0))
        replica_seconds = metrics.get(("sluice_local_replica_seconds_total", key, ""), replica_seconds)
        backlog = count_files(incoming)
        processed = count_files(cleaned)
        peak = max(peak, alive)
        history.append((round(now, 2), alive, desired, backlog, processed))
        if desired != last_desired:
            events.append("%6.1fs  scale %d -> %d  (backlog %d files)" % (now, last_desired, desired, backlog))
            if not tty:
                print("demo: " + events[-1].strip(), flush=True)
            last_desired = desired
        if args.kill_replica_at is not None and killed is None and now >= args.kill_replica_at:
            pids = children_of(proc.pid)
            # A replica in the middle of a file holds its claim (the file names its owner host-pid).
            claims_dir = os.path.join(incoming, ".sluice-claims")
            owners = set()
            for e in (os.scandir(claims_dir) if os.path.isdir(claims_dir) else []):
                try:
                    owners.add(int(open(e.path).read().strip().rsplit("-", 1)[-1]))
                except Exception:
                    pass
            victims = [p for p in pids if p in owners]
            if victims:
                os.kill(victims[0], signal.SIGKILL)
                killed = victims[0]
                events.append("%6.1fs  SIGKILL replica %d (mid-file)" % (now, killed))
                if not tty:
                    print("demo: " + events[-1].strip(), flush=True)
        status = ("%5.1fs  replicas %d (desired %d)  backlog %3d files  generated %5d records  "
                  "processed %5d  replica-s %.1f" % (now, alive, desired, backlog, len(generated_ids), processed,
                                                     replica_seconds))
        if tty:
            bar = "#" * alive + "." * max(0, 4 - alive)
            screen = ["Sluice local demo: log cleansing (Ctrl-C stops)",
                      "  replicas [%s] %d of desired %d    backlog %d files" % (bar, alive, desired, backlog),
                      "  records generated %d   processed %d   files %d" % (len(generated_ids), processed,
                                                                             files_written),
                      "  replica-seconds %.1f" % replica_seconds, "  scale events:"] + \
                     ["    " + e for e in events[-6:]]
            sys.stdout.write("\x1b[%dA\x1b[J" % drawn if drawn else "")
            sys.stdout.write("\n".join(screen) + "\n")
            sys.stdout.flush()
            drawn = len(screen)
        elif now >= next_line:
            print("demo: " + status, flush=True)
            next_line = now + 5
        if proc.poll() is not None:
            print("demo: the operator exited (%d); see %s" % (proc.returncode, log_path), file=sys.stderr)
            return 2
        done = not schedule and backlog == 0 and alive == 0 and desired == 0 and processed >= len(generated_ids)
        if (done and now > plan[-1][0] + 10) or now >= args.seconds + (0 if done else args.settle_seconds):
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - start

    # Stop the operator as Ctrl-C would, and make sure nothing is left behind.
    pids_before = children_of(proc.pid)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    leftovers = [p for p in pids_before if os.path.exists("/proc/%d" % p) and
                 open("/proc/%d/stat" % p).read().split()[2] != "Z"]

    out_ids = {}
    not_clean = 0
    for e in os.scandir(cleaned):
        if e.name.startswith("."):
            continue
        with open(e.path) as f:
            record = json.load(f)
        out_ids[record.get("id")] = out_ids.get(record.get("id"), 0) + 1
        msg = record.get("msg", "")
        if "@" in msg or re.search(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", msg):
            not_clean += 1
    missing = [i for i in generated_ids if i not in out_ids]
    duplicates = sum(n - 1 for n in out_ids.values())
    went_up = any(h[1] >= 2 for h in history)
    first_up = next((i for i, h in enumerate(history) if h[1] >= 2), None)
    back_to_zero = first_up is not None and any(h[1] == 0 for h in history[first_up:])
    static = peak * elapsed
    summary = {
        "seconds": round(elapsed, 1),
        "files": files_written,
        "records_generated": len(generated_ids),
        "records_out": sum(out_ids.values()),
        "records_out_unique": len(out_ids),
        "records_missing": len(missing),
        "records_duplicated": duplicates,
        "records_not_cleaned": not_clean,
        "peak_replicas": peak,
        "replica_seconds": round(replica_seconds, 1),
        "static_peak_replica_seconds": round(static, 1),
        "saved_percent": round(100 * (1 - replica_seconds / static), 1) if static > 0 else 0,
        "scaled_0_to_n_to_0": bool(history and history[0][1] == 0 and went_up and back_to_zero),
        "killed_replica": killed,
        "leftover_processes": leftovers,
        "scale_events": [e.strip() for e in events],
        "history": history,
    }
    with open(os.path.join(work, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print()
    print("Summary (%s)" % os.path.join(work, "summary.json"))
    print("  files %d, records %d generated, %d arrived cleaned (%d missing, %d duplicates, %d not cleaned)" %
          (files_written, len(generated_ids), len(out_ids), len(missing), duplicates, not_clean))
    print("  replicas 0 -> %d -> %s, %d scale events" % (peak, history[-1][1] if history else 0, len(events)))
    print("  replica-seconds %.1f vs %.1f for static peak provisioning (%d replicas x %.0f s): %.0f%% saved" %
          (replica_seconds, static, peak, elapsed, summary["saved_percent"]))
    if leftovers:
        print("  processes left behind: %s" % leftovers)
    ok = not missing and not not_clean and not leftovers
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
