#!/usr/bin/env bash
# Builds the static nfslab-io binary (musl) and the FROM-scratch image `nfslab-io:<version>`.
# Never pulls: the image has no base. Prints the image tag on stdout as its last line.
#
# The image carries the label org.nfslab.source: a hash of the sources the binary is built
# from, so that a tool holding a newer tree sees that an image of the same version is stale.
#   build.sh --source-hash   prints that hash for the tree as it is now, and builds nothing.
#   build.sh --triple        prints the Rust target it would build for, and builds nothing.
#
# The binary is built for the Docker daemon's architecture, which is the nodes' (kind nodes
# are containers of that daemon; with Docker Desktop or a remote DOCKER_HOST it need not be
# this host's): x86_64 or aarch64, static with musl. Building for another architecture than
# this host's links with rust-lld unless CARGO_TARGET_<TRIPLE>_LINKER says otherwise.
#
# Environment:
#   CARGO_TARGET_DIR   cargo's target directory (default: <repo>/target)
#   NFSLAB_IMAGE_TAG   tag to use instead of nfslab-io:<crate version>
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

# The engine's inputs: the workspace manifests and lock file, the crates it is built from
# (the engine and the mount-option vocabulary its NFS client parses with), the image recipe.
source_hash() {
  (
    cd "$repo"
    find Cargo.toml Cargo.lock workloads/Cargo.toml workloads/src workloads/image \
      mount-options/Cargo.toml mount-options/src -type f -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
  )
}

# The Rust target for the Docker daemon's architecture.
daemon_triple() {
  local arch
  if ! arch=$(docker info --format '{{.Architecture}}' 2>/dev/null) || [ -z "$arch" ]; then
    echo "error: the Docker daemon does not answer (hint: start it, or check DOCKER_HOST)" >&2
    return 1
  fi
  case "$arch" in
    x86_64|amd64) echo x86_64-unknown-linux-musl ;;
    aarch64|arm64) echo aarch64-unknown-linux-musl ;;
    *) echo "error: Docker runs on \`$arch\`; nfslab-io is built for x86_64 and aarch64 only" >&2
       return 1 ;;
  esac
}

case "${1:-}" in
  --source-hash) source_hash; exit 0 ;;
  --triple) daemon_triple; exit ;;
  "") ;;
  *) echo "usage: $0 [--source-hash | --triple]" >&2; exit 2 ;;
esac
target_dir=${CARGO_TARGET_DIR:-$repo/target}
triple=$(daemon_triple)
host_arch=$(uname -m)
case "$host_arch" in arm64) host_arch=aarch64 ;; esac
if [ "${triple%%-*}" != "$host_arch" ]; then
  linker_var="CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_LINKER"
  if [ -z "${!linker_var:-}" ]; then
    echo "cross-building for $triple on $host_arch: linking with rust-lld ($linker_var)" >&2
    export "$linker_var=rust-lld"
  fi
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
if [ -z "$version" ]; then
  echo "error: cannot read the workspace version from $repo/Cargo.toml" >&2
  exit 2
fi
tag=${NFSLAB_IMAGE_TAG:-nfslab-io:$version}

# A fresh toolchain lacks the musl target: add it when rustup manages the toolchain.
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$triple"; then
  echo "adding the Rust target $triple (rustup target add $triple)" >&2
  rustup target add "$triple" >&2
fi

# Taken before the build, so the label names the sources the binary was built from.
source=$(source_hash)
echo "building nfslab-io $version for $triple" >&2
cargo build --manifest-path "$repo/Cargo.toml" --locked --release --target "$triple" \
  -p nfslab-workload --bin nfslab-io >&2

binary="$target_dir/$triple/release/nfslab-io"
if ! file_type=$(file -b "$binary" 2>/dev/null); then
  file_type="unknown (the file tool is missing)"
fi
case "$file_type" in
  *dynamically*) echo "error: $binary is dynamically linked: $file_type" >&2; exit 1 ;;
esac

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/nfslab-io"
# Release builds keep line tables for profiling; the image does not need them.
if command -v strip >/dev/null 2>&1; then
  strip "$context/nfslab-io"
else
  echo "note: strip not found; the image keeps debug line tables" >&2
fi
cp "$here/Dockerfile" "$context/Dockerfile"

echo "docker build -t $tag (context: the binary and the Dockerfile only)" >&2
docker build --pull=false --label "org.nfslab.source=$source" --tag "$tag" "$context" >&2
echo "$tag"
