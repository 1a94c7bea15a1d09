//! Side-by-side benchmark: the same jobs with `nfslab-io` and with fio (`ioengine=psync`,
//! same bs, threads, file size, direct) on the same tmpfs; prints bandwidth, IOPS, p50, p99
//! and CPU time per operation (user + sys of the tool's processes, from `RUSAGE_CHILDREN`)
//! for both, and the ratios. Each tool lays its files out once before its measured runs.
//!
//! `cargo bench -p nfslab-workload --bench vs_fio` (release build). Environment:
//! `NFSLAB_BENCH_DIR` (default `/dev/shm/nfslab-bench`), `NFSLAB_BENCH_RUNTIME` seconds
//! per job and tool (default 5), `NFSLAB_BENCH_REPS` repetitions (default 3; the tools
//! alternate and each figure is the median, so a busy machine disturbs both alike).
//! Without fio it says so and exits 0.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

struct Job {
    name: &'static str,
    rw: &'static str,
    bs: &'static str,
    size: &'static str,
    threads: u32,
    direct: bool,
}

const JOBS: &[Job] = &[
    Job {
        name: "seq-read-1m",
        rw: "read",
        bs: "1m",
        size: "512m",
        threads: 1,
        direct: true,
    },
    Job {
        name: "seq-write-1m",
        rw: "write",
        bs: "1m",
        size: "512m",
        threads: 1,
        direct: false,
    },
    Job {
        name: "rand-read-4k",
        rw: "randread",
        bs: "4k",
        size: "256m",
        threads: 1,
        direct: true,
    },
    Job {
        name: "rand-read-4k-2t",
        rw: "randread",
        bs: "4k",
        size: "256m",
        threads: 2,
        direct: true,
    },
    Job {
        name: "rand-write-4k",
        rw: "randwrite",
        bs: "4k",
        size: "256m",
        threads: 1,
        direct: false,
    },
    Job {
        name: "rand-read-4k-buf",
        rw: "randread",
        bs: "4k",
        size: "256m",
        threads: 1,
        direct: false,
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

fn run_nfslab(dir: &Path, job: &Job, runtime: u32) -> Option<Figures> {
    let cpu_before = children_cpu();
    let out = Command::new(env!("CARGO_BIN_EXE_nfslab-io"))
        .args(["run", "--compact", "--dir"])
        .arg(dir)
        .args(["--pattern", job.rw, "--bs", job.bs, "--size", job.size])
        .args(["--threads", &job.threads.to_string()])
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

fn run_fio(dir: &Path, job: &Job, runtime: u32) -> Option<Figures> {
    let cpu_before = children_cpu();
    let out = Command::new("fio")
        .args([
            "--name=bench",
            "--ioengine=psync",
            "--group_reporting",
            "--output-format=json",
        ])
        .arg(format!("--directory={}", dir.display()))
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

fn lay_out(fio_dir: &Path, our_dir: &Path, job: &Job) {
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
    let _ = Command::new(env!("CARGO_BIN_EXE_nfslab-io"))
        .args(["run", "--layout-only", "--compact", "--dir"])
        .arg(our_dir)
        .args(["--pattern", pattern, "--bs", job.bs, "--size", job.size])
        .args(["--threads", &job.threads.to_string()])
        .output();
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
    let runtime: u32 = std::env::var("NFSLAB_BENCH_RUNTIME")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let reps: u32 = std::env::var("NFSLAB_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "runtime {runtime}s x {reps} repetitions per tool, medians; load average at start: {}",
        load.trim()
    );
    println!(
        "{:<18} {:<9} {:>11} {:>11} {:>10} {:>10} {:>12}",
        "job", "tool", "MiB/s", "IOPS", "p50 us", "p99 us", "cpu us/op"
    );
    for job in JOBS {
        let (mut fio_runs, mut our_runs) = (Vec::new(), Vec::new());
        // Each tool lays its files out once, before and outside the measured runs.
        let fio_dir = fresh_dir(&root, &format!("{}-fio", job.name));
        let our_dir = fresh_dir(&root, &format!("{}-nfslab", job.name));
        lay_out(&fio_dir, &our_dir, job);
        for _ in 0..reps {
            fio_runs.extend(run_fio(&fio_dir, job, runtime));
            our_runs.extend(run_nfslab(&our_dir, job, runtime));
        }
        let _ = std::fs::remove_dir_all(&fio_dir);
        let _ = std::fs::remove_dir_all(&our_dir);
        let (fio, ours) = (median_figures(&fio_runs), median_figures(&our_runs));
        let line = |tool: &str, f: &Figures| {
            println!(
                "{:<18} {:<9} {:>11.1} {:>11.0} {:>10.2} {:>10.2} {:>12.3}",
                job.name,
                tool,
                f.bw / 1048576.0,
                f.iops,
                f.p50 / 1e3,
                f.p99 / 1e3,
                f.cpu_us_per_op
            );
        };
        match (fio, ours) {
            (Some(f), Some(o)) => {
                line("fio", &f);
                line("nfslab-io", &o);
                println!(
                    "{:<18} {:<9} {:>11.3} {:>11.3} {:>10.3} {:>10.3} {:>12.3}",
                    job.name,
                    "ratio",
                    o.bw / f.bw,
                    o.iops / f.iops,
                    o.p50 / f.p50,
                    o.p99 / f.p99,
                    o.cpu_us_per_op / f.cpu_us_per_op
                );
            }
            (f, o) => println!(
                "{:<18} incomplete: fio {:?}, nfslab-io {:?}",
                job.name,
                f.is_some(),
                o.is_some()
            ),
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    println!(
        "ratio = nfslab-io / fio (throughput: >= 1 is the goal; latency: within 0.9-1.1; cpu per op: <= 1)"
    );
    println!(
        "note: fio runs each job in its own session (its own scheduler autogroup); on a busy machine that buys it CPU that nfslab-io's threads, sharing one process, do not get: compare cpu us/op there"
    );
}
