//! The NFS server the scenarios and benchmarks use, and how to reach its files.
//!
//! A server is described by [`NfsServer`]: the address PVs name (a Service ClusterIP or pod
//! IP for in-cluster servers, never a DNS name: the kubelet mounts from the node, which cannot
//! resolve cluster DNS), the export path (identical for NFSv3 and NFSv4.x clients), and, for
//! servers nfslab runs itself, a container from which files under the export can be read and
//! written directly ("server side"), which scenarios use to prepare and check data.

pub mod mount_options;

use serde::{Deserialize, Serialize};

use crate::k8s::ObjectRef;

/// Which server implementation serves the export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerFlavor {
    /// The Linux kernel nfsd in a privileged pod (what Kubernetes' own e2e tests use).
    Kernel,
    /// nfs-ganesha, a userspace server, in a pod: for hosts without the nfsd module.
    Ganesha,
    /// A server outside the cluster (`host:/export`), e.g. the user's NAS.
    External,
}

/// Where a server's files can be reached directly: a container that mounts the exported
/// directory and runs the `nfslab-io` helper commands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileAccess {
    /// The pod.
    pub pod: ObjectRef,
    /// The container within the pod.
    pub container: String,
    /// Path of the export's root inside that container.
    pub root: String,
}

/// An NFS server as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NfsServer {
    /// The implementation.
    pub flavor: ServerFlavor,
    /// Address for `spec.nfs.server` in PVs and for mounts: an IP address (or, for external
    /// servers, whatever the nodes resolve).
    pub address: String,
    /// Exported path, the same for NFSv3 and NFSv4.x clients (`/exports`).
    pub export: String,
    /// Direct access to the files, for servers nfslab runs (`None` for external servers).
    pub files: Option<FileAccess>,
}
