//! Shared helpers of the integration tests: run the real `nfslab-io` binary (a
//! [`Run`] of the test-support crate, whose failure dump shows the command, its output and
//! the directory listing), parse its JSON, and check what a result and the files it wrote
//! must hold.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use nfslab_test_support::run::Run;
use nfslab_workload::{BlockId, RunResult, fill_block};

/// Path of the binary under test.
pub(crate) fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nfslab-io"))
}

/// The result document a run printed.
pub(crate) trait ResultDocument {
    /// The JSON result on stdout.
    fn result(&self) -> RunResult;
}

impl ResultDocument for Run {
    fn result(&self) -> RunResult {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not a result document: {e}\n{}", self.describe()))
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
    Run::of(Command::new(bin()).args(args))
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
    io(&full).in_dir(dir)
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

/// Checks that `file` holds, block by block, the verification pattern of `file_id` at
/// `generation` for `seed`.
pub(crate) fn check_pattern(
    file: &Path,
    bs: u64,
    seed: u64,
    file_id: u64,
    generation: u64,
) -> Result<u64, String> {
    let data = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    if !(data.len() as u64).is_multiple_of(bs) {
        return Err(format!(
            "{} has {} bytes, not whole blocks of {bs}",
            file.display(),
            data.len()
        ));
    }
    let mut expected = vec![0u8; bs as usize];
    for (block, got) in data.chunks(bs as usize).enumerate() {
        let id = BlockId {
            file_id,
            block: block as u64,
            offset: block as u64 * bs,
            generation,
        };
        fill_block(&mut expected, seed, id);
        if got != expected.as_slice() {
            let at = got
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            return Err(format!(
                "{} block {block} differs from generation {generation} at byte {}",
                file.display(),
                block as u64 * bs + at as u64
            ));
        }
    }
    Ok(data.len() as u64 / bs)
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
