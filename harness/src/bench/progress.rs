//! Progress of a benchmark run: which cell and repetition, what it is doing, what it
//! measured, and when the run will end.
//!
//! The runners report through [`Progress`]. [`for_stderr`] picks the view: on a terminal,
//! [`BarProgress`] (an indicatif bar with the current step, its phase and the ETA; failures
//! and finished cells are printed above it); otherwise [`LineProgress`], one plain line per
//! step (start, end with its figure, failure with the reason), per phase and per finished
//! cell, so CI logs and `2>file` follow the run as it goes. Tests use [`RecordedProgress`].
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

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use nfslab_workload::RunResult;
use tokio::time::Instant;

use crate::model::aggregate::headline_of;
use crate::model::matrix::{Cell, Matrix};
use crate::model::plan::Plan;
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
/// minutes), `45m`, `2h 05m`.
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

/// The headline figure of one repetition from its clients' results, merged exactly (the
/// same figure the report shows for the repetition); `None` without results.
#[must_use]
pub fn figure_of(results: &[RunResult]) -> Option<Figure> {
    let first = results.first()?;
    let headline = headline_of(first.effective.job.pattern);
    let merged = nfslab_workload::merge_results(results).ok()?;
    let t = &merged.totals;
    let value = match headline {
        Headline::Bandwidth => t.bandwidth_bytes_per_sec,
        Headline::Iops => t.iops,
        Headline::OpsPerSec => t.all_ops_per_sec,
    };
    Some(Figure { headline, value })
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

/// Receives the runner's progress.
pub trait Progress: Send + Sync {
    /// The run begins: its steps in order, with the plan's estimate.
    fn start(&self, eta: &Eta);
    /// Step `index` (0-based) begins: repetition `repetition` of `of` for `cell`.
    fn step(&self, index: usize, cell: &Cell, repetition: u32, of: u32);
    /// The current step entered a phase (`waiting for pods`, `measuring`...); outside a
    /// step, the run did (`removing the run's namespace`).
    fn phase(&self, phase: &str);
    /// The current step ended.
    fn step_done(&self, done: &StepDone<'_>);
    /// A line for the user (warnings, cleanup).
    fn note(&self, text: &str);
    /// The run ended.
    fn finish(&self);
}

/// No output.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &Eta) {}
    fn step(&self, _: usize, _: &Cell, _: u32, _: u32) {}
    fn phase(&self, _: &str) {}
    fn step_done(&self, _: &StepDone<'_>) {}
    fn note(&self, _: &str) {}
    fn finish(&self) {}
}

/// The view on stderr: the live bar on a terminal, plain lines otherwise.
#[must_use]
pub fn for_stderr() -> Arc<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Arc::new(BarProgress::stderr())
    } else {
        Arc::new(LineProgress::stderr())
    }
}

/// The running step.
#[derive(Clone, Debug)]
struct Current {
    index: usize,
    cell: String,
    repetition: u32,
    of: u32,
    started: Instant,
}

/// The repetitions of one cell so far.
#[derive(Clone, Debug, Default)]
struct Tally {
    planned: usize,
    figures: Vec<Figure>,
    failed: usize,
}

/// What both views know about the run.
#[derive(Debug)]
struct Tracker {
    eta: Eta,
    started: Instant,
    current: Option<Current>,
    cells: BTreeMap<String, Tally>,
    done: usize,
    failed: usize,
}

impl Tracker {
    fn new() -> Self {
        Self {
            eta: Eta::new(Vec::new(), Duration::ZERO),
            started: Instant::now(),
            current: None,
            cells: BTreeMap::new(),
            done: 0,
            failed: 0,
        }
    }

    fn start(&mut self, eta: &Eta) -> String {
        self.eta = eta.clone();
        self.started = Instant::now();
        self.cells.clear();
        for s in eta.steps() {
            self.cells.entry(s.cell.clone()).or_default().planned += 1;
        }
        format!(
            "benchmark: {} steps ({} cells), estimated {}",
            eta.len(),
            self.cells.len(),
            format_eta(eta.total())
        )
    }

    fn remaining(&self) -> Duration {
        let current = self
            .current
            .as_ref()
            .map(|c| (c.index, c.started.elapsed()));
        self.eta.remaining(current)
    }

    fn label(&self) -> String {
        self.current.as_ref().map_or_else(String::new, |c| {
            format!(
                "[{}/{}] {} rep {}/{}",
                c.index + 1,
                self.eta.len(),
                c.cell,
                c.repetition,
                c.of
            )
        })
    }

