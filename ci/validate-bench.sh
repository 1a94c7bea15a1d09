#!/usr/bin/env bash
# Validates the Kubernetes manifests benchmark plans render (`nfslab bench --dry-run`):
# namespace, job ConfigMaps, PVs with mountOptions, PVCs and client pods, strictly against
# the Kubernetes 1.33 and 1.35 schemas. Plans covered: the shipped default plan (every
# step), an outside server with several clients and every option style, the fixture plan,
# and the user's StorageClasses (csi-driver-nfs, nfs-subdir-external-provisioner): one clone
# per profile carrying its mountOptions, and claims provisioned through the clones. Needs cargo and kubernetes-validate (pip). Exits non-zero on any invalid manifest.
set -euo pipefail

cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --quiet -p nfslab
nfslab="$target_dir/debug/nfslab"

work=$(mktemp -d /tmp/nfslab-validate-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

render() {
  local name=$1 id=$2
  shift 2
  "$nfslab" bench --dry-run --run-id "validate-$id" --render-to "$work/$name" "$@" 2>"$work/$name.log" ||
    { cat "$work/$name.log"; echo "rendering $name failed"; exit 1; }
}

render default-plan 000001 --plan workloads/plans/default.yaml
render outside-server 000002 --plan workloads/plans/default.yaml \
  --server 192.168.1.20:/vol1 --clients 1,3 --repetitions 1 \
  --profiles k8s-default,doc-v3,doc-v4.1,v4.1-noac,v3-soft
render fixture-plan 000003 --plan harness/tests/fixtures/bench/plan-a.yaml --repetitions 1
classes=harness/tests/fixtures/storage-classes
render storage-classes 000004 --plan workloads/plans/default.yaml \
  --storage-class nfs-csi --storage-class-file "$classes/nfs-csi.yaml" \
  --storage-class nfs-client --storage-class-file "$classes/nfs-client.yaml" \
  --profiles k8s-default,doc-v3,doc-v4.1,v4.1-nconnect4 --repetitions 1
clones=$(grep -c '^kind: StorageClass' "$work/storage-classes/000-storage-classes.yaml")
[[ $clones -eq 8 ]] || { echo "expected 8 StorageClass clones (2 classes x 4 profiles), got $clones"; exit 1; }

files=("$work"/*/*.yaml)
documents=$(cat "${files[@]}" | grep -c '^kind: ')
echo "rendered ${#files[@]} files, $documents objects"

status=0
for version in 1.33.0 1.35.0; do
  if kubernetes-validate --strict --quiet -k "$version" "${files[@]}"; then
    echo "kubernetes-validate --strict -k $version: all $documents objects valid"
  else
    echo "kubernetes-validate --strict -k $version: invalid objects above"
    status=1
  fi
done
exit "$status"
