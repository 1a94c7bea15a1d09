#!/usr/bin/env bash
# Benchmark of nfslab-io's NFSv3 protocol backend against nfs-ganesha on loopback.
#
# Starts its own ganesha (a VFS export in a temporary directory, free ports), then prints
# side by side, on that export:
#   - a sequential write and read of one file (1 GiB by default, 1 MiB blocks):
#     libnfs' nfs-cp, this backend with one connection, and the POSIX backend on the
#     export's local directory (reads of the same file for all three);
#   - this backend's scaling with connections (nconnect 1, 2, 4) and requests in flight
#     (iodepth 1, 4, 16), and 4 KiB random reads by depth.
# Figures are the median of several runs, nfs-cp and this backend taking turns going first
# (each round's write figures are printed too); "wall" includes process start and mount, the
# tool's own figure covers its measured window only.
#
# Environment: NFSLAB_BENCH_SIZE_MIB (1024), NFSLAB_BENCH_REPS (3), NFSLAB_BENCH_DIR
# (/dev/shm: the export on tmpfs, so the protocol rather than a disk is measured),
# CARGO_TARGET_DIR (where the release binary is built).
# Needs: ganesha.nfsd (nfs-ganesha, nfs-ganesha-vfs), rpcbind running, nfs-cp
# (libnfs-utils), rpcinfo, python3, cargo. Registrations of another NFS server with
# rpcbind are saved and restored, since ganesha replaces them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
size_mib=${NFSLAB_BENCH_SIZE_MIB:-1024}
reps=${NFSLAB_BENCH_REPS:-3}
base=${NFSLAB_BENCH_DIR:-/dev/shm}
bytes=$((size_mib * 1024 * 1024))

for tool in ganesha.nfsd nfs-cp rpcinfo python3 cargo; do
  command -v "$tool" >/dev/null || { echo "bench: \`$tool\` is missing" >&2; exit 2; }
done
rpcinfo -p 127.0.0.1 >/dev/null 2>&1 || { echo "bench: rpcbind does not answer (hint: rpcbind -w)" >&2; exit 2; }

echo "building nfslab-io (release)" >&2
(cd "$root" && cargo build --release --quiet -p nfslab-workload --bin nfslab-io)
bin=${CARGO_TARGET_DIR:-$root/target}/release/nfslab-io

work=$(mktemp -d "$base/nfslab-bench.XXXXXX")
export_dir=$work/export
mkdir -p "$export_dir"
ganesha_pid=

# ONC RPC over TCP on 127.0.0.1: "null PORT PROG" exits 0 when PROG v3 answers a NULL
# call there; "save" prints the rpcbind mappings of NFS (100003) and MOUNT (100005) as
# "prog vers prot port" lines; "restore FILE" puts such mappings back (PMAPPROC_UNSET,
# PMAPPROC_SET).
rpc() {
  python3 - "$@" <<'EOF'
import socket, struct, sys

def call(proc, args=b"", port=111, prog=100000, vers=2):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    body = struct.pack(">10I", 0x6E667300 + proc, 0, 2, prog, vers, proc, 0, 0, 0, 0) + args
    s.sendall(struct.pack(">I", 0x80000000 | len(body)) + body)
    data = b""
    while True:
        mark = s.recv(4, socket.MSG_WAITALL)
        n = struct.unpack(">I", mark)[0]
        chunk = b""
        while len(chunk) < (n & 0x7FFFFFFF):
            chunk += s.recv((n & 0x7FFFFFFF) - len(chunk))
        data += chunk
        if n & 0x80000000:
            if struct.unpack(">I", data[8:12])[0] != 0 or struct.unpack(">I", data[20:24])[0] != 0:
                raise OSError("call not accepted")
            return data[24:]

if sys.argv[1] == "null":
    try:
        call(0, port=int(sys.argv[2]), prog=int(sys.argv[3]), vers=3)
    except (OSError, struct.error):
        sys.exit(1)
elif sys.argv[1] == "save":
    r = call(4)
    while struct.unpack(">I", r[:4])[0] == 1:
        m = struct.unpack(">4I", r[4:20])
        if m[0] in (100003, 100005):
            print(*m)
        r = r[20:]
else:
    lines = [tuple(map(int, l.split())) for l in open(sys.argv[2]) if l.strip()]
    for prog, vers in sorted({(m[0], m[1]) for m in lines}):
        call(2, struct.pack(">4I", prog, vers, 0, 0))
    for m in lines:
        call(1, struct.pack(">4I", *m))
EOF
}

