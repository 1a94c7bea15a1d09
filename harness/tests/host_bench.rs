//! `nfslab bench --host` for real: the `nfslab` binary runs a tiny plan from this host
//! against an nfs-ganesha this test starts (free ports, registered with the local rpcbind;
//! see `nfslab_test_support::nfs`), with the real `nfslab-io` engine as clients.
//!
//! - protocol cells: every cell measured, bytes and operations non-zero, the profile's
//!   options mapped (and `vers=4.1` listed as not applicable), the files on the server's
//!   own directory, the reports rendered and re-rendered by `nfslab report`;
//! - cleanup: without `--keep-files` nothing is left in the export;
//! - Ctrl-C: the run stops within seconds, kills its clients, removes its files and writes
//!   an interrupted report;
//! - mount cells: only with `NFSLAB_HOST_MOUNT=1` (root and a kernel NFS client), the same
//!   plan through a real mount too, with the mount efficiency in the summary and nothing
//!   left mounted.
//!
//! Input errors need no server: `--host` without `--server`, an unreachable server (one
//! line within the connect timeout, no results directory).
//!
//! Ganesha tests are ignored with the reason when ganesha or rpcbind is missing, and fail
//! instead when `NFSLAB_REQUIRE` names `ganesha`. The engine is taken from the build
//! directory, built there with cargo when missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed};
use nfslab_test_support::gate;
use nfslab_test_support::nfs::Ganesha;
use serde_json::Value;

type Shared = Arc<Mutex<Option<Ganesha>>>;
type Outcome = Result<(), Failed>;
/// A test: its name, body, whether it needs ganesha, and why it is skipped (if it is).
type Test = (
    &'static str,
    fn(&Shared) -> Outcome,
    bool,
    Option<&'static str>,
);

const PLAN: &str = "\
name: host-tiny
description: Two profiles x two short workloads, one repetition, from the host.
profiles:
  - name: v3-64k
    options: [vers=3, nolock, rsize=65536, wsize=65536, hard, timeo=600, retrans=2]
  - name: v4.1-noac
    options: [vers=4.1, noac]
workloads:
  - name: seq-write-1m
    job: {pattern: write, bs: 1m, size: 8m, fsync: end}
  - name: rand-read-4k
    job: {pattern: randread, bs: 4k, size: 4m}
runtime: 1s
ramp_time: 0s
repetitions: 1
clients: [1, 2]
cell_timeout: 2m
";

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        let holds: bool = $cond;
        if !holds {
            return Err(format!($($msg)+).into());
        }
    };
}

/// The `nfslab-io` binary of this build (built by cargo when its sources changed).
fn engine() -> Result<PathBuf, String> {
    nfslab::k8s::test_binary()
}

fn nfslab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nfslab"))
        .args(args)
        .env_remove("NFSLAB_IO")
        .stdin(Stdio::null())
        .output()
        .expect("nfslab runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

struct Setup {
    dir: tempfile::TempDir,
    plan: PathBuf,
    engine: PathBuf,
}

fn setup() -> Result<Setup, Failed> {
    setup_with(PLAN)
}

fn setup_with(plan_text: &str) -> Result<Setup, Failed> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let plan = dir.path().join("plan.yaml");
    std::fs::write(&plan, plan_text).map_err(|e| e.to_string())?;
    Ok(Setup {
        engine: engine()?,
        dir,
        plan,
    })
}

fn server_arg(g: &Ganesha) -> String {
    format!("ganesha=127.0.0.1:{}", g.export.display())
}

fn lock(shared: &Shared) -> Result<std::sync::MutexGuard<'_, Option<Ganesha>>, String> {
    let mut guard = shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let g = guard.as_mut().ok_or("the server did not start")?;
    g.ensure_running()?;
    // Each test starts from an empty export, whatever an earlier one left.
    clean_export(g)?;
    Ok(guard)
}

/// Removes `nfslab-bench` from the export through the server (removing it behind the
/// server's back would leave ganesha with stale cached handles).
fn clean_export(g: &Ganesha) -> Result<(), String> {
    use nfslab::bench::host::ExportTree;
    if !g.export.join("nfslab-bench").exists() {
        return Ok(());
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let export = g.export.display().to_string();
        let tree = ExportTree::connect("127.0.0.1", &export, Duration::from_secs(5))
            .await
            .map_err(|e| e.to_string())?;
        let removed = tree.remove_tree("nfslab-bench").await;
        tree.close().await;
        removed.map_err(|e| e.to_string())
    })?;
    if g.export.join("nfslab-bench").exists() {
        return Err("nfslab-bench is still in the export after removing it over NFS".to_owned());
    }
    Ok(())
}

