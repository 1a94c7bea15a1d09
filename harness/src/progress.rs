//! One progress event type and the one trait that receives it.
//!
//! Everything a job says while it runs is an [`Event`]: a phase of the job begins, a line
//! for the user (bring-up, tear-down, notes), the scenario phase starts and ends, a running
//! scenario's step starts or ends ([`ScenarioEvent`]), a benchmark step starts, changes
//! phase or ends ([`BenchEvent`]). Producers (the orchestrator, the job, the scenario engine,
//! both benchmark runners) send events to a [`Reporter`]; the reporters draw them:
//! `crate::scenario::LiveView` (the scenarios' bars on a terminal, their lines otherwise),
//! `crate::bench::progress::{BarProgress, LineProgress}` (the benchmark's bar or its plain
//! lines), the CLI's terminal reporter of `nfslab run` (phase headers, and the two others
//! for their phases), [`StderrLines`] (plain lines), [`Quiet`] (nothing), and in tests
//! `crate::bench::progress::RecordedProgress` (the benchmark's events as short lines).
//!
//! This module sits below the engines and depends on the documents of the run only
//! ([`crate::model`], and the report's number format), so every producer can use it.
//!
//! # The ETA
//! [`Eta`] estimates each step from the plan and corrects the estimate with what finished
//! steps took, never from the rate of steps so far (steps differ by minutes: a rate swings
//! with every short one). Before anything ran, a step takes its job's measured window (ramp
//! plus runtime) plus a fixed allowance for what surrounds it ([`CLUSTER_STEP_OVERHEAD`]:
//! volume, pods, file layout, cleanup; [`HOST_STEP_OVERHEAD`] from the host). Once a step of
//! the same workload and access path finished, the others take its measured duration (the
//! mean of those that finished); other steps take their window plus the mean overhead
//! measured so far. The remaining time counts the current step's estimate minus its elapsed
//! time, so the ETA only falls between steps, and changes at a step's end only by what that
//! step taught. It is shown rounded (10 s under ten minutes, minutes above).

use std::fmt;
use std::time::Duration;

use crate::model::matrix::{Cell, Matrix};
use crate::model::plan::Plan;
use crate::model::scenarios::{ScenarioResult, StepResult};
use crate::model::summary::Headline;
use crate::report::format::headline_with_unit;

/// What surrounds the measured window of a step on a cluster, until measured: the volume
/// bound, the client pods scheduled and started, the files laid out, everything deleted.
pub const CLUSTER_STEP_OVERHEAD: Duration = Duration::from_secs(30);
/// The same from the host: directories made, files laid out, processes started, cleanup.
pub const HOST_STEP_OVERHEAD: Duration = Duration::from_secs(3);
/// The measured window assumed for a job without a runtime (a fixed amount of data), until
/// a step of its workload finished.
pub const UNTIMED_MEASURE: Duration = Duration::from_secs(30);

/// One step as planned, for the ETA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedStep {
    /// The cell's id.
    pub cell: String,
    /// Steps that take about as long: the workload and the access path.
    pub group: String,
    /// The job's measured window (ramp plus runtime), when the job is time-based.
    pub measured: Option<Duration>,
}

/// The plan's estimate of a run and what finished steps took ([module docs](self)).
#[derive(Clone, Debug)]
pub struct Eta {
    steps: Vec<PlannedStep>,
    overhead: Duration,
    took: Vec<Option<Duration>>,
}

fn mean(values: &[Duration]) -> Option<Duration> {
    let n = u32::try_from(values.len()).ok().filter(|n| *n > 0)?;
    Some(values.iter().sum::<Duration>() / n)
}

impl Eta {
    /// An estimate of `steps` (in run order), each surrounded by `overhead` until measured.
    #[must_use]
    pub fn new(steps: Vec<PlannedStep>, overhead: Duration) -> Self {
        let took = vec![None; steps.len()];
        Self {
            steps,
            overhead,
            took,
        }
    }