    fn step(&mut self, index: usize, cell: &Cell, repetition: u32, of: u32) -> String {
        self.current = Some(Current {
            index,
            cell: cell.id.clone(),
            repetition,
            of,
            started: Instant::now(),
        });
        format!(
            "{}: start (ETA {})",
            self.label(),
            format_eta(self.remaining())
        )
    }

    fn phase(&self, phase: &str) -> String {
        if self.current.is_some() {
            format!("{}: {phase}", self.label())
        } else {
            format!("benchmark: {phase}")
        }
    }

    /// The step's line, and the cell's when this was its last repetition.
    fn done(&mut self, done: &StepDone<'_>) -> (String, Option<String>) {
        let label = self.label();
        let Some(current) = self.current.take() else {
            return (format!("benchmark: a step ended: {}", done.ok), None);
        };
        let took = current.started.elapsed();
        self.eta.record(current.index, took);
        self.done += 1;
        let line = if done.ok {
            let figure = done.figure.map_or_else(String::new, |f| format!(", {f}"));
            format!("{label}: ok in {}{figure}", format_took(took))
        } else {
            self.failed += 1;
            format!(
                "{label}: FAILED in {}: {}",
                format_took(took),
                done.message.unwrap_or("no reason given")
            )
        };
        let tally = self.cells.entry(current.cell.clone()).or_default();
        match (done.ok, done.figure) {
            (true, Some(f)) => tally.figures.push(f),
            (true, None) => {}
            (false, _) => tally.failed += 1,
        }
        let finished = tally.figures.len() + tally.failed >= tally.planned.max(1);
        let cell_line = finished.then(|| cell_line(&current.cell, tally));
        (line, cell_line)
    }

    fn finish(&self) -> String {
        format!(
            "benchmark: finished in {}: {} steps run, {} failed",
            format_took(self.started.elapsed()),
            self.done,
            self.failed
        )
    }
}

/// `cell X: 3/3 repetitions ok, median 812 MB/s (790 MB/s–830 MB/s)`.
fn cell_line(cell: &str, tally: &Tally) -> String {
    let ok = tally.figures.len();
    let planned = tally.planned.max(ok + tally.failed);
    let mut values: Vec<f64> = tally.figures.iter().map(|f| f.value).collect();
    values.sort_by(f64::total_cmp);
    let Some(headline) = tally.figures.first().map(|f| f.headline) else {
        return format!("cell {cell}: 0/{planned} repetitions ok");
    };
    let median = if values.len() % 2 == 1 {
        values[values.len() / 2]
    } else {
        f64::midpoint(values[values.len() / 2 - 1], values[values.len() / 2])
    };
    let show = |v: f64| headline_with_unit(headline, v);
    let range = if values.len() > 1 {
        format!(
            " (range {}–{})",
            show(values[0]),
            show(values[values.len() - 1])
        )
    } else {
        String::new()
    };
    format!(
        "cell {cell}: {ok}/{planned} repetitions ok, median {}{range}",
        show(median)
    )
}

fn lock(tracker: &Mutex<Tracker>) -> std::sync::MutexGuard<'_, Tracker> {
    tracker
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One plain line per event (for logs): `nfslab: [3/12] CELL rep 1/3: measuring`.
pub struct LineProgress {
    tracker: Mutex<Tracker>,
    sink: Box<dyn Fn(&str) + Send + Sync>,
}

impl LineProgress {
    /// Lines go to `sink` (without the `nfslab: ` prefix).
    #[must_use]
    pub fn new(sink: Box<dyn Fn(&str) + Send + Sync>) -> Self {
        Self {
            tracker: Mutex::new(Tracker::new()),
            sink,
        }
    }

    /// Lines on stderr, prefixed `nfslab: ` like every other progress line.
    #[must_use]
    pub fn stderr() -> Self {
        Self::new(Box::new(|line| eprintln!("nfslab: {line}")))
    }
}

impl Progress for LineProgress {
    fn start(&self, eta: &Eta) {
        let line = lock(&self.tracker).start(eta);
        (self.sink)(&line);
    }
    fn step(&self, index: usize, cell: &Cell, repetition: u32, of: u32) {
        let line = lock(&self.tracker).step(index, cell, repetition, of);
        (self.sink)(&line);
    }
    fn phase(&self, phase: &str) {
        let line = lock(&self.tracker).phase(phase);
        (self.sink)(&line);
    }
    fn step_done(&self, done: &StepDone<'_>) {
        let (line, cell) = lock(&self.tracker).done(done);
        (self.sink)(&line);
        if let Some(cell) = cell {
            (self.sink)(&cell);
        }
    }
    fn note(&self, text: &str) {
        (self.sink)(&format!("note: {text}"));
    }
    fn finish(&self) {
        let line = lock(&self.tracker).finish();
        (self.sink)(&line);
    }
}

