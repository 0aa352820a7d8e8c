#!/usr/bin/env bash
# make images: builds the operator and runtime images with buildah (no Docker
# engine needed). Exits with a clear message where buildah is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v buildah >/dev/null || { echo "images: buildah is not installed (apt-get install buildah); nothing built" >&2; exit 1; }
version=$(sed -n 's/^project(sluice VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
for image in operator runtime-python; do
  buildah bud --layers --build-arg "VERSION=$version" -f "images/$image.Dockerfile" -t "sluice-$image:$version" .
done