    /// The steps of `matrix` in run order ([`Matrix::schedule`]), measured windows from the
    /// plan's jobs.
    #[must_use]
    pub fn for_matrix(plan: &Plan, matrix: &Matrix, overhead: Duration) -> Self {
        let steps = matrix
            .schedule()
            .iter()
            .map(|step| {
                let cell = &matrix.cells[step.cell];
                let measured = plan
                    .workload(&cell.workload)
                    .and_then(|w| w.job.resolve().ok())
                    .and_then(|j| j.runtime.map(|r| r + j.ramp_time));
                PlannedStep {
                    cell: cell.id.clone(),
                    group: format!(
                        "{}/{}",
                        cell.workload,
                        cell.access.map_or("pods", |a| a.name())
                    ),
                    measured,
                }
            })
            .collect();
        Self::new(steps, overhead)
    }

    /// Steps in the run.
    #[must_use]
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the run has no step.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The planned steps.
    #[must_use]
    pub fn steps(&self) -> &[PlannedStep] {
        &self.steps
    }

    /// Step `index` took `took`.
    pub fn record(&mut self, index: usize, took: Duration) {
        if let Some(slot) = self.took.get_mut(index) {
            *slot = Some(took);
        }
    }

    /// What surrounds a measured window, as measured so far (the planned allowance before
    /// any time-based step finished).
    fn overhead_now(&self) -> Duration {
        let measured: Vec<Duration> = self
            .steps
            .iter()
            .zip(&self.took)
            .filter_map(|(s, t)| Some(t.as_ref()?.saturating_sub(s.measured?)))
            .collect();
        mean(&measured).unwrap_or(self.overhead)
    }

    /// How long step `index` takes: what it took, else what its group took, else its
    /// window plus the overhead.
    #[must_use]
    pub fn estimate(&self, index: usize) -> Duration {
        if let Some(Some(took)) = self.took.get(index) {
            return *took;
        }
        let Some(step) = self.steps.get(index) else {
            return Duration::ZERO;
        };
        let same: Vec<Duration> = self
            .steps
            .iter()
            .zip(&self.took)
            .filter(|(s, _)| s.group == step.group)
            .filter_map(|(_, t)| *t)
            .collect();
        mean(&same)
            .unwrap_or_else(|| step.measured.unwrap_or(UNTIMED_MEASURE) + self.overhead_now())
    }

    /// The whole run, before it starts.
    #[must_use]
    pub fn total(&self) -> Duration {
        (0..self.steps.len()).map(|i| self.estimate(i)).sum()
    }

    /// What is left: the steps not finished, the current one (`index`, running for
    /// `elapsed`) counted for what its estimate has left.
    #[must_use]
    pub fn remaining(&self, current: Option<(usize, Duration)>) -> Duration {
        (0..self.steps.len())
            .filter(|i| self.took[*i].is_none())
            .map(|i| match current {
                Some((c, elapsed)) if c == i => self.estimate(i).saturating_sub(elapsed),
                _ => self.estimate(i),
            })
            .sum()
    }
}

/// A duration as the ETA shows it: `under a minute`, `4m 30s` (10 s steps under ten
/// minutes), `45m`, `2h 05m`. A clock reading, not a value to paste back: rounded, and
/// zero-padded so the live bar keeps its width; durations a user can write back are shown
/// with `nfslab_workload::format_duration`.
#[must_use]
pub fn format_eta(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        "under a minute".to_owned()
    } else if s < 600 {
        let s = (s + 5) / 10 * 10;
        format!("{}m {:02}s", s / 60, s % 60)
    } else if s < 3600 {
        format!("{}m", (s + 30) / 60)
    } else {
        let m = (s + 30) / 60;
        format!("{}h {:02}m", m / 60, m % 60)
    }
}

/// A step's duration in lines: `14s`, `2m 05s`, `1h 02m`.
#[must_use]
pub fn format_took(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// What one repetition measured: its headline figure over every client.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figure {
    /// The figure the workload is judged by.
    pub headline: Headline,
    /// Its value in summary units (bytes/s for bandwidth).
    pub value: f64,
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&headline_with_unit(self.headline, self.value))
    }
}