/// An indicatif bar on stderr: `[00:12:31] ████░░ 14/42 ETA 25m · rep 2/3 ·
/// in-cluster/seq-read-1m/doc-v3/k1 · measuring`; failures and finished cells are printed
/// above it.
pub struct BarProgress {
    bar: ProgressBar,
    tracker: Arc<Mutex<Tracker>>,
}

impl BarProgress {
    /// A bar drawn on stderr (hidden when stderr is not a terminal).
    #[must_use]
    pub fn stderr() -> Self {
        let tracker = Arc::new(Mutex::new(Tracker::new()));
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let eta_source = Arc::clone(&tracker);
        let style = ProgressStyle::with_template(
            "[{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} ETA {plan_eta} · {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "plan_eta",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let remaining = lock(&eta_source).remaining();
                let _ = w.write_str(&format_eta(remaining));
            },
        )
        .progress_chars("█▓░");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(500));
        Self { bar, tracker }
    }

    fn label(&self) -> String {
        let t = lock(&self.tracker);
        t.current.as_ref().map_or_else(String::new, |c| {
            format!("rep {}/{} · {}", c.repetition, c.of, c.cell)
        })
    }
}

impl Progress for BarProgress {
    fn start(&self, eta: &Eta) {
        let line = lock(&self.tracker).start(eta);
        self.bar.set_length(eta.len() as u64);
        self.bar.println(format!("nfslab: {line}"));
    }

    fn step(&self, index: usize, cell: &Cell, repetition: u32, of: u32) {
        let _ = lock(&self.tracker).step(index, cell, repetition, of);
        self.bar.set_message(self.label());
    }

    fn phase(&self, phase: &str) {
        let label = self.label();
        self.bar.set_message(if label.is_empty() {
            phase.to_owned()
        } else {
            format!("{label} · {phase}")
        });
    }

    fn step_done(&self, done: &StepDone<'_>) {
        let (line, cell) = lock(&self.tracker).done(done);
        if !done.ok {
            self.bar.println(format!("nfslab: {line}"));
        }
        if let Some(cell) = cell {
            self.bar.println(format!("nfslab: {cell}"));
        }
        self.bar.inc(1);
    }

    fn note(&self, text: &str) {
        self.bar.println(format!("nfslab: note: {text}"));
    }

    fn finish(&self) {
        let line = lock(&self.tracker).finish();
        self.bar.finish_and_clear();
        eprintln!("nfslab: {line}");
    }
}

/// Records every event as a line, for tests.
#[derive(Default)]
pub struct RecordedProgress {
    lines: Mutex<Vec<String>>,
}

impl RecordedProgress {
    /// The events so far.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn push(&self, line: String) {
        if let Ok(mut l) = self.lines.lock() {
            l.push(line);
        }
    }
}

