//! Progress of a benchmark run: which cell and repetition, what it is doing, what it
//! measured, and when the run will end.
//!
//! The runners report [`BenchEvent`]s to a [`Reporter`]. [`for_stderr`] picks the view: on a
//! terminal, [`BarProgress`] (an indicatif bar with the current step, its phase and the ETA;
//! failures and finished cells are printed above it); otherwise [`LineProgress`], one plain
//! line per step (start, end with its figure, failure with the reason), per phase and per
//! finished cell, so CI logs and `2>file` follow the run as it goes. Tests use
//! [`RecordedProgress`].
//!
//! The estimate ([`Eta`]) and the step events live in [`crate::progress`].

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use nfslab_workload::RunResult;
use tokio::time::Instant;

use crate::model::aggregate::headline_of;
use crate::model::matrix::Cell;
use crate::model::summary::Headline;
use crate::report::format::headline_with_unit;

pub use crate::progress::{
    BenchEvent, CLUSTER_STEP_OVERHEAD, Eta, Event, Figure, HOST_STEP_OVERHEAD, PlannedStep,
    Reporter, StepDone, UNTIMED_MEASURE, format_eta, format_took,
};

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

/// The view on stderr: the live bar on a terminal, plain lines otherwise.
#[must_use]
pub fn for_stderr() -> Arc<dyn Reporter> {
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

impl Reporter for LineProgress {
    fn report(&self, event: Event<'_>) {
        let line = match event {
            Event::Bench(BenchEvent::Start(eta)) => lock(&self.tracker).start(eta),
            Event::Bench(BenchEvent::Step {
                index,
                cell,
                repetition,
                of,
            }) => lock(&self.tracker).step(index, cell, repetition, of),
            Event::Bench(BenchEvent::Phase(phase)) => lock(&self.tracker).phase(phase),
            Event::Bench(BenchEvent::StepDone(done)) => {
                let (line, cell) = lock(&self.tracker).done(done);
                (self.sink)(&line);
                match cell {
                    Some(cell) => cell,
                    None => return,
                }
            }
            Event::Bench(BenchEvent::Note(text)) => format!("note: {text}"),
            Event::Bench(BenchEvent::Finish) => lock(&self.tracker).finish(),
            Event::Line(text) => text.to_owned(),
            _ => return,
        };
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

impl BarProgress {
    fn bench(&self, event: BenchEvent<'_>) {
        match event {
            BenchEvent::Start(eta) => {
                let line = lock(&self.tracker).start(eta);
                self.bar.set_length(eta.len() as u64);
                self.bar.println(format!("nfslab: {line}"));
            }
            BenchEvent::Step {
                index,
                cell,
                repetition,
                of,
            } => {
                let _ = lock(&self.tracker).step(index, cell, repetition, of);
                self.bar.set_message(self.label());
            }
            BenchEvent::Phase(phase) => {
                let label = self.label();
                self.bar.set_message(if label.is_empty() {
                    phase.to_owned()
                } else {
                    format!("{label} · {phase}")
                });
            }
            BenchEvent::StepDone(done) => {
                let (line, cell) = lock(&self.tracker).done(done);
                if !done.ok {
                    self.bar.println(format!("nfslab: {line}"));
                }
                if let Some(cell) = cell {
                    self.bar.println(format!("nfslab: {cell}"));
                }
                self.bar.inc(1);
            }
            BenchEvent::Note(text) => self.bar.println(format!("nfslab: note: {text}")),
            BenchEvent::Finish => {
                let line = lock(&self.tracker).finish();
                self.bar.finish_and_clear();
                eprintln!("nfslab: {line}");
            }
        }
    }
}

impl Reporter for BarProgress {
    fn report(&self, event: Event<'_>) {
        match event {
            Event::Bench(e) => self.bench(e),
            Event::Line(text) => self.bar.println(format!("nfslab: {text}")),
            _ => {}
        }
    }
}

/// Records every benchmark event as a line, for tests.
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

impl Reporter for RecordedProgress {
    fn report(&self, event: Event<'_>) {
        let line = match event {
            Event::Bench(BenchEvent::Start(eta)) => format!("start {}", eta.len()),
            Event::Bench(BenchEvent::Step {
                index,
                cell,
                repetition,
                of,
            }) => format!("step {index} {} rep {repetition}/{of}", cell.id),
            Event::Bench(BenchEvent::Phase(phase)) => format!("phase {phase}"),
            Event::Bench(BenchEvent::StepDone(done)) => {
                format!("done {} {}", done.ok, done.message.unwrap_or(""))
            }
            Event::Bench(BenchEvent::Note(text)) => format!("note {text}"),
            Event::Bench(BenchEvent::Finish) => "finish".to_owned(),
            _ => return,
        };
        self.push(line);
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
        view.report(Event::Bench(BenchEvent::Start(&eta)));
        let steps = [
            (a, 1, Some(812.0)),
            (b, 1, None),
            (a, 2, Some(790.0)),
            (b, 2, Some(905.0)),
        ];
        for (index, (id, rep, figure)) in steps.into_iter().enumerate() {
            view.report(Event::Bench(BenchEvent::Step {
                index,
                cell: &cell(id),
                repetition: rep,
                of: 2,
            }));
            view.report(Event::Bench(BenchEvent::Phase(
                "waiting for pods (file layout)",
            )));
            tokio::time::advance(Duration::from_secs(20)).await;
            view.report(Event::Bench(BenchEvent::Phase("measuring")));
            tokio::time::advance(Duration::from_secs(65)).await;
            view.report(Event::Bench(BenchEvent::StepDone(&StepDone {
                ok: figure.is_some(),
                message: figure
                    .is_none()
                    .then_some("pod nfslab-c1-r1-k0: ImagePullBackOff"),
                figure: figure.map(mb),
            })));
        }
        view.report(Event::Bench(BenchEvent::Note(
            "could not remove PersistentVolume/nfslab-x: timed out",
        )));
        view.report(Event::Bench(BenchEvent::Phase(
            "removing the run's namespace",
        )));
        view.report(Event::Bench(BenchEvent::Finish));
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
