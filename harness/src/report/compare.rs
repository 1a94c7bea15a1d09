//! `nfslab compare OLD NEW`: two runs side by side, cell by cell (matched by their stable
//! ids), with regressions beyond a threshold for nightly CI.
//!
//! Compared per cell: median bandwidth, median IOPS, median operations/s (metadata
//! workloads), and the merged p99 latency of every operation kind with at least
//! [`MIN_LATENCY_OPS`] operations in both runs (fewer samples make p99 meaningless).
//!
//! A regression (or an improvement) needs three things: the median moved by more than the
//! threshold, both runs have at least [`MIN_REPETITIONS`] repetitions, and the ranges of the
//! repetitions (min–max; for p99 the per-repetition p99s) do not overlap. A move beyond the
//! threshold with overlapping ranges is noise; with fewer repetitions it is inconclusive.
//! Neither fails the comparison, so two runs of the same build do not report regressions.
//!
//! Cells whose jobs differ (block size, file size, threads, depth, runtime...) measure
//! different things: they are not compared and are listed first, with the differences.
//! Cells present in only one run are listed, as are cells without measurements in one of
//! them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::results::{ResultsError, read_versioned};
use crate::model::summary::{
    CellSummary, Headline, MIN_REPETITIONS, SUMMARY_FILE, SUMMARY_SCHEMA_VERSION, Spread, Summary,
};
use crate::report::charts::{self, Change, ChartError};
use crate::report::format::{change, number};
use crate::report::html::{STYLE, escape};

/// Threshold when none is given: 10%.
pub const DEFAULT_THRESHOLD: f64 = 0.10;
/// Operations a kind needs in both runs for its p99 to be compared.
pub const MIN_LATENCY_OPS: u64 = 100;

/// How a figure moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Worse by more than the threshold.
    Regression,
    /// Better by more than the threshold.
    Improvement,
    /// Within the threshold.
    Within,
    /// Beyond the threshold, but the repetitions' ranges overlap.
    Noise,
    /// Beyond the threshold, with fewer than [`MIN_REPETITIONS`] repetitions in a run.
    TooFew,
}

/// One figure of one cell in both runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareRow {
    /// Cell id.
    pub cell: String,
    /// Figure (`bandwidth (MB/s)`, `IOPS`, `operations/s`, `read p99 (µs)`).
    pub metric: String,
    /// Whether higher is better.
    pub higher_is_better: bool,
    /// Old value (display units).
    pub old: f64,
    /// New value (display units).
    pub new: f64,
    /// `new / old - 1`.
    pub change: f64,
    /// The verdict.
    pub verdict: Verdict,
    /// Whether either run marked the cell unstable.
    pub unstable: bool,
    /// Old repetitions' range (min, max), display units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_range: Option<(f64, f64)>,
    /// New repetitions' range (min, max), display units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_range: Option<(f64, f64)>,
    /// Repetitions behind the old figure.
    #[serde(default)]
    pub old_n: usize,
    /// Repetitions behind the new figure.
    #[serde(default)]
    pub new_n: usize,
}

/// A cell whose job differs between the runs: not compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMismatch {
    /// Cell id.
    pub cell: String,
    /// `field: old → new`, one per differing field.
    pub differences: Vec<String>,
}

/// Two runs compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Relative threshold (0.10 = 10%).
    pub threshold: f64,
    /// Old run id.
    pub old_run: String,
    /// New run id.
    pub new_run: String,
    /// Figures of cells in both runs.
    pub rows: Vec<CompareRow>,
    /// Cells only in the old run.
    pub only_old: Vec<String>,
    /// Cells only in the new run.
    pub only_new: Vec<String>,
    /// Cells in both runs without measurements in one of them (`id (old|new)`).
    pub unmeasured: Vec<String>,
    /// Cells whose jobs differ: not compared.
    #[serde(default)]
    pub mismatched: Vec<JobMismatch>,
    /// Cells compared without a job check (a run older than recorded jobs).
    #[serde(default)]
    pub unchecked: Vec<String>,
}

impl Comparison {
    /// Rows that regressed.
    #[must_use]
    pub fn regressions(&self) -> Vec<&CompareRow> {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Regression)
            .collect()
    }

    /// Rows with a verdict.
    #[must_use]
    pub fn with(&self, verdict: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == verdict).count()
    }
}

/// The fields in which two jobs differ, `field: old → new` (the seed only picks offsets and
/// data, so it is not a difference).
#[must_use]
pub fn job_differences(
    old: &nfslab_workload::ResolvedJob,
    new: &nfslab_workload::ResolvedJob,
) -> Vec<String> {
    let fields = |job| match serde_json::to_value(job) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (a, b) = (fields(old), fields(new));
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => "-".to_owned(),
        Some(other) => other.to_string(),
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| *k != "seed" && *k != "blocks_per_file" && a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: {} → {}", text(a.get(k)), text(b.get(k))))
        .collect()
}