/// The files a run left in the export (relative paths), when asked to keep them.
fn files_under(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let size = entry.metadata().map_or(0, |m| m.len());
                let rel = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                out.push((rel, size));
            }
        }
    }
    out.sort();
    out
}

/// As the README says it: no `--engine`, so the clients run the engine built into
/// `nfslab` (`nfslab io`), as after `cargo install --path harness`.
fn protocol_cells_measure_and_report(shared: &Shared) -> Outcome {
    let guard = lock(shared)?;
    let g = guard.as_ref().ok_or("no server")?;
    let s = setup()?;
    let results = s.dir.path().join("results");
    let out = nfslab(&[
        "bench",
        "--host",
        "--plan",
        &s.plan.display().to_string(),
        "--server",
        &server_arg(g),
        "--results",
        &results.display().to_string(),
        "--run-id",
        "host-keep",
        "--keep-files",
        "--junit",
        &s.dir.path().join("bench.xml").display().to_string(),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    ensure!(
        out.status.code() == Some(0),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}\nganesha:\n{}",
        out.status.code(),
        g.log_tail()
    );
    let run_dir = results.join("host-keep");
    ensure!(
        stdout.lines().next() == Some(run_dir.display().to_string().as_str()),
        "the first line names the results directory: {stdout}"
    );
    // stderr is not a terminal here: plain progress lines, then the table and the report.
    for expected in [
        "nfslab: benchmark: ",
        "nfslab: [1/",
        ": ok in ",
        "Best profile per workload",
        &format!("Report: {}", run_dir.join("report.html").display()),
    ] {
        ensure!(
            stderr.contains(expected),
            "`{expected}` on stderr:\n{stderr}"
        );
    }
    // --junit: one test case per cell, every one passed.
    let junit = std::fs::read_to_string(s.dir.path().join("bench.xml"))
        .map_err(|e| format!("no JUnit file: {e}\n{stderr}"))?;
    ensure!(
        junit.matches("<testcase ").count() == 8 && !junit.contains("<failure"),
        "{junit}"
    );
    let can_mount = {
        let facts = nfslab::bench::host::mount::probe();
        nfslab::bench::host::mount::decide(&facts).is_available()
    };
    if !can_mount {
        ensure!(
            stderr.matches("mount cells skipped: ").count() == 1,
            "the reason is printed once: {stderr}"
        );
    }

    let summary = read_json(&run_dir.join("summary.json"))?;
    ensure!(summary["schema_version"] == 1, "schema: {summary}");
    let cells = summary["cells"].as_array().ok_or("no cells")?;
    let protocol: Vec<&Value> = cells.iter().filter(|c| c["access"] == "protocol").collect();
    ensure!(
        protocol.len() == 8,
        "2 workloads x 2 profiles x 2 client counts: {}",
        cells.len()
    );
    if !can_mount {
        ensure!(cells.len() == 8, "protocol cells only: {}", cells.len());
    }
    for c in &protocol {
        let id = c["id"].as_str().unwrap_or_default();
        ensure!(id.ends_with("/protocol"), "{id}");
        ensure!(
            c["repetitions_ok"] == 1,
            "{id}: {}",
            serde_json::to_string(&c["failures"]).unwrap_or_default()
        );
        let headline = match c["headline"].as_str() {
            Some("bandwidth") => c["bandwidth_bytes_per_sec"]["median"].as_f64(),
            _ => c["iops"]["median"].as_f64(),
        }
        .unwrap_or(0.0);
        ensure!(headline > 0.0, "{id}: headline {headline}");
        let ops: u64 = c["latency"]
            .as_object()
            .map(|l| l.values().filter_map(|k| k["ops"].as_u64()).sum())
            .unwrap_or(0);
        ensure!(ops > 0, "{id}: no operations");
        ensure!(
            c["options"]["fstype"] == "nfs3-protocol",
            "{id}: {}",
            c["options"]
        );
        let effective: Vec<&str> = c["options"]["effective"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let not_applicable: Vec<&str> = c["options"]["not_applicable"]
            .as_array()
            .map(|a| a.iter().filter_map(|n| n["option"].as_str()).collect())
            .unwrap_or_default();
        if c["profile"] == "v3-64k" {
            ensure!(effective.contains(&"rsize=65536"), "{id}: {effective:?}");
            ensure!(not_applicable == ["nolock"], "{id}: {not_applicable:?}");
        } else {
            ensure!(effective.contains(&"noac"), "{id}: {effective:?}");
            ensure!(not_applicable == ["vers=4.1"], "{id}: {not_applicable:?}");
        }
        let clients = c["clients"].as_u64().unwrap_or(0);
        ensure!(
            c["repetitions"][0]["per_client"].as_array().map(Vec::len) == Some(clients as usize),
            "{id}: every client process reported"
        );
    }

    // Raw results are the protocol backend's, and the data is on the server's disk.
    let record = read_json(&run_dir.join("run.json"))?;
    for cell in record["cells"].as_array().ok_or("no cells in run.json")? {
        if cell["access"] != "protocol" {
            continue;
        }
        let index = cell["index"].as_u64().unwrap_or(0);
        let clients = cell["clients"].as_u64().unwrap_or(0);
        let id = cell["id"].as_str().unwrap_or_default();
        let size: u64 = if cell["workload"] == "seq-write-1m" {
            8 << 20
        } else {
            4 << 20
        };
        for k in 0..clients {
            let raw = read_json(&run_dir.join(format!("raw/{id}/rep-1/client-{k}.json")))?;
            ensure!(raw["backend"]["name"] == "nfs3", "{id}: {}", raw["backend"]);
            let on_server = g.export.join(format!(
                "nfslab-bench/host-keep/c{index:02}-r1/client-{k}/nfslab.t0.f0"
            ));
            let len = std::fs::metadata(&on_server).map_or(0, |m| m.len());
            ensure!(
                len == size,
                "{id}: {} holds {len} bytes, expected {size}; export:\n{:?}",
                on_server.display(),
                files_under(&g.export)
            );
        }
    }

    let markdown = std::fs::read_to_string(run_dir.join("report.md")).map_err(|e| e.to_string())?;
    for needle in [
        "## seq-write-1m",
        "## rand-read-4k",
        "v3-64k ×1 (protocol)",
        "not applicable: vers=4.1",
        "host `",
    ] {
        ensure!(
            markdown.contains(needle),
            "report.md lacks `{needle}`:\n{markdown}"
        );
    }
    if !can_mount {
        ensure!(
            markdown.contains("mount cells skipped: "),
            "report.md says why:\n{markdown}"
        );
    }
    // Protocol cells carry the user-space client's own RPC counts: the measured phase's
    // requests, per procedure.
    for c in &protocol {
        let rpc = &c["rpc"];
        ensure!(rpc["source"] == "client", "rpc of {}: {rpc}", c["id"]);
        let total = rpc["total_rpcs"].as_u64().unwrap_or(0);
        let busiest = if c["workload"] == "seq-write-1m" {
            "WRITE"
        } else {
            "READ"
        };
        let per_op = rpc["ops"][busiest]["ops"].as_u64().unwrap_or(0);
        ensure!(
            per_op > 0 && per_op <= total,
            "{busiest} requests {per_op} of {total} in {}: {rpc}",
            c["id"]
        );
        ensure!(
            rpc["ops"][busiest]["avg_rtt_ms"].as_f64().unwrap_or(0.0) > 0.0,
            "round trips of {}: {rpc}",
            c["id"]
        );
    }
    ensure!(
        markdown.contains("## RPC statistics")
            && markdown.contains("protocol cells: nfslab-io's user-space client"),
        "report.md has the protocol RPC section:\n{markdown}"
    );
    // The runner lays the read files out before the measured run on purpose: no note.
    ensure!(
        !markdown.contains("reused without layout"),
        "report.md notes the planned reuse of laid-out files:\n{markdown}"
    );
    let html = std::fs::read_to_string(run_dir.join("report.html")).map_err(|e| e.to_string())?;
    ensure!(
        html.contains("Not applicable without a mount"),
        "report.html"
    );
    let csv = std::fs::read_to_string(run_dir.join("summary.csv")).map_err(|e| e.to_string())?;
    let header: Vec<&str> = csv.lines().next().unwrap_or_default().split(',').collect();
    let access = header
        .iter()
        .position(|c| *c == "access")
        .ok_or_else(|| format!("summary.csv has no access column: {header:?}"))?;
    let protocol_rows = csv
        .lines()
        .skip(1)
        .filter(|row| row.split(',').nth(access) == Some("protocol"))
        .count();
    ensure!(protocol_rows == 8, "protocol rows in summary.csv:\n{csv}");

    // The reports are rendered from the files alone.
    std::fs::remove_file(run_dir.join("report.md")).map_err(|e| e.to_string())?;
    let again = nfslab(&["report", &run_dir.display().to_string()]);
    ensure!(
        again.status.success() && run_dir.join("report.md").is_file(),
        "nfslab report: {}",
        text(&again.stderr)
    );
    // What --keep-files kept goes through the server, as a user would remove it.
    clean_export(g)?;
    Ok(())
}

fn files_are_removed_without_keep_files(shared: &Shared) -> Outcome {
    let guard = lock(shared)?;
    let g = guard.as_ref().ok_or("no server")?;
    let s = setup()?;
    let results = s.dir.path().join("results");
    let out = nfslab(&[
        "bench",
        "--host",
        "--no-mount",
        "--plan",
        &s.plan.display().to_string(),
        "--workloads",
        "seq-write-1m,rand-read-4k",
        "--profiles",
        "v3-64k",
        "--clients",
        "2",
        "--server",
        &server_arg(g),
        "--engine",
        &s.engine.display().to_string(),
        "--results",
        &results.display().to_string(),
        "--run-id",
        "host-clean",
    ]);
    ensure!(
        out.status.code() == Some(0),
        "exit {:?}: {}\n{}",
        out.status.code(),
        text(&out.stderr),
        std::fs::read_to_string(results.join("host-clean/report.md")).unwrap_or_default()
    );
    ensure!(
        text(&out.stderr).contains("mount cells skipped: --no-mount was given"),
        "{}",
        text(&out.stderr)
    );
    let left = files_under(&g.export);
    ensure!(
        left.is_empty() && !g.export.join("nfslab-bench").exists(),
        "left in the export: {left:?}"
    );
    let summary = read_json(&results.join("host-clean/summary.json"))?;
    ensure!(
        summary["cells"].as_array().map(Vec::len) == Some(2),
        "two cells"
    );
    Ok(())
}

/// A read repetition whose file is truncated on the server while it is measured: the real
/// engine hits a short read (an IO error), so the repetition fails the run (exit 1), the
/// report names the cell and the error, and the repetition's files are removed all the same.
/// The stand-in engine only scripts *when* the fault happens (once the clients are released)
/// and then lets the real `nfslab-io` say what it saw.
fn a_client_io_error_fails_the_run_and_removes_its_files(shared: &Shared) -> Outcome {
    let guard = lock(shared)?;
    let g = guard.as_ref().ok_or("no server")?;
    let s = setup_with(
        "name: host-fault\nprofiles:\n  - name: v3-64k\n    options: [vers=3, rsize=65536]\n\
         workloads:\n  - name: seq-read\n    job: {pattern: read, bs: 64k, size: 16m}\n\
         runtime: 3s\nrepetitions: 1\nclients: 1\ncell_timeout: 2m\n",
    )?;
    let wrapper = s.dir.path().join("nfslab-io-fault");
    let body = format!(
        "#!/bin/sh\nbarrier=''\nprev=''\nfor a in \"$@\"; do\n  \
         [ \"$prev\" = --start-barrier ] && barrier=\"$a\"\n  prev=\"$a\"\ndone\n\
         [ -z \"$barrier\" ] && exec {real} \"$@\"\n\
         {real} \"$@\" &\npid=$!\n\
         while [ ! -e \"$barrier\" ]; do sleep 0.02; done\nsleep 0.5\n\
         find {export} -name 'nfslab.t0.f0' -exec truncate -s 0 {{}} \\;\n\
         wait $pid\n",
        real = s.engine.display(),
        export = g.export.display()
    );
    std::fs::write(&wrapper, body).map_err(|e| e.to_string())?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
    }
    let results = s.dir.path().join("results");
    let out = nfslab(&[
        "bench",
        "--host",
        "--no-mount",
        "--plan",
        &s.plan.display().to_string(),
        "--server",
        &server_arg(g),
        "--engine",
        &wrapper.display().to_string(),
        "--results",
        &results.display().to_string(),
        "--run-id",
        "host-fault",
    ]);
    let report = std::fs::read_to_string(results.join("host-fault/report.md")).unwrap_or_default();
    ensure!(
        out.status.code() == Some(1),
        "a failed repetition fails the run: exit {:?}\n{}\n{report}",
        out.status.code(),
        text(&out.stderr)
    );
    ensure!(
        text(&out.stderr).contains("1 repetition(s) failed"),
        "{}",
        text(&out.stderr)
    );
    let status = report
        .lines()
        .find(|l| l.starts_with("- status:"))
        .unwrap_or_default();
    ensure!(
        status.contains("1 repetition(s) failed in `ganesha/seq-read/v3-64k/k1/protocol`"),
        "the status names the failed cell: {status}\n{report}"
    );
    ensure!(
        report.contains("client 0 exited with code 3") && report.contains("short_read"),
        "the failure says what the client hit:\n{report}"
    );
    let left = files_under(&g.export);
    ensure!(
        left.is_empty() && !g.export.join("nfslab-bench").exists(),
        "the failed repetition's files are removed: {left:?}"
    );
    Ok(())
}

/// Processes whose command line mentions `needle` (other than this test).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if line.contains(needle) && !line.contains("host_bench") {
            out.push(line);
        }
    }
    out
}

