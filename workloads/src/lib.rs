//! The nfslab IO engine.
//!
//! `nfslab-io` runs fio-style jobs with plain POSIX calls (through `nix`) on a directory, so
//! the same static binary measures a mounted NFS volume inside a pod or a local directory on
//! a host.