impl Progress for RecordedProgress {
    fn start(&self, eta: &Eta) {
        self.push(format!("start {}", eta.len()));
    }
    fn step(&self, index: usize, cell: &Cell, repetition: u32, of: u32) {
        self.push(format!("step {index} {} rep {repetition}/{of}", cell.id));
    }
    fn phase(&self, phase: &str) {
        self.push(format!("phase {phase}"));
    }
    fn step_done(&self, done: &StepDone<'_>) {
        self.push(format!("done {} {}", done.ok, done.message.unwrap_or("")));
    }
    fn note(&self, text: &str) {
        self.push(format!("note {text}"));
    }
    fn finish(&self) {
        self.push("finish".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(group: &str, secs: Option<u64>) -> PlannedStep {
        PlannedStep {
            cell: format!("s/{group}/p/k1"),
            group: group.to_owned(),
            measured: secs.map(Duration::from_secs),
        }
    }

    #[test]
    fn the_estimate_starts_from_the_plan_and_learns_per_workload() {
        let steps = vec![
            planned("seq", Some(60)),
            planned("rand", Some(30)),
            planned("seq", Some(60)),
            planned("rand", Some(30)),
        ];
        let mut eta = Eta::new(steps, Duration::from_secs(30));
        assert_eq!(eta.total(), Duration::from_secs(90 + 60 + 90 + 60));
        // The first seq step took 100 s: the other seq step takes 100 s; the rand steps
        // take their window plus the overhead just measured (100 - 60 = 40 s).
        eta.record(0, Duration::from_secs(100));
        assert_eq!(eta.estimate(2), Duration::from_secs(100));
        assert_eq!(eta.estimate(1), Duration::from_secs(70));
        assert_eq!(eta.remaining(None), Duration::from_secs(70 + 100 + 70));
        // Within a step, the ETA counts down from its estimate, never below zero.
        assert_eq!(
            eta.remaining(Some((1, Duration::from_secs(20)))),
            Duration::from_secs(50 + 100 + 70)
        );
        assert_eq!(
            eta.remaining(Some((1, Duration::from_secs(500)))),
            Duration::from_secs(100 + 70)
        );
    }

    #[test]
    fn untimed_jobs_take_a_default_window_until_one_finished() {
        let mut eta = Eta::new(
            vec![planned("meta", None), planned("meta", None)],
            Duration::from_secs(3),
        );
        assert_eq!(eta.estimate(1), UNTIMED_MEASURE + Duration::from_secs(3));
        eta.record(0, Duration::from_secs(7));
        assert_eq!(eta.estimate(1), Duration::from_secs(7));
    }

    fn cell(id: &str) -> Cell {
        let parts: Vec<&str> = id.split('/').collect();
        Cell {
            index: 0,
            id: id.to_owned(),
            server: parts[0].to_owned(),
            workload: parts[1].to_owned(),
            profile: parts[2].to_owned(),
            clients: 1,
            access: None,
        }
    }

    /// The plain lines a log gets (stderr not a terminal), for a run of two cells of two
    /// repetitions: one fails, one learns the ETA. Time is tokio's paused clock, advanced by
    /// hand, so the durations in the lines are exact.
    #[tokio::test(start_paused = true)]
    async fn lines_without_a_terminal() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let view = LineProgress::new(Box::new(move |l| {
            if let Ok(mut v) = sink.lock() {
                v.push(format!("nfslab: {l}"));
            }
        }));
        let a = "nas/seq-read-1m/doc-v3/k1";
        let b = "nas/seq-read-1m/doc-v4.1/k1";
        let eta = Eta::new(
            vec![
                PlannedStep {
                    cell: a.to_owned(),
                    group: "seq-read-1m/pods".to_owned(),
                    measured: Some(Duration::from_secs(60)),
                },
                PlannedStep {
                    cell: b.to_owned(),
                    group: "seq-read-1m/pods".to_owned(),
                    measured: Some(Duration::from_secs(60)),
                },
                PlannedStep {
                    cell: a.to_owned(),
                    group: "seq-read-1m/pods".to_owned(),
                    measured: Some(Duration::from_secs(60)),
                },
                PlannedStep {
                    cell: b.to_owned(),
                    group: "seq-read-1m/pods".to_owned(),
                    measured: Some(Duration::from_secs(60)),
                },
            ],
            CLUSTER_STEP_OVERHEAD,
        );
        let mb = |v: f64| Figure {
            headline: Headline::Bandwidth,
            value: v * 1e6,
        };
        view.start(&eta);
        let steps = [
            (a, 1, Some(812.0)),
            (b, 1, None),
            (a, 2, Some(790.0)),
            (b, 2, Some(905.0)),
        ];
        for (index, (id, rep, figure)) in steps.into_iter().enumerate() {
            view.step(index, &cell(id), rep, 2);
            view.phase("waiting for pods (file layout)");
            tokio::time::advance(Duration::from_secs(20)).await;
            view.phase("measuring");
            tokio::time::advance(Duration::from_secs(65)).await;
            view.step_done(&StepDone {
                ok: figure.is_some(),
                message: figure
                    .is_none()
                    .then_some("pod nfslab-c1-r1-k0: ImagePullBackOff"),
                figure: figure.map(mb),
            });
        }
        view.note("could not remove PersistentVolume/nfslab-x: timed out");
        view.phase("removing the run's namespace");
        view.finish();
        let text = lines.lock().map(|l| l.join("\n")).unwrap_or_default();
        insta::assert_snapshot!(text);
    }

    #[test]
    fn eta_text_is_rounded_so_it_does_not_flicker() {
        assert_eq!(format_eta(Duration::from_secs(59)), "under a minute");
        assert_eq!(format_eta(Duration::from_secs(274)), "4m 30s");
        assert_eq!(format_eta(Duration::from_secs(2725)), "45m");
        assert_eq!(format_eta(Duration::from_secs(7500)), "2h 05m");
        assert_eq!(format_took(Duration::from_secs(125)), "2m 05s");
    }
}
