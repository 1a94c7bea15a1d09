#!/usr/bin/env bash
# Renders every object the scenario catalog would apply (`nfslab scenarios run --dry-run
# --render-to DIR`: namespaces, PVs, claims, workloads, the provisioner's RBAC and
# Deployment, with templates, namespaces and labels as the engine sends them) and validates
# them strictly against the Kubernetes schemas of each supported version.
#
# Usage: ci/validate-scenarios.sh [KUBERNETES_VERSION...]   (default: 1.33.0 1.35.0)
# Needs: cargo, kubernetes-validate (pip install kubernetes-validate).
set -euo pipefail

cd "$(dirname "$0")/.."

versions=("$@")
if [ "${#versions[@]}" -eq 0 ]; then
  versions=(1.33.0 1.35.0)
fi

if ! command -v kubernetes-validate >/dev/null 2>&1; then
  echo "kubernetes-validate is missing (hint: python3 -m pip install kubernetes-validate)" >&2
  exit 3
fi

out=$(mktemp -d /tmp/nfslab-scenarios.XXXXXX)
trap 'rm -rf "$out"' EXIT

cargo build --quiet -p nfslab
target_dir=${CARGO_TARGET_DIR:-target}
"$target_dir/debug/nfslab" scenarios --scenarios scenarios run --dry-run --render-to "$out/rendered"

shopt -s nullglob
files=("$out"/rendered/*.yaml)
if [ "${#files[@]}" -eq 0 ]; then
  echo "nothing was rendered into $out/rendered" >&2
  exit 1
fi

status=0
for version in "${versions[@]}"; do
  echo "== kubernetes-validate --strict -k $version (${#files[@]} scenarios)"
  if ! kubernetes-validate --strict --quiet -k "$version" "${files[@]}"; then
    status=1
  fi
done
if [ "$status" -eq 0 ]; then
  echo "all rendered scenario manifests are valid for: ${versions[*]}"
fi
exit "$status"