rpc save >"$work/portmap.saved"

cleanup() {
  if [ -n "$ganesha_pid" ]; then
    kill "$ganesha_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$ganesha_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rpc restore "$work/portmap.saved" || true
  rm -rf "$work"
}
trap cleanup EXIT

read -r nfs_port mount_port < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')

cat >"$work/ganesha.conf" <<EOF
NFS_CORE_PARAM { Protocols = 3; NFS_Port = $nfs_port; MNT_Port = $mount_port; Bind_addr = 127.0.0.1; Enable_NLM = false; Enable_RQUOTA = false; }
NFSV4 { Graceless = true; }
EXPORT { Export_Id = 1; Path = $export_dir; Pseudo = /export; Access_Type = RW; Squash = No_Root_Squash; SecType = sys; Protocols = 3; Transports = TCP; FSAL { Name = VFS; } }
LOG { Default_Log_Level = WARN; }
EOF
ganesha.nfsd -F -f "$work/ganesha.conf" -L "$work/ganesha.log" -p "$work/ganesha.pid" &
ganesha_pid=$!
ready() { rpc null "$nfs_port" 100003 && rpc null "$mount_port" 100005; }
for _ in $(seq 1 150); do
  ready && break
  sleep 0.2
done
ready || { cat "$work/ganesha.log" >&2; echo "bench: ganesha did not start" >&2; exit 3; }

ports="nfsport=$nfs_port&mountport=$mount_port"
url="nfs://127.0.0.1$export_dir?$ports"
head -c "$bytes" /dev/urandom >"$work/source.bin"

