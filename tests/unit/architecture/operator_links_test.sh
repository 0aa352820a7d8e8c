#!/usr/bin/env bash
# The operator binary links no runtime code: libarchive is not among its shared
# libraries, nor on its link line (Debian links with --as-needed, so the link
# line is the stricter check), nor the runtime libraries but the expression
# language. libpython it does link, for one reason: its validator compiles (never
# runs) inline handler code (operator/python_syntax), so the admission webhook
# refuses a SyntaxError; only that library brings it.
set -euo pipefail
build=${SLUICE_BUILD_DIR:?}
operator=$build/sluice-operator
[[ -x $operator ]] || { echo "FAIL: $operator is not built" >&2; exit 1; }
if libs=$(ldd "$operator" | grep -iE 'libarchive'); then
  echo "FAIL: sluice-operator loads runtime libraries:" >&2
  echo "$libs" >&2
  exit 1
fi
# One HTTP server (http/http_server.h) serves its probes and /metrics: no
# civetweb, which prometheus-cpp's pull library (its Exposer) would bring.
if libs=$(ldd "$operator" | grep -iE 'prometheus-cpp-pull|civetweb'); then
  echo "FAIL: sluice-operator loads a second HTTP server:" >&2
  echo "$libs" >&2
  exit 1
fi
if [[ -f $build/build.ninja ]]; then
  line=$(awk '/^build sluice-operator:/{f=1} f&&/LINK_LIBRARIES/{print; exit}' "$build/build.ninja")
  [[ -n $line ]] || { echo "FAIL: no link line for sluice-operator in build.ninja" >&2; exit 1; }
  # Except the expression language (runtime/expression: sluice_common and RE2, nothing else): the
  # API's validator compiles pipeline expressions and regexes with it, so `sluice check` and the
  # admission webhook refuse what a replica could not load (api/v1alpha1/semantics).
  if bad=$(tr ' ' '\n' <<<"$line" | grep -E 'libarchive|libsluice_runtime|prometheus-cpp-pull' |
    grep -v '^operator/libsluice_runtime_expression\.a$'); then
    echo "FAIL: sluice-operator's link line carries runtime libraries:" >&2
    echo "$bad" >&2
    exit 1
  fi
fi
echo "PASS: sluice-operator links neither libarchive, a runtime library (but the expression language) nor prometheus-cpp-pull"
