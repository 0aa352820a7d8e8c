# machine: the machine and the load now, as one JSON line (CPU model, cores, load average, the
# commit and the build type of $BUILD). Sourced by the bench scripts; the caller sets ROOT and BUILD.
machine() {
  /usr/bin/python3 - "$ROOT" "$BUILD" <<'PY'
import json, os, re, subprocess, sys
root, build = sys.argv[1], sys.argv[2]
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
cache = os.path.join(build, "CMakeCache.txt")
build_type = "?"
if os.path.exists(cache):
    m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", open(cache).read(), re.M)
    build_type = m.group(1) if m else "?"
commit = subprocess.run(["git", "-C", root, "describe", "--always", "--dirty", "--abbrev=12"],
                        capture_output=True, text=True).stdout.strip()
print(json.dumps({"cpu_model": model, "cores": os.cpu_count(), "loadavg": open("/proc/loadavg").read().split()[:3],
                  "commit": commit, "build_type": build_type}))
PY
}
