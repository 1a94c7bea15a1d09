//! Benchmark results and reports.
//!
//! Everything is rendered from JSON: [`write_reports`] aggregates a results directory
//! (`run.json` + raw per-pod results) into `summary.json`, then renders `summary.csv`,
//! `report.md` and `report.html` from that summary alone. `nfslab report DIR` calls it, so
//! reports can be regenerated (after an interrupted run, or by a newer nfslab) at any time.
//!
//! # Layout
//! - The versioned `summary.json` every report is rendered from, and the NAS tiers, are
//!   documents of the run: [`crate::model::summary`], `crate::model::nas`.
//! - [`markdown`], [`csv`], [`html`]: the renderings; `charts`: SVG charts (plotters);
//!   `format`(mod@format): number formatting they share.
//! - [`compare`]: two runs side by side, regressions beyond a threshold.
//! - [`terminal`]: the compact table `bench` and `run` print when they end; [`junit`]: a
//!   benchmark as JUnit XML.
//! - `combined`: the one report of `nfslab run` (scenarios and benchmark together).

mod charts;
pub(crate) mod combined;
pub mod compare;
pub mod csv;
pub(crate) mod format;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod terminal;

pub use charts::ChartError;
pub use format::options_verdict;

use std::path::PathBuf;

use crate::model::aggregate::{AggregateError, summarize_dir};
use crate::model::results::{ResultsDir, ResultsError};
use crate::model::summary::{SUMMARY_FILE, Summary};

/// CSV file name.
pub const CSV_FILE: &str = "summary.csv";
/// Markdown report file name.
pub const MARKDOWN_FILE: &str = "report.md";
/// HTML report file name.
pub const HTML_FILE: &str = "report.html";

/// Why reports could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The run could not be aggregated.
    #[error(transparent)]
    Aggregate(#[from] AggregateError),
    /// A file could not be read or written.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// A chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
    /// The summary could not be serialised.
    #[error("cannot serialise the summary")]
    Serialize(#[source] serde_json::Error),
}

/// The renderings of a summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// `summary.json`.
    pub json: String,
    /// `summary.csv`.
    pub csv: String,
    /// `report.md`.
    pub markdown: String,
    /// `report.html`.
    pub html: String,
}

/// Renders every file from a summary.
pub fn render(summary: &Summary) -> Result<Rendered, ReportError> {
    Ok(Rendered {
        json: serde_json::to_string_pretty(summary).map_err(ReportError::Serialize)?,
        csv: csv::render(summary),
        markdown: markdown::render(summary),
        html: html::render(summary)?,
    })
}

/// The files written by [`write_reports`].
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// The summary.
    pub summary: Summary,
    /// Paths of `summary.json`, `summary.csv`, `report.md`, `report.html`.
    pub files: Vec<PathBuf>,
}

/// Aggregates a results directory and writes the summary and every report into it.
pub fn write_reports(dir: &ResultsDir) -> Result<Written, ReportError> {
    let summary = summarize_dir(dir)?;
    let rendered = render(&summary)?;
    let files = vec![
        dir.write_file(SUMMARY_FILE, rendered.json.as_bytes())?,
        dir.write_file(CSV_FILE, rendered.csv.as_bytes())?,
        dir.write_file(MARKDOWN_FILE, rendered.markdown.as_bytes())?,
        dir.write_file(HTML_FILE, rendered.html.as_bytes())?,
    ];
    Ok(Written { summary, files })
}
