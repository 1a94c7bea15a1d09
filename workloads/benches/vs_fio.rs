//! Side-by-side benchmark: the same jobs with `nfslab-io` and with fio (same bs, threads,
//! file size, direct, iodepth; fio's `psync` engine at depth 1, `libaio` deeper) on the same
//! filesystem; prints bandwidth, IOPS, p50, p99 and CPU time per operation (user + sys of
//! the tool's processes, from `RUSAGE_CHILDREN`) for both, and the ratios. Each tool lays
//! its files out once before its measured runs.
//!
//! Jobs run on tmpfs and on the disk: the queue-depth jobs need a real device (on tmpfs a
//! read completes inside the call, so depth means nothing); the disk directory is checked
//! with `statfs` and refused when it is a tmpfs. On the disk, one-thread jobs of both tools
//! use the same file (laid out by nfslab-io), since where a file lies on a virtual disk
//! changes its latency.
//!
//! `cargo bench -p nfslab-workload --bench vs_fio` (release build). Environment:
//! `NFSLAB_BENCH_DIR` (tmpfs jobs, default `/dev/shm/nfslab-bench`),
//! `NFSLAB_BENCH_DISK_DIR` (disk jobs, default `/var/tmp/nfslab-bench`),
//! `NFSLAB_BENCH_RUNTIME` seconds per job and tool (default 5), `NFSLAB_BENCH_REPS`
//! repetitions (default 3; the tools take turns going first and each figure is the median,
//! so a busy machine disturbs both alike), `NFSLAB_BENCH_JOBS` (comma list of job names to
//! run, default all), `NFSLAB_BENCH_BASELINE` (another `nfslab-io` binary, e.g. a build of
//! the previous release, measured as a third tool on nfslab-io's own files: "no slower than
//! before" side by side),
//! `NFSLAB_BENCH_FIO_ENGINES` (fio engines of the deeper jobs, default `libaio`; e.g.
//! `libaio,io_uring` adds a `fio:io_uring` line; ratios are to the first).
//! Without fio it says so and exits 0.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Tmpfs,
    Disk,
}

struct Job {
    name: &'static str,
    rw: &'static str,
    bs: &'static str,
    size: &'static str,
    threads: u32,
    direct: bool,
    iodepth: u32,
    place: Place,
}

const JOBS: &[Job] = &[
    Job {
        name: "seq-read-1m",
        rw: "read",
        bs: "1m",
        size: "512m",
        threads: 1,
        direct: true,
        iodepth: 1,
        place: Place::Tmpfs,
    },
    Job {
        name: "seq-write-1m",
        rw: "write",
        bs: "1m",
        size: "512m",
        threads: 1,
        direct: false,
        iodepth: 1,
        place: Place::Tmpfs,
    },
    Job {
        name: "rand-read-4k",
        rw: "randread",
        bs: "4k",
        size: "256m",
        threads: 1,
        direct: true,
        iodepth: 1,
        place: Place::Tmpfs,
    },
    Job {
        name: "rand-read-4k-2t",
        rw: "randread",
        bs: "4k",
        size: "256m",
        threads: 2,
        direct: true,
        iodepth: 1,
        place: Place::Tmpfs,
    },
    Job {
        name: "rand-write-4k",
        rw: "randwrite",
        bs: "4k",
        size: "256m",
        threads: 1,
        direct: false,
        iodepth: 1,
        place: Place::Tmpfs,
    },
    Job {
        name: "rand-read-4k-buf",
        rw: "randread",
        bs: "4k",
        size: "256m",
        threads: 1,
        direct: false,
        iodepth: 1,
        place: Place::Tmpfs,
    },
    Job {
        name: "rand-read-4k-qd1-disk",
        rw: "randread",
        bs: "4k",
        size: "1g",
        threads: 1,
        direct: true,
        iodepth: 1,
        place: Place::Disk,
    },
    Job {
        name: "rand-read-4k-qd32-disk",
        rw: "randread",
        bs: "4k",
        size: "1g",
        threads: 1,
        direct: true,
        iodepth: 32,
        place: Place::Disk,
    },
    Job {
        name: "rand-write-4k-qd32-disk",
        rw: "randwrite",
        bs: "4k",
        size: "1g",
        threads: 1,
        direct: true,
        iodepth: 32,
        place: Place::Disk,
    },
];

