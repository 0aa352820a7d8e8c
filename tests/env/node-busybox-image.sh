#!/usr/bin/env bash
# A tiny image for client pods on the real node: FROM scratch + /bin/busybox
# from Debian's busybox-static package, running as nobody (65534), so it
# passes the restricted Pod Security Standard. Built once per package version
# (cached as a docker-archive) and imported into the node's containerd.
# Usage: node-busybox-image.sh   -> prints the image name to use (imagePullPolicy: Never)
source "$(dirname "$0")/lib.sh"
# shellcheck source=components/node.sh
source "$ENV_SCRIPTS_DIR/components/node.sh"

version=$(apt-cache policy busybox-static | sed -nE 's/^ *Candidate: *//p')
[[ -n $version && $version != "(none)" ]] || die "apt knows no busybox-static package (apt-get update?)"
tag=${version##*:}
tag=${tag//[^A-Za-z0-9_.-]/_}
image=localhost/sluice-test/busybox:$tag
if ! cache_ready busybox-image "$tag"; then
  dir=$(cache_dir busybox-image "$tag")
  rm -rf "$dir" && mkdir -p "$dir/deb"
  log "building $image from Debian's busybox-static $version"
  # (as root apt warns that _apt cannot write the folder; harmless)
  (cd "$dir/deb" && apt-get download -q "busybox-static=$version" >/dev/null 2>&1) ||
    die "apt-get download busybox-static failed"
  dpkg-deb -x "$dir"/deb/busybox-static_*.deb "$dir/root"
  node_buildah_image "$dir/image.tar" "$image" "$dir/root/bin/busybox" /bin/busybox \
    --entrypoint '["/bin/busybox"]' --cmd sh --user 65534:65534
  mark_ready busybox-image "$tag"
fi
bash "$ENV_SCRIPTS_DIR/node-import.sh" "$(cache_dir busybox-image "$tag")/image.tar" >/dev/null
echo "$image"