/// How a step ended.
#[derive(Clone, Debug, PartialEq)]
pub struct StepDone<'a> {
    /// Every client produced a result.
    pub ok: bool,
    /// Why it failed.
    pub message: Option<&'a str>,
    /// What it measured.
    pub figure: Option<Figure>,
}

/// A phase of the job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Preflight, cluster, images, NFS servers.
    Environment,
    /// The scenario catalog.
    Scenarios,
    /// The benchmark plan.
    Benchmark,
    /// Removing what the environment phase made.
    TearDown,
    /// Writing the report.
    Report,
}

impl Phase {
    /// 1-based position and the count, for `[2/5]`.
    #[must_use]
    pub fn position(self) -> (usize, usize) {
        let i = match self {
            Self::Environment => 1,
            Self::Scenarios => 2,
            Self::Benchmark => 3,
            Self::TearDown => 4,
            Self::Report => 5,
        };
        (i, 5)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Environment => "environment",
            Self::Scenarios => "scenarios",
            Self::Benchmark => "benchmark",
            Self::TearDown => "tear down",
            Self::Report => "report",
        })
    }
}

/// Something that happened while a job runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// A phase of the job begins; `detail` says what it will do.
    Phase {
        /// The phase.
        phase: Phase,
        /// What it will do.
        detail: &'a str,
    },
    /// A line for the user.
    Line(&'a str),
    /// The scenario phase begins: `count` scenarios.
    ScenariosStarting {
        /// How many scenarios will run.
        count: usize,
    },
    /// Something happened in a running scenario.
    Scenario(ScenarioEvent<'a>),
    /// The scenario phase ended.
    ScenariosDone,
    /// Something happened in the benchmark.
    Bench(BenchEvent<'a>),
}

/// Something that happened while scenarios run.
#[derive(Debug)]
pub enum ScenarioEvent<'a> {
    /// A scenario started.
    ScenarioStarted {
        /// Its id.
        id: &'a str,
        /// How many steps it has.
        steps: usize,
    },
    /// A step started.
    StepStarted {
        /// Scenario id.
        id: &'a str,
        /// The step's 1-based index.
        index: usize,
        /// What the step does, in words.
        label: &'a str,
    },
    /// A step ended.
    StepFinished {
        /// Scenario id.
        id: &'a str,
        /// Its result.
        result: &'a StepResult,
    },
    /// Cleanup of a scenario started.
    CleanupStarted {
        /// Scenario id.
        id: &'a str,
    },
    /// A scenario ended (cleanup done).
    ScenarioFinished {
        /// Its result.
        result: &'a ScenarioResult,
    },
}

/// Something that happened in a benchmark run.
#[derive(Debug)]
pub enum BenchEvent<'a> {
    /// The run begins: its steps in order, with the plan's estimate.
    Start(&'a Eta),
    /// Step `index` (0-based) begins: repetition `repetition` of `of` for `cell`.
    Step {
        /// The step's 0-based index in the run.
        index: usize,
        /// The cell.
        cell: &'a Cell,
        /// The repetition (1-based).
        repetition: u32,
        /// Repetitions of the cell.
        of: u32,
    },
    /// The current step entered a phase (`waiting for pods`, `measuring`...); outside a
    /// step, the run did (`removing the run's namespace`).
    Phase(&'a str),
    /// The current step ended.
    StepDone(&'a StepDone<'a>),
    /// A line for the user (warnings, cleanup).
    Note(&'a str),
    /// The run ended.
    Finish,
}

/// Receives progress; must be cheap (called from running scenarios and steps).
pub trait Reporter: Send + Sync {
    /// Something happened.
    fn report(&self, event: Event<'_>);
}

/// A reporter that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Reporter for Quiet {
    fn report(&self, _event: Event<'_>) {}
}

/// Lines on stderr (`nfslab: LINE`); every other event is ignored.
#[derive(Debug, Default, Clone, Copy)]
pub struct StderrLines;

impl Reporter for StderrLines {
    fn report(&self, event: Event<'_>) {
        if let Event::Line(text) = event {
            eprintln!("nfslab: {text}");
        }
    }
}
