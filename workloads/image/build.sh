#!/usr/bin/env bash
# Builds the static nfslab-io binary (musl) and the FROM-scratch image `nfslab-io:<version>`.
# Never pulls: the image has no base. Prints the image tag on stdout as its last line.
#
# The image carries the label org.nfslab.source: a hash of the sources the binary is built
# from, so that a tool holding a newer tree sees that an image of the same version is stale.
#   build.sh --source-hash   prints that hash for the tree as it is now, and builds nothing.
#
# Environment:
#   CARGO_TARGET_DIR   cargo's target directory (default: <repo>/target)
#   NFSLAB_IMAGE_TAG   tag to use instead of nfslab-io:<crate version>
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

# The engine's inputs: the workspace manifests and lock file, the crate, the image recipe.
source_hash() {
  (
    cd "$repo"
    find Cargo.toml Cargo.lock workloads/Cargo.toml workloads/src workloads/image -type f -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
  )
}

case "${1:-}" in
  --source-hash) source_hash; exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--source-hash]" >&2; exit 2 ;;
esac
target_dir=${CARGO_TARGET_DIR:-$repo/target}
triple=x86_64-unknown-linux-musl

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
