#!/bin/bash
# nfslab kernel NFS server: runs in a privileged pod on the image of Kubernetes' e2e NFS
# server (nfs-utils userland); the node kernel's nfsd serves. Exports EXPORT_DIR read-write
# with no_root_squash, so that server:/exports/x is the same path for NFSv3 and NFSv4.x:
#
#   NFSv3    rpc.mountd exports EXPORT_DIR itself (fsid=2);
#   NFSv4.x  the pseudo-root (fsid=0) must be an exportable file system, and the pod's `/` is
#            overlayfs, which knfsd refuses ("Cannot export /, possibly unsupported
#            filesystem or fsid= required"; v4 mounts then fail with ENOENT and unversioned
#            ones silently fall back to v3). So the pseudo-root is a small tmpfs at
#            PSEUDO_ROOT holding a bind mount of EXPORT_DIR at the same relative path
#            (PSEUDO_ROOT$EXPORT_DIR, fsid=1): v4 clients see EXPORT_DIR under the root.
#
# Every RPC service gets a fixed port so NFSv3 works through a Service: rpcbind 111, nfsd
# 2049, mountd MOUNTD_PORT, statd STATD_PORT, lockd LOCKD_PORT (TCP and UDP). NFSv4 lease
# time and grace period are GRACE_SECONDS so clients recover quickly after a restart. The
# lockd settings are kernel-wide (fs.nfs.nlm_*): their old values are restored on SIGTERM,
# when nfsd stops too.
set -euo pipefail

EXPORT_DIR=${EXPORT_DIR:-/exports}
PSEUDO_ROOT=${PSEUDO_ROOT:-/nfsroot}
GRACE_SECONDS=${GRACE_SECONDS:-10}
MOUNTD_PORT=${MOUNTD_PORT:-20048}
STATD_PORT=${STATD_PORT:-662}
STATD_OUTGOING_PORT=${STATD_OUTGOING_PORT:-2020}
LOCKD_PORT=${LOCKD_PORT:-32803}

log() { echo "nfslab: $*"; }

# libtirpc sizes per-descriptor tables from RLIMIT_NOFILE. Pods inherit containerd's limit,
# which kind sets to infinity (fs.nr_open, 2^30 on systemd hosts): rpcbind, rpc.statd and
# rpcinfo then fail with "clnt_dg_create: out of memory" (Kubernetes issue 123236, fixed the
# same way in test/images/volume/nfs/run_nfs.sh).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -H -n)"
log "open file limit $(ulimit -n)"

declare -A saved_params=()

set_param() {
  local file="/proc/sys/fs/nfs/$1"
  if [ -w "$file" ]; then
    saved_params[$1]=$(cat "$file")
    echo "$2" >"$file"
  else
    log "cannot set fs.nfs.$1; NFSv3 locking through the Service may need the nolock option"
  fi
}

restore_params() {
  local name
  for name in "${!saved_params[@]}"; do
    echo "${saved_params[$name]}" >"/proc/sys/fs/nfs/$name" ||
      log "could not restore fs.nfs.$name to ${saved_params[$name]}"
  done
}

stop() {
  log "stopping NFS"
  /usr/sbin/rpc.nfsd 0 || true
  /usr/sbin/exportfs -au || true
  /usr/sbin/exportfs -f || true
  for daemon in rpc.mountd rpc.statd; do
    pid=$(pidof "$daemon" || true)
    if [ -n "$pid" ]; then kill "$pid" || true; fi
  done
  restore_params
  umount "$PSEUDO_ROOT$EXPORT_DIR" "$PSEUDO_ROOT" /proc/fs/nfsd 2>/dev/null || true
  log "NFS stopped"
  exit 0
}
trap stop TERM INT

mkdir -p "$EXPORT_DIR" "$PSEUDO_ROOT"
if ! grep -q " $PSEUDO_ROOT " /proc/mounts; then
  mount -t tmpfs -o size=1m,mode=0755 nfsroot "$PSEUDO_ROOT"
fi
mkdir -p "$PSEUDO_ROOT$EXPORT_DIR"
if ! grep -q " $PSEUDO_ROOT$EXPORT_DIR " /proc/mounts; then
  mount --bind "$EXPORT_DIR" "$PSEUDO_ROOT$EXPORT_DIR"
fi
options="rw,sync,insecure,no_root_squash,no_subtree_check"
cat >/etc/exports <<EOF
$PSEUDO_ROOT *(ro,fsid=0,crossmnt,insecure,no_subtree_check)
$PSEUDO_ROOT$EXPORT_DIR *($options,fsid=1)
$EXPORT_DIR *($options,fsid=2)
EOF

if ! grep -q ' /proc/fs/nfsd ' /proc/mounts; then
  mount -t nfsd nfsd /proc/fs/nfsd
fi

# lockd takes its ports and grace period from these kernel parameters when nfsd starts it.
# They exist once mounting nfsd loaded lockd.
set_param nlm_tcpport "$LOCKD_PORT"
set_param nlm_udpport "$LOCKD_PORT"
set_param nlm_grace_period "$GRACE_SECONDS"

if ! /usr/sbin/rpcinfo 127.0.0.1 >/dev/null 2>&1; then
  log "starting rpcbind"
  /usr/sbin/rpcbind -w
fi
/usr/sbin/rpc.statd --no-notify --port "$STATD_PORT" --outgoing-port "$STATD_OUTGOING_PORT"
/usr/sbin/rpc.mountd --port "$MOUNTD_PORT" -N 2 -V 3
/usr/sbin/exportfs -r
/usr/sbin/rpc.nfsd --grace-time "$GRACE_SECONDS" --lease-time "$GRACE_SECONDS" -N 2 -V 3 8
/usr/sbin/exportfs -v
log "NFS started"

while true; do
  sleep 5 &
  wait $! || true
done
