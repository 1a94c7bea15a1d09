//! The environment a run ran in — the cluster, its Kubernetes version, its nodes and the NFS
//! servers — as every record keeps it: the benchmark's `run.json` and `summary.json`, and
//! the main job's `job.json` and combined report. One type, so a node or a server reads
//! the same wherever it is written.

use serde::{Deserialize, Serialize};

/// Where a run happened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// The cluster, for people (`kind nfslab-a1b2c3`, `existing cluster (context x)`,
    /// `local directories`).
    pub cluster: String,
    /// Kubernetes version, when known: the API server's for the main job, the first node's
    /// kubelet for a benchmark.
    pub kubernetes_version: Option<String>,
    /// Nodes, sorted by name.
    pub nodes: Vec<NodeInfo>,
    /// The NFS servers.
    pub servers: Vec<ServerRecord>,
    /// Anything else worth knowing (how fixture data was made, for instance).
    pub notes: Vec<String>,
}

/// A node of the cluster (or the host of a `--host` benchmark).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// `status.nodeInfo.kernelVersion`.
    pub kernel: Option<String>,
    /// `status.nodeInfo.osImage`.
    pub os_image: Option<String>,
    /// `status.nodeInfo.kubeletVersion`.
    pub kubelet: Option<String>,
    /// `status.nodeInfo.containerRuntimeVersion`.
    pub container_runtime: Option<String>,
}

/// An NFS server of the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerRecord {
    /// Name in the plan (the flavor for the main job's own servers).
    pub name: String,
    /// `kernel`, `ganesha` or `external` (or the StorageClass a benchmark went through).
    pub flavor: String,
    /// Address PVs use.
    pub address: String,
    /// Export path.
    pub export: String,
    /// The NFS versions a client pod mounted when the server was deployed and checked
    /// (`NFSv3 and NFSv4.1`); absent when it was not checked here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients_mounted: Option<String>,
}

impl ServerRecord {
    /// `ganesha 10.96.0.20:/exports`, with what the clients mounted when it was checked.
    #[must_use]
    pub fn line(&self) -> String {
        let line = format!("{} {}:{}", self.flavor, self.address, self.export);
        match &self.clients_mounted {
            Some(seen) => format!("{line} (clients mounted {seen})"),
            None => line,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(clients_mounted: Option<&str>) -> ServerRecord {
        ServerRecord {
            name: "ganesha".to_owned(),
            flavor: "ganesha".to_owned(),
            address: "10.96.0.20".to_owned(),
            export: "/exports".to_owned(),
            clients_mounted: clients_mounted.map(str::to_owned),
        }
    }

    #[test]
    fn a_server_line_says_what_the_clients_mounted_when_it_was_checked() {
        assert_eq!(server(None).line(), "ganesha 10.96.0.20:/exports");
        assert_eq!(
            server(Some("NFSv3 and NFSv4.2")).line(),
            "ganesha 10.96.0.20:/exports (clients mounted NFSv3 and NFSv4.2)"
        );
    }

    #[test]
    fn an_unchecked_server_is_written_as_benchmarks_always_wrote_it() {
        let json = serde_json::to_value(server(None)).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({
                "name": "ganesha", "flavor": "ganesha",
                "address": "10.96.0.20", "export": "/exports"
            })
        );
        let back: ServerRecord = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, server(None));
    }
}
