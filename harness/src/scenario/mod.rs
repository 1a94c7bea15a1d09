//! Scenarios: declarative replays of PV/PVC behaviour on a real cluster.
//!
//! A scenario is a YAML file in `scenarios/` (format: `scenarios/README.md`): an id, a
//! title, notes for the report, and steps (apply manifests, wait for a phase, check that a
//! claim stays Pending, exec in a pod, check files on the NFS server, expect an event...).
//!
//! # Layout
//! - `load`: reading a file into a [`plan::Scenario`], rejecting every problem with
//!   `file:line:column` and a hint before anything touches a cluster; `validate`: the
//!   validator's core every step kind's checks use (the file's shared serde pieces live
//!   privately in `format`);
//! - [`plan`]: the validated model the engine runs;
//! - `template`: `{{ variable }}` templating of strings, and the run's values;
//! - [`catalog`]: the `scenarios/` directory;
//! - [`commands`]: what `nfslab scenarios list | show | run` do;
//! - `live`: the live terminal view of running scenarios;
//! - `engine`: running scenarios (one namespace each, bounded parallelism, diagnosis,
//!   cleanup on success, failure, panic and Ctrl-C) with progress for a live view;
//! - `steps`: the step kinds, one file per family (`objects`, `waits`, `pods`, `server`,
//!   `cluster`), each holding its kinds' file format, validation and what they do against
//!   the cluster and the NFS server; the shared step context in `steps/mod.rs`;
//! - `files`: the NFS server's files and restarts ([`ServerFiles`],
//!   [`ServerControl`]);
//! - `provisioner`: the nfs-subdir-external-provisioner objects;
//! - [`env`](mod@env): the environment scenarios run in, and the one place it is prepared;
//! - `render`: what a scenario would apply, for dry runs;
//! - the versioned JSON results that reports are rendered from are
//!   [`crate::model::scenarios`], with the run's other documents;
//! - [`junit`]: the same results as a JUnit XML report for CI.

pub mod catalog;
pub mod commands;
pub(crate) mod engine;
#[cfg(test)]
mod engine_tests;
pub mod env;
mod files;
mod format;
pub mod junit;
mod live;
pub(crate) mod load;
pub mod plan;
mod provisioner;
mod render;
mod steps;
pub(crate) mod template;
mod validate;

pub use crate::model::scenarios::{Outcome, RunResults, ScenarioResult};
pub use crate::progress::{Quiet, Reporter, ScenarioEvent};
pub use catalog::Catalog;
pub use engine::{Gate, GatePass, RunOptions, run_all, run_scenario};
pub use env::ScenarioEnv;
pub use files::{ControlError, ExecFiles, FilesError, ServerControl, ServerFiles};
pub use live::LiveView;
pub use load::{load_file, parse};
pub use plan::Scenario;
pub use render::RenderError;
pub use template::{Images, namespace_for, prefix_for};
pub use validate::{ScenarioError, ValidationErrors};
