//! Scenario results as versioned JSON.
//!
//! A run of scenarios produces one [`RunResults`] document (`schema_version`
//! [`SCHEMA_VERSION`]); reports (Markdown, HTML, JUnit) are rendered from it later, so
//! everything a report shows is in here: per-step outcome and duration, the objects'
//! observed phases, effective mount options, captured values, the scenario's notes
//! (hazards, disagreements with the documents), the diagnosis of a failure, and what
//! cleanup left behind.
//!
//! Compatibility: fields are only ever added within a schema version; readers ignore
//! fields they do not know. Durations are whole milliseconds; times are RFC 3339 UTC.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::k8s::diagnose::Diagnosis;
use crate::k8s::tracker::CleanupReport;

/// The version of the result document's schema.
pub const SCHEMA_VERSION: u32 = 1;

/// The `kind` of a scenario result document.
pub const KIND: &str = "nfslab-scenario-results";

/// How a scenario ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every step passed.
    Passed,
    /// A step's assertion did not hold (Kubernetes did something else).
    Failed,
    /// The harness or the environment broke (API unreachable, engine error).
    Error,
    /// Not run: the environment lacks something the scenario needs.
    Skipped,
    /// Stopped by the user; cleanup ran.
    Interrupted,
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    /// It did what it asserts.
    Passed,
    /// It did not.
    Failed,
    /// An earlier step failed, or the run was interrupted.
    NotRun,
}

/// Effective mount options of one mount, as a pod sees them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRecord {
    /// `namespace/name` of the pod.
    pub pod: String,
    /// The mounted path in the container.
    pub path: String,
    /// `nfs`, `nfs4`...
    pub fstype: String,
    /// `server:/export/path`.
    pub source: String,
    /// Per-mount options (`rw`, `relatime`).
    pub mount_options: Vec<String>,
    /// Superblock options: for NFS, what was negotiated (`vers=4.1`, `rsize=...`, `hard`).
    pub super_options: Vec<String>,
    /// What the PV or mount asked for, when the scenario states it.
    pub requested: Option<Vec<String>>,
}

/// Something a step saw, for the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Observation {
    /// An object's state when the step ended (`phase Bound, volumeName pv1`).
    State {
        /// The object.
        object: String,
        /// Its state.
        state: String,
    },
    /// An object was applied or deleted.
    Object {
        /// `applied` or `deleted`.
        action: String,
        /// The object.
        object: String,
    },
    /// A command ran in a pod.
    Exec {
        /// `namespace/name`.
        pod: String,
        /// The command.
        command: Vec<String>,
        /// Exit code.
        exit_code: i32,
        /// Standard output (shortened).
        stdout: String,
        /// Standard error (shortened).
        stderr: String,
    },
    /// Effective mount options.
    Mount(MountRecord),
    /// An event that matched.
    Event {
        /// What it is about.
        object: String,
        /// `Normal` or `Warning`.
        event_type: String,
        /// Reason.
        reason: String,
        /// Message.
        message: String,
    },
    /// A captured value.
    Captured {
        /// Its name.
        name: String,
        /// Its value.
        value: String,
    },
    /// Log lines.
    Log {
        /// `namespace/name`.
        pod: String,
        /// Container.
        container: Option<String>,
        /// Lines.
        lines: Vec<String>,
    },
    /// What was seen on the NFS server.
    File {
        /// Path under the scenario's directory.
        path: String,
        /// What was found.
        detail: String,
    },
    /// Anything else worth a line.
    Info {
        /// The line.
        text: String,
    },
}

/// One step's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    /// 1-based index.
    pub index: usize,
    /// Step kind (`wait`).
    pub kind: String,
    /// What it does.
    pub label: String,
    /// `file:line:column` of the step.
    pub location: String,
    /// How it ended.
    pub outcome: StepOutcome,
    /// How long it took.
    pub duration_ms: u64,
    /// Why it failed.
    pub message: Option<String>,
    /// What it saw.
    pub observations: Vec<Observation>,
}

/// One scenario's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Id (`static-binding-selector`).
    pub id: String,
    /// Catalog code (`S1`).
    pub code: Option<String>,
    /// Title.
    pub title: String,
    /// The scenario file.
    pub file: String,
    /// What it shows.
    pub description: String,
    /// Documents it replays.
    pub sources: Vec<String>,
    /// The namespace it ran in.
    pub namespace: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed, errored or was skipped.
    pub reason: Option<String>,
    /// When it started.
    pub started_at: String,
    /// How long it took, cleanup included.
    pub duration_ms: u64,
    /// Steps, all of them (those not run included).
    pub steps: Vec<StepResult>,
    /// The scenario's notes: hazards, disagreements with the documents, fixes.
    pub notes: Vec<Note>,
    /// Effective mount options recorded.
    pub mounts: Vec<MountRecord>,
    /// Values captured by `capture` steps.
    pub captured: BTreeMap<String, String>,
    /// What the cluster showed when it failed.
    pub diagnosis: Option<Diagnosis>,
    /// What cleanup did.
    pub cleanup: CleanupReport,
}

