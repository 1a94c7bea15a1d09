//! nfslab: end-to-end tests and benchmarks for Kubernetes storage on NFS.
//!
//! # Layout
//! - [`k8s`]: the narrow [`k8s::Cluster`] interface scenarios and benchmarks use, readiness
//!   [`k8s::conditions`], watch-based [`k8s::wait`]s, run [`k8s::ownership`] labels, and the
//!   scripted [`k8s::fake`] cluster for engine tests.
//! - [`nfs`]: the NFS server under test and how to reach its files.
//! - [`scenario`]: the scenario format, validation, engine, catalog and results.
//! - [`config`]: timeouts and other tunables, with commented defaults.
//! - [`exit`]: the documented process exit codes.

pub mod config;
pub mod exit;
pub mod k8s;
pub mod nfs;
pub mod scenario;
