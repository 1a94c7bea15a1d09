//! The in-cluster ganesha server's configuration, served by a real nfs-ganesha: it must
//! parse, register every RPC service on the fixed ports the Service forwards (mountd 20048,
//! nlockmgr 32803, nfs 2049 for v3 and v4), and serve the same path over NFSv3 and NFSv4.
//!
//! nfs-ganesha and rpcbind run in private network and mount namespaces (`unshare -m -n`) so
//! they neither collide with nor disturb other servers on this host. Needs root, `timeout`,
//! `unshare`, `ip`, `rpcbind`, `rpcinfo`, `ganesha.nfsd` and libnfs' `nfs-cp`/`nfs-cat`;
//! without them the test is ignored with the reason, or fails when `NFSLAB_REQUIRE` names
//! `ganesha`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed};
use nfslab::nfs::server::{LOCKD_PORT, MOUNTD_PORT, ganesha_config};
use nfslab_test_support::gate;

const TOOLS: [&str; 8] = [
    "timeout",
    "unshare",
    "ip",
    "rpcbind",
    "rpcinfo",
    "ganesha.nfsd",
    "nfs-cp",
    "nfs-cat",
];

fn missing() -> Option<String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<std::path::PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin"].map(std::path::PathBuf::from));
    let absent: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|t| !dirs.iter().any(|d| d.join(t).is_file()))
        .collect();
    if !absent.is_empty() {
        return Some(format!("missing tools: {}", absent.join(", ")));
    }
    let uid = Command::new("id").arg("-u").output().ok()?;
    (String::from_utf8_lossy(&uid.stdout).trim() != "0")
        .then(|| "needs root for private network and mount namespaces".to_owned())
}

/// How long each NFS call is retried while the server still refuses it as in grace.
const RETRY_SECONDS: u64 = 45;

/// The script run inside the namespaces: start rpcbind and ganesha (both in the foreground of
/// this shell, so both are stopped when it exits), wait for the services,
/// list them, wait out the grace period, write over NFSv3 and read back over NFSv4.
///
/// libnfs' tools give up on the first NFS3ERR_JUKEBOX / NFS4ERR_GRACE, while a kernel client
/// (and nfslab-io) retries them. ganesha lifts its grace period lazily, so on a loaded host it
/// can outlast the configured seconds: each call is repeated once a second, at most
/// `RETRY_SECONDS` times (a server that never leaves grace still fails the test), and the
/// number of tries goes to stderr for the failure report. `nfs-cp` creates exclusively and a
/// refused SETATTR leaves the file behind, so each write try uses a fresh name and the one
/// that succeeded is checked; without a successful write there is nothing to read back.
fn script(dir: &Path, grace: Duration) -> String {
    let d = dir.display();
    format!(
        "set -u\n\
         mount -t tmpfs tmpfs /run\n\
         mkdir -p /run/ganesha\n\
         ip link set lo up\n\
         rpcbind -w -f &\n\
         rpcb=$!\n\
         trap 'kill $rpcb 2>/dev/null' EXIT\n\
         for _ in $(seq 1 50); do rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.1; done\n\
         ganesha.nfsd -F -L {d}/ganesha.log -f {d}/ganesha.conf -p /run/ganesha.pid &\n\
         server=$!\n\
         trap 'kill $server $rpcb 2>/dev/null; wait' EXIT\n\
         for _ in $(seq 1 60); do\n\
           rpcinfo -t 127.0.0.1 nfs 4 >/dev/null 2>&1 && rpcinfo -t 127.0.0.1 mountd 3 >/dev/null 2>&1 && break\n\
           sleep 0.5\n\
         done\n\
         echo '== rpcinfo'\n\
         rpcinfo -p 127.0.0.1\n\
         sleep {wait}\n\
         retry() {{ n=1; until \"$@\"; do [ $n -ge {tries} ] && {{ echo \"gave up after $n tries\" >&2; return 1; }}; n=$((n+1)); sleep 1; done; echo \"succeeded on try $n\" >&2; }}\n\
         v3_write() {{ nfs-cp {d}/source.txt \"nfs://127.0.0.1{d}/export/v3-$n.txt\"; }}\n\
         echo 'written over NFSv3' > {d}/source.txt\n\
         echo '== v3 write'\n\
         written=none\n\
         retry v3_write && written=v3-$n.txt && echo \"V3_WRITE_OK $written\"\n\
         echo '== v4 read'\n\
         [ $written != none ] && retry nfs-cat \"nfs://127.0.0.1{d}/export/$written?version=4\"\n\
         kill $server; wait $server\n",
        wait = grace.as_secs() + 2,
        tries = RETRY_SECONDS,
    )
}

fn run_server() -> Result<(), Failed> {
    let dir = tempfile::tempdir().map_err(|e| Failed::from(e.to_string()))?;
    let export = dir.path().join("export");
    std::fs::create_dir_all(&export).map_err(|e| Failed::from(e.to_string()))?;
    let grace = Duration::from_secs(10);
    let config = ganesha_config(&export.to_string_lossy(), grace);
    std::fs::write(dir.path().join("ganesha.conf"), &config)
        .map_err(|e| Failed::from(e.to_string()))?;
    // Bounded: a wedged server must fail the test, not hang it.
    let output = Command::new("timeout")
        .args([
            "180",
            "unshare",
            "-m",
            "-n",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script(dir.path(), grace),
        ])
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .output()
        .map_err(|e| Failed::from(format!("could not run unshare: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let log = std::fs::read_to_string(dir.path().join("ganesha.log")).unwrap_or_default();
    let explain = || {
        format!(
            "configuration:\n{config}\nstdout:\n{stdout}\nstderr:\n{}\nganesha log (last 20 lines):\n{}",
            String::from_utf8_lossy(&output.stderr),
            log.lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
    let registered = |program: &str, version: &str, proto: &str, port: u16| {
        stdout.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 5
                && f[1] == version
                && f[2] == proto
                && f[3] == port.to_string()
                && f[4] == program
        })
    };
    for (program, version, port) in [
        ("nfs", "3", 2049),
        ("nfs", "4", 2049),
        ("mountd", "3", MOUNTD_PORT),
        ("nlockmgr", "4", LOCKD_PORT),
    ] {
        for proto in ["tcp", "udp"] {
            if !registered(program, version, proto, port) {
                return Err(format!(
                    "{program} v{version}/{proto} is not on port {port}\n{}",
                    explain()
                )
                .into());
            }
        }
    }
    let Some(written) = stdout.lines().find_map(|l| l.strip_prefix("V3_WRITE_OK ")) else {
        return Err(format!("writing over NFSv3 failed\n{}", explain()).into());
    };
    let on_disk = std::fs::read_to_string(export.join(written)).unwrap_or_default();
    if on_disk != "written over NFSv3\n" {
        return Err(format!(
            "the export holds `{on_disk}` after the v3 write\n{}",
            explain()
        )
        .into());
    }
    let v4 = stdout.split("== v4 read\n").nth(1).unwrap_or_default();
    if !v4.starts_with("written over NFSv3") {
        return Err(format!("reading the same path over NFSv4 failed\n{}", explain()).into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let name = "ganesha_config_serves_v3_and_v4_on_fixed_ports";
    let trial = gate::trial("ganesha", name, missing(), run_server);
    libtest_mimic::run(&args, vec![trial]).exit();
}
