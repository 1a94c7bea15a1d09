//! `nfslab compare OLD NEW`: two runs side by side, cell by cell (matched by their stable
//! ids), with regressions beyond a threshold for nightly CI.
//!
//! Compared per cell: median bandwidth, median IOPS, median operations/s (metadata
//! workloads), and the merged p99 latency of every operation kind with at least
//! [`MIN_LATENCY_OPS`] operations in both runs (fewer samples make p99 meaningless). A
//! regression is lower throughput or higher p99 by more than the threshold. Cells present in
//! only one run are listed, as are cells without measurements in one of them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bench::results::{ResultsError, read_versioned};
use crate::report::charts::{self, Change, ChartError};
use crate::report::format::{change, number};
use crate::report::html::{STYLE, escape};
use crate::report::summary::{
    CellSummary, Headline, SUMMARY_FILE, SUMMARY_SCHEMA_VERSION, Summary,
};

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
        let unstable = o.unstable || n.unstable;
        let mut push = |metric: String, higher: bool, a: f64, b: f64| {
            if a <= 0.0 {
                return;
            }
            let ratio = b / a - 1.0;
            let worse = if higher { -ratio } else { ratio };
            let verdict = if worse > threshold {
                Verdict::Regression
            } else if worse < -threshold {
                Verdict::Improvement
            } else {
                Verdict::Within
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
            });
        };
        if let (Some(a), Some(b)) = (o.bandwidth_bytes_per_sec, n.bandwidth_bytes_per_sec) {
            push(
                "bandwidth (MB/s)".to_owned(),
                true,
                a.median / 1e6,
                b.median / 1e6,
            );
        }
        if let (Some(a), Some(b)) = (o.iops, n.iops) {
            push("IOPS".to_owned(), true, a.median, b.median);
        }
        if o.headline == Headline::OpsPerSec
            && let (Some(a), Some(b)) = (o.ops_per_sec, n.ops_per_sec)
        {
            push("operations/s".to_owned(), true, a.median, b.median);
        }
        for (kind, a) in &o.latency {
            let Some(b) = n.latency.get(kind) else {
                continue;
            };
            if a.ops < MIN_LATENCY_OPS || b.ops < MIN_LATENCY_OPS {
                continue;
            }
            push(
                format!("{kind} p99 (µs)"),
                false,
                a.latency_ns.p99 as f64 / 1e3,
                b.latency_ns.p99 as f64 / 1e3,
            );
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

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Regression => "REGRESSION",
        Verdict::Improvement => "improvement",
        Verdict::Within => "ok",
    }
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
    let regressions = c.regressions().len();
    let _ = writeln!(
        out,
        "{} figures compared in {} cells; {} regression{}.\n",
        c.rows.len(),
        {
            let mut cells: Vec<&str> = c.rows.iter().map(|r| r.cell.as_str()).collect();
            cells.dedup();
            cells.len()
        },
        regressions,
        if regressions == 1 { "" } else { "s" }
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
                number(r.old),
                number(r.new),
                change(r.change),
                verdict_word(r.verdict),
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
    out
}

/// The comparison as a self-contained HTML page with a change chart.
pub fn render_html(c: &Comparison) -> Result<String, ChartError> {
    let headline_rows: Vec<&CompareRow> = {
        let mut seen: Vec<&str> = Vec::new();
        c.rows
            .iter()
            .filter(|r| {
                let first = !seen.contains(&r.cell.as_str());
                if first {
                    seen.push(&r.cell);
                }
                first
            })
            .collect()
    };
    let chart = charts::change_chart(
        "first figure of each cell, new vs old",
        &headline_rows
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
    )?;
    let mut out = String::new();
    let title = format!("nfslab compare: {} → {}", c.old_run, c.new_run);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n\
         <style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>{}</h1>\n<p>Threshold {:.1}%; {} regression(s).</p>\n\
         <figure class=\"chart\">\n{chart}\n</figure>\n",
        escape(&title),
        escape(&title),
        c.threshold * 100.0,
        c.regressions().len()
    );
    out.push_str("<table>\n<thead><tr><th>cell</th><th>figure</th><th>old</th><th>new</th><th>change</th><th>verdict</th></tr></thead>\n<tbody>\n");
    for r in &c.rows {
        let class = match r.verdict {
            Verdict::Regression => " class=\"flag\"",
            Verdict::Improvement => " class=\"ok\"",
            Verdict::Within => "",
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td{class}>{}</td></tr>",
            escape(&r.cell),
            escape(&r.metric),
            number(r.old),
            number(r.new),
            change(r.change),
            verdict_word(r.verdict)
        );
    }
    out.push_str("</tbody></table>\n");
    for (title, items) in [
        ("Only in the old run", &c.only_old),
        ("Only in the new run", &c.only_new),
        ("Not measured in one run", &c.unmeasured),
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
