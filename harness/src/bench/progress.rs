//! Progress of a benchmark run: which cell and repetition, what it is doing, and the ETA.
//!
//! The runner reports through [`Progress`]; [`BarProgress`] draws an indicatif bar on a
//! terminal (hidden when stderr is not one), tests use [`RecordedProgress`].

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::matrix::Cell;

/// Receives the runner's progress.
pub trait Progress: Send + Sync {
    /// The run has `steps` repetitions to do in total.
    fn start(&self, steps: usize);
    /// Step `index` (0-based) begins: repetition `repetition` of `of` for `cell`.
    fn step(&self, index: usize, cell: &Cell, repetition: u32, of: u32);
    /// The current step entered a phase (`waiting for pods`, `measuring`...).
    fn phase(&self, phase: &str);
    /// The current step ended.
    fn step_done(&self, ok: bool, message: Option<&str>);
    /// A line for the user (warnings, cleanup).
    fn note(&self, text: &str);
    /// The run ended.
    fn finish(&self);
}

/// No output.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: usize) {}
    fn step(&self, _: usize, _: &Cell, _: u32, _: u32) {}
    fn phase(&self, _: &str) {}
    fn step_done(&self, _: bool, _: Option<&str>) {}
    fn note(&self, _: &str) {}
    fn finish(&self) {}
}

/// An indicatif progress bar on stderr: `[00:12:31] ████░░ 14/42 ETA 25m rep 2/3 ·
/// in-cluster/seq-read-1m/doc-v3/k1 · measuring`.
pub struct BarProgress {
    bar: ProgressBar,
    label: Mutex<String>,
}

impl BarProgress {
    /// A bar drawn on stderr when it is a terminal.
    #[must_use]
    pub fn stderr() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "[{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("█▓░");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(500));
        Self {
            bar,
            label: Mutex::new(String::new()),
        }
    }

    fn label(&self) -> String {
        self.label.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Progress for BarProgress {
    fn start(&self, steps: usize) {
        self.bar.set_length(steps as u64);
    }

    fn step(&self, _index: usize, cell: &Cell, repetition: u32, of: u32) {
        let label = format!("rep {repetition}/{of} · {}", cell.id);
        self.bar.set_message(label.clone());
        if let Ok(mut l) = self.label.lock() {
            *l = label;
        }
    }

    fn phase(&self, phase: &str) {
        self.bar.set_message(format!("{} · {phase}", self.label()));
    }

    fn step_done(&self, ok: bool, message: Option<&str>) {
        if !ok {
            self.bar.println(format!(
                "failed: {}: {}",
                self.label(),
                message.unwrap_or("no reason")
            ));
        }
        self.bar.inc(1);
    }

    fn note(&self, text: &str) {
        self.bar.println(text);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
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
    fn start(&self, steps: usize) {
        self.push(format!("start {steps}"));
    }
    fn step(&self, index: usize, cell: &Cell, repetition: u32, of: u32) {
        self.push(format!("step {index} {} rep {repetition}/{of}", cell.id));
    }
    fn phase(&self, phase: &str) {
        self.push(format!("phase {phase}"));
    }
    fn step_done(&self, ok: bool, message: Option<&str>) {
        self.push(format!("done {ok} {}", message.unwrap_or("")));
    }
    fn note(&self, text: &str) {
        self.push(format!("note {text}"));
    }
    fn finish(&self) {
        self.push("finish".to_owned());
    }
}
