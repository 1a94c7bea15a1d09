#!/usr/bin/env bash
# Installs kind and kubectl at the versions pinned below into a bin directory, verifying each
# download's SHA-256 before it is made executable. Idempotent: a tool already installed at
# the pinned version is left alone.
#
# Usage: ci/install-kind.sh [BIN_DIR]      (default: ~/.local/bin)
# Put BIN_DIR on PATH afterwards (the script says so when it is not).
#
# Environment (for mirrors, e.g. behind a registry block):
#   KIND_BASE_URL     where kind-<os>-<arch> is published
#                     (default: https://github.com/kubernetes-sigs/kind/releases/download)
#   KUBECTL_BASE_URL  where <version>/bin/<os>/<arch>/kubectl is published
#                     (default: https://dl.k8s.io/release)
# Needs: curl, sha256sum, install.
set -euo pipefail

# kind v0.30.0 runs the node image nfslab pins (kindest/node:v1.33.1, built for kind v0.29.0
# or newer; see cluster.node-image in harness/src/config.rs).
KIND_VERSION=v0.30.0
# From https://kind.sigs.k8s.io/dl/v0.30.0/kind-linux-<arch>.sha256sum (the release's own
# checksum files). A new KIND_VERSION needs these updated from the same place.
KIND_SHA256_AMD64=517ab7fc89ddeed5fa65abf71530d90648d9638ef0c4cde22c2c11f8097b8889
KIND_SHA256_ARM64=7ea2de9d2d190022ed4a8a4e3ac0636c8a455e460b9a13ccf19f15d07f4f00eb

# kubectl of the Kubernetes release the pinned node image runs (1.33; the manifests are
# validated against 1.33 and 1.35).
KUBECTL_VERSION=v1.33.1
# No checksum is pinned for kubectl: it is verified against the official `kubectl.sha256`
# that dl.k8s.io publishes next to the binary (fetched over HTTPS from the same release
# path). To pin it instead, put the value of
# https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/<arch>/kubectl.sha256 here.
KUBECTL_SHA256_AMD64=
KUBECTL_SHA256_ARM64=

KIND_BASE_URL=${KIND_BASE_URL:-https://github.com/kubernetes-sigs/kind/releases/download}
KUBECTL_BASE_URL=${KUBECTL_BASE_URL:-https://dl.k8s.io/release}

bin_dir=${1:-$HOME/.local/bin}

say() { printf 'install-kind: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

for tool in curl sha256sum install; do
  command -v "$tool" >/dev/null 2>&1 || die "\`$tool\` is missing (install it with your package manager)"
done

case "$(uname -s)" in
  Linux) os=linux ;;
  *) die "only Linux is supported (this is $(uname -s)); install kind $KIND_VERSION and kubectl $KUBECTL_VERSION by hand" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64)
    arch=amd64
    kind_sha256=$KIND_SHA256_AMD64
    kubectl_sha256=$KUBECTL_SHA256_AMD64
    ;;
  aarch64 | arm64)
    arch=arm64
    kind_sha256=$KIND_SHA256_ARM64
    kubectl_sha256=$KUBECTL_SHA256_ARM64
    ;;
  *) die "no pinned kind checksum for the architecture $(uname -m); refusing an unverified install" ;;
esac

mkdir -p "$bin_dir" || die "cannot create $bin_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/nfslab-install-kind.XXXXXX")
trap 'rm -rf "$work"' EXIT

# fetch URL FILE: download with retries (transient network errors, 5xx), failing on HTTP
# errors instead of saving an error page.
fetch() {
  say "downloading $1"
  curl --fail --silent --show-error --location --retry 5 --retry-delay 2 --retry-connrefused \
    --connect-timeout 20 --max-time 600 --output "$2" "$1" ||
    die "download of $1 failed (curl exit $?)"
}

# sha256_of FILE: the file's SHA-256 in lowercase hex.
sha256_of() {
  local sum
  sum=$(sha256sum "$1") || die "cannot compute the SHA-256 of $1"
  printf '%s' "${sum%% *}"
}

# verify FILE EXPECTED WHAT: the file's SHA-256 must equal EXPECTED.
verify() {
  local actual
  actual=$(sha256_of "$1")
  if [ "$actual" != "$2" ]; then
    die "SHA-256 mismatch for $3: expected $2, got $actual; the file was not installed"
  fi
  say "$3: SHA-256 verified ($actual)"
}

# The SHA-256 in an official checksum file (`HASH` or `HASH  NAME`), checked for form.
published_sha256() {
  local hash=
  # The official files hold no trailing newline, so `read` reports EOF yet sets `hash`.
  read -r hash _ <"$1" || true
  [ -n "$hash" ] || die "the checksum file $2 is empty"
  hash=$(printf '%s' "$hash" | tr 'A-F' 'a-f')
  [[ "$hash" =~ ^[0-9a-f]{64}$ ]] || die "the checksum file $2 does not hold a SHA-256: $(head -c 200 "$1")"
  printf '%s' "$hash"
}

install_kind() {
  local target=$bin_dir/kind
  if [ -x "$target" ] && [ "$(sha256_of "$target")" = "$kind_sha256" ]; then
    say "kind $KIND_VERSION is already installed at $target"
    return
  fi
  local url=$KIND_BASE_URL/$KIND_VERSION/kind-$os-$arch
  fetch "$url" "$work/kind"
  verify "$work/kind" "$kind_sha256" "kind $KIND_VERSION ($os/$arch)"
  install -m 0755 "$work/kind" "$target" || die "cannot install kind into $bin_dir"
  say "installed $("$target" version) at $target"
}

# kubectl's client version (`v1.33.1`), or nothing when it does not run.
kubectl_version() {
  "$1" version --client --output=json 2>/dev/null |
    sed -n 's/^ *"gitVersion": *"\([^"]*\)".*/\1/p' | head -n 1
}

install_kubectl() {
  local target=$bin_dir/kubectl
  if [ -x "$target" ] && [ "$(kubectl_version "$target")" = "$KUBECTL_VERSION" ]; then
    say "kubectl $KUBECTL_VERSION is already installed at $target"
    return
  fi
  local url=$KUBECTL_BASE_URL/$KUBECTL_VERSION/bin/$os/$arch/kubectl
  local expected=$kubectl_sha256
  if [ -z "$expected" ]; then
    fetch "$url.sha256" "$work/kubectl.sha256"
    expected=$(published_sha256 "$work/kubectl.sha256" "$url.sha256")
  fi
  fetch "$url" "$work/kubectl"
  verify "$work/kubectl" "$expected" "kubectl $KUBECTL_VERSION ($os/$arch)"
  install -m 0755 "$work/kubectl" "$target" || die "cannot install kubectl into $bin_dir"
  local installed
  installed=$(kubectl_version "$target")
  [ "$installed" = "$KUBECTL_VERSION" ] ||
    die "the installed kubectl reports version '${installed:-none}', expected $KUBECTL_VERSION"
  say "installed kubectl $installed at $target"
}

install_kind
install_kubectl

case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) say "note: $bin_dir is not on PATH; add it: export PATH=\"$bin_dir:\$PATH\"" ;;
esac
