//! `nfslab compare OLD NEW`: options and dispatch.

use std::path::PathBuf;

use clap::Args;
use nfslab::Outcome;
use nfslab::error_chain;
use nfslab::report::compare::{
    compare, load_summary, parse_threshold, render_html, render_markdown,
};

use super::errors::CliError;

const EXAMPLES: &str = "\
Examples:
  # did last night's run regress against the committed baseline?
  nfslab compare results/baselines/ganesha-default results/20261124-020000-1a2b3c

  # stricter threshold, and an HTML page with a chart
  nfslab compare OLD NEW --threshold 5% --html compare.html

Cells are matched by id (server/workload/profile/kN). Compared: median bandwidth and IOPS
(operations/s for metadata workloads) and p99 latency per operation kind. A regression needs
the median beyond the threshold, at least 3 repetitions in both runs and the repetitions'
ranges apart; otherwise the move is reported as noise or inconclusive. Cells whose jobs
differ are not compared and are listed first. Cells present in only one run are listed.

Exit codes: 0 no regression, 1 a figure regressed beyond the threshold, 2 bad input (missing
directory, no summary.json, a truncated or foreign file, another schema version, the same run
twice).";

/// Compare two benchmark runs; exit 1 when a figure regressed beyond the threshold.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct CompareArgs {
    /// The reference run (results directory or its summary.json).
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The run to judge.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Largest accepted change: lower throughput or higher p99 latency, in percent.
    #[arg(long, default_value = "10%", allow_hyphen_values = true, value_parser = parse_threshold)]
    pub threshold: f64,
    /// Also write the comparison as a self-contained HTML page with a chart.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write the comparison as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Runs `nfslab compare`.
pub(crate) fn run(args: &CompareArgs) -> Result<Outcome, CliError> {
    for (flag, file) in [("--html", &args.html), ("--json", &args.json)] {
        if let Some(file) = file {
            super::check_output_file(flag, file).map_err(CliError::BadInput)?;
        }
    }
    let same_file = |a: &std::path::Path, b: &std::path::Path| {
        let summary = |p: &std::path::Path| {
            let file = if p.is_dir() {
                p.join(nfslab::model::summary::SUMMARY_FILE)
            } else {
                p.to_path_buf()
            };
            file.canonicalize().ok()
        };
        summary(a).is_some() && summary(a) == summary(b)
    };
    if same_file(&args.old, &args.new) {
        return Err(CliError::BadInput(format!(
            "OLD and NEW are the same run (`{}`): every figure would compare equal (hint: \
             compare two different runs, e.g. a baseline and a new run)",
            args.old.display()
        )));
    }
    let old = load_summary(&args.old)?;
    let new = load_summary(&args.new)?;
    if old.run_id == new.run_id {
        eprintln!(
            "note: both summaries are of run `{}` (copies of one run compare equal)",
            old.run_id
        );
    }
    let comparison = compare(&old, &new, args.threshold);
    print!("{}", render_markdown(&comparison));
    if !comparison.mismatched.is_empty() {
        eprintln!(
            "warning: {} cell(s) ran different jobs in the two runs and were not compared: {}",
            comparison.mismatched.len(),
            comparison
                .mismatched
                .iter()
                .map(|m| m.cell.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(path) = &args.html {
        let written = render_html(&comparison)
            .map_err(|e| error_chain(&e))
            .and_then(|html| std::fs::write(path, html).map_err(|e| e.to_string()));
        written.map_err(|e| {
            CliError::Environment(format!("cannot write `{}`: {e}", path.display()))
        })?;
    }
    if let Some(path) = &args.json {
        let written = serde_json::to_string_pretty(&comparison)
            .map_err(|e| e.to_string())
            .and_then(|json| std::fs::write(path, json).map_err(|e| e.to_string()));
        written.map_err(|e| {
            CliError::Environment(format!("cannot write `{}`: {e}", path.display()))
        })?;
    }
    if comparison.regressions().is_empty() {
        Ok(Outcome::Success)
    } else {
        Ok(Outcome::Failed)
    }
}
