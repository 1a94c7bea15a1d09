#!/bin/sh
# nfslab userspace NFS server: nfs-ganesha with the configuration mounted next to this
# script. rpcbind and rpc.statd run in the pod (NFSv3 needs them); ganesha serves NFSv3 and
# NFSv4.x on fixed ports (see ganesha.conf) and stops on SIGTERM.
set -eu

log() { echo "nfslab: $*"; }

mkdir -p "${EXPORT_DIR:-/exports}" /var/run/dbus /var/lib/nfs/ganesha
if ! rpcinfo 127.0.0.1 >/dev/null 2>&1; then
  log "starting rpcbind"
  rpcbind -w
fi
rpc.statd --no-notify --port "${STATD_PORT:-662}" --outgoing-port "${STATD_OUTGOING_PORT:-2020}" ||
  log "rpc.statd did not start; NFSv3 locking will not work (mount with nolock)"
# ganesha reports through D-Bus when it is there; it serves without it.
dbus-daemon --system --nopidfile 2>/dev/null || log "no D-Bus; ganesha runs without it"
log "starting nfs-ganesha"
exec ganesha.nfsd -F -L /dev/stdout -f /nfslab/ganesha.conf
