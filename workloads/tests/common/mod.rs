//! Shared helpers of the integration tests: run the real `nfslab-io` binary, parse its
//! JSON, and on failure show the command, its output and the directory listing.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nfslab_workload::RunResult;

/// Path of the binary under test.
pub(crate) fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nfslab-io"))
}

/// One finished invocation.
pub(crate) struct Run {
    /// Arguments given.
    pub args: Vec<String>,
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Directory the run targeted, for diagnostics.
    pub dir: Option<PathBuf>,
}

impl Run {
    /// Everything needed to understand a failure.
    pub(crate) fn describe(&self) -> String {
        let listing = self.dir.as_ref().map(|d| listing(d)).unwrap_or_default();
        format!(
            "command: nfslab-io {}\nexit: {}\nstderr:\n{}\nstdout (first 2000 bytes):\n{}\ndir listing:\n{}",
            self.args.join(" "),
            self.code,
            self.stderr,
            &self.stdout[..self.stdout.len().min(2000)],
            listing
        )
    }

    /// The JSON result on stdout.
    pub(crate) fn result(&self) -> RunResult {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not a result document: {e}\n{}", self.describe()))
    }

    /// Asserts the exit code.
    pub(crate) fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n{}", self.describe());
        self
    }
}

/// Names in `dir`, dotfiles included.
pub(crate) fn listing(dir: &Path) -> String {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names.join("\n")
        }
        Err(e) => format!("(cannot list: {e})"),
    }
}

/// Entries of `dir`.
pub(crate) fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Runs `nfslab-io ARGS`.
pub(crate) fn io(args: &[&str]) -> Run {
    io_in(None, args)
}

/// Runs `nfslab-io run --dir DIR ARGS`.
pub(crate) fn run_in(dir: &Path, args: &[&str]) -> Run {
    let mut full = vec![
        "run",
        "--dir",
        dir.to_str().unwrap_or_default(),
        "--compact",
    ];
    full.extend_from_slice(args);
    io_in(Some(dir), &full)
}

fn io_in(dir: Option<&Path>, args: &[&str]) -> Run {
    let output: Output = Command::new(bin())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin().display()));
    Run {
        args: args.iter().map(|s| (*s).to_owned()).collect(),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        dir: dir.map(Path::to_path_buf),
    }
}

/// Relative difference of two figures.
pub(crate) fn rel_diff(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

/// Checks the internal consistency every result must have.
pub(crate) fn check_consistency(r: &RunResult, context: &str) {
    let t = &r.totals;
    let w = r.window.seconds;
    assert!(w > 0.0, "{context}: empty window");
    assert!(
        rel_diff(t.bandwidth_bytes_per_sec, t.data_bytes as f64 / w) < 1e-9,
        "{context}: bandwidth != bytes/window"
    );
    assert!(
        rel_diff(t.iops, t.data_ops as f64 / w) < 1e-9,
        "{context}: iops != ops/window"
    );
    if t.data_ops > 0 {
        let bs = r.effective.job.bs as f64;
        assert!(
            rel_diff(t.iops * bs, t.bandwidth_bytes_per_sec) < 1e-9,
            "{context}: iops*bs != bandwidth"
        );
    }
    let mut all = 0;
    for (kind, s) in &r.ops {
        let h = nfslab_workload::decode_histogram(&s.histogram).expect("histogram decodes");
        assert_eq!(
            h.len(),
            s.ops,
            "{context}: histogram count != ops for {kind}"
        );
        if s.ops > 0 {
            let l = &s.latency_ns;
            assert!(
                l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p99_9,
                "{context}: {kind} {l:?}"
            );
            assert!(
                l.p99_9 <= l.p99_99 && l.p99_99 <= l.max && l.min > 0,
                "{context}: {kind} {l:?}"
            );
        }
        all += s.ops;
    }
    assert_eq!(all, t.all_ops, "{context}: all_ops");
    let series_ops: u64 = r
        .series
        .iter()
        .map(|p| p.read_ops + p.write_ops + p.other_ops)
        .sum();
    assert_eq!(series_ops, t.all_ops, "{context}: series ops != ops");
    let series_bytes: u64 = r.series.iter().map(|p| p.read_bytes + p.write_bytes).sum();
    assert_eq!(
        series_bytes, t.data_bytes,
        "{context}: series bytes != bytes"
    );
}

/// Whether `NFSLAB_REQUIRE` (comma list) names `service`: then a missing service is a
/// failure, not a reason to skip.
pub(crate) fn required(service: &str) -> bool {
    std::env::var("NFSLAB_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .any(|s| s.trim() == service)
}

/// A libtest-mimic test body.
pub(crate) type Body = Box<dyn FnOnce() -> Result<(), libtest_mimic::Failed> + Send>;

/// Turns `tests` into trials gated on `availability` of `service`: run when available;
/// otherwise ignored with the reason printed once, or failed when the service is required.
pub(crate) fn gated_trials(
    service: &str,
    availability: Result<(), String>,
    tests: Vec<(&'static str, Body)>,
) -> Vec<libtest_mimic::Trial> {
    match availability {
        Ok(()) => tests
            .into_iter()
            .map(|(name, body)| libtest_mimic::Trial::test(name, body))
            .collect(),
        Err(reason) if required(service) => tests
            .into_iter()
            .map(|(name, _)| {
                let reason = reason.clone();
                let service = service.to_owned();
                libtest_mimic::Trial::test(name, move || {
                    Err(
                        format!("NFSLAB_REQUIRE names `{service}` but it is unavailable: {reason}")
                            .into(),
                    )
                })
            })
            .collect(),
        Err(reason) => {
            eprintln!(
                "ignoring {} test(s): {service} unavailable: {reason}",
                tests.len()
            );
            tests
                .into_iter()
                .map(|(name, _)| {
                    libtest_mimic::Trial::test(name, || Ok(())).with_ignored_flag(true)
                })
                .collect()
        }
    }
}

/// Fails a libtest-mimic test with a message unless `cond`.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+).into());
        }
    };
}
