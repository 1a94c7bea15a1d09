#!/bin/bash
# nfslab userspace NFS server, run in the nfslab-ganesha image (Debian's nfs-ganesha, rpcbind
# and rpc.statd; harness/src/nfs/image/) with the configuration mounted next to this script.
# rpcbind and rpc.statd serve NFSv3 (portmapper, locking); ganesha serves NFSv3 and NFSv4.x
# on the fixed ports of ganesha.conf and stops cleanly on SIGTERM (it becomes PID 1 by exec).
set -eu

log() { echo "nfslab: $*"; }

# libtirpc sizes per-descriptor tables from RLIMIT_NOFILE. Pods inherit containerd's limit,
# which kind sets to infinity (fs.nr_open, 2^30 on systemd hosts): rpcbind, rpc.statd and
# rpcinfo then fail with "clnt_dg_create: out of memory" (Kubernetes issue 123236, fixed the
# same way in test/images/volume/nfs/run_nfs.sh). ganesha sizes its descriptor cache from it.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -H -n)"
log "open file limit $(ulimit -n)"

# The pid file directory is not created by the package (/run is empty in a container);
# ganesha exits when it cannot write its pid file.
mkdir -p "${EXPORT_DIR:-/exports}" /run/ganesha /run/rpcbind /var/lib/nfs/ganesha
if ! rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
  log "starting rpcbind"
  rpcbind -w
fi
rpc.statd --no-notify --port "${STATD_PORT:-662}" --outgoing-port "${STATD_OUTGOING_PORT:-2020}" ||
  log "rpc.statd did not start; NFSv3 locking will not work (mount with nolock)"
# ganesha offers its admin interface on the system bus when there is one; it serves without.
if command -v dbus-daemon >/dev/null 2>&1; then
  mkdir -p /run/dbus
  dbus-daemon --system --nopidfile 2>/dev/null || log "no D-Bus; ganesha runs without it"
fi
log "starting $(ganesha.nfsd -v 2>/dev/null | tr -s ' ' | head -n 1)"
exec ganesha.nfsd -F -L /dev/stdout -f /nfslab/ganesha.conf -p /run/ganesha/ganesha.pid
