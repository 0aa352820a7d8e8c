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

Beside it, an HTTP-triggered Function, hello, waits at zero processes behind
the gateway that `sluice-operator --local` runs: the demo curls its URL once,
shows the answer and how long it took from zero (0 -> 1 process, a warm one
adopted), and hello goes back to zero after its cooldown.

Where servers run, the demo uses them: with --s3-endpoint the files go to a
fresh bucket of that S3 store (credentials from S3_ACCESS_KEY/S3_SECRET_KEY,
handed to Sluice as a Secret manifest, never in a spec) instead of the input
directory; with --kafka-bootstrap the cleaned records go to a Kafka topic AND
land in the output directory: a Function's records go to one output, so
log-cleanse writes to the topic and a second Function, log-archive (built-in
`mirror`, Kafka Trigger on that topic with its own consumer group), copies them
into the directory, scaling 0 -> N -> 0 on the group's lag. The check then runs
on both: the directory as without Kafka, and the topic read back with kcat.
Without servers it runs on directories only.

Exit codes: 0 every record arrived cleaned (in the directory, and in the topic
with Kafka); 1 records missing or not cleaned, or the operator left processes
behind; 2 could not start.
"""
import argparse
import datetime
import gzip
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree

EXAMPLE = "examples/01-log-cleansing/log-cleansing.yaml"
EXAMPLE_INPUT = "/tmp/sluice/log-cleansing/incoming"
EXAMPLE_OUTPUT = "/tmp/sluice/log-cleansing/cleaned"
CLEANSE = "log-cleanse"
ARCHIVE = "log-archive"
HELLO = "hello"
# An HTTP-only Function: no process until a request comes through the gateway.
HELLO_MANIFEST = """apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: hello}
spec:
  runtime: python3.11
  handler: index.main_handler
  eventShape: lambda
  code:
    inline: |
      def main_handler(event, context):
          name = (event.get("queryStringParameters") or {}).get("name", "world")
          return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": "hello, %s\\n" % name}
  scaling: {minReplicas: 0, maxReplicas: 2, cooldownSeconds: 10, pollingIntervalSeconds: 1}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: hello-web}
spec:
  functionRef: {name: hello}
  http: {path: /hello}
"""
USERS = ["alice", "bob", "carol", "dave", "erin", "frank"]
LEVELS = ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"]


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def waves(total_seconds):
    """(start second, files, lines per file, seconds the files are spread over): two
    peaks and a valley, then quiet for the last ~45% so the replicas visibly go
    back to zero.

    A peak is one batch upload: all its files land at once (as fast as they can
    be written), and there are 18 and 24 times the Trigger's targetObjectCount
    (2) of them. The autoscaler asks for ceil(waiting / 2) replicas once a second,
    so the round after a batch lands (or the next one, if a round caught only its
    first files and woke one replica) sees far more than the 2 x 2 files that
    two replicas need. Spread over seconds instead, a peak is a trickle that one
    fast replica can keep below 3 waiting files (writing to Kafka it sometimes
    did: the peak stayed at 1 replica).
    """
    scale = total_seconds / 120.0
    return [
        (round(3 * scale, 1), 36, 250, 0.0),   # first peak: one batch
        (round(24 * scale, 1), 6, 250, 4.0),   # valley: a trickle
        (round(40 * scale, 1), 48, 250, 0.0),  # second, higher peak: one batch
    ]


def make_log_file(lines, first_id, rng, ids=None):
    """`lines` log lines, gzip'd, and the ids they hold: `ids`, or rec-<first_id + i>."""
    ids = ids or ["rec-%08d" % (first_id + i) for i in range(lines)]
    body = []
    for rid in ids:
        user = rng.choice(USERS)
        ip = "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        body.append("2026-11-30T22:%02d:%02dZ %s %s login by %s@example.com from %s took %dms" %
                    (rng.randrange(60), rng.randrange(60), rng.choice(LEVELS), rid, user, ip, rng.randrange(900)))
    return gzip.compress(("\n".join(body) + "\n").encode()), ids