fn range_of(s: Option<&Spread>, factor: f64) -> (Option<(f64, f64)>, usize) {
    s.map_or((None, 0), |s| (Some((s.min * factor, s.max * factor)), s.n))
}

fn measured(c: &CellSummary) -> bool {
    c.repetitions_ok > 0
}

/// Compares two summaries with a relative threshold.
#[must_use]
pub fn compare(old: &Summary, new: &Summary, threshold: f64) -> Comparison {
    let mut rows = Vec::new();
    let mut only_old = Vec::new();
    let mut unmeasured = Vec::new();
    let mut mismatched = Vec::new();
    let mut unchecked = Vec::new();
    for o in &old.cells {
        let Some(n) = new.cell(&o.id) else {
            only_old.push(o.id.clone());
            continue;
        };
        match (measured(o), measured(n)) {
            (true, true) => {}
            (false, _) => {
                unmeasured.push(format!("{} (old)", o.id));
                continue;
            }
            (true, false) => {
                unmeasured.push(format!("{} (new)", o.id));
                continue;
            }
        }
        match (&o.job, &n.job) {
            (Some(a), Some(b)) => {
                let differences = job_differences(a, b);
                if !differences.is_empty() {
                    mismatched.push(JobMismatch {
                        cell: o.id.clone(),
                        differences,
                    });
                    continue;
                }
            }
            _ => unchecked.push(o.id.clone()),
        }
        let unstable = o.unstable || n.unstable;
        let mut push =
            |metric: String,
             higher: bool,
             (a, a_range, a_n): (f64, Option<(f64, f64)>, usize),
             (b, b_range, b_n): (f64, Option<(f64, f64)>, usize)| {
                if a <= 0.0 {
                    return;
                }
                let ratio = b / a - 1.0;
                let worse = if higher { -ratio } else { ratio };
                let overlap = match (a_range, b_range) {
                    (Some(x), Some(y)) => x.0 <= y.1 && y.0 <= x.1,
                    _ => true,
                };
                let verdict = if worse.abs() <= threshold {
                    Verdict::Within
                } else if a_n < MIN_REPETITIONS || b_n < MIN_REPETITIONS {
                    Verdict::TooFew
                } else if overlap {
                    Verdict::Noise
                } else if worse > 0.0 {
                    Verdict::Regression
                } else {
                    Verdict::Improvement
                };
                rows.push(CompareRow {
                    cell: o.id.clone(),
                    metric,
                    higher_is_better: higher,
                    old: a,
                    new: b,
                    change: ratio,
                    verdict,
                    unstable,
                    old_range: a_range,
                    new_range: b_range,
                    old_n: a_n,
                    new_n: b_n,
                });
            };
        let figure = |s: &Spread, factor: f64| {
            let (range, n) = range_of(Some(s), factor);
            (s.median * factor, range, n)
        };
        if let (Some(a), Some(b)) = (&o.bandwidth_bytes_per_sec, &n.bandwidth_bytes_per_sec) {
            push(
                "bandwidth (MB/s)".to_owned(),
                true,
                figure(a, 1e-6),
                figure(b, 1e-6),
            );
        }
        if let (Some(a), Some(b)) = (&o.iops, &n.iops) {
            push("IOPS".to_owned(), true, figure(a, 1.0), figure(b, 1.0));
        }
        if o.headline == Headline::OpsPerSec
            && let (Some(a), Some(b)) = (&o.ops_per_sec, &n.ops_per_sec)
        {
            push(
                "operations/s".to_owned(),
                true,
                figure(a, 1.0),
                figure(b, 1.0),
            );
        }
        for (kind, a) in &o.latency {
            let Some(b) = n.latency.get(kind) else {
                continue;
            };
            if a.ops < MIN_LATENCY_OPS || b.ops < MIN_LATENCY_OPS {
                continue;
            }
            let p99 = |l: &crate::model::summary::OpLatency| {
                let (range, n) = range_of(l.p99_spread.as_ref(), 1e-3);
                (l.latency_ns.p99 as f64 / 1e3, range, n)
            };
            push(format!("{kind} p99 (µs)"), false, p99(a), p99(b));
        }
    }
    let only_new = new
        .cells
        .iter()
        .filter(|n| old.cell(&n.id).is_none())
        .map(|n| n.id.clone())
        .collect();
    Comparison {
        threshold,
        old_run: old.run_id.clone(),
        new_run: new.run_id.clone(),
        rows,
        only_old,
        only_new,
        unmeasured,
        mismatched,
        unchecked,
    }
}