fn ctrl_c_stops_cleanly(shared: &Shared) -> Outcome {
    let guard = lock(shared)?;
    let g = guard.as_ref().ok_or("no server")?;
    // Long enough to be measuring when the signal comes.
    let s = setup_with(&PLAN.replace("runtime: 1s", "runtime: 60s"))?;
    let results = s.dir.path().join("results");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nfslab"))
        .args([
            "bench",
            "--host",
            "--no-mount",
            "--plan",
            &s.plan.display().to_string(),
            "--workloads",
            "rand-read-4k",
            "--profiles",
            "v3-64k",
            "--clients",
            "2",
            "--server",
            &server_arg(g),
            "--engine",
            &s.engine.display().to_string(),
            "--results",
            &results.display().to_string(),
            "--run-id",
            "host-ctrl-c",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    // Wait until both clients wait for (then pass) the start barrier: they measure.
    let export = g.export.display().to_string();
    let started = Instant::now();
    while processes_mentioning(&export)
        .iter()
        .filter(|p| p.contains("--start-barrier"))
        .count()
        < 2
    {
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the clients never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).map_err(|e| e.to_string())?);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).map_err(|e| e.to_string())?;
    let stopped = Instant::now();
    let out = loop {
        if let Ok(Some(_)) = child.try_wait() {
            break child.wait_with_output().map_err(|e| e.to_string())?;
        }
        if stopped.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            return Err("nfslab did not stop within 20 s of Ctrl-C".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    ensure!(
        out.status.code() == Some(130),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    let stray = processes_mentioning(&export);
    ensure!(stray.is_empty(), "clients left running: {stray:?}");
    let left = files_under(&g.export);
    ensure!(left.is_empty(), "left in the export: {left:?}");
    let record = read_json(&results.join("host-ctrl-c/run.json"))?;
    ensure!(record["status"] == "interrupted", "{}", record["status"]);
    ensure!(
        results.join("host-ctrl-c/report.md").is_file(),
        "the report of what was measured"
    );
    let scratch = std::env::temp_dir().join("nfslab-host-host-ctrl-c");
    ensure!(!scratch.exists(), "{} is left", scratch.display());
    Ok(())
}

fn mount_cells_measure_efficiency(shared: &Shared) -> Outcome {
    let guard = lock(shared)?;
    let g = guard.as_ref().ok_or("no server")?;
    let s = setup()?;
    let results = s.dir.path().join("results");
    let out = nfslab(&[
        "bench",
        "--host",
        "--plan",
        &s.plan.display().to_string(),
        "--profiles",
        "v3-64k",
        "--clients",
        "1",
        "--server",
        &server_arg(g),
        "--engine",
        &s.engine.display().to_string(),
        "--results",
        &results.display().to_string(),
        "--run-id",
        "host-mount",
    ]);
    ensure!(
        out.status.code() == Some(0),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    let summary = read_json(&results.join("host-mount/summary.json"))?;
    let cells = summary["cells"].as_array().ok_or("no cells")?;
    let mounts: Vec<&Value> = cells.iter().filter(|c| c["access"] == "mount").collect();
    ensure!(mounts.len() == 2, "two mount cells: {}", cells.len());
    for c in mounts {
        ensure!(c["repetitions_ok"] == 1, "{}: {}", c["id"], c["failures"]);
        let ratio = c["mount_efficiency"]["ratio"].as_f64().unwrap_or(0.0);
        ensure!(ratio > 0.0, "{}: {}", c["id"], c["mount_efficiency"]);
        ensure!(c["options"]["fstype"] == "nfs", "{}", c["options"]);
    }
    let markdown =
        std::fs::read_to_string(results.join("host-mount/report.md")).map_err(|e| e.to_string())?;
    ensure!(markdown.contains("## Mount efficiency"), "{markdown}");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    ensure!(
        !mountinfo.contains("nfslab-mnt-host-mount"),
        "still mounted:\n{mountinfo}"
    );
    ensure!(
        files_under(&g.export).is_empty(),
        "files left in the export"
    );
    Ok(())
}

fn host_without_server_is_one_line(_: &Shared) -> Outcome {
    let out = nfslab(&["bench", "--host"]);
    let stderr = text(&out.stderr);
    ensure!(out.status.code() == Some(2), "exit {:?}", out.status.code());
    ensure!(
        stderr.trim().lines().count() == 1 && stderr.contains("--host needs the server"),
        "{stderr}"
    );
    Ok(())
}

fn unreachable_server_fails_within_the_timeout(_: &Shared) -> Outcome {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let results = dir.path().join("results");
    let started = Instant::now();
    // The engine is not started before the server answers: any file will do.
    let out = nfslab(&[
        "bench",
        "--host",
        "--no-mount",
        "--server",
        "192.0.2.1:/export",
        "--connect-timeout",
        "1s",
        "--engine",
        "/proc/self/exe",
        "--results",
        &results.display().to_string(),
    ]);
    let stderr = text(&out.stderr);
    ensure!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    ensure!(
        out.status.code() == Some(3),
        "exit {:?}: {stderr}",
        out.status.code()
    );
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    ensure!(
        errors.len() == 1 && errors[0].contains("cannot reach `192.0.2.1:/export` over NFSv3"),
        "{stderr}"
    );
    ensure!(
        !results.exists(),
        "nothing is written for an unreachable server"
    );
    Ok(())
}

fn main() {
    let mut args = Arguments::from_args();
    // One server for every test.
    args.test_threads = Some(1);
    let started = if args.list {
        Err("listing only".to_owned())
    } else {
        Ganesha::start()
    };
    let availability = started.as_ref().map(|_| ()).map_err(Clone::clone);
    let shared: Shared = Arc::new(Mutex::new(started.ok()));
    let mount_wanted = std::env::var("NFSLAB_HOST_MOUNT").is_ok_and(|v| v == "1");
    let tests: Vec<Test> = vec![
        (
            "host_without_server_is_one_line",
            host_without_server_is_one_line,
            false,
            None,
        ),
        (
            "unreachable_server_fails_within_the_timeout",
            unreachable_server_fails_within_the_timeout,
            false,
            None,
        ),
        (
            "protocol_cells_measure_and_report",
            protocol_cells_measure_and_report,
            true,
            None,
        ),
        (
            "files_are_removed_without_keep_files",
            files_are_removed_without_keep_files,
            true,
            None,
        ),
        ("ctrl_c_stops_cleanly", ctrl_c_stops_cleanly, true, None),
        (
            "a_client_io_error_fails_the_run_and_removes_its_files",
            a_client_io_error_fails_the_run_and_removes_its_files,
            true,
            None,
        ),
        (
            "mount_cells_measure_efficiency",
            mount_cells_measure_efficiency,
            true,
            (!mount_wanted).then_some("needs root + kernel NFS client; set NFSLAB_HOST_MOUNT=1"),
        ),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, test, needs_ganesha, skip)| {
            let shared = Arc::clone(&shared);
            if let Some(reason) = skip {
                return gate::trial("kernel-nfs", name, Some(reason.to_owned()), || Ok(()));
            }
            let missing = match (&availability, needs_ganesha) {
                (Err(reason), true) => Some(reason.clone()),
                _ => None,
            };
            gate::trial("ganesha", name, missing, move || test(&shared))
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    // Stop the server (and restore rpcbind) before exit, which skips destructors.
    if let Ok(mut server) = shared.lock() {
        drop(server.take());
    }
    conclusion.exit();
}
