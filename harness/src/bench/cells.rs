//! The cell loop both benchmark runners share: a plan's schedule run one repetition at a
//! time, each attempt recorded as it ends, then tear-down and reports.
//!
//! A runner ([`super::runner`] on a cluster, [`super::host`] from this host) opens the run
//! ([`open_run`]: results directory, plan, first `run.json`), sets up what its cells need,
//! and hands a [`CellExecutor`] to [`drive`]. The driver owns what is the same for both:
//! the Ctrl-C check before each step, the progress line, the attempt's status and message,
//! [`record_attempt`], stopping on an interrupt or a fatal error, the executor's
//! [`CellExecutor::finish`] (its tear-down) and [`conclude`] (status, leftovers, reports).

use std::path::PathBuf;
use std::time::Duration;

use nfslab_workload::RunResult;

use tokio::sync::watch;

use super::progress::{BenchEvent, Eta, Event, Reporter, StepDone, figure_of};
use crate::exit::Outcome;
use crate::model::environment::Environment;
use crate::model::matrix::{Cell, Matrix};
use crate::model::plan::Plan;
use crate::model::results::{
    Attempt, AttemptStatus, CellRecord, PodRecord, ResultsDir, ResultsError, RunRecord, RunStatus,
};
use crate::model::summary::Summary;
use crate::report::{ReportError, write_reports};

/// How one repetition ended.
pub(crate) enum StepEnd {
    /// Measured: the clients and their results.
    Ok(Vec<PodRecord>),
    /// Failed, with the message recorded in its attempt.
    Failed(String),
    /// Stopped by Ctrl-C.
    Interrupted,
}

/// What running one repetition came to.
pub(crate) enum Repetition<E> {
    /// It ran: how it ended, what its cleanup could not remove, and an error that ends the
    /// run once the attempt is recorded.
    Ran {
        /// How it ended.
        end: StepEnd,
        /// What its cleanup could not remove.
        cleanup: Vec<String>,
        /// Stops the run after this attempt.
        fatal: Option<E>,
    },
    /// It could not start: the run stops with this error, nothing is recorded for the step.
    Stopped(E),
}

/// One runner's way of measuring a repetition of a cell, and of tearing down after the
/// last one.
pub(crate) trait CellExecutor {
    /// Why the run could not go on.
    type Error: From<ResultsError> + From<ReportError>;

    /// What [`CellExecutor::admit`] found for a cell's step (its server, say).
    type Admitted;

    /// Setup per step and cleanup per run, for the first progress estimate.
    const STEP_OVERHEAD: Duration;

    /// How the report introduces what could not be removed (and says how to remove it).
    const WHAT_IS_LEFT: &'static str;

    /// Notes printed once the run has started (warnings about its setup).
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether a cell's step runs, and with what (`None`: skipped without a trace). An
    /// error ends the run at once, without tear-down or reports.
    fn admit(&self, cell: &Cell) -> Result<Option<Self::Admitted>, Self::Error>;

    /// Runs one repetition of an admitted cell, its cleanup included.
    async fn repetition(
        &mut self,
        admitted: Self::Admitted,
        cell: &Cell,
        cell_record: &CellRecord,
        repetition: u32,
        cancel: &mut watch::Receiver<bool>,
    ) -> Repetition<Self::Error>;

    /// Tears down what the run set up; what could not be removed goes to `leftovers`.
    async fn finish(self, leftovers: &mut Vec<String>);
}

/// Creates the run's results directory and writes its plan and first record.
///
/// # Errors
/// The directory or a file in it could not be written.
pub(crate) fn open_run(
    plan: &Plan,
    matrix: &Matrix,
    run_id: &str,
    parent: &std::path::Path,
    dir_name: Option<&str>,
    environment: Environment,
) -> Result<(ResultsDir, RunRecord), ResultsError> {
    let results = ResultsDir::create(parent, dir_name.unwrap_or(run_id))?;
    results.write_plan(plan)?;
    let record = RunRecord::new(run_id, plan, &matrix.cells, environment);
    results.write_record(&record)?;
    Ok((results, record))
}

/// An opened run, for [`drive`].
pub(crate) struct OpenRun<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// Its cells.
    pub matrix: &'a Matrix,
    /// The results directory.
    pub results: &'a ResultsDir,
    /// The run's record, as written by [`open_run`].
    pub record: RunRecord,
    /// Where progress goes.
    pub progress: &'a dyn Reporter,
}

