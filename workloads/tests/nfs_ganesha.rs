//! The NFSv3 protocol backend against a real nfs-ganesha, started by this test binary on
//! free ports with its own exports (see `nfslab_test_support::nfs::Ganesha`), through the real
//! `nfslab-io` binary: data patterns with verification for several rsize/wsize, connection
//! and depth settings (the files on the server hold exactly the data written), metadata
//! operations with and without attribute caching, COMMIT and stable writes, the
//! portmapper path, refused exports and directories, and faults for real: the server
//! killed during a verified write, with `soft` (errors within timeo x (retrans + 1),
//! partial result, exit 3) and `hard` (the run stalls, the server comes back, every block
//! verifies).
//!
//! Ignored with the reason when ganesha or rpcbind is missing; failed instead when
//! `NFSLAB_REQUIRE` names `ganesha`. Tests share one server and run one at a time.

mod common;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ResultDocument as _, check_consistency, check_pattern, entries, io};
use nfslab_test_support::gate::{Body, gated_trials};
use nfslab_test_support::nfs::Ganesha;
use nfslab_test_support::run::Run;
use nfslab_workload::{DEFAULT_SEED, RunResult, Status};

type Shared = Arc<Mutex<Option<Ganesha>>>;
type Outcome = Result<(), libtest_mimic::Failed>;
/// A test over the shared server.
type Test = fn(&Shared) -> Outcome;

fn server(shared: &Shared) -> Result<std::sync::MutexGuard<'_, Option<Ganesha>>, String> {
    let mut guard = shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    guard
        .as_mut()
        .ok_or("the server did not start")?
        .ensure_running()?;
    Ok(guard)
}

/// Runs `nfslab-io run --target URL ARGS --compact`.
fn run_nfs(url: &str, args: &[&str]) -> Run {
    let mut full = vec!["run", "--target", url, "--compact"];
    full.extend_from_slice(args);
    io(&full)
}

fn rpc_calls(r: &RunResult, proc: &str) -> u64 {
    r.nfs
        .as_ref()
        .and_then(|n| n.rpc.as_ref())
        .and_then(|rpc| rpc.procedures.get(proc))
        .map_or(0, |p| p.calls)
}

fn event(r: &RunResult, name: &str) -> u64 {
    r.nfs
        .as_ref()
        .and_then(|n| n.rpc.as_ref())
        .and_then(|rpc| rpc.events.get(name).copied())
        .unwrap_or(0)
}

/// One configuration of the data matrix.
struct Setting {
    options: &'static str,
    bs: u64,
    iodepth: u32,
    nconnect: usize,
}

