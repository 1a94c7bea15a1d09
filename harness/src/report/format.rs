//! Number formatting shared by the Markdown, CSV and HTML reports, so every rendering shows
//! the same figure the same way.
//!
//! Bandwidth is shown in MB/s (10^6 bytes, the unit NAS vendors advertise), latency with an
//! adaptive unit (`850 ns`, `12.3 µs`, `4.56 ms`), counts with three significant digits at
//! most after the point.

use nfslab_workload::FindingKind;

use crate::model::matrix::AccessPath;
use crate::model::summary::{Best, CellSummary, Headline, MIN_REPETITIONS, Spread};
use crate::nfs::mount_options::DiffKind;

pub(crate) use crate::model::summary::number;

/// A latency in nanoseconds with an adaptive unit.
#[must_use]
pub(crate) fn latency(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{} µs", number(ns / 1e3))
    } else if ns < 1e9 {
        format!("{} ms", number(ns / 1e6))
    } else {
        format!("{} s", number(ns / 1e9))
    }
}

/// A coefficient of variation as a percentage (`4.2%`), `-` when absent.
#[must_use]
pub(crate) fn cv(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

/// A relative change as a signed percentage (`-20.3%`).
#[must_use]
pub(crate) fn change(ratio: f64) -> String {
    format!("{:+.1}%", ratio * 100.0)
}

/// The headline median of a cell in display units, `-` when nothing was measured.
#[must_use]
pub(crate) fn headline_median(cell: &CellSummary) -> String {
    cell.headline_display()
        .map_or_else(|| "-".to_owned(), |s| number(s.median))
}

/// `min–max` of a spread in display units.
#[must_use]
pub(crate) fn range(spread: Option<Spread>) -> String {
    spread.map_or_else(
        || "-".to_owned(),
        |s| format!("{}–{}", number(s.min), number(s.max)),
    )
}

/// Short label of a diff kind.
#[must_use]
pub(crate) fn diff_kind(kind: DiffKind) -> &'static str {
    match kind {
        DiffKind::Same => "kept",
        DiffKind::Changed => "changed",
        DiffKind::NotReported => "not reported",
        DiffKind::Default => "kernel default",
        DiffKind::Informational => "informational",
    }
}

/// Flags of a cell for tables: unstable, changed options, failures.
#[must_use]
pub(crate) fn flags(cell: &CellSummary) -> Vec<String> {
    let mut out = Vec::new();
    if cell.unstable {
        out.push(format!("unstable (CV {})", cv(cell.headline_cv)));
    }
    let changed = cell.options.flagged().len();
    if changed > 0 {
        out.push(format!(
            "{changed} option{} not as requested",
            if changed == 1 { "" } else { "s" }
        ));
    }
    if cell.repetitions_ok < cell.repetitions_planned {
        out.push(format!(
            "{}/{} repetitions",
            cell.repetitions_ok, cell.repetitions_planned
        ));
    }
    if !cell.options.consistent {
        out.push("clients disagree on options".to_owned());
    }
    if !cell.errors.is_empty() {
        out.push("IO errors".to_owned());
    }
    if let Some(w) = &cell.wire {
        for f in &w.findings {
            out.push(match f.kind {
                FindingKind::ReadsCached => {
                    format!("{} of reads never reached the server", percent(f.share))
                }
                FindingKind::WritesNotSent => {
                    format!(
                        "{} of writes not on the server at the end",
                        percent(f.share)
                    )
                }
                FindingKind::WritesUncommitted => "writes left uncommitted".to_owned(),
            });
        }
    }
    if cell.repetitions_ok > 0 && (cell.repetitions_ok as usize) < MIN_REPETITIONS {
        out.push(format!(
            "n={}: too few repetitions to judge the spread",
            cell.repetitions_ok
        ));
    }
    out
}

/// The precision behind "merged exactly": what the latency histograms keep.
#[must_use]
pub(crate) fn histogram_precision() -> String {
    let digits = nfslab_workload::SIGNIFICANT_DIGITS;
    format!(
        "HdrHistogram with {digits} significant digits (every latency kept within {}% of its \
         value, 1 ns to 1 hour)",
        100.0 / 10f64.powi(i32::from(digits))
    )
}

/// The "clear win" column: `yes (n=3)`, or `no: ` and why.
#[must_use]
pub(crate) fn clear_win(b: &Best) -> String {
    if b.clear {
        format!("yes (n={})", b.n)
    } else {
        format!(
            "no: {}",
            b.why_not_clear.as_deref().unwrap_or("spreads overlap")
        )
    }
}

/// The range of the per-repetition p99 of `op` (`120 µs–135 µs`), `-` without two
/// repetitions.
#[must_use]
pub(crate) fn p99_range(cell: &CellSummary, op: &str) -> String {
    cell.latency
        .get(op)
        .and_then(|l| l.p99_spread)
        .filter(|s| s.n > 1)
        .map_or_else(
            || "-".to_owned(),
            |s| format!("{}–{}", latency(s.min), latency(s.max)),
        )
}

/// CPU seconds per GiB moved (client side), `-` when unknown.
#[must_use]
pub(crate) fn cpu_per_gib(cell: &CellSummary) -> String {
    cell.cpu_seconds_per_gib
        .map_or_else(|| "-".to_owned(), number)
}