/// Runs the schedule with `executor`, then its tear-down, and writes the reports.
///
/// # Errors
/// The executor's fatal error (after the reports of what was measured are written), or a
/// record or report that could not be written.
pub(crate) async fn drive<X: CellExecutor>(
    run: OpenRun<'_>,
    mut executor: X,
    mut cancel: watch::Receiver<bool>,
) -> Result<BenchOutcome, X::Error> {
    let OpenRun {
        plan,
        matrix,
        results,
        mut record,
        progress,
    } = run;
    progress.report(Event::Bench(BenchEvent::Start(&Eta::for_matrix(
        plan,
        matrix,
        X::STEP_OVERHEAD,
    ))));
    for note in executor.notes() {
        progress.report(Event::Bench(BenchEvent::Note(&note)));
    }
    let mut status = RunStatus::Complete;
    let mut failed_steps = 0;
    let mut leftovers = Vec::new();
    let mut fatal: Option<X::Error> = None;
    for (index, step) in matrix.schedule().iter().enumerate() {
        if *cancel.borrow() {
            status = RunStatus::Interrupted;
            break;
        }
        let cell = &matrix.cells[step.cell];
        let Some(admitted) = executor.admit(cell)? else {
            continue;
        };
        progress.report(Event::Bench(BenchEvent::Step {
            index,
            cell,
            repetition: step.repetition,
            of: matrix.repetitions,
        }));
        let cell_record = &record.cells[step.cell];
        let (end, cleanup) = match executor
            .repetition(admitted, cell, cell_record, step.repetition, &mut cancel)
            .await
        {
            Repetition::Stopped(error) => {
                fatal = Some(error);
                break;
            }
            Repetition::Ran {
                end,
                cleanup,
                fatal: error,
            } => {
                fatal = error;
                (end, cleanup)
            }
        };
        let (attempt_status, message, pods) = match end {
            StepEnd::Ok(pods) => (AttemptStatus::Ok, None, pods),
            StepEnd::Failed(message) => {
                failed_steps += 1;
                (AttemptStatus::Failed, Some(message), Vec::new())
            }
            StepEnd::Interrupted => {
                status = RunStatus::Interrupted;
                (
                    AttemptStatus::Interrupted,
                    Some("interrupted by the user".to_owned()),
                    Vec::new(),
                )
            }
        };
        let attempt = Attempt {
            cell: cell.id.clone(),
            repetition: step.repetition,
            status: attempt_status,
            message,
            pods,
        };
        record_attempt(
            progress,
            results,
            &mut record,
            &mut leftovers,
            attempt,
            cleanup,
        )?;
        if status == RunStatus::Interrupted || fatal.is_some() {
            break;
        }
    }

    executor.finish(&mut leftovers).await;
    if fatal.is_some() {
        status = RunStatus::Failed;
    }
    let outcome = conclude(
        results,
        &mut record,
        Ending {
            status,
            failed_steps,
            leftovers,
            what_is_left: X::WHAT_IS_LEFT,
        },
        progress,
    )?;
    match fatal {
        Some(error) => Err(error),
        None => Ok(outcome),
    }
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct BenchOutcome {
    /// Complete or interrupted.
    pub status: RunStatus,
    /// The results directory.
    pub dir: PathBuf,
    /// The summary the reports were rendered from.
    pub summary: Summary,
    /// Files written (summary, CSV, Markdown, HTML).
    pub files: Vec<PathBuf>,
    /// Repetitions that failed.
    pub failed_steps: usize,
    /// Objects that could not be removed.
    pub leftovers: Vec<String>,
}

impl BenchOutcome {
    /// The exit code: 0 all measured, 1 some repetitions failed, 130 interrupted.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        match self.status {
            RunStatus::Interrupted => Outcome::Interrupted,
            RunStatus::Failed => Outcome::Environment,
            RunStatus::Complete | RunStatus::Running if self.failed_steps > 0 => Outcome::Failed,
            RunStatus::Complete | RunStatus::Running => Outcome::Success,
        }
    }
}

/// How a run ended, for [`conclude`].
pub(crate) struct Ending<'a> {
    /// Complete, interrupted or failed.
    pub status: RunStatus,
    /// Repetitions that failed.
    pub failed_steps: usize,
    /// What could not be removed.
    pub leftovers: Vec<String>,
    /// How the report introduces the leftovers (and says how to remove them).
    pub what_is_left: &'a str,
}

/// Records one finished step: its progress line, what its cleanup could not remove (kept in
/// `leftovers` for the run's final list), and the attempt, written to `run.json` at once so
/// that an interrupted run still holds it.
///
/// # Errors
/// `run.json` could not be written.
pub(crate) fn record_attempt(
    progress: &dyn Reporter,
    results: &ResultsDir,
    record: &mut RunRecord,
    leftovers: &mut Vec<String>,
    attempt: Attempt,
    cleanup: Vec<String>,
) -> Result<(), ResultsError> {
    let ok = attempt.status == AttemptStatus::Ok;
    let figure = if ok {
        let measured: Vec<RunResult> = attempt
            .pods
            .iter()
            .filter_map(|p| p.result.as_deref())
            .filter_map(|r| results.read_raw(r).ok())
            .collect();
        figure_of(&measured)
    } else {
        None
    };
    progress.report(Event::Bench(BenchEvent::StepDone(&StepDone {
        ok,
        message: attempt.message.as_deref(),
        figure,
    })));
    for l in &cleanup {
        progress.report(Event::Bench(BenchEvent::Note(&format!(
            "could not remove {l}"
        ))));
    }
    leftovers.extend(cleanup);
    record.attempts.push(attempt);
    results.write_record(record)
}

/// Ends a run, on a cluster or from the host: records its status, end time and leftovers,
/// writes the record and renders the reports from it.
///
/// # Errors
/// The record or the reports could not be written.
pub(crate) fn conclude(
    results: &ResultsDir,
    record: &mut RunRecord,
    ending: Ending<'_>,
    progress: &dyn Reporter,
) -> Result<BenchOutcome, ReportError> {
    record.status = ending.status;
    record.finished = Some(crate::errors::now_rfc3339());
    if !ending.leftovers.is_empty() {
        record.environment.notes.push(format!(
            "{}: {}",
            ending.what_is_left,
            ending.leftovers.join("; ")
        ));
    }
    results.write_record(record)?;
    let written = write_reports(results)?;
    progress.report(Event::Bench(BenchEvent::Finish));
    Ok(BenchOutcome {
        status: ending.status,
        dir: results.path().to_path_buf(),
        summary: written.summary,
        files: written.files,
        failed_steps: ending.failed_steps,
        leftovers: ending.leftovers,
    })
}