/// Bad input to `compare`.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The path does not exist.
    #[error("`{path}` does not exist (hint: give a results directory such as `results/<run-id>`)")]
    Missing {
        /// The path.
        path: String,
    },
    /// A results directory without a summary.
    #[error("`{dir}` has no `{SUMMARY_FILE}` (hint: run `nfslab report {dir}` first)")]
    NoSummary {
        /// The directory.
        dir: String,
    },
    /// The summary could not be read.
    #[error(transparent)]
    Read(#[from] ResultsError),
}

/// Reads a run's summary from a results directory (or a `summary.json` path).
pub fn load_summary(path: &Path) -> Result<Summary, CompareError> {
    if !path.exists() {
        return Err(CompareError::Missing {
            path: path.display().to_string(),
        });
    }
    let file: PathBuf = if path.is_dir() {
        path.join(SUMMARY_FILE)
    } else {
        path.to_path_buf()
    };
    if !file.is_file() {
        return Err(CompareError::NoSummary {
            dir: path.display().to_string(),
        });
    }
    Ok(read_versioned(
        &file,
        SUMMARY_SCHEMA_VERSION,
        "benchmark summary",
    )?)
}

/// Parses a threshold: `10%`, `10` (percent) or `2.5%`.
pub fn parse_threshold(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1000.0 => Ok(v / 100.0),
        _ => Err(format!(
            "`{text}` is not a percentage (hint: e.g. `10%` or `5`)"
        )),
    }
}

fn verdict_word(r: &CompareRow) -> String {
    match r.verdict {
        Verdict::Regression => "REGRESSION".to_owned(),
        Verdict::Improvement => "improvement".to_owned(),
        Verdict::Within => "ok".to_owned(),
        Verdict::Noise => "noise: the repetitions' ranges overlap".to_owned(),
        Verdict::TooFew => format!(
            "inconclusive: n={} vs n={} (fewer than {MIN_REPETITIONS} repetitions)",
            r.old_n, r.new_n
        ),
    }
}

/// A figure with the range and the number of repetitions behind it: `1234 (1200–1250, n=3)`.
fn with_range(value: f64, range: Option<(f64, f64)>, n: usize) -> String {
    match range {
        Some((lo, hi)) if n > 1 => {
            format!("{} ({}–{}, n={n})", number(value), number(lo), number(hi))
        }
        _ if n > 0 => format!("{} (n={n})", number(value)),
        _ => number(value),
    }
}

fn cells_in(rows: &[CompareRow]) -> usize {
    let mut cells: Vec<&str> = rows.iter().map(|r| r.cell.as_str()).collect();
    cells.dedup();
    cells.len()
}

fn mismatch_lines(c: &Comparison) -> Vec<String> {
    c.mismatched
        .iter()
        .map(|m| format!("`{}`: {}", m.cell, m.differences.join("; ")))
        .collect()
}

/// The comparison as Markdown (also what the terminal shows).
#[must_use]
pub fn render_markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# nfslab compare: `{}` → `{}` (threshold {:.1}%)\n",
        c.old_run,
        c.new_run,
        c.threshold * 100.0
    );
    if !c.mismatched.is_empty() {
        let _ = writeln!(
            out,
            "> **Warning: {} cell{} ran different jobs in the two runs and {} not compared** \
             (different jobs measure different things; their figures are neither a regression \
             nor an improvement):",
            c.mismatched.len(),
            if c.mismatched.len() == 1 { "" } else { "s" },
            if c.mismatched.len() == 1 { "is" } else { "are" }
        );
        for line in mismatch_lines(c) {
            let _ = writeln!(out, "> - {line}");
        }
        out.push('\n');
    }
    let regressions = c.regressions().len();
    let _ = writeln!(
        out,
        "{} figures compared in {} cells; {} regression{}, {} improvement{}; {} beyond the \
         threshold within noise (ranges overlap), {} inconclusive (fewer than \
         {MIN_REPETITIONS} repetitions).\n",
        c.rows.len(),
        cells_in(&c.rows),
        regressions,
        if regressions == 1 { "" } else { "s" },
        c.with(Verdict::Improvement),
        if c.with(Verdict::Improvement) == 1 {
            ""
        } else {
            "s"
        },
        c.with(Verdict::Noise),
        c.with(Verdict::TooFew),
    );
    let _ = writeln!(
        out,
        "A regression or an improvement needs the median to move beyond the threshold, at \
         least {MIN_REPETITIONS} repetitions in both runs, and the repetitions' ranges \
         (min–max; for p99, each repetition's p99) not to overlap.\n"
    );
    if !c.rows.is_empty() {
        let _ = writeln!(out, "| cell | figure | old | new | change | verdict |");
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for r in &c.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {}{} |",
                r.cell,
                r.metric,
                with_range(r.old, r.old_range, r.old_n),
                with_range(r.new, r.new_range, r.new_n),
                change(r.change),
                verdict_word(r),
                if r.unstable { " (unstable cell)" } else { "" }
            );
        }
        out.push('\n');
    }
    let list = |out: &mut String, title: &str, items: &[String]| {
        if items.is_empty() {
            return;
        }
        let _ = writeln!(out, "{title}:");
        for i in items {
            let _ = writeln!(out, "- `{i}`");
        }
        out.push('\n');
    };
    list(&mut out, "Only in the old run", &c.only_old);
    list(&mut out, "Only in the new run", &c.only_new);
    list(&mut out, "Not measured in one run", &c.unmeasured);
    list(
        &mut out,
        "Compared without checking their jobs (a run recorded before jobs were)",
        &c.unchecked,
    );
    out
}