fn data_matrix(shared: &Shared) -> Outcome {
    let guard = server(shared)?;
    let g = guard.as_ref().ok_or("no server")?;
    let (threads, nrfiles, size) = (2u64, 2u64, 4u64 << 20);
    let settings = [
        Setting {
            options: "rsize=32768,wsize=32768",
            bs: 65_536,
            iodepth: 1,
            nconnect: 1,
        },
        Setting {
            options: "rsize=65536,wsize=65536,nconnect=2",
            bs: 65_536,
            iodepth: 8,
            nconnect: 2,
        },
        Setting {
            options: "rsize=1048576,wsize=1048576,nconnect=4",
            bs: 1 << 20,
            iodepth: 4,
            nconnect: 4,
        },
        Setting {
            options: "rsize=4096,wsize=4096,nconnect=3,stable=file_sync",
            bs: 16_384,
            iodepth: 16,
            nconnect: 3,
        },
    ];
    for (i, s) in settings.iter().enumerate() {
        for (step, pattern, dir_name) in [
            ("seq-write", "write", "seq"),
            ("rand-write", "randwrite", "rand"),
            ("seq-read", "read", "seq"),
            ("rand-read", "randread", "rand"),
        ] {
            let dir = g.export.join(format!("matrix{i}-{dir_name}"));
            if step.ends_with("write") {
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir)?;
            }
            let bs = s.bs.to_string();
            let depth = s.iodepth.to_string();
            let run = run_nfs(
                &g.url(&dir, ""),
                &[
                    "--pattern",
                    pattern,
                    "--bs",
                    &bs,
                    "--size",
                    "4m",
                    "--threads",
                    "2",
                    "--nrfiles",
                    "2",
                    "--iodepth",
                    &depth,
                    "--verify",
                    "--keep",
                    "--nfs-options",
                    s.options,
                ],
            );
            let context = format!("setting {i} ({}) {step}\n{}", s.options, run.describe());
            ensure!(run.code() == Some(0), "{context}");
            let r = run.result();
            ensure!(r.status == Status::Ok, "{context}");
            check_consistency(&r, &context);
            let blocks = threads * nrfiles * size / s.bs;
            ensure!(
                r.totals.data_ops == blocks,
                "{} data ops, want {blocks}: {context}",
                r.totals.data_ops
            );
            ensure!(r.totals.data_bytes == blocks * s.bs, "{context}");
            ensure!(r.effective.iodepth_effective == s.iodepth, "{context}");
            ensure!(r.backend.name == "nfs3", "{context}");
            let nfs = r.nfs.as_ref().ok_or("an nfs section")?;
            let rpc = nfs.rpc.as_ref().ok_or("rpc statistics")?;
            ensure!(
                rpc.max_in_flight_per_connection.len() == s.nconnect,
                "{context}"
            );
            let most = rpc
                .max_in_flight_per_connection
                .iter()
                .max()
                .copied()
                .unwrap_or(0);
            let pieces = (s.bs / u64::from(nfs.effective.wsize)).max(1);
            ensure!(
                most >= 1 && most <= u64::from(s.iodepth) * threads * pieces,
                "in flight {most}: {context}"
            );
            ensure!(
                rpc.totals.retransmissions == 0 && rpc.totals.errors == 0,
                "{context}"
            );
            let verify = r.verify.as_ref().ok_or("a verify section")?;
            ensure!(verify.mismatches == 0, "{context}");
            if pattern.contains("write") {
                let wsize = u64::from(nfs.effective.wsize);
                ensure!(
                    rpc_calls(&r, "WRITE") == r.totals.data_bytes / wsize.min(s.bs),
                    "WRITE calls {}: {context}",
                    rpc_calls(&r, "WRITE")
                );
                let commits = if s.options.contains("file_sync") {
                    0
                } else {
                    threads * nrfiles
                };
                ensure!(
                    rpc_calls(&r, "COMMIT") == commits,
                    "COMMIT calls {}: {context}",
                    rpc_calls(&r, "COMMIT")
                );
                ensure!(verify.blocks_checked == blocks, "{context}");
                // The server's files hold exactly what was written: generation 1 for one
                // sequential pass, 2 for a layout then one random pass.
                let generation = if pattern == "write" { 1 } else { 2 };
                for t in 0..threads {
                    for f in 0..nrfiles {
                        let file = dir.join(format!("nfslab.t{t}.f{f}"));
                        let n =
                            check_pattern(&file, s.bs, DEFAULT_SEED, t * nrfiles + f, generation)
                                .map_err(|e| format!("{e}\n{context}"))?;
                        ensure!(n == size / s.bs, "{context}");
                    }
                }
            } else {
                let rsize = u64::from(nfs.effective.rsize);
                ensure!(
                    rpc_calls(&r, "READ") == r.totals.data_bytes / rsize.min(s.bs),
                    "READ calls {}: {context}",
                    rpc_calls(&r, "READ")
                );
                ensure!(verify.blocks_checked == blocks, "{context}");
                ensure!(r.effective.files_reused == threads * nrfiles, "{context}");
            }
            let effective = &nfs.effective;
            for (key, value) in s.options.split(',').filter_map(|kv| kv.split_once('=')) {
                let used = match key {
                    "rsize" => effective.rsize.to_string(),
                    "wsize" => effective.wsize.to_string(),
                    "nconnect" => effective.nconnect.to_string(),
                    _ => continue,
                };
                ensure!(
                    used == value,
                    "{key}: requested {value}, effective {used}: {context}"
                );
            }
        }
    }
    Ok(())
}