impl ScenarioResult {
    /// The failing step, if any.
    #[must_use]
    pub fn failed_step(&self) -> Option<&StepResult> {
        self.steps.iter().find(|s| s.outcome == StepOutcome::Failed)
    }

    /// A readable account of why it did not pass: the failing step, the diagnosis, and
    /// cleanup leftovers. Empty when it passed cleanly.
    #[must_use]
    pub fn explain(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        if let Some(step) = self.failed_step() {
            let _ = writeln!(
                out,
                "step {} `{}` ({}) failed: {}",
                step.index,
                step.label,
                step.location,
                step.message.as_deref().unwrap_or("no message")
            );
        } else if let Some(reason) = &self.reason {
            let _ = writeln!(out, "{reason}");
        }
        if let Some(d) = &self.diagnosis
            && !d.is_empty()
        {
            let _ = writeln!(out, "diagnosis:");
            out.push_str(&d.render());
        }
        if !self.cleanup.leftovers.is_empty() {
            let _ = writeln!(out, "cleanup left behind:");
            for l in &self.cleanup.leftovers {
                let _ = writeln!(
                    out,
                    "  {}{}: {}",
                    l.object,
                    l.state
                        .as_ref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default(),
                    l.reason
                );
            }
        }
        out
    }
}

/// Counts per outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Errored.
    pub errors: usize,
    /// Skipped.
    pub skipped: usize,
    /// Interrupted.
    pub interrupted: usize,
}

impl Summary {
    /// `3 passed, 1 failed, 0 errors, 2 skipped` (`, 1 interrupted` when any were).
    #[must_use]
    pub fn counts(&self) -> String {
        let mut text = format!(
            "{} passed, {} failed, {} errors, {} skipped",
            self.passed, self.failed, self.errors, self.skipped
        );
        if self.interrupted > 0 {
            text.push_str(&format!(", {} interrupted", self.interrupted));
        }
        text
    }
}

impl Summary {
    /// Counts of `results`.
    #[must_use]
    pub fn of(results: &[ScenarioResult]) -> Self {
        let mut s = Self::default();
        for r in results {
            match r.outcome {
                Outcome::Passed => s.passed += 1,
                Outcome::Failed => s.failed += 1,
                Outcome::Error => s.errors += 1,
                Outcome::Skipped => s.skipped += 1,
                Outcome::Interrupted => s.interrupted += 1,
            }
        }
        s
    }
}

/// What the scenarios ran against: the NFS server and the images (the `environment` field
/// of `scenarios.json`). The cluster and its nodes are the run's environment record,
/// `model::environment::Environment`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioTarget {
    /// NFS server flavor (`kernel`, `ganesha`, `external`).
    pub nfs_flavor: String,
    /// The address PVs named.
    pub nfs_address: String,
    /// The export.
    pub nfs_export: String,
    /// Images used.
    pub images: BTreeMap<String, String>,
}

/// A whole run of scenarios.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResults {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// [`KIND`].
    pub kind: String,
    /// The run id.
    pub run_id: String,
    /// When it started.
    pub started_at: String,
    /// How long it took.
    pub duration_ms: u64,
    /// What it ran against.
    pub environment: ScenarioTarget,
    /// Counts.
    pub summary: Summary,
    /// Each scenario, in catalog order.
    pub scenarios: Vec<ScenarioResult>,
}

impl RunResults {
    /// Whether every scenario passed (skipped ones do not count against it).
    #[must_use]
    pub fn all_passed(&self) -> bool {
        self.summary.failed == 0 && self.summary.errors == 0 && self.summary.interrupted == 0
    }
}

/// What a note in the report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoteKind {
    /// Something that can lose data or surprise an operator.
    Hazard,
    /// The documents and real Kubernetes disagree; the scenario asserts Kubernetes.
    Disagreement,
    /// How to fix what the scenario shows.
    Fix,
    /// Background.
    Info,
}

/// A note the scenario declares for the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// What it is about.
    pub kind: NoteKind,
    /// The text.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_is_stable() {
        let obs = Observation::State {
            object: "PersistentVolumeClaim `s1/pvc1`".into(),
            state: "phase Bound".into(),
        };
        assert_eq!(
            serde_json::to_value(&obs).expect("serializes"),
            serde_json::json!({"type": "state", "object": "PersistentVolumeClaim `s1/pvc1`",
                               "state": "phase Bound"})
        );
        let run = RunResults {
            schema_version: SCHEMA_VERSION,
            kind: KIND.into(),
            run_id: "20261123-144302-a1b2c3".into(),
            started_at: "2026-11-23T14:43:02Z".into(),
            duration_ms: 1,
            environment: ScenarioTarget::default(),
            summary: Summary::default(),
            scenarios: Vec::new(),
        };
        let text = serde_json::to_string(&run).expect("serializes");
        assert!(text.starts_with("{\"schema_version\":1,\"kind\":\"nfslab-scenario-results\""));
        let back: RunResults = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, run);
        assert!(back.all_passed());
    }
}