class Gate:
    """For --kill-replica-at: an HTTP output that holds each request until opened.

    The demo routes one line of one file to it, so the replica that takes that
    file stops half-way through it, holding its claim: the moment to kill that
    replica is arranged, not hoped for. A request still held after `max_hold`
    seconds is answered 503, so a broken run cannot hang a replica forever.
    """

    FILE = "partner-gate.log.gz"
    LINE_ID = "rec-gate"

    def __init__(self, max_hold=300):
        import http.server
        self.opened = threading.Event()
        self.lock = threading.Lock()
        self.held = 0  # requests received before the gate opened
        self.after_opening = []  # bodies received once open
        gate = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with gate.lock:
                    if gate.opened.is_set():
                        gate.after_opening.append(body)
                    else:
                        gate.held += 1
                answered = gate.opened.wait(max_hold)
                self.send_response(200 if answered else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/gate" % self.server.server_address[1]

    def log_file(self, lines, rng):
        """A gzip'd log file whose middle line goes to the gate, and the ids of the others."""
        ids = ["%s-%04d" % (self.LINE_ID, i) for i in range(lines)]
        ids[lines // 2] = self.LINE_ID
        data, _ = make_log_file(lines, 0, rng, ids)
        return data, ids[:lines // 2] + ids[lines // 2 + 1:]

    def holding(self):
        with self.lock:
            return self.held > 0

    def open(self):
        with self.lock:
            self.opened.set()

    def line_arrived_after_opening(self):
        with self.lock:
            return any(self.LINE_ID.encode() + b'"' in body for body in self.after_opening)

    def close(self):
        self.open()
        self.server.shutdown()


class DirInput:
    """The input directory: files appear atomically (dot-file + rename)."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)

    def put(self, name, data):
        temp = os.path.join(self.directory, "." + name + ".tmp")
        with open(temp, "wb") as f:
            f.write(data)
        os.rename(temp, os.path.join(self.directory, name))

    def backlog(self):
        return count_files(self.directory)

    def trigger(self):
        return "  objectStore:\n    type: dir\n    path: %s\n" % self.directory

    def claim(self, name):
        """The claim of file `name` ("<host>-<pid>" while a replica holds it), or None."""
        try:
            with open(os.path.join(self.directory, ".sluice-claims", name)) as f:
                return f.read()
        except OSError:
            return None

    def close(self):
        pass


class S3Input:
    """A fresh bucket of an S3 store, objects under incoming/; requests signed with AWS Signature V4."""

    PREFIX = "incoming/"

    def __init__(self, endpoint, region, access_key, secret_key, bucket):
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.access_key = access_key
        self.secret_key = secret_key
        self.bucket = bucket
        self.request("PUT", "/" + bucket)

    def request(self, method, path, query=None, body=b""):
        host = urllib.parse.urlparse(self.endpoint).netloc
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        payload = hashlib.sha256(body).hexdigest()
        uri = urllib.parse.quote(path, safe="/-_.~")
        q = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
                     for k, v in sorted((query or {}).items()))
        headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        canonical = "\n".join([method, uri, q, "".join("%s:%s\n" % (k, headers[k]) for k in sorted(headers)), signed,
                               payload])
        scope = "%s/%s/s3/aws4_request" % (day, self.region)
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + self.secret_key).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
            self.access_key, scope, signed, signature)
        del headers["host"]
        request = urllib.request.Request(self.endpoint + uri + ("?" + q if q else ""), method=method,
                                         data=body if method == "PUT" else None, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.read()

    def put(self, name, data):
        self.request("PUT", "/%s/%s%s" % (self.bucket, self.PREFIX, name), body=data)

    def claim(self, name):
        """The claim of object `name` ("<host>-<pid>\\n<heartbeat>" while a replica holds it), or None."""
        try:
            return self.request("GET", "/%s/.sluice/claims/%s%s" % (self.bucket, self.PREFIX, name)).decode()
        except Exception:
            return None

    def keys(self, prefix=PREFIX):
        keys = []
        token = None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            root = ElementTree.fromstring(self.request("GET", "/" + self.bucket, query))
            ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            keys += [e.text for e in root.iter(ns + "Key")]
            token = next((e.text for e in root.iter(ns + "NextContinuationToken")), None)
            if not token:
                return keys

    def backlog(self):
        try:
            return len(self.keys())
        except Exception:
            return -1

    def trigger(self):
        return ("  objectStore:\n    type: s3\n    endpoint: \"%s\"\n    region: %s\n    bucket: %s\n"
                "    prefix: %s\n    credentialsSecretRef: {name: demo-s3}\n" %
                (self.endpoint, self.region, self.bucket, self.PREFIX))

    def secret(self):
        return ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: demo-s3\nstringData:\n  accessKey: %s\n"
                "  secretKey: %s\n" % (json.dumps(self.access_key), json.dumps(self.secret_key)))

    def close(self):
        try:
            for key in self.keys(prefix=""):  # the runtime's claims (.sluice/) too
                self.request("DELETE", "/%s/%s" % (self.bucket, key))
            self.request("DELETE", "/" + self.bucket)
        except Exception as e:
            print("demo: could not remove bucket %s: %s" % (self.bucket, e), file=sys.stderr)


class DirOutput:
    """The output directory: one JSON file per cleaned record."""

    def __init__(self, directory):
        self.directory = directory

    def describe(self):
        return self.directory

    def processed(self):
        return count_files(self.directory)

    def records(self):
        out = []
        for e in os.scandir(self.directory):
            if not e.name.startswith("."):
                with open(e.path) as f:
                    out.append(json.load(f))
        return out

    def close(self):
        pass


class KafkaOutput:
    """A Kafka topic, followed while the demo runs by a kcat consumer (the live count) and read back
    in full at the end."""

    def __init__(self, bootstrap, topic, work):
        self.bootstrap = bootstrap
        self.topic = topic
        self.follow_path = os.path.join(work, "kafka-follow.jsonl")
        self.follow_file = open(self.follow_path, "w")
        self.follower = subprocess.Popen(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-u", "-q"],
                                         stdout=self.follow_file, stderr=subprocess.DEVNULL)

    def describe(self):
        return "kafka://%s/%s" % (self.bootstrap, self.topic)

    def processed(self):
        try:
            with open(self.follow_path, "rb") as f:
                return f.read().count(b"\n")
        except OSError:
            return 0

    def records(self):
        out = subprocess.run(["kcat", "-b", self.bootstrap, "-C", "-t", self.topic, "-o", "beginning", "-e", "-q"],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError("reading Kafka topic %s: %s" % (self.topic, out.stderr.strip()))
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    def close(self):
        self.follower.terminate()
        self.follower.wait()
        self.follow_file.close()


def archive_manifest(bootstrap, topic, directory):
    """With Kafka, log-cleanse writes to the topic; this Function copies the topic into the output
    directory unchanged (built-in mirror), its replicas following the lag of its own consumer group
    (a fresh one per topic, so it starts from the topic's first record)."""
    return """apiVersion: sluice.io/v1alpha1
kind: Function
metadata:
  name: %(archive)s
spec:
  runtime: builtin
  pipeline:
    - mirror: {}
  outputs:
    - name: archive
      dir: {path: %(directory)s}
  scaling:
    minReplicas: 0
    maxReplicas: 3
    cooldownSeconds: 4
    pollingIntervalSeconds: 1
    burst: {thresholdPercent: 1000}
    scaleDown:
      stabilizationWindowSeconds: 3
      policies:
        - {type: Percent, value: 100, periodSeconds: 1}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata:
  name: cleaned-records
spec:
  functionRef: {name: %(archive)s}
  kafka:
    bootstrapServers: ["%(bootstrap)s"]
    topics: [%(topic)s]
    consumerGroup: sluice-%(archive)s-%(topic)s
    initialOffset: earliest
    lagThreshold: 500
""" % {"archive": ARCHIVE, "directory": directory, "bootstrap": bootstrap, "topic": topic}


def check_records(records, generated_ids):
    """Per output: how many records arrived, distinct, missing, duplicated, still holding an e-mail or IP."""
    out_ids = {}
    not_clean = 0
    for record in records:
        out_ids[record.get("id")] = out_ids.get(record.get("id"), 0) + 1
        msg = record.get("msg", "")
        if "@" in msg or re.search(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", msg):
            not_clean += 1
    return {
        "records_out": sum(out_ids.values()),
        "records_out_unique": len(out_ids),
        "records_missing": sum(1 for i in generated_ids if i not in out_ids),
        "records_duplicated": sum(n - 1 for n in out_ids.values()),
        "records_not_cleaned": not_clean,
    }


def scaled_0_to_n_to_0(alive, floor):
    """Starts at 0, reaches at least `floor` replicas, and is back at 0 afterwards."""
    first_up = next((i for i, n in enumerate(alive) if n >= floor), None)
    return bool(alive and alive[0] == 0 and first_up is not None and any(n == 0 for n in alive[first_up:]))


class HttpProbe:
    """Curls the hello Function's URL once, on a thread of its own (the screen goes on meanwhile)."""

    def __init__(self, url):
        self.url = url + "?name=you"
        self.result = None  # {"status", "body", "ms"} once answered (status 0: no answer)
        self.thread = None

    def start(self):
        def run():
            started = time.monotonic()
            try:
                out = subprocess.run(["curl", "-s", "-m", "30", "-w", "\n%{http_code}", self.url],
                                     capture_output=True, text=True, timeout=40).stdout
                body, _, status = out.rpartition("\n")
                status = int(status or 0)
            except (OSError, subprocess.TimeoutExpired, ValueError) as e:
                body, status = str(e), 0
            self.result = {"status": status, "body": body, "ms": round(1000 * (time.monotonic() - started))}
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def describe(self):
        if self.result is None:
            return "curl %s  (waiting: hello wakes from zero)" % self.url
        return "curl %s -> %d %r in %d ms" % (self.url, self.result["status"], self.result["body"].strip(),
                                            self.result["ms"])

    def answered(self):
        return bool(self.result and self.result["status"] == 200 and self.result["body"] == "hello, you\n")


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


def wait_dead(pid, timeout):
    """Waits until `pid` is gone or a zombie (another process's child: it reaps it), up to `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except OSError:
            return
        time.sleep(0.05)


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
                        help="this many seconds in, drop a file whose middle line goes to a gate (an HTTP output "
                             "that holds it), and SIGKILL the replica that stops there, half-way through the file "
                             "(fault injection for tests)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--settle-seconds", type=float, default=0,
                        help="after --seconds, wait up to this long for the backlog to drain and replicas to reach "
                             "zero (tests on a busy machine); 0: stop at --seconds")
    parser.add_argument("--s3-endpoint", default="",
                        help="drop the files into a fresh bucket of this S3 store instead of a directory "
                             "(credentials from S3_ACCESS_KEY and S3_SECRET_KEY, region from S3_REGION)")
    parser.add_argument("--kafka-bootstrap", default="",
                        help="also write every cleaned record to a Kafka topic on these brokers (host:port)")
    parser.add_argument("--kafka-topic", default="",
                        help="the topic (default: sluice-demo-cleaned-<unix time>, a fresh one per run; created "
                             "first when KAFKA_TOPICS names Kafka's kafka-topics tool)")
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
    for d in (manifests, cleaned):
        os.makedirs(d)
    with open(os.path.join(source_dir, EXAMPLE)) as f:
        manifest = f.read().replace(EXAMPLE_INPUT, incoming).replace(EXAMPLE_OUTPUT, cleaned)
    if args.s3_endpoint:
        try:
            source = S3Input(args.s3_endpoint, os.environ.get("S3_REGION") or "us-east-1",
                             os.environ["S3_ACCESS_KEY"], os.environ["S3_SECRET_KEY"],
                             "sluice-demo-%d-%d" % (os.getpid(), int(time.time())))
        except KeyError as e:
            print("demo: --s3-endpoint needs %s in the environment" % e, file=sys.stderr)
            return 2
        except Exception as e:
            print("demo: --s3-endpoint %s: cannot create a bucket: %s" % (args.s3_endpoint, e), file=sys.stderr)
            return 2
        # The Secret goes into its own manifest (owner-only), the Trigger only names it.
        secret_path = os.path.join(manifests, "demo-s3-secret.yaml")
        with open(os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(source.secret())
    else:
        source = DirInput(incoming)
    # The example's Trigger reads the directory; the same Trigger on the chosen input.
    directory_trigger = "  objectStore:\n    type: dir\n    path: %s\n" % incoming
    if directory_trigger not in manifest:
        print("demo: %s no longer has the Trigger this script rewrites" % EXAMPLE, file=sys.stderr)
        return 2
    manifest = manifest.replace(directory_trigger, source.trigger())
    gate = None
    if args.kill_replica_at is not None:
        gate = Gate()
        last_step = "      project: {fields: [time, level, id, msg]}\n"
        if last_step not in manifest or "\n  scaling:\n" not in manifest:
            print("demo: %s no longer has the pipeline or outputs this script extends" % EXAMPLE, file=sys.stderr)
            return 2
        manifest = manifest.replace(last_step, last_step + "    - name: gate-one-line\n      route: {field: id, routes: "
                                    "{%s: gate}, default: cleaned}\n" % Gate.LINE_ID)
        manifest = manifest.replace("\n  scaling:\n", "\n    - name: gate\n      http: {url: \"%s\"}\n  scaling:\n" %
                                    gate.url, 1)
    output = DirOutput(cleaned)
    topic_output = None  # with Kafka: log-cleanse writes here, log-archive copies it into `output`
    functions = [CLEANSE]
    if args.kafka_bootstrap:
        args.kafka_topic = args.kafka_topic or "sluice-demo-cleaned-%d" % int(time.time())
        dir_output = "    - name: cleaned\n      dir: {path: %s}\n" % cleaned
        if dir_output not in manifest:
            print("demo: %s no longer has the output this script rewrites" % EXAMPLE, file=sys.stderr)
            return 2
        manifest = manifest.replace(dir_output, "    - name: cleaned\n      kafka:\n        bootstrapServers: [\"%s\"]\n"
                                    "        topic: %s\n" % (args.kafka_bootstrap, args.kafka_topic))
        tool = os.environ.get("KAFKA_TOPICS")
        if tool:
            subprocess.run([tool, "--bootstrap-server", args.kafka_bootstrap, "--create", "--if-not-exists",
                            "--topic", args.kafka_topic, "--partitions", "3"], capture_output=True, timeout=120)
        try:
            topic_output = KafkaOutput(args.kafka_bootstrap, args.kafka_topic, work)
        except OSError as e:
            print("demo: --kafka-bootstrap needs kcat to read the topic back: %s" % e, file=sys.stderr)
            return 2
        with open(os.path.join(manifests, "log-archive.yaml"), "w") as f:
            f.write(archive_manifest(args.kafka_bootstrap, args.kafka_topic, cleaned))
        functions.append(ARCHIVE)
    with open(os.path.join(manifests, "log-cleansing.yaml"), "w") as f:
        f.write(manifest)

    with open(os.path.join(manifests, "hello.yaml"), "w") as f:
        f.write(HELLO_MANIFEST)
    functions.append(HELLO)

    port = free_port()
    gateway = "http://127.0.0.1:%d" % free_port()
    probe = HttpProbe(gateway + "/default/" + HELLO)
    log_path = os.path.join(work, "operator.log")
    log = open(log_path, "w")
    proc = subprocess.Popen([operator, "--local", manifests, "--metrics-bind-address", "127.0.0.1:%d" % port,
                             "--gateway-listen-address", gateway[len("http://"):], "--warm-pool", "1",
                             "--drain-grace", "10"], stdout=log, stderr=subprocess.STDOUT)
    tty = sys.stdout.isatty()
    rng = random.Random(args.seed)
    plan = waves(args.seconds)
    schedule = []
    for start, files, lines, spread in plan:
        for i in range(files):
            schedule.append((start + spread * i / files, lines))
    schedule.sort()
    generated_ids = []
    files_written = 0
    history = []  # (seconds, log-cleanse replicas alive, desired, backlog, processed)
    # Per Function: [(seconds, replicas alive, desired)], peak, replica-seconds.
    replicas = {name: {"history": [], "peak": 0, "replica_seconds": 0.0} for name in functions}
    events = []
    last_desired = {name: 0 for name in functions}
    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    start = time.monotonic()
    next_line = 0.0
    killed = None
    gate_file_written = False
    drawn = 0
    while not stop["now"]:
        now = time.monotonic() - start
        while schedule and schedule[0][0] <= now:
            _, lines = schedule.pop(0)
            name = "partner-%04d.log.gz" % files_written
            data, ids = make_log_file(lines, len(generated_ids), rng)
            source.put(name, data)
            generated_ids += ids
            files_written += 1
        metrics = scrape(port) or {}
        backlog = source.backlog()
        processed = output.processed()
        in_topic = topic_output.processed() if topic_output else 0
        for name in functions:
            key = "default/" + name
            r = replicas[name]
            f_alive = int(sum(metrics.get(("sluice_local_replicas", key, s), 0) for s in ("starting", "ready")))
            f_desired = int(metrics.get(("sluice_local_desired_replicas", key, ""), 0))
            r["replica_seconds"] = metrics.get(("sluice_local_replica_seconds_total", key, ""), r["replica_seconds"])
            r["peak"] = max(r["peak"], f_alive)
            r["history"].append((round(now, 2), f_alive, f_desired))
            if f_desired != last_desired[name]:
                why = ("backlog %d files" % backlog if name == CLEANSE else
                       "%d records in the topic, %d in the directory" % (in_topic, processed))
                events.append("%6.1fs  %s scale %d -> %d  (%s)" % (now, name, last_desired[name], f_desired, why))
                if not tty:
                    print("demo: " + events[-1].strip(), flush=True)
                last_desired[name] = f_desired
        _, alive, desired = replicas[CLEANSE]["history"][-1]
        all_idle = all(replicas[n]["history"][-1][1] == 0 and replicas[n]["history"][-1][2] == 0 for n in functions)
        replica_seconds = sum(replicas[n]["replica_seconds"] for n in functions)
        history.append((round(now, 2), alive, desired, backlog, processed))
        # hello at zero, and a warm process to adopt (or 5 s gone): its first request, from zero.
        if probe.thread is None and (metrics.get(("sluice_local_warm_processes", "", ""), 0) >= 1 or now >= 5):
            probe.start()
            events.append("%6.1fs  %s" % (now, probe.describe()))
            if not tty:
                print("demo: " + events[-1].strip(), flush=True)
        if probe.result is not None and not getattr(probe, "reported", False):
            probe.reported = True
            events.append("%6.1fs  %s" % (now, probe.describe()))
            if not tty:
                print("demo: " + events[-1].strip(), flush=True)
        if gate and not gate_file_written and now >= args.kill_replica_at:
            data, ids = gate.log_file(200, rng)
            source.put(Gate.FILE, data)
            generated_ids += ids
            files_written += 1
            gate_file_written = True
        if gate and killed is None and gate.holding():
            # The replica at the gate is half-way through the gate file and holds its claim,
            # which names it (host-pid); the gate opens only once it is dead.
            try:
                owner = int((source.claim(Gate.FILE) or "").split()[0].rsplit("-", 1)[-1])
            except (IndexError, ValueError):
                owner = None
            if owner in children_of(proc.pid):
                os.kill(owner, signal.SIGKILL)
                killed = owner
                wait_dead(owner, 30)
                gate.open()
                events.append("%6.1fs  SIGKILL replica %d (half-way through %s)" % (now, killed, Gate.FILE))
                if not tty:
                    print("demo: " + events[-1].strip(), flush=True)
        status = ("%5.1fs  replicas %s  backlog %3d files  generated %5d records  %sprocessed %5d  replica-s %.1f" %
                  (now, "  ".join("%s %d (desired %d)" % (n, replicas[n]["history"][-1][1],
                                                          replicas[n]["history"][-1][2]) for n in functions),
                   backlog, len(generated_ids), "in topic %5d  " % in_topic if topic_output else "", processed,
                   replica_seconds))
        if tty:
            screen = ["Sluice local demo: log cleansing (Ctrl-C stops)"]
            for n in functions:
                _, f_alive, f_desired = replicas[n]["history"][-1]
                bar = "#" * f_alive + "." * max(0, 4 - f_alive)
                screen.append("  %-11s replicas [%s] %d of desired %d" % (n, bar, f_alive, f_desired))
            screen += ["  backlog %d files   files %d   records generated %d" % (backlog, files_written,
                                                                               len(generated_ids)),
                       "  records %sin %s %d" % ("in the topic %d, " % in_topic if topic_output else "",
                                                 output.describe(), processed),
                       "  replica-seconds %.1f" % replica_seconds, "  " + probe.describe(),
                       "  scale events:"] + \
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
        done = (not schedule and backlog == 0 and all_idle and processed >= len(generated_ids) and
                probe.result is not None)
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

    # The same checks on every place the records must land: the directory, and the topic with Kafka.
    checks = []
    for place in [output] + ([topic_output] if topic_output else []):
        try:
            records = place.records()
        except Exception as e:
            print("demo: %s" % e, file=sys.stderr)
            records = []
        place.close()
        checks.append(dict(check_records(records, generated_ids), output=place.describe()))
    source.close()
    if gate:
        gate.close()
    peak = replicas[CLEANSE]["peak"]
    static = sum(replicas[n]["peak"] for n in functions) * elapsed
    summary = dict(checks[0])  # the output directory, as without Kafka
    summary.update({
        "seconds": round(elapsed, 1),
        "files": files_written,
        "records_generated": len(generated_ids),
        "peak_replicas": peak,
        "replica_seconds": round(replica_seconds, 1),
        "static_peak_replica_seconds": round(static, 1),
        "saved_percent": round(100 * (1 - replica_seconds / static), 1) if static > 0 else 0,
        "scaled_0_to_n_to_0": scaled_0_to_n_to_0([h[1] for h in history], 2),
        "input": "s3://%s/%s" % (source.bucket, S3Input.PREFIX) if args.s3_endpoint else incoming,
        "topic": checks[1] if topic_output else None,
        "functions": {n: {"peak_replicas": replicas[n]["peak"],
                          "replica_seconds": round(replicas[n]["replica_seconds"], 1),
                          "scaled_0_to_n_to_0": scaled_0_to_n_to_0([h[1] for h in replicas[n]["history"]], 1),
                          "history": replicas[n]["history"]} for n in functions},
        "http": dict(probe.result or {}, url=probe.url, answered=probe.answered()),
        "killed_replica": killed,
        # With a gate: its line reached it from the replica that took the file over.
        "gate_line_delivered": gate.line_arrived_after_opening() if gate else None,
        "leftover_processes": leftovers,
        "scale_events": [e.strip() for e in events],
        "history": history,
    })
    with open(os.path.join(work, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print()
    print("Summary (%s)" % os.path.join(work, "summary.json"))
    print("  files %d, records %d generated" % (files_written, len(generated_ids)))
    for c in checks:
        print("  %d arrived cleaned in %s (%d missing, %d duplicates, %d not cleaned)" %
              (c["records_out_unique"], c["output"], c["records_missing"], c["records_duplicated"],
               c["records_not_cleaned"]))
    for n in functions:
        h = replicas[n]["history"]
        print("  %s replicas %d -> %d -> %d" % (n, h[0][1] if h else 0, replicas[n]["peak"], h[-1][1] if h else 0))
    print("  %s" % probe.describe())
    print("  %d scale events" % len(events))
    print("  replica-seconds %.1f vs %.1f for static peak provisioning (%d replicas x %.0f s): %.0f%% saved" %
          (replica_seconds, static, sum(replicas[n]["peak"] for n in functions), elapsed, summary["saved_percent"]))
    if leftovers:
        print("  processes left behind: %s" % leftovers)
    ok = (all(not c["records_missing"] and not c["records_not_cleaned"] for c in checks) and not leftovers and
          probe.answered())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