fn metadata_with_and_without_attribute_cache(shared: &Shared) -> Outcome {
    let guard = server(shared)?;
    let g = guard.as_ref().ok_or("no server")?;
    let files = 40u64;
    for cache in ["ac", "noac"] {
        let dir = g.subdir(&format!("meta-{cache}"));
        let run = run_nfs(
            &g.url(&dir, cache),
            &["--pattern", "metadata", "--nrfiles", "40", "--threads", "2"],
        );
        let context = format!("{cache}\n{}", run.describe());
        ensure!(run.code() == Some(0), "{context}");
        let r = run.result();
        check_consistency(&r, &context);
        for (kind, per_thread) in [
            ("mkdir", 1),
            ("create", files),
            ("stat", files),
            ("readdir", 1),
            ("rename", files),
            ("unlink", files),
            ("rmdir", 1),
        ] {
            let s = r.ops.get(kind).ok_or(format!("no {kind}: {context}"))?;
            ensure!(s.ops == 2 * per_thread, "{kind}: {} ops: {context}", s.ops);
            ensure!(
                s.latency_ns.min > 0 && s.latency_ns.max >= s.latency_ns.p50,
                "{kind} latency: {context}"
            );
        }
        for (proc, want) in [
            ("MKDIR", 2),
            ("CREATE", 2 * files),
            ("RENAME", 2 * files),
            ("REMOVE", 2 * files),
            ("RMDIR", 2),
            ("COMMIT", 2 * files),
            ("WRITE", 2 * files),
        ] {
            ensure!(
                rpc_calls(&r, proc) == want,
                "{proc}: {} calls, want {want}: {context}",
                rpc_calls(&r, proc)
            );
        }
        // With the cache, every handle comes from MKDIR/CREATE replies and stats are
        // answered locally; without it each path component is looked up and a stat is
        // LOOKUP + GETATTR.
        let (lookups, getattrs) = if cache == "ac" {
            (0, 0)
        } else {
            (2 * (6 * files + 1), 2 * files)
        };
        ensure!(
            rpc_calls(&r, "LOOKUP") == lookups,
            "LOOKUP {}: {context}",
            rpc_calls(&r, "LOOKUP")
        );
        ensure!(
            rpc_calls(&r, "GETATTR") == getattrs,
            "GETATTR {}: {context}",
            rpc_calls(&r, "GETATTR")
        );
        ensure!(rpc_calls(&r, "READDIRPLUS") == 2, "{context}");
        ensure!(
            entries(&dir).is_empty(),
            "created directories are removed: {:?}\n{context}",
            entries(&dir)
        );
    }
    let dir = g.subdir("meta-nordirplus");
    let run = run_nfs(
        &g.url(&dir, "nordirplus"),
        &["--pattern", "metadata", "--nrfiles", "10"],
    );
    ensure!(run.code() == Some(0), "{}", run.describe());
    let r = run.result();
    ensure!(
        rpc_calls(&r, "READDIR") == 1 && rpc_calls(&r, "READDIRPLUS") == 0,
        "{}",
        run.describe()
    );
    Ok(())
}

fn fsync_latency_commits_every_write(shared: &Shared) -> Outcome {
    let guard = server(shared)?;
    let g = guard.as_ref().ok_or("no server")?;
    let dir = g.subdir("fsync");
    for (options, commits) in [("stable=unstable", 64), ("sync", 0)] {
        let run = run_nfs(
            &g.url(&dir, options),
            &["--pattern", "fsync-latency", "--bs", "4k", "--size", "256k"],
        );
        let context = format!("{options}\n{}", run.describe());
        ensure!(run.code() == Some(0), "{context}");
        let r = run.result();
        check_consistency(&r, &context);
        ensure!(
            r.ops["write"].ops == 64 && r.ops["fsync"].ops == 64,
            "{context}"
        );
        ensure!(
            rpc_calls(&r, "WRITE") == 64 && rpc_calls(&r, "COMMIT") == commits,
            "{context}"
        );
        ensure!(entries(&dir).is_empty(), "{context}");
    }
    Ok(())
}

