//! `summary.csv`: one row per cell, for spreadsheets and scripts.
//!
//! Columns: the cell (`id`, `server`, `workload`, `profile`, `clients`, `access`: `mount`
//! for client pods and host mounts, `protocol` for nfslab-io's user-space client, `pattern`,
//! `block_size`), repetitions, the medians and spreads of bandwidth (MB/s), IOPS and
//! operations/s, the headline CV and `unstable`, effective NFS version and transfer sizes,
//! the number of options not applied as requested, the job's `iodepth` and the `mechanism`
//! that kept it, CPU seconds per GiB, wire over job bytes (`wire_read_ratio`,
//! `wire_write_ratio`, `wire_findings`), the job `settings` in human units and the `command`
//! reproducing a client, then `p50`/`p99`/`p99.9` latency in microseconds and the range of
//! the repetitions' p99 (`_p99_min_us`, `_p99_max_us`) for every operation kind present in
//! the run (`read_p99_us`...).

use std::fmt::Write as _;

use crate::model::matrix::AccessPath;
use crate::model::summary::{Spread, Summary, name_of};

fn field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn num(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| format!("{v:.3}"))
}

fn stat(s: Option<Spread>, factor: f64, f: fn(&Spread) -> f64) -> String {
    num(s.map(|s| f(&s) * factor))
}

/// Renders the CSV text.
#[must_use]
pub fn render(summary: &Summary) -> String {
    let mut kinds: Vec<&str> = Vec::new();
    for c in &summary.cells {
        for k in c.latency.keys() {
            if !kinds.contains(&k.as_str()) {
                kinds.push(k);
            }
        }
    }
    kinds.sort_unstable();
    let mut header: Vec<String> = [
        "id",
        "server",
        "workload",
        "profile",
        "clients",
        "access",
        "pattern",
        "block_size",
        "repetitions_ok",
        "repetitions_planned",
        "headline",
        "bandwidth_mb_s_median",
        "bandwidth_mb_s_min",
        "bandwidth_mb_s_max",
        "iops_median",
        "iops_min",
        "iops_max",
        "ops_per_sec_median",
        "headline_cv",
        "unstable",
        "effective_vers",
        "effective_rsize",
        "effective_wsize",
        "options_not_as_requested",
        "iodepth",
        "mechanism",
        "cpu_s_per_gib",
        "wire_read_ratio",
        "wire_write_ratio",
        "wire_findings",
        "settings",
        "command",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for k in &kinds {
        for p in ["p50", "p99", "p99_9", "p99_min", "p99_max"] {
            header.push(format!("{k}_{p}_us"));
        }
    }
    let mut out = header.join(",");
    out.push('\n');
    for c in &summary.cells {
        let effective = |key: &str| {
            c.options
                .effective
                .as_ref()
                .and_then(|e| {
                    e.iter()
                        .find_map(|o| o.strip_prefix(&format!("{key}=")).map(str::to_owned))
                })
                .unwrap_or_default()
        };
        let headline = name_of(&c.headline);
        let mut row: Vec<String> = vec![
            field(&c.id),
            field(&c.server),
            field(&c.workload),
            field(&c.profile),
            c.clients.to_string(),
            c.access.unwrap_or(AccessPath::Mount).name().to_owned(),
            field(&c.pattern),
            c.block_size.to_string(),
            c.repetitions_ok.to_string(),
            c.repetitions_planned.to_string(),
            headline,
            stat(c.bandwidth_bytes_per_sec, 1e-6, |s| s.median),
            stat(c.bandwidth_bytes_per_sec, 1e-6, |s| s.min),
            stat(c.bandwidth_bytes_per_sec, 1e-6, |s| s.max),
            stat(c.iops, 1.0, |s| s.median),
            stat(c.iops, 1.0, |s| s.min),
            stat(c.iops, 1.0, |s| s.max),
            stat(c.ops_per_sec, 1.0, |s| s.median),
            num(c.headline_cv),
            c.unstable.to_string(),
            effective("vers"),
            effective("rsize"),
            effective("wsize"),
            c.options.flagged().len().to_string(),
            c.job
                .as_ref()
                .map_or_else(String::new, |j| j.iodepth.to_string()),
            field(c.mechanism.as_deref().unwrap_or_default()),
            num(c.cpu_seconds_per_gib),
            num(c.wire.as_ref().and_then(|w| w.read_ratio)),
            num(c.wire.as_ref().and_then(|w| w.write_ratio)),
            field(
                &c.wire
                    .as_ref()
                    .map(|w| {
                        w.findings
                            .iter()
                            .map(|f| f.message.clone())
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_default(),
            ),
            field(&crate::report::format::settings(c).unwrap_or_default()),
            field(c.command.as_deref().unwrap_or_default()),
        ];
        for k in &kinds {
            let op = c.latency.get(*k);
            let l = op.map(|l| l.latency_ns);
            row.push(num(l.map(|l| l.p50 as f64 / 1e3)));
            row.push(num(l.map(|l| l.p99 as f64 / 1e3)));
            row.push(num(l.map(|l| l.p99_9 as f64 / 1e3)));
            let spread = op.and_then(|o| o.p99_spread);
            row.push(num(spread.map(|s| s.min / 1e3)));
            row.push(num(spread.map(|s| s.max / 1e3)));
        }
        let _ = writeln!(out, "{}", row.join(","));
    }
    out
}
