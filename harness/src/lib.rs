//! nfslab: end-to-end tests and benchmarks for Kubernetes storage on NFS.
//!
//! # Layout
//! - [`cluster`]: the kind or existing cluster (preflight, kind driver, images, state), and
//!   the debug bundle a failed run leaves before anything is torn down ([`cluster::debug`]).
//! - [`k8s`]: the narrow [`k8s::Cluster`] interface scenarios and benchmarks use, readiness
//!   [`k8s::conditions`], watch-based [`k8s::wait`]s, run [`k8s::ownership`] labels, and the
//!   scripted [`k8s::fake`] cluster for engine tests.
//! - [`nfs`]: the NFS server under test, how to reach its files, and the mount-option model.
//! - [`bench`](mod@bench): benchmark plans, the cell matrix, the runner and result aggregation.
//! - [`report`]: result summaries, Markdown/CSV/HTML reports and run comparison.
//! - [`render`]: the manifests and kind configuration as YAML, without a cluster.
//! - [`scenario`]: the scenario format, validation, engine, catalog and results.
//! - [`run`](mod@run): the main job `nfslab run` (environment, scenarios, benchmark, tear-down,
//!   one combined report).
//! - [`environment`]: brings up the cluster and NFS servers every run needs, and removes them.
//! - [`config`]: timeouts and other tunables, with commented defaults.
//! - [`exit`]: the documented process exit codes.
//! - [`names`]: the grammar of user-given names that become paths or object names.
//! - [`advice`]: what a user can do on this machine when preflight refuses a kind run.
//! - [`output`]: the documents `-o json|yaml` prints for listing and status commands.

pub mod advice;
pub mod bench;
pub mod cluster;
pub mod config;
pub mod environment;
pub mod errors;
pub mod exit;
pub mod k8s;
pub mod model;
pub mod names;
pub mod nfs;
pub mod output;
pub mod render;
pub mod report;
pub mod run;
pub mod scenario;