/// The protocol client's own counters back its figures: what it read and wrote crossed the
/// wire (READ and WRITE traffic slightly above the payload: RPC headers), even a buffered
/// re-read of a small file, since the client keeps no data cache; and writes with
/// `fsync: none` are committed as a close would, so nothing stays unstable.
fn wire_bytes_back_the_protocol_figures(shared: &Shared) -> Outcome {
    let guard = server(shared)?;
    let g = guard.as_ref().ok_or("no server")?;
    let dir = g.subdir("wire");
    let url = g.url(&dir, "");
    let cases: [(&str, &[&str]); 3] = [
        (
            "write",
            &[
                "--pattern",
                "write",
                "--bs",
                "64k",
                "--size",
                "1m",
                "--fsync",
                "none",
                "--keep",
            ],
        ),
        (
            "buffered re-read",
            &[
                "--pattern",
                "randread",
                "--bs",
                "64k",
                "--size",
                "1m",
                "--io-size",
                "8m",
                "--direct",
                "off",
                "--keep",
            ],
        ),
        (
            "direct read",
            &["--pattern", "read", "--bs", "64k", "--size", "1m"],
        ),
    ];
    for (name, args) in cases {
        let run = run_nfs(&url, args);
        let context = format!("{name}\n{}", run.describe());
        ensure!(run.code() == Some(0), "{context}");
        let r = run.result();
        let w = r
            .wire
            .as_ref()
            .ok_or(format!("a wire section: {context}"))?;
        ensure!(w.source == "client", "{context}");
        let (app, wire, ratio) = if name == "write" {
            (w.app_write_bytes, w.wire_write_bytes, w.write_ratio)
        } else {
            (w.app_read_bytes, w.wire_read_bytes, w.read_ratio)
        };
        let expected = if name.contains("re-read") {
            8 << 20
        } else {
            1 << 20
        };
        ensure!(app == expected, "{app} bytes: {context}");
        let ratio = ratio.ok_or("a ratio")?;
        ensure!(
            wire >= app && (1.0..1.05).contains(&ratio),
            "wire {wire} for {app} (ratio {ratio}): {context}"
        );
        ensure!(w.findings.is_empty(), "{:?}: {context}", w.findings);
        if name == "write" {
            ensure!(rpc_calls(&r, "COMMIT") >= 1, "{context}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn portmapper_finds_the_server(shared: &Shared) -> Outcome {
    let guard = server(shared)?;
    let g = guard.as_ref().ok_or("no server")?;
    let dir = g.subdir("portmap");
    let url = format!("nfs://127.0.0.1{}", dir.display());
    let run = run_nfs(
        &url,
        &[
            "--pattern",
            "randrw",
            "--size",
            "1m",
            "--iodepth",
            "4",
            "--verify",
        ],
    );
    ensure!(run.code() == Some(0), "{}", run.describe());
    let r = run.result();
    let nfs = r.nfs.as_ref().ok_or("an nfs section")?;
    ensure!(
        nfs.address == format!("127.0.0.1:{}", g.nfs_port),
        "{}",
        run.describe()
    );
    ensure!(nfs.mount_port == g.mount_port, "{}", run.describe());
    ensure!(
        format!("{:?}", nfs.ports) == "Portmapper",
        "{}",
        run.describe()
    );
    ensure!(
        nfs.export == g.export.display().to_string() || nfs.export == dir.display().to_string(),
        "{}",
        run.describe()
    );
    Ok(())
}

fn refused_exports_and_directories(shared: &Shared) -> Outcome {
    let guard = server(shared)?;
    let g = guard.as_ref().ok_or("no server")?;
    let one_line = |run: &Run, code: i32, needles: &[&str]| -> Outcome {
        ensure!(
            run.code() == Some(code),
            "exit {} (want {code})\n{}",
            run.code().unwrap_or(-1),
            run.describe()
        );
        let line = run.stderr.trim_end();
        ensure!(
            !line.contains('\n')
                && line.starts_with("error: --target: cannot use `nfs://127.0.0.1"),
            "{}",
            run.describe()
        );
        for n in needles {
            ensure!(line.contains(n), "{n:?}\n{}", run.describe());
        }
        ensure!(run.stdout.is_empty(), "{}", run.describe());
        Ok(())
    };
    let write = ["--pattern", "write", "--size", "64k"];
    // Ganesha answers MNT3ERR_ACCES for unknown paths and hides exports the client may not use.
    let run = run_nfs(&g.url(Path::new("/no/such/export"), ""), &write);
    one_line(
        &run,
        2,
        &[
            "permission denied mounting `/no/such/export`",
            "MNT3ERR_ACCES",
            "not exported to this client, or does not exist",
            &g.export.display().to_string(),
        ],
    )?;
    let run = run_nfs(&g.url(&g.restricted, ""), &write);
    one_line(
        &run,
        2,
        &["permission denied mounting", "MNT3ERR_ACCES", "client list"],
    )?;
    let run = run_nfs(&g.url(&g.readonly, ""), &write);
    one_line(&run, 2, &["is not writable for uid=0,gid=0"])?;
    let run = run_nfs(&g.url(&g.export.join("missing/deeper"), ""), &write);
    one_line(
        &run,
        2,
        &[
            "LOOKUP of",
            "missing",
            "NFS3ERR_NOENT",
            "create the directory",
        ],
    )?;
    // The server's ACCESS answer for another user: the directory is root's.
    let locked = g.subdir("locked");
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    let run = run_nfs(&g.url(&locked, "uid=1000&gid=1000"), &write);
    one_line(
        &run,
        2,
        &["permission denied", "not writable for uid=1000,gid=1000"],
    )?;
    // NFS3ERR_ACCES during the run becomes EACCES, counted per errno: a file root wrote
    // in a shared directory, written by another user.
    let shared_dir = g.subdir("shared");
    std::fs::set_permissions(
        &shared_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )?;
    let first = run_nfs(
        &g.url(&shared_dir, ""),
        &["--pattern", "write", "--size", "64k", "--keep"],
    );
    ensure!(first.code() == Some(0), "{}", first.describe());
    let run = run_nfs(
        &g.url(&shared_dir, "uid=1000&gid=1000"),
        &["--pattern", "write", "--size", "64k"],
    );
    ensure!(run.code() == Some(3), "{}", run.describe());
    let r = run.result();
    let error = r.error.as_ref().ok_or("an error record")?;
    ensure!(
        error.errno.as_deref() == Some("EACCES") && error.phase == "measured",
        "{}",
        run.describe()
    );
    ensure!(r.errors.get("EACCES") == Some(&1), "{}", run.describe());
    let rpc = r
        .nfs
        .as_ref()
        .and_then(|n| n.rpc.as_ref())
        .ok_or("rpc statistics")?;
    ensure!(
        rpc.procedures.get("WRITE").is_some_and(|w| w.errors == 1),
        "{}",
        run.describe()
    );
    ensure!(
        entries(&shared_dir) == vec!["nfslab.t0.f0".to_owned()],
        "the file it did not create stays: {:?}",
        entries(&shared_dir)
    );
    let file = g.export.join("plain-file");
    std::fs::write(&file, b"x")?;
    let run = run_nfs(&g.url(&file, ""), &write);
    one_line(&run, 2, &["is not a directory"])?;
    ensure!(
        entries(&g.readonly).is_empty(),
        "nothing created in the read-only export"
    );
    Ok(())
}

/// An `nfslab-io` run in the background: its command, its process and when it started.
struct Background {
    command: Command,
    child: std::process::Child,
    started: Instant,
}

/// Starts a verified sequential write in the background; waits until its file on the
/// server grows (the measured phase runs) and returns it.
fn start_write(
    g: &Ganesha,
    dir: &Path,
    options: &str,
    args: &[&str],
) -> Result<Background, String> {
    let url = g.url(dir, "");
    let mut full = vec![
        "run",
        "--target",
        &url,
        "--compact",
        "--nfs-options",
        options,
    ];
    full.extend_from_slice(args);
    let mut command = Command::new(common::bin());
    command
        .args(&full)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start nfslab-io: {e}"))?;
    let file = dir.join("nfslab.t0.f0");
    let start = Instant::now();
    while std::fs::metadata(&file).map_or(0, |m| m.len()) < 2 << 20 {
        if start.elapsed() > Duration::from_secs(30) {
            return Err("the write never reached 2 MiB on the server".to_owned());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(Background {
        command,
        child,
        started,
    })
}

/// Waits for the run (at most `limit`); returns it and when it ended.
fn finish(run: Background, limit: Duration) -> Result<(Run, Instant), String> {
    let Background {
        command,
        mut child,
        started,
    } = run;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            return Err(format!("nfslab-io did not end within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let ended = Instant::now();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_end(&mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut stderr);
    }
    let output = Output {
        status,
        stdout,
        stderr,
    };
    Ok((Run::finished(&command, output, ended - started), ended))
}

fn soft_mounts_fail_within_timeo_times_retrans(shared: &Shared) -> Outcome {
    let mut guard = server(shared)?;
    let g = guard.as_mut().ok_or("no server")?;
    // timeo=1s, retrans=2: a call fails 3 s after it started.
    for (mode, depth, errno) in [("soft", "4", "EIO"), ("softerr", "1", "ETIMEDOUT")] {
        g.ensure_running()?;
        let dir = g.subdir(&format!("fault-{mode}"));
        let options = format!("{mode},timeo=10,retrans=2");
        let write = start_write(
            g,
            &dir,
            &options,
            &[
                "--pattern",
                "write",
                "--bs",
                "64k",
                "--size",
                "64m",
                "--runtime",
                "30s",
                "--iodepth",
                depth,
                "--verify",
                "--keep",
            ],
        )?;
        g.kill();
        let killed = Instant::now();
        let (run, ended) = finish(write, Duration::from_secs(30))?;
        let took = ended - killed;
        let context = format!(
            "{mode}: ended {took:?} after the server stopped\n{}",
            run.describe()
        );
        ensure!(run.code() == Some(3), "{context}");
        ensure!(
            took >= Duration::from_millis(2500) && took <= Duration::from_secs(6),
            "errors come after about timeo x (retrans + 1) = 3 s: {context}"
        );
        let r = run.result();
        check_consistency(&r, &context);
        ensure!(r.status == Status::IoError, "{context}");
        ensure!(
            r.totals.data_ops > 0,
            "partial result: the writes before the stop: {context}"
        );
        let error = r.error.as_ref().ok_or("an error record")?;
        ensure!(
            error.phase == "measured" && error.errno.as_deref() == Some(errno),
            "{context}"
        );
        let depth: u64 = depth.parse()?;
        let expected: BTreeMap<String, u64> = [(errno.to_owned(), depth)].into_iter().collect();
        ensure!(
            r.errors == expected,
            "one error per request in flight: {:?}: {context}",
            r.errors
        );
        ensure!(event(&r, "soft_failures") == depth, "{context}");
        ensure!(
            run.stderr.contains(&format!("errors: {errno} x{depth}")),
            "{context}"
        );
    }
    g.restart()?;
    Ok(())
}

fn hard_mounts_ride_out_a_server_restart(shared: &Shared) -> Outcome {
    let mut guard = server(shared)?;
    let g = guard.as_mut().ok_or("no server")?;
    let dir = g.subdir("fault-hard");
    // One pass of 64 MiB: the server dies after 2 MiB, stays down 2 s, comes back.
    let args = [
        "--pattern",
        "write",
        "--bs",
        "64k",
        "--size",
        "64m",
        "--iodepth",
        "4",
        "--verify",
        "--keep",
    ];
    let write = start_write(g, &dir, "hard,timeo=10,retrans=2", &args)?;
    g.kill();
    let killed = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    g.restart()?;
    let back = killed.elapsed();
    let (run, _) = finish(write, Duration::from_secs(120))?;
    let context = format!("server back after {back:?}\n{}", run.describe());
    ensure!(
        run.code() == Some(0),
        "exit {}: {context}",
        run.code().unwrap_or(-1)
    );
    let r = run.result();
    check_consistency(&r, &context);
    ensure!(
        r.status == Status::Ok && r.errors.is_empty(),
        "status {:?}, errors {:?}: {context}",
        r.status,
        r.errors
    );
    ensure!(
        r.totals.data_ops == 1024,
        "{} data ops: {context}",
        r.totals.data_ops
    );
    let write = &r.ops["write"];
    ensure!(
        write.latency_ns.max >= 2_000_000_000,
        "the writes in flight stalled while the server was down: {context}"
    );
    let verify = r.verify.as_ref().ok_or("a verify section")?;
    ensure!(
        verify.mismatches == 0 && verify.blocks_checked == 1024,
        "every block verified: {context}"
    );
    let rpc = r
        .nfs
        .as_ref()
        .and_then(|n| n.rpc.as_ref())
        .ok_or("rpc statistics")?;
    let events = format!(
        "retransmissions {}, events {:?}",
        rpc.totals.retransmissions, rpc.events
    );
    ensure!(event(&r, "reconnects") >= 1, "{events}: {context}");
    // Each of the 32 blocks or more on the server before the kill was either acknowledged,
    // then redone at the final COMMIT because the verifier changed with the restart, or
    // not acknowledged and sent again on the new connection.
    let redone = event(&r, "writes_redone");
    ensure!(
        event(&r, "write_verifier_changes") >= 1 && redone >= 28,
        "{events}: {context}"
    );
    ensure!(
        redone + rpc.totals.retransmissions >= 32,
        "{events}: {context}"
    );
    // And the server's file holds exactly the pass written.
    let blocks = check_pattern(&dir.join("nfslab.t0.f0"), 65_536, DEFAULT_SEED, 0, 1)
        .map_err(|e| format!("{e}\n{context}"))?;
    ensure!(blocks == 1024, "{blocks} blocks on the server: {context}");
    Ok(())
}

fn main() {
    let mut args = libtest_mimic::Arguments::from_args();
    // One server for every test; tests stop and restart it, so they run one at a time.
    args.test_threads = Some(1);
    let started = if args.list {
        Err("listing only".to_owned())
    } else {
        Ganesha::start()
    };
    let availability = started.as_ref().map(|_| ()).map_err(Clone::clone);
    let shared: Shared = Arc::new(Mutex::new(started.ok()));
    let tests: Vec<(&'static str, Test)> = vec![
        (
            "data_patterns_verify_and_the_server_holds_the_data",
            data_matrix,
        ),
        (
            "metadata_with_and_without_attribute_cache",
            metadata_with_and_without_attribute_cache,
        ),
        (
            "fsync_latency_commits_every_write",
            fsync_latency_commits_every_write,
        ),
        (
            "wire_bytes_back_the_protocol_figures",
            wire_bytes_back_the_protocol_figures,
        ),
        ("portmapper_finds_the_server", portmapper_finds_the_server),
        (
            "refused_exports_and_directories",
            refused_exports_and_directories,
        ),
        (
            "soft_mounts_fail_within_timeo_times_retrans",
            soft_mounts_fail_within_timeo_times_retrans,
        ),
        (
            "hard_mounts_ride_out_a_server_restart",
            hard_mounts_ride_out_a_server_restart,
        ),
    ];
    let tests: Vec<(&'static str, Body)> = tests
        .into_iter()
        .map(|(name, f)| {
            let shared = Arc::clone(&shared);
            (name, Box::new(move || f(&shared)) as Body)
        })
        .collect();
    let trials = gated_trials("ganesha", availability, tests);
    let conclusion = libtest_mimic::run(&args, trials);
    drop(shared);
    conclusion.exit();
}