now() { date +%s.%N; }
# MiB/s for $bytes moved between two instants.
rate() { awk -v b="$bytes" -v s="$1" -v e="$2" 'BEGIN { printf "%.0f", b / 1048576 / (e - s) }'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# Field of a result document: bandwidth in MiB/s, IOPS, or CPU seconds per GiB.
field() {
  python3 -c '
import json, sys
r = json.load(sys.stdin)
t = r["totals"]
print({"mib": "%.0f" % (t["bandwidth_bytes_per_sec"] / 1048576), "iops": "%.0f" % t["iops"],
       "cpu": "%.2f" % ((r["cpu"]["seconds_per_gib"] or 0))}[sys.argv[1]])' "$1"
}
io() { "$bin" run --compact "$@" 2>/dev/null; }

# The file every reader reads, laid out once through NFS (not measured).
io --target "$url" --pattern read --bs 1m --size "${size_mib}m" --prefix shared --layout-only >/dev/null
shared_file="nfs://127.0.0.1$export_dir/shared.t0.f0?$ports"

declare -A runs
add() { runs[$1]="${runs[$1]:-} $2"; }
for i in $(seq 1 "$reps"); do
  echo "round $i of $reps" >&2
  # The two clients take turns going first: the write that follows another client's
  # 1 GiB write was measured to cost ganesha several times the usual kernel time (its
  # WRITE round trips stretch from ~1.5 to ~5 ms), whichever client it was.
  if ((i % 2)); then order="cp nfs"; else order="nfs cp"; fi
  for client in $order; do
    if [[ $client == cp ]]; then
      s=$(now); nfs-cp "$work/source.bin" "nfs://127.0.0.1$export_dir/cp-$i.bin?$ports" >/dev/null; e=$(now)
      add cp_write "$(rate "$s" "$e")"
      rm -f "$export_dir/cp-$i.bin"
      s=$(now); nfs-cp "$shared_file" "$work/copy.bin" >/dev/null; e=$(now)
      add cp_read "$(rate "$s" "$e")"; rm -f "$work/copy.bin"
    else
      s=$(now); out=$(io --target "$url" --pattern write --bs 1m --size "${size_mib}m" --prefix "w$i"); e=$(now)
      add nfs_write_wall "$(rate "$s" "$e")"; add nfs_write "$(field mib <<<"$out")"; add nfs_write_cpu "$(field cpu <<<"$out")"
      s=$(now); out=$(io --target "$url" --pattern read --bs 1m --size "${size_mib}m" --prefix shared --keep); e=$(now)
      add nfs_read_wall "$(rate "$s" "$e")"; add nfs_read "$(field mib <<<"$out")"; add nfs_read_cpu "$(field cpu <<<"$out")"
    fi
  done

  add posix_write "$(io --dir "$export_dir" --pattern write --bs 1m --size "${size_mib}m" --prefix "p$i" | field mib)"
  add posix_read "$(io --dir "$export_dir" --pattern read --bs 1m --size "${size_mib}m" --prefix shared --keep --direct | field mib)"
done

m() { median <<<"${runs[$1]}"; }
printf 'host: %s cores, load average %s; %s; export on %s (%s)\n' "$(nproc)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)" "$(ganesha.nfsd -v 2>&1 | head -1)" "$base" \
  "$(df --output=fstype "$base" | tail -1)"
printf '\n== sequential %s MiB, 1 MiB blocks, one connection, median of %s (MiB/s) ==\n' "$size_mib" "$reps"
printf '%-44s %10s %10s %14s\n' "client" "write" "read" "cpu s/GiB w/r"
printf '%-44s %10s %10s %14s\n' "nfs-cp (libnfs), wall clock" "$(m cp_write)" "$(m cp_read)" "-"
printf '%-44s %10s %10s %14s\n' "nfslab-io nfs:// iodepth=1, wall clock" "$(m nfs_write_wall)" "$(m nfs_read_wall)" "-"
printf '%-44s %10s %10s %14s\n' "nfslab-io nfs:// iodepth=1, measured window" "$(m nfs_write)" "$(m nfs_read)" "$(m nfs_write_cpu)/$(m nfs_read_cpu)"
printf '%-44s %10s %10s %14s\n' "nfslab-io --dir (POSIX on the export's dir)" "$(m posix_write)" "$(m posix_read)" "-"
printf 'each round, writes in MiB/s (odd rounds nfs-cp first, even rounds nfslab-io first):\n'
printf '  nfs-cp wall:%s\n  nfslab-io wall:%s\n' "${runs[cp_write]}" "${runs[nfs_write_wall]}"

printf '\n== nfslab-io nfs:// scaling, 1 MiB blocks, %s MiB, median of %s (MiB/s) ==\n' "$size_mib" "$reps"
printf '%-10s %-8s %10s %10s\n' "nconnect" "iodepth" "write" "read"
for conns in 1 2 4; do
  for depth in 1 4 16; do
    w='' r=''
    for i in $(seq 1 "$reps"); do
      w="$w $(io --target "$url" --nfs-options "nconnect=$conns" --pattern write --bs 1m --size "${size_mib}m" --iodepth "$depth" --prefix "s$i" | field mib)"
      r="$r $(io --target "$url" --nfs-options "nconnect=$conns" --pattern read --bs 1m --size "${size_mib}m" --iodepth "$depth" --prefix shared --keep | field mib)"
    done
    printf '%-10s %-8s %10s %10s\n' "$conns" "$depth" "$(median <<<"$w")" "$(median <<<"$r")"
  done
done

printf '\n== nfslab-io nfs:// 4 KiB random reads of the same file, 5 s, median of %s (IOPS) ==\n' "$reps"
printf '%-10s %-8s %10s\n' "nconnect" "iodepth" "IOPS"
for conns in 1 4; do
  for depth in 1 16 64; do
    v=''
    for _ in $(seq 1 "$reps"); do
      v="$v $(io --target "$url" --nfs-options "nconnect=$conns" --pattern randread --bs 4k --size "${size_mib}m" --iodepth "$depth" --runtime 5s --prefix shared --keep | field iops)"
    done
    printf '%-10s %-8s %10s\n' "$conns" "$depth" "$(median <<<"$v")"
  done
done
