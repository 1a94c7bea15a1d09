//! The human summary of a result, printed on stderr.
//!
//! Units are those of nfslab's reports, so a figure reads the same in both: bandwidth in
//! MB/s (10^6 bytes per second, fio's `MB/s`), latencies in ns, µs, ms or s; sizes of the
//! job in binary units as given (`bs=1m` is 1 MiB).

use std::fmt::Write as _;

use crate::result::{LatencySummary, RunResult, Status};
use crate::units::format_size;

/// Formats nanoseconds with a readable unit (`812ns`, `9.3µs`, `1.20ms`, `2.5s`).
#[must_use]
pub(crate) fn format_ns(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => format!("{:.1}µs", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.2}ms", ns as f64 / 1e6),
        _ => format!("{:.2}s", ns as f64 / 1e9),
    }
}

fn latency_line(l: &LatencySummary) -> String {
    format!(
        "p50 {} p90 {} p99 {} p99.9 {} max {} mean {}",
        format_ns(l.p50),
        format_ns(l.p90),
        format_ns(l.p99),
        format_ns(l.p99_9),
        format_ns(l.max),
        format_ns(l.mean.round() as u64)
    )
}

/// Bandwidth as the reports show it: MB/s, 10^6 bytes per second (`812 MB/s`, `3.4 MB/s`).
#[must_use]
pub(crate) fn format_bandwidth(bytes_per_sec: f64) -> String {
    let mb = bytes_per_sec / 1e6;
    if mb >= 100.0 {
        format!("{mb:.0} MB/s")
    } else if mb >= 10.0 {
        format!("{mb:.1} MB/s")
    } else {
        format!("{mb:.2} MB/s")
    }
}

/// A few lines describing the run for people.
#[must_use]
pub(crate) fn summary(r: &RunResult) -> String {
    let e = &r.effective;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "nfslab-io {}: {} bs={} size={} nrfiles={} threads={} {} on {} `{}`",
        r.tool.version,
        e.job.pattern,
        format_size(e.job.bs),
        format_size(e.job.size),
        e.job.nrfiles,
        e.job.threads,
        e.cache,
        r.backend.name,
        r.backend.target
    );
    if let Some(m) = &r.mount {
        let _ = writeln!(
            out,
            "  mount: {} on {} type {} ({})",
            m.mount.source,
            m.mount.mount_point,
            m.mount.fstype,
            m.mount.super_options.join(",")
        );
    }
    if let Some(n) = &r.nfs {
        out.push_str(&crate::result::nfs::summary_lines(n));
    }
    let t = &r.totals;
    let _ = writeln!(
        out,
        "  window {:.2}s: {}, {:.0} IOPS, {} ops in all{}",
        r.window.seconds,
        format_bandwidth(t.bandwidth_bytes_per_sec),
        t.iops,
        t.all_ops,
        if t.ramp_ops_excluded > 0 {
            format!(" ({} ramp ops excluded)", t.ramp_ops_excluded)
        } else {
            String::new()
        }
    );
    for (kind, s) in &r.ops {
        if s.ops == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "  {kind:<8} {:>10} ops  {}",
            s.ops,
            latency_line(&s.latency_ns)
        );
    }
    let _ = writeln!(
        out,
        "  cpu: user {:.2}s sys {:.2}s{}",
        r.cpu.user_seconds,
        r.cpu.sys_seconds,
        r.cpu
            .seconds_per_gib
            .map(|s| format!(" ({s:.3} s/GiB)"))
            .unwrap_or_default()
    );
    if let Some(v) = &r.verify {
        let _ = writeln!(
            out,
            "  verify: {} blocks checked, {} bad",
            v.blocks_checked, v.mismatches
        );
        for m in v.mismatch_list.iter().take(10) {
            let _ = writeln!(
                out,
                "    bad block: `{}` offset {} ({:?}; first bad byte at {})",
                m.file,
                m.offset,
                m.kind,
                m.bad_byte_offset.map_or("?".to_owned(), |o| o.to_string())
            );
        }
    }
    if let Some(io) = &r.io
        && io.mechanism != "sync"
    {
        let _ = writeln!(
            out,
            "  queue: {} (iodepth {}, at most {} in flight per thread)",
            io.mechanism, io.iodepth, io.max_in_flight
        );
    }
    if let Some(w) = &r.wire {
        let ratio = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{:.0}%", r * 100.0));
        let _ = writeln!(
            out,
            "  wire ({}): read {} of the job's bytes, wrote {}",
            w.source,
            ratio(w.read_ratio),
            ratio(w.write_ratio)
        );
        for f in &w.findings {
            let _ = writeln!(out, "  warning: {}", f.message);
        }
    }
    if !r.errors.is_empty() {
        let list: Vec<String> = r.errors.iter().map(|(k, v)| format!("{k} x{v}")).collect();
        let _ = writeln!(out, "  errors: {}", list.join(", "));
    }
    let status = match r.status {
        Status::Ok => "ok".to_owned(),
        Status::IoError => "io error".to_owned(),
        Status::VerifyFailed => "verification failed".to_owned(),
    };
    let _ = write!(out, "  status: {status}");
    if let Some(err) = &r.error {
        let _ = write!(out, " ({}: {})", err.phase, err.message);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_ns(812), "812ns");
        assert_eq!(format_ns(9_300), "9.3µs");
        assert_eq!(format_ns(1_200_000), "1.20ms");
        assert_eq!(format_ns(2_500_000_000), "2.50s");
    }

    #[test]
    fn bandwidth_is_in_the_reports_unit() {
        // 8 GiB/s is 8590 MB/s: the unit of nfslab's reports, never binary.
        assert_eq!(
            format_bandwidth(8.0 * 1024.0 * 1024.0 * 1024.0),
            "8590 MB/s"
        );
        assert_eq!(format_bandwidth(12_340_000.0), "12.3 MB/s");
        assert_eq!(format_bandwidth(1_500_000.0), "1.50 MB/s");
    }
}
