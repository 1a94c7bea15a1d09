//! Side-by-side benchmark: the same jobs with `nfslab-io` and with fio (`ioengine=psync`,
//! same bs, threads, file size, direct) on the same tmpfs directory; prints bandwidth,
//! IOPS, p50 and p99 for both and the ratios.
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
    let out = Command::new(env!("CARGO_BIN_EXE_nfslab-io"))
        .args(["run", "--compact", "--dir"])
        .arg(dir)
        .args(["--pattern", job.rw, "--bs", job.bs, "--size", job.size])
        .args(["--threads", &job.threads.to_string()])
        .args(["--runtime", &format!("{runtime}s"), "--ramp-time", "1s"])
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
    Some(Figures {
        bw: v["totals"]["bandwidth_bytes_per_sec"].as_f64()?,
        iops: v["totals"]["iops"].as_f64()?,
        p50: op["latency_ns"]["p50"].as_f64()?,
        p99: op["latency_ns"]["p99"].as_f64()?,
    })
}

fn run_fio(dir: &Path, job: &Job, runtime: u32) -> Option<Figures> {
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
        .args(["--time_based", "--ramp_time=1"])
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
    Some(Figures {
        bw: j["bw_bytes"].as_f64()?,
        iops: j["iops"].as_f64()?,
        p50: j["clat_ns"]["percentile"]["50.000000"].as_f64()?,
        p99: j["clat_ns"]["percentile"]["99.000000"].as_f64()?,
    })
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
        "{:<18} {:<9} {:>11} {:>11} {:>10} {:>10}",
        "job", "tool", "MiB/s", "IOPS", "p50 us", "p99 us"
    );
    for job in JOBS {
        let (mut fio_runs, mut our_runs) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let dir = fresh_dir(&root, job.name);
            fio_runs.extend(run_fio(&dir, job, runtime));
            let dir = fresh_dir(&root, job.name);
            our_runs.extend(run_nfslab(&dir, job, runtime));
            let _ = std::fs::remove_dir_all(&dir);
        }
        let (fio, ours) = (median_figures(&fio_runs), median_figures(&our_runs));
        let line = |tool: &str, f: &Figures| {
            println!(
                "{:<18} {:<9} {:>11.1} {:>11.0} {:>10.2} {:>10.2}",
                job.name,
                tool,
                f.bw / 1048576.0,
                f.iops,
                f.p50 / 1e3,
                f.p99 / 1e3
            );
        };
        match (fio, ours) {
            (Some(f), Some(o)) => {
                line("fio", &f);
                line("nfslab-io", &o);
                println!(
                    "{:<18} {:<9} {:>11.3} {:>11.3} {:>10.3} {:>10.3}",
                    job.name,
                    "ratio",
                    o.bw / f.bw,
                    o.iops / f.iops,
                    o.p50 / f.p50,
                    o.p99 / f.p99
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
    println!("ratio = nfslab-io / fio (throughput: >= 1 is the goal; latency: within 0.9-1.1)");
}
