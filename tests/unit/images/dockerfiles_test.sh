#!/usr/bin/env bash
# images/*.Dockerfile as the issue asks, checked without building them (CI has
# no image builder): multi-stage, the final stage FROM debian:bookworm-slim,
# non-root USER, OCI labels, no compiler or -dev package in the final stage, and
# every shared library the binary built here links directly is provided by a
# package the final stage names (or the C/C++ runtime every Debian image has),
# or, for librdkafka built from source, copied from the build stage along with
# packages for what it links.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${SLUICE_BUILD_DIR:-$root/build}
fail() { echo "FAIL: $*" >&2; exit 1; }

check() {
  local dockerfile=$1 binary=$2
  python3 - "$dockerfile" "$build/$binary" <<'PY' || exit 1
import re, subprocess, sys
path, binary = sys.argv[1:]
text = open(path).read().replace("\\\n", " ")
lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
def fail(msg):
    print(f"FAIL: {path}: {msg}", file=sys.stderr)
    sys.exit(1)
args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
froms = [i for i, l in enumerate(lines) if l.startswith("FROM ")]
if len(froms) < 2:
    fail("not multi-stage")
final = lines[froms[-1]:]
image = final[0].split()[1]
image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image)
if image != "debian:bookworm-slim":
    fail(f"final stage is FROM {image}, not debian:bookworm-slim")
users = [l.split()[1] for l in final if l.startswith("USER ")]
if not users or users[-1].split(":")[0] in ("0", "root"):
    fail(f"final stage runs as {users[-1] if users else 'root'}")
labels = " ".join(l for l in final if l.startswith("LABEL "))
for key in ("title", "description", "version", "licenses"):
    if f"org.opencontainers.image.{key}=" not in labels:
        fail(f"no org.opencontainers.image.{key} label")
installs = " ".join(re.findall(r"apt-get install[^&]*", " ".join(l for l in final if l.startswith("RUN "))))
packages = {p for p in installs.split() if not p.startswith("-") and p not in ("apt-get", "install")}
compilers = {p for p in packages if p in ("build-essential", "gcc", "g++", "clang", "cmake", "make", "ninja-build")
             or p.endswith("-dev") or re.match(r"^(gcc|g\+\+|cpp)-\d+$", p)}
if compilers:
    fail(f"final stage installs build tools: {sorted(compilers)}")
if not any(l.startswith("COPY --from=build") for l in final):
    fail("final stage copies nothing from the build stage")
# Direct shared-library needs of the binary -> Debian packages.
needed = re.findall(r"NEEDED\s+(\S+)", subprocess.run(["objdump", "-p", binary], capture_output=True, text=True,
                                                       check=True).stdout)
resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(["ldd", binary], capture_output=True, text=True,
                                                                  check=True).stdout, re.M))
# In every debian:bookworm-slim image (the C and C++ runtime).
BASE = {"libc6", "libstdc++6", "libgcc-s1", "zlib1g"}
# Libraries built here (librdkafka from scripts/librdkafka.sh) must be copied
# from the build stage to a directory of the same name (the binary's RPATH);
# what they link in turn must come from packages.
copied = [l.split()[2].rstrip("/") for l in final if l.startswith("COPY --from=build") and len(l.split()) >= 4]
def library_needs(path):
    return re.findall(r"NEEDED\s+(\S+)", subprocess.run(["objdump", "-p", path], capture_output=True, text=True,
                                                        check=True).stdout)
missing = []
from_packages = []
pending = list(needed)
while pending:
    lib = pending.pop(0)
    lib_path = resolved.get(lib, lib)
    built = re.search(r"/(librdkafka-[0-9.]+/lib)/[^/]+$", lib_path)
    if not built:
        if lib not in from_packages:
            from_packages.append(lib)
        continue
    if not any(c.endswith(built.group(1)) for c in copied):
        missing.append(f"{lib} (built into .../{built.group(1)}, which the final stage does not copy)")
    pending += [n for n in library_needs(lib_path) if n not in pending and n not in from_packages]
for lib in from_packages:
    owner = subprocess.run(["dpkg", "-S", resolved.get(lib, lib)], capture_output=True, text=True)
    if owner.returncode != 0:
        owner = subprocess.run(["dpkg", "-S", "*/" + lib], capture_output=True, text=True)
    package = owner.stdout.split(":")[0].strip()
    if not package:
        missing.append(f"{lib} (no package owns it)")
        continue
    if package not in packages and package not in BASE:
        missing.append(f"{lib} from {package}")
if missing:
    fail("the final stage lacks packages for: " + ", ".join(missing))
print(f"{path}: multi-stage, {image}, USER {users[-1]}, labels, no build tools, {len(needed)} libraries provided")
PY
}
[[ -x $build/sluice-operator && -x $build/sluice-runtime ]] || fail "build sluice-operator and sluice-runtime first ($build)"
check "$root/images/operator.Dockerfile" sluice-operator
check "$root/images/runtime-python.Dockerfile" sluice-runtime
echo "PASS: both Dockerfiles"
