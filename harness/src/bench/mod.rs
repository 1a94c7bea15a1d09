//! The mount-option benchmark matrix.
//!
//! # Layout
//! - [`plan`]: benchmark plans (YAML) and their checks, with `file:line:column` errors.
//! - [`matrix`]: cells (server x workload x profile x clients) with stable ids, run order.
//! - [`manifests`]: the ConfigMap, PV, PVC and client pods of each cell repetition.
//! - [`environment`]: the seam that provides the cluster and in-cluster servers.
//! - [`storage_class`]: benchmarking through the user's StorageClass (a clone per profile).
//! - [`runner`]: the matrix on a cluster (PV/PVC/pods per cell, barrier, collection,
//!   cleanup, Ctrl-C); [`progress`]: its progress bar.
//! - `cells`: the cell loop the cluster runner and the host runner ([`host`]) share.
//! - [`results`]: the results directory (`run.json`, raw per-pod JSON), written
//!   incrementally.
//! - [`aggregate`]: raw results to the versioned summary (medians, CV, exact histogram
//!   merges, options diff).

mod cells;
pub mod environment;
pub mod host;
pub mod manifests;
pub mod progress;
pub mod runner;
pub mod storage_class;

pub use crate::model::{aggregate, matrix, plan, results};
