#!/usr/bin/env bash
# Renders every Kubernetes manifest nfslab can render (`nfslab render ...`) into a temporary
# directory and validates each strictly against the schemas of the Kubernetes versions
# nfslab supports. The kind cluster configuration is not a Kubernetes object; a unit test
# parses it instead. The NFS server start scripts shipped in the server's ConfigMap are
# checked with shellcheck.
#
# Needs: cargo (or NFSLAB_BIN pointing at a built nfslab), kubernetes-validate
# (`pip install kubernetes-validate`), shellcheck.
# Usage: ci/validate-manifests.sh [KUBERNETES_VERSION...]   (default: 1.33.0 1.35.0)
set -euo pipefail

cd "$(dirname "$0")/.."

versions=("$@")
if [ "${#versions[@]}" -eq 0 ]; then
  versions=(1.33.0 1.35.0)
fi

for tool in kubernetes-validate shellcheck; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "validate-manifests: $tool is not installed (pip install kubernetes-validate; apt-get install shellcheck)" >&2
    exit 1
  fi
done

if [ -n "${NFSLAB_BIN:-}" ]; then
  nfslab=("$NFSLAB_BIN")
else
  cargo build --quiet --locked -p nfslab --bin nfslab
  target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  nfslab=("$target_dir/debug/nfslab")
fi

out=$(mktemp -d /tmp/nfslab-manifests.XXXXXX)
trap 'rm -rf "$out"' EXIT

render() {
  local name=$1
  shift
  "${nfslab[@]}" render "$@" >"$out/$name.yaml"
  if [ ! -s "$out/$name.yaml" ]; then
    echo "validate-manifests: \`nfslab render $*\` printed nothing" >&2
    exit 1
  fi
}

render nfs-server-kernel nfs-server --flavor kernel
render nfs-server-ganesha nfs-server --flavor ganesha
render nfs-client-check nfs-client-check --server 10.96.0.20
render preflight-ganesha preflight --flavor ganesha --kubernetes 1.33
render preflight-kernel preflight --flavor kernel --kubernetes 1.35
render provisioner provisioner --namespace nfslab-d1-000000 --server 10.96.0.20 --path /exports

status=0
for version in "${versions[@]}"; do
  for file in "$out"/*.yaml; do
    if kubernetes-validate --strict --quiet -k "$version" "$file"; then
      echo "ok    k8s $version  $(basename "$file")"
    else
      echo "FAIL  k8s $version  $(basename "$file")" >&2
      status=1
    fi
  done
done

if shellcheck harness/src/nfs/scripts/*.sh; then
  echo "ok    shellcheck   harness/src/nfs/scripts/*.sh"
else
  status=1
fi

exit "$status"
