#!/usr/bin/env bash
# Builds nfslab's userspace NFS server image `nfslab-ganesha:<version>`: Debian bookworm's
# nfs-ganesha with its VFS backend, rpcbind and rpc.statd (nfs-common). The start script and
# ganesha's configuration are not in the image: the server pod mounts them from its
# ConfigMap (harness/src/nfs/scripts/), so the image holds packages only.
#
# Two ways to the same root file system:
#   --method docker       docker build FROM debian:bookworm-slim (pulls the base image)
#   --method debootstrap  debootstrap --variant=minbase from a Debian mirror, then
#                         docker import (no registry needed; needs root and debootstrap)
#   --method auto         (default) docker when the base image is already in the local
#                         Docker, or when debootstrap cannot run here; debootstrap otherwise
# The image is built for the Docker daemon's architecture (amd64 or arm64).
#
#   build.sh --source-hash   prints the hash of this recipe (the image's org.nfslab.source
#                            label; a different hash marks the image stale) and builds nothing.
#
# Environment:
#   NFSLAB_SERVER_IMAGE_TAG  tag to use instead of nfslab-ganesha:<crate version>
#   NFSLAB_DEBIAN_MIRROR     mirror for debootstrap (default http://deb.debian.org/debian)
#   NFSLAB_DEBIAN_BASE       base image for --method docker (default debian:bookworm-slim)
# Prints the image tag on stdout as its last line; everything else goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../.." && pwd)

PACKAGES="nfs-ganesha nfs-ganesha-vfs rpcbind nfs-common netbase"
SUITE=bookworm

source_hash() {
  (cd "$here" && sha256sum build.sh Dockerfile | sha256sum | cut -c1-16)
}

method=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --source-hash) source_hash; exit 0 ;;
    --method) method=${2:-}; shift 2 ;;
    --method=*) method=${1#--method=}; shift ;;
    *) echo "usage: $0 [--method auto|docker|debootstrap] [--source-hash]" >&2; exit 2 ;;
  esac
done
case "$method" in
  auto|docker|debootstrap) ;;
  *) echo "error: --method must be auto, docker or debootstrap, not \`$method\`" >&2; exit 2 ;;
esac

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
if [ -z "$version" ]; then
  echo "error: cannot read the workspace version from $repo/Cargo.toml" >&2
  exit 2
fi
tag=${NFSLAB_SERVER_IMAGE_TAG:-nfslab-ganesha:$version}
mirror=${NFSLAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
base=${NFSLAB_DEBIAN_BASE:-debian:$SUITE-slim}

# The daemon's architecture, which is the nodes' (kind nodes are containers of this daemon).
daemon_arch=$(docker info --format '{{.Architecture}}' 2>/dev/null) || {
  echo "error: the Docker daemon does not answer (hint: start it, or check DOCKER_HOST)" >&2
  exit 1
}
case "$daemon_arch" in
  x86_64|amd64) deb_arch=amd64 ;;
  aarch64|arm64) deb_arch=arm64 ;;
  *) echo "error: Docker runs on \`$daemon_arch\`; the server image is built for amd64 and arm64 only" >&2; exit 1 ;;
esac

can_debootstrap() {
  [ "$(id -u)" = 0 ] && command -v debootstrap >/dev/null 2>&1 &&
    command -v dpkg >/dev/null 2>&1 && [ "$(dpkg --print-architecture)" = "$deb_arch" ]
}
if [ "$method" = auto ]; then
  if docker image inspect "$base" >/dev/null 2>&1 || ! can_debootstrap; then
    method=docker
  else
    method=debootstrap
  fi
fi

source=$(source_hash)
labels=(--label "org.nfslab.source=$source" --label "org.nfslab.method=$method")

case "$method" in
  docker)
    echo "building $tag for $deb_arch: docker build FROM $base" >&2
    docker build --platform "linux/$deb_arch" --build-arg "BASE=$base" \
      --build-arg "PACKAGES=$PACKAGES" "${labels[@]}" --tag "$tag" \
      --file "$here/Dockerfile" "$here" >&2 || {
      echo "error: docker build failed (hint: without registry access use --method debootstrap as root, or load the image with \`nfslab images load\`)" >&2
      exit 1
    }
    ;;
  debootstrap)
    if ! can_debootstrap; then
      echo "error: --method debootstrap needs root, debootstrap and dpkg on a $deb_arch host (hint: use --method docker)" >&2
      exit 1
    fi
    root=$(mktemp -d /var/tmp/nfslab-ganesha-root.XXXXXX)
    trap 'rm -rf "$root"' EXIT
    echo "building $tag for $deb_arch: debootstrap $SUITE from $mirror (about a minute)" >&2
    if ! debootstrap --variant=minbase --arch "$deb_arch" \
      --include="${PACKAGES// /,}" "$SUITE" "$root" "$mirror" >"$root.log" 2>&1; then
      tail -n 20 "$root.log" >&2
      rm -f "$root.log"
      echo "error: debootstrap failed (hint: check NFSLAB_DEBIAN_MIRROR, or use --method docker)" >&2
      exit 1
    fi
    rm -f "$root.log"
    # What the Dockerfile removes too: package caches, lists and documentation.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb \
      "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* "$root"/usr/share/man/* \
      "$root"/usr/share/locale/* "$root"/usr/share/info/* "$root"/var/log/*.log
    changes=(--change 'CMD ["/bin/sh"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
    for label in "org.nfslab.source=$source" "org.nfslab.method=$method"; do
      changes+=(--change "LABEL $label")
    done
    tar --numeric-owner -C "$root" -c . |
      docker import --platform "linux/$deb_arch" "${changes[@]}" - "$tag" >&2
    ;;
esac

# The versions that serve, for reports: read from the image itself.
if ! docker run --rm --entrypoint /bin/sh "$tag" -c 'ganesha.nfsd -v' >&2; then
  echo "error: the image \`$tag\` was built but cannot run ganesha.nfsd" >&2
  exit 1
fi
echo "$tag"