fn chart_of(c: &Comparison, title: &str, rows: &[&CompareRow]) -> Result<String, ChartError> {
    charts::change_chart(
        title,
        &rows
            .iter()
            .map(|r| Change {
                label: format!("{} {}", r.cell, r.metric),
                ratio: if r.higher_is_better {
                    r.change
                } else {
                    -r.change
                },
            })
            .collect::<Vec<_>>(),
        c.threshold,
    )
}

/// The comparison as a self-contained HTML page with the charts of the figures that
/// decided it: throughput and p99 latency.
pub fn render_html(c: &Comparison) -> Result<String, ChartError> {
    let throughput: Vec<&CompareRow> = c.rows.iter().filter(|r| r.higher_is_better).collect();
    let latency: Vec<&CompareRow> = c.rows.iter().filter(|r| !r.higher_is_better).collect();
    let mut out = String::new();
    let title = format!("nfslab compare: {} → {}", c.old_run, c.new_run);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n\
         <style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>{}</h1>\n<p>Threshold {:.1}%; {} regression(s), \
         {} within noise (ranges overlap), {} inconclusive (fewer than {MIN_REPETITIONS} repetitions). \
         A regression needs the median beyond the threshold, {MIN_REPETITIONS} repetitions on both \
         sides and ranges that do not overlap.</p>\n",
        escape(&title),
        escape(&title),
        c.threshold * 100.0,
        c.regressions().len(),
        c.with(Verdict::Noise),
        c.with(Verdict::TooFew),
    );
    if !c.mismatched.is_empty() {
        let _ = writeln!(
            out,
            "<div class=\"flag\"><p><strong>Warning: {} cell(s) ran different jobs and are not compared.</strong></p>\n<ul>",
            c.mismatched.len()
        );
        for m in &c.mismatched {
            let _ = writeln!(
                out,
                "<li><code>{}</code>: {}</li>",
                escape(&m.cell),
                escape(&m.differences.join("; "))
            );
        }
        out.push_str("</ul></div>\n");
    }
    for (caption, rows) in [
        ("throughput, new vs old (right is better)", &throughput),
        ("p99 latency, new vs old (right is better: lower)", &latency),
    ] {
        if rows.is_empty() {
            continue;
        }
        let chart = chart_of(c, caption, rows)?;
        let _ = writeln!(out, "<figure class=\"chart\">\n{chart}\n</figure>");
    }
    out.push_str("<table>\n<thead><tr><th>cell</th><th>figure</th><th>old</th><th>new</th><th>change</th><th>verdict</th></tr></thead>\n<tbody>\n");
    for r in &c.rows {
        let class = match r.verdict {
            Verdict::Regression => " class=\"flag\"",
            Verdict::Improvement => " class=\"ok\"",
            Verdict::Within | Verdict::Noise | Verdict::TooFew => "",
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td{class}>{}</td></tr>",
            escape(&r.cell),
            escape(&r.metric),
            escape(&with_range(r.old, r.old_range, r.old_n)),
            escape(&with_range(r.new, r.new_range, r.new_n)),
            change(r.change),
            escape(&verdict_word(r))
        );
    }
    out.push_str("</tbody></table>\n");
    for (title, items) in [
        ("Only in the old run", &c.only_old),
        ("Only in the new run", &c.only_new),
        ("Not measured in one run", &c.unmeasured),
        ("Compared without checking their jobs", &c.unchecked),
    ] {
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<h2>{}</h2>\n<ul>", escape(title));
        for i in items {
            let _ = writeln!(out, "<li><code>{}</code></li>", escape(i));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_as_percentages() {
        assert_eq!(parse_threshold("10%"), Ok(0.10));
        assert_eq!(parse_threshold("5"), Ok(0.05));
        assert_eq!(parse_threshold("2.5 %"), Ok(0.025));
        assert!(parse_threshold("ten").unwrap_err().contains("`ten`"));
        assert!(parse_threshold("0").is_err());
        assert!(parse_threshold("-5%").is_err());
    }
}
