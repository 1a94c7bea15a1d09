//! The live view of running scenarios on a terminal.
//!
//! One spinner per running scenario shows its current step (`S4 nginx-serves-nfs-content
//! · step 7/13 · http-get ...`), an overall bar counts finished scenarios, and a line is
//! printed above the bars for every finished step and scenario, so the scroll-back is a
//! readable log. Without a terminal (CI logs) the bars are hidden and the same lines go to
//! stderr.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::model::scenarios::{Outcome, StepOutcome};
use crate::progress::{Event, Reporter, ScenarioEvent};

/// A live terminal view; build it with the number of scenarios to run.
pub struct LiveView {
    multi: MultiProgress,
    overall: ProgressBar,
    bars: Mutex<BTreeMap<String, (ProgressBar, usize)>>,
}

/// The overall bar: finished scenarios, elapsed time and the ETA from the pace so far.
const OVERALL: &str = "{bar:30} {pos}/{len} scenarios  {elapsed_precise}  ETA {eta}";

/// One running scenario: its current step.
const RUNNING: &str = "{spinner} {msg}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn seconds(ms: u64) -> String {
    format!("{:.1}s", Duration::from_millis(ms).as_secs_f64())
}

impl LiveView {
    /// A view of `total` scenarios on stderr.
    #[must_use]
    pub fn new(total: usize) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(total as u64));
        overall.set_style(style(OVERALL));
        Self {
            multi,
            overall,
            bars: Mutex::new(BTreeMap::new()),
        }
    }

    fn line(&self, text: &str) {
        if self.multi.is_hidden() || self.multi.println(text).is_err() {
            eprintln!("{text}");
        }
    }

    /// Removes the bars (call when everything ended).
    pub fn finish(&self) {
        self.overall.finish_and_clear();
    }
}

impl Reporter for LiveView {
    fn report(&self, event: Event<'_>) {
        match event {
            Event::Scenario(event) => self.scenario(event),
            Event::Line(text) => self.line(text),
            _ => {}
        }
    }
}

impl LiveView {
    fn scenario(&self, event: ScenarioEvent<'_>) {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            ScenarioEvent::ScenarioStarted { id, steps } => {
                let bar = self
                    .multi
                    .insert_before(&self.overall, ProgressBar::new_spinner());
                bar.set_style(style(RUNNING));
                bar.enable_steady_tick(Duration::from_millis(120));
                bar.set_message(format!("{id} · starting"));
                bars.insert(id.to_owned(), (bar, steps));
            }
            ScenarioEvent::StepStarted { id, index, label } => {
                if let Some((bar, total)) = bars.get(id) {
                    bar.set_message(format!("{id} · step {index}/{total} · {label}"));
                }
            }
            ScenarioEvent::StepFinished { id, result } => {
                let mark = match result.outcome {
                    StepOutcome::Passed => "ok",
                    StepOutcome::Failed => "FAILED",
                    StepOutcome::NotRun => "not run",
                };
                drop(bars);
                self.line(&format!(
                    "  {id} · step {} {} ... {mark} ({})",
                    result.index,
                    result.label,
                    seconds(result.duration_ms)
                ));
                if let Some(m) = &result.message {
                    self.line(&format!("      {m}"));
                }
            }
            ScenarioEvent::CleanupStarted { id } => {
                if let Some((bar, _)) = bars.get(id) {
                    bar.set_message(format!("{id} · cleaning up"));
                }
            }
            ScenarioEvent::ScenarioFinished { result } => {
                if let Some((bar, _)) = bars.remove(&result.id) {
                    bar.finish_and_clear();
                }
                drop(bars);
                self.overall.inc(1);
                let word = match result.outcome {
                    Outcome::Passed => "PASSED",
                    Outcome::Failed => "FAILED",
                    Outcome::Error => "ERROR",
                    Outcome::Skipped => "SKIPPED",
                    Outcome::Interrupted => "INTERRUPTED",
                };
                let code = result
                    .code
                    .as_deref()
                    .map(|c| format!("{c} "))
                    .unwrap_or_default();
                self.line(&format!(
                    "{word} {code}{} ({})",
                    result.id,
                    seconds(result.duration_ms)
                ));
                if result.outcome != Outcome::Passed {
                    for l in result.explain().lines() {
                        self.line(&format!("    {l}"));
                    }
                } else if !result.cleanup.leftovers.is_empty() {
                    for l in &result.cleanup.leftovers {
                        self.line(&format!("    left behind: {} ({})", l.object, l.reason));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_templates_parse() {
        for template in [OVERALL, RUNNING] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }
}