/// Wire over application bytes of a cell: `read 100%, write 31%`, `-` without figures.
#[must_use]
pub(crate) fn wire_ratios(cell: &CellSummary) -> String {
    let Some(w) = &cell.wire else {
        return "-".to_owned();
    };
    let mut parts = Vec::new();
    if let Some(r) = w.read_ratio {
        parts.push(format!("read {}", percent(r)));
    }
    if let Some(r) = w.write_ratio {
        parts.push(format!("write {}", percent(r)));
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(", ")
    }
}

/// What a cell ran, in human units, with the mechanism that kept requests in flight.
#[must_use]
pub(crate) fn settings(cell: &CellSummary) -> Option<String> {
    let job = cell.job.as_ref()?;
    let mut text = job.settings();
    if let Some(m) = cell.mechanism.as_deref().filter(|m| *m != "sync") {
        text.push_str(&format!(" ({m})"));
    }
    Some(text)
}

/// A cell's label inside one workload: the profile, plus the server and the clients when
/// the workload has several of them, and the access path of host runs (`(protocol)`).
#[must_use]
pub(crate) fn cell_label(cell: &CellSummary, many_servers: bool, many_clients: bool) -> String {
    let mut label = cell.profile.clone();
    if many_servers {
        label.push_str(" @ ");
        label.push_str(&cell.server);
    }
    if many_clients {
        label.push_str(&format!(" ×{}", cell.clients));
    }
    if let Some(access) = cell.access {
        label.push_str(&format!(" ({})", access.name()));
    }
    label
}

/// A server name with the access path of host runs: `nas`, `nas (protocol)`.
#[must_use]
pub(crate) fn server_label(server: &str, access: Option<AccessPath>) -> String {
    match access {
        Some(a) => format!("{server} ({})", a.name()),
        None => server.to_owned(),
    }
}

/// A ratio as a percentage with no decimals below 10% and above (`87%`, `4.2%`).
#[must_use]
pub(crate) fn percent(ratio: f64) -> String {
    let p = ratio * 100.0;
    if p.abs() >= 10.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A figure with its unit: `812 MB/s`, `12345 IOPS`, `530 ops/s`, from summary units
/// (bytes/s for bandwidth).
#[must_use]
pub(crate) fn headline_with_unit(headline: Headline, value: f64) -> String {
    match headline {
        Headline::Bandwidth => format!("{} MB/s", number(value * 1e-6)),
        Headline::Iops => format!("{} IOPS", number(value)),
        Headline::OpsPerSec => format!("{} ops/s", number(value)),
    }
}

/// A figure in a headline's display units (MB/s for bandwidth given in bytes/s).
#[must_use]
pub(crate) fn headline_value(headline: Headline, value: f64) -> String {
    match headline {
        Headline::Bandwidth => number(value * 1e-6),
        Headline::Iops | Headline::OpsPerSec => number(value),
    }
}

/// The profile options a protocol cell could not apply, with the reasons, on one line.
#[must_use]
pub(crate) fn not_applicable(cell: &CellSummary) -> Option<String> {
    let list = &cell.options.not_applicable;
    (!list.is_empty()).then(|| {
        list.iter()
            .map(|n| format!("{} ({})", n.option, n.reason))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// What the reports say of a cell's mount options in one phrase, and whether it is all
/// good: `as requested` only when every requested option took effect, a client reported
/// the mount, and the clients agree; otherwise what differs (`1 not as requested`, `1 not
/// applicable`, `not reported`, `clients differ`). The HTML and the Markdown both use it,
/// so they never disagree.
#[must_use]
pub fn options_verdict(cell: &CellSummary) -> (String, bool) {
    let mut parts = Vec::new();
    let flagged = cell.options.flagged().len();
    if flagged > 0 {
        parts.push(format!("{flagged} not as requested"));
    }
    let na = cell.options.not_applicable.len();
    if na > 0 {
        parts.push(format!("{na} not applicable"));
    }
    if cell.options.effective.is_none() {
        parts.push("not reported".to_owned());
    }
    if !cell.options.consistent {
        parts.push("clients differ".to_owned());
    }
    if parts.is_empty() {
        ("as requested".to_owned(), true)
    } else {
        (parts.join(", "), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_latencies() {
        assert_eq!(number(1234.4), "1234");
        assert_eq!(number(56.78), "56.8");
        assert_eq!(number(0.891), "0.89");
        assert_eq!(latency(850.0), "850 ns");
        assert_eq!(latency(12_345.0), "12.3 µs");
        assert_eq!(latency(4_560_000.0), "4.56 ms");
        assert_eq!(latency(2.5e9), "2.50 s");
        assert_eq!(cv(Some(0.0423)), "4.2%");
        assert_eq!(cv(None), "-");
        assert_eq!(change(-0.2034), "-20.3%");
        assert_eq!(change(0.05), "+5.0%");
        assert_eq!(percent(0.874), "87%");
        assert_eq!(percent(0.0423), "4.2%");
        assert_eq!(headline_value(Headline::Bandwidth, 2.5e8), "250");
        assert_eq!(headline_value(Headline::Iops, 12.345), "12.3");
        assert_eq!(server_label("nas", None), "nas");
        assert_eq!(
            server_label("nas", Some(AccessPath::Protocol)),
            "nas (protocol)"
        );
    }
}
