//! The environment a run ran in, as the combined report records it: the cluster, its
//! Kubernetes version, its nodes and the NFS servers.

use serde::{Deserialize, Serialize};

/// What the reports record about an environment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentInfo {
    /// `kind <name>` or `existing cluster (context x)`.
    pub cluster: String,
    /// Kubernetes version of the API server (`1.33`), when it answered.
    pub kubernetes_version: Option<String>,
    /// Node names with their kernel and kubelet versions.
    pub nodes: Vec<NodeInfo>,
    /// The servers: flavor, address and export.
    pub servers: Vec<String>,
}

/// One node as reports show it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// `status.nodeInfo.kernelVersion`.
    pub kernel: String,
    /// `status.nodeInfo.kubeletVersion`.
    pub kubelet: String,
    /// `status.nodeInfo.osImage`.
    pub os_image: String,
}
