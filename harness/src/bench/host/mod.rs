//! Benchmarks from the host: a plan's workloads against NFS servers given as
//! `host:/export`, without Kubernetes (`nfslab bench --host`).
//!
//! placeholder
pub mod protocol;
