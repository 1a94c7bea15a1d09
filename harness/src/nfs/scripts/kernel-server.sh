#!/bin/bash
# nfslab kernel NFS server: runs in a privileged pod on the image of Kubernetes' e2e NFS
# server (nfs-utils userland); the node kernel's nfsd serves. Exports EXPORT_DIR read-write
# with no_root_squash and WITHOUT fsid=0, so the NFSv4 pseudo root stays `/` and
# server:/exports/x is the same path for NFSv3 and NFSv4.x clients. Every RPC service gets a
# fixed port so NFSv3 works through a Service: rpcbind 111, nfsd 2049, mountd MOUNTD_PORT,
# statd STATD_PORT, lockd LOCKD_PORT (TCP and UDP). NFSv4 lease time and grace period are
# GRACE_SECONDS so clients recover quickly after a restart. SIGTERM stops nfsd cleanly.
set -euo pipefail

EXPORT_DIR=${EXPORT_DIR:-/exports}
GRACE_SECONDS=${GRACE_SECONDS:-10}
MOUNTD_PORT=${MOUNTD_PORT:-20048}
STATD_PORT=${STATD_PORT:-662}
STATD_OUTGOING_PORT=${STATD_OUTGOING_PORT:-2020}
LOCKD_PORT=${LOCKD_PORT:-32803}

log() { echo "nfslab: $*"; }

stop() {
  log "stopping NFS"
  /usr/sbin/rpc.nfsd 0 || true
  /usr/sbin/exportfs -au || true
  /usr/sbin/exportfs -f || true
  for daemon in rpc.mountd rpc.statd; do
    pid=$(pidof "$daemon" || true)
    if [ -n "$pid" ]; then kill "$pid" || true; fi
  done
  umount /proc/fs/nfsd || true
  log "NFS stopped"
  exit 0
}
trap stop TERM INT

mkdir -p "$EXPORT_DIR"
echo "$EXPORT_DIR *(rw,sync,insecure,no_root_squash,no_subtree_check,fsid=1)" >/etc/exports

if ! grep -q ' /proc/fs/nfsd ' /proc/mounts; then
  mount -t nfsd nfsd /proc/fs/nfsd
fi

# lockd takes its ports and grace period from these kernel parameters when nfsd starts it.
# They are global to the node's kernel; they exist once mounting nfsd loaded lockd.
set_param() {
  if [ -w "/proc/sys/fs/nfs/$1" ]; then
    echo "$2" >"/proc/sys/fs/nfs/$1"
  else
    log "cannot set fs.nfs.$1; NFSv3 locking through the Service may need the nolock option"
  fi
}
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