#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    bw: f64,
    iops: f64,
    p50: f64,
    p99: f64,
    /// CPU seconds (user + sys) of the tool's processes per operation, in microseconds.
    cpu_us_per_op: f64,
}

/// User + sys CPU seconds of reaped children so far.
fn children_cpu() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0.0, |u| {
        let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        s(u.user_time()) + s(u.system_time())
    })
}

fn fresh_dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    dir
}

fn run_nfslab(bin: &Path, dir: &Path, job: &Job, runtime: u32) -> Option<Figures> {
    let cpu_before = children_cpu();
    let out = Command::new(bin)
        .args(["run", "--compact", "--dir"])
        .arg(dir)
        .args(["--pattern", job.rw, "--bs", job.bs, "--size", job.size])
        .args(["--threads", &job.threads.to_string()])
        .args(if job.iodepth > 1 {
            vec!["--iodepth".to_owned(), job.iodepth.to_string()]
        } else {
            Vec::new()
        })
        .args(["--runtime", &format!("{runtime}s"), "--keep"])
        .args(["--direct", if job.direct { "required" } else { "off" }])
        .args(if job.rw.contains("write") {
            &["--fsync", "none"][..]
        } else {
            &[][..]
        })
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("nfslab-io failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    let kind = if job.rw.contains("read") {
        "read"
    } else {
        "write"
    };
    let op = &v["ops"][kind];
    let ops = v["totals"]["data_ops"].as_f64()?;
    Some(Figures {
        cpu_us_per_op: (children_cpu() - cpu_before) / ops * 1e6,
        bw: v["totals"]["bandwidth_bytes_per_sec"].as_f64()?,
        iops: v["totals"]["iops"].as_f64()?,
        p50: op["latency_ns"]["p50"].as_f64()?,
        p99: op["latency_ns"]["p99"].as_f64()?,
    })
}

/// `--directory=DIR` (fio's own files), or `--filename=FILE` (a file nfslab-io laid out).
fn run_fio(target: &str, job: &Job, runtime: u32, engine: &str) -> Option<Figures> {
    let cpu_before = children_cpu();
    let out = Command::new("fio")
        .args(["--name=bench", "--group_reporting", "--output-format=json"])
        .arg(format!("--ioengine={engine}"))
        .arg(format!("--iodepth={}", job.iodepth))
        .arg(target)
        .arg(format!("--rw={}", job.rw))
        .arg(format!("--bs={}", job.bs))
        .arg(format!("--size={}", job.size))
        .arg(format!("--numjobs={}", job.threads))
        .arg(format!("--direct={}", u8::from(job.direct)))
        .arg(format!("--runtime={runtime}"))
        .arg("--time_based")
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("fio failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    let kind = if job.rw.contains("read") {
        "read"
    } else {
        "write"
    };
    let j = &v["jobs"][0][kind];
    let ops = j["total_ios"].as_f64()?;
    Some(Figures {
        cpu_us_per_op: (children_cpu() - cpu_before) / ops * 1e6,
        bw: j["bw_bytes"].as_f64()?,
        iops: j["iops"].as_f64()?,
        p50: j["clat_ns"]["percentile"]["50.000000"].as_f64()?,
        p99: j["clat_ns"]["percentile"]["99.000000"].as_f64()?,
    })
}

