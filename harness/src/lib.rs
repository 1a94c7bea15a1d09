//! nfslab: end-to-end tests and benchmarks for Kubernetes storage on NFS.
