//! `nfslab report DIR`: options and dispatch.

use std::path::PathBuf;

use clap::Args;
use nfslab::Outcome;
use nfslab::model::results::ResultsDir;
use nfslab::report::{ReportError, write_reports};

use super::errors::CliError;

const EXAMPLES: &str = "\
Examples:
  # rebuild summary.json, summary.csv, report.md and report.html of a run
  nfslab report results/20261123-151922-649f55

  # after an interrupted run: the report covers what was measured
  nfslab report results/$(ls -t results | head -1)

Everything is rendered from the run's JSON (run.json and raw/*/client-*.json), so a report
can be regenerated at any time, also by a newer nfslab.";

/// Re-render the summary and reports of a benchmark run from its JSON files.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct ReportArgs {
    /// Results directory of one run (`results/<run-id>`).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Runs `nfslab report`.
pub(crate) fn run(args: &ReportArgs) -> Result<Outcome, CliError> {
    let written = ResultsDir::open(&args.dir)
        .map_err(ReportError::from)
        .and_then(|dir| write_reports(&dir))?;
    for f in &written.files {
        println!("{}", f.display());
    }
    Ok(Outcome::Success)
}
