//! The run's data: every document a run plans, records and concludes, in one place shared
//! by the code that writes it (the benchmark runner, the scenario engine, the environment)
//! and the code that reads it (reports, comparison, the CLI).
//!
//! Pure data and pure functions over it: nothing here talks to a cluster, renders a report
//! or prints progress, so everything above can depend on it and it depends on nothing above
//! (the mount-option model in [`crate::nfs`], the configuration's server flavor, names).
//!
//! # Layout
//! - [`plan`]: benchmark plans (YAML) and their checks, with `file:line:column` errors; the
//!   plan a run follows is also written to its results directory (`plan.json`).
//! - [`matrix`]: cells (server x workload x profile x clients) with stable ids, run order.
//! - [`nas`]: NAS reference tiers and how measured figures compare with them.
//! - [`results`]: the results directory (`run.json`, raw per-pod JSON, the plan), written
//!   incrementally, read back version-checked.
//! - `aggregate`: raw results to the versioned summary (medians, CV, exact histogram
//!   merges, options diff).
//! - [`summary`]: the versioned summary document reports are rendered from.
//! - [`scenarios`]: the versioned scenario results (`scenarios.json`).
//! - `environment`: the one record of the environment a run ran in (cluster, nodes,
//!   servers), kept by `run.json`, `summary.json` and `job.json` alike.

pub(crate) mod aggregate;
pub(crate) mod environment;
pub mod matrix;
pub mod nas;
pub mod plan;
pub mod results;
pub mod scenarios;
pub mod summary;

pub use aggregate::{AggregateError, mount_efficiency, summarize_dir};
pub use environment::{Environment, NodeInfo, ServerRecord};
pub use matrix::{AccessPath, Matrix};
pub use nas::{NasReference, parse_tiers};
