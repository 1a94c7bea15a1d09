//! The mount-option benchmark matrix.
//!
//! # Layout
//! - [`manifests`]: the ConfigMap, PV, PVC and client pods of each cell repetition.
//! - `environment`: `nfslab bench` as a work of the orchestrator ([`BenchWork`]) and what
//!   it asks of the environment ([`EnvironmentRequest`]).
//! - `storage_class`: benchmarking through the user's StorageClass (a clone per profile,
//!   [`SourceClass`]).
//! - `runner`: the matrix on a cluster ([`run_bench`]: PV/PVC/pods per cell, barrier,
//!   collection, cleanup, Ctrl-C); [`host`]: the matrix from this host; `cells`: the cell loop both
//!   share; [`progress`]: their progress bar.
//!
//! What a benchmark plans, records and concludes (plans, the matrix, the results
//! directory, aggregation) are documents of the run, in [`crate::model`].

mod cells;
mod environment;
pub mod host;
pub mod manifests;
pub mod progress;
pub(crate) mod runner;
pub(crate) mod storage_class;

pub use environment::{BenchEnd, BenchWork, EnvironmentRequest, Writer};
pub use runner::{
    BenchError, BenchOutcome, IgnoredOptions, RunnerOptions, StepError, Target, run_bench,
};
pub use storage_class::{ClassError, SourceClass, Support};