fn lay_out(fio_dir: &Path, ours: &[(PathBuf, PathBuf)], job: &Job) {
    let _ = Command::new("fio")
        .args(["--name=bench", "--create_only=1", "--output-format=json"])
        .arg(format!("--directory={}", fio_dir.display()))
        .arg(format!("--rw={}", job.rw))
        .arg(format!("--bs={}", job.bs))
        .arg(format!("--size={}", job.size))
        .arg(format!("--numjobs={}", job.threads))
        .output();
    let pattern = if job.rw.contains("rand") {
        "randread"
    } else {
        "read"
    };
    for (bin, dir) in ours {
        let _ = Command::new(bin)
            .args(["run", "--layout-only", "--compact", "--dir"])
            .arg(dir)
            .args(["--pattern", pattern, "--bs", job.bs, "--size", job.size])
            .args(["--threads", &job.threads.to_string()])
            .output();
    }
}

/// Whether `dir` is on a tmpfs (`statfs` magic), where queue depth means nothing.
fn on_tmpfs(dir: &Path) -> bool {
    nix::sys::statfs::statfs(dir)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn median_figures(runs: &[Figures]) -> Option<Figures> {
    if runs.is_empty() {
        return None;
    }
    Some(Figures {
        bw: median(runs.iter().map(|f| f.bw).collect()),
        iops: median(runs.iter().map(|f| f.iops).collect()),
        p50: median(runs.iter().map(|f| f.p50).collect()),
        p99: median(runs.iter().map(|f| f.p99).collect()),
        cpu_us_per_op: median(runs.iter().map(|f| f.cpu_us_per_op).collect()),
    })
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: only run for
    // real under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("vs_fio: run with `cargo bench --bench vs_fio`");
        return;
    }
    if Command::new("fio").arg("--version").output().is_err() {
        println!("vs_fio: fio is not installed; nothing to compare");
        return;
    }
    let root = PathBuf::from(
        std::env::var("NFSLAB_BENCH_DIR").unwrap_or_else(|_| "/dev/shm/nfslab-bench".into()),
    );
    let disk_root = PathBuf::from(
        std::env::var("NFSLAB_BENCH_DISK_DIR").unwrap_or_else(|_| "/var/tmp/nfslab-bench".into()),
    );
    let runtime: u32 = std::env::var("NFSLAB_BENCH_RUNTIME")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let reps: u32 = std::env::var("NFSLAB_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let deep_engines: Vec<String> = std::env::var("NFSLAB_BENCH_FIO_ENGINES")
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_else(|_| vec!["libaio".to_owned()]);
    let only: Option<Vec<String>> = std::env::var("NFSLAB_BENCH_JOBS")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());
    let mut tools: Vec<(&str, PathBuf)> =
        vec![("nfslab-io", PathBuf::from(env!("CARGO_BIN_EXE_nfslab-io")))];
    if let Ok(baseline) = std::env::var("NFSLAB_BENCH_BASELINE") {
        tools.push(("baseline", PathBuf::from(baseline)));
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "runtime {runtime}s x {reps} repetitions per tool, medians, the tools taking turns going first; load average at start: {}",
        load.trim()
    );
    println!(
        "{:<24} {:<9} {:>11} {:>11} {:>10} {:>10} {:>12}",
        "job", "tool", "MiB/s", "IOPS", "p50 us", "p99 us", "cpu us/op"
    );
    for job in JOBS {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == job.name))
        {
            continue;
        }
        let base = match job.place {
            Place::Tmpfs => &root,
            Place::Disk => &disk_root,
        };
        // Each tool lays its files out once, before and outside the measured runs.
        let fio_dir = fresh_dir(base, &format!("{}-fio", job.name));
        if job.place == Place::Disk && on_tmpfs(&fio_dir) {
            println!(
                "{:<24} skipped: `{}` is a tmpfs (hint: NFSLAB_BENCH_DISK_DIR on a disk)",
                job.name,
                disk_root.display()
            );
            let _ = std::fs::remove_dir_all(&fio_dir);
            continue;
        }
        // The baseline (an older nfslab-io) reads and writes nfslab-io's own files: where a
        // file's pages lie changes its speed by more than the difference being measured
        // (on tmpfs, two copies of one job laid out alike differed by up to 20 %), and both
        // binaries use the same names and layout.
        let own_dir = fresh_dir(base, &format!("{}-nfslab-io", job.name));
        let ours: Vec<(PathBuf, PathBuf)> = tools
            .iter()
            .map(|(_, bin)| (bin.clone(), own_dir.clone()))
            .collect();
        lay_out(&fio_dir, &ours[..1], job);
        // On the disk, one-thread jobs of fio read and write nfslab-io's own file: where a
        // file lies on a virtual disk (and how much of it the host caches) changes its
        // latency, so both tools use the same blocks.
        let fio_target = match (job.place, job.threads, ours.first()) {
            (Place::Disk, 1, Some((_, dir))) => {
                format!("--filename={}", dir.join("nfslab.t0.f0").display())
            }
            _ => format!("--directory={}", fio_dir.display()),
        };
        let engines: Vec<&str> = if job.iodepth > 1 {
            deep_engines.iter().map(String::as_str).collect()
        } else {
            vec!["psync"]
        };
        let mut fio_runs: Vec<Vec<Figures>> = vec![Vec::new(); engines.len()];
        let mut our_runs: Vec<Vec<Figures>> = vec![Vec::new(); ours.len()];
        // Every tool (each fio engine, nfslab-io, the baseline) in a ring; each repetition
        // starts one further along it, so who goes first (and who runs on a machine getting
        // busier, or a device warming up) turns with the repetitions.
        let turns = engines.len() + ours.len();
        for rep in 0..reps as usize {
            for k in 0..turns {
                let t = (rep + k) % turns;
                if t < engines.len() {
                    fio_runs[t].extend(run_fio(&fio_target, job, runtime, engines[t]));
                } else {
                    let (bin, dir) = &ours[t - engines.len()];
                    our_runs[t - engines.len()].extend(run_nfslab(bin, dir, job, runtime));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&fio_dir);
        let _ = std::fs::remove_dir_all(&own_dir);
        let line = |tool: &str, f: &Figures| {
            println!(
                "{:<24} {:<9} {:>11.1} {:>11.0} {:>10.2} {:>10.2} {:>12.3}",
                job.name,
                tool,
                f.bw / 1048576.0,
                f.iops,
                f.p50 / 1e3,
                f.p99 / 1e3,
                f.cpu_us_per_op
            );
        };
        let Some(fio) = median_figures(&fio_runs[0]) else {
            println!("{:<24} incomplete: fio failed", job.name);
            continue;
        };
        line("fio", &fio);
        for (engine, runs) in engines.iter().zip(&fio_runs).skip(1) {
            if let Some(f) = median_figures(runs) {
                line(&format!("fio:{engine}"), &f);
            }
        }
        for ((name, _), runs) in tools.iter().zip(&our_runs) {
            let Some(o) = median_figures(runs) else {
                println!("{:<24} incomplete: {name} failed", job.name);
                continue;
            };
            line(name, &o);
            println!(
                "{:<24} {:<9} {:>11.3} {:>11.3} {:>10.3} {:>10.3} {:>12.3}",
                job.name,
                "ratio",
                o.bw / fio.bw,
                o.iops / fio.iops,
                o.p50 / fio.p50,
                o.p99 / fio.p99,
                o.cpu_us_per_op / fio.cpu_us_per_op
            );
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&disk_root);
    println!(
        "ratio = tool / fio (throughput: >= 1 is the goal; latency: within 0.9-1.1; cpu per op: <= 1); fio uses psync at depth 1 and the first of NFSLAB_BENCH_FIO_ENGINES (libaio) deeper"
    );
    println!(
        "note: fio runs each job in its own session (its own scheduler autogroup); on a busy machine that buys it CPU that nfslab-io's threads, sharing one process, do not get: compare cpu us/op there"
    );
}
