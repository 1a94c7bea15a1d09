//! The nodes of a cluster as nfslab needs to know them: ready or not, control plane or
//! worker, and whether taints or a cordon keep nfslab's pods off them.
//!
//! Read from the API server's Node objects; used by the cluster status and by the NFS
//! server's node choice, so it lives below both.

use serde_json::Value;

use super::{Cluster, ClusterError};

/// One node as the API server reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// Node name.
    pub name: String,
    /// Whether its Ready condition is True.
    pub ready: bool,
    /// Whether it carries the control-plane role label.
    pub control_plane: bool,
    /// For kind nodes: whether `/sbin/mount.nfs` is there (`None`: not checked).
    pub mount_helper: Option<bool>,
    /// Taints that keep nfslab's pods off the node (`key=value:Effect`): every `NoSchedule`
    /// and `NoExecute` taint except the control-plane one the NFS server tolerates.
    pub taints: Vec<String>,
    /// Whether the node is cordoned (`spec.unschedulable`).
    pub cordoned: bool,
}

impl NodeStatus {
    /// Why nfslab's pods cannot be scheduled there, when they cannot.
    #[must_use]
    pub fn blocked(&self) -> Option<String> {
        let mut why = Vec::new();
        if self.cordoned {
            why.push("cordoned".to_owned());
        }
        if !self.taints.is_empty() {
            why.push(format!("tainted {}", self.taints.join(", ")));
        }
        (!why.is_empty()).then(|| why.join(" and "))
    }
}

/// The nodes of a cluster, sorted by name.
///
/// # Errors
/// [`ClusterError`] when they cannot be listed.
pub(crate) async fn node_statuses(cluster: &dyn Cluster) -> Result<Vec<NodeStatus>, ClusterError> {
    let nodes = cluster.list("v1", "Node", None, None).await?;
    let mut statuses: Vec<NodeStatus> = nodes.iter().map(node_status).collect();
    statuses.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(statuses)
}

fn node_status(node: &Value) -> NodeStatus {
    let ready = node
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
    let control_plane = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .is_some_and(|l| l.contains_key("node-role.kubernetes.io/control-plane"));
    // Taint keys and effects as the API defines them (k8s.io/api core/v1 types.go,
    // TaintEffectNoSchedule, TaintEffectNoExecute); PreferNoSchedule only steers.
    let taints = node
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .map(|taints| {
            taints
                .iter()
                .filter_map(|t| {
                    let key = t.get("key")?.as_str()?;
                    let effect = t.get("effect")?.as_str()?;
                    let tolerated =
                        key == "node-role.kubernetes.io/control-plane" && effect == "NoSchedule";
                    if tolerated || !matches!(effect, "NoSchedule" | "NoExecute") {
                        return None;
                    }
                    Some(match t.get("value").and_then(Value::as_str) {
                        Some(v) if !v.is_empty() => format!("{key}={v}:{effect}"),
                        _ => format!("{key}:{effect}"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    NodeStatus {
        name: node
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        ready,
        control_plane,
        mount_helper: None,
        taints,
        cordoned: node
            .pointer("/spec/unschedulable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_status_reads_ready_and_role() {
        let node = serde_json::json!({"metadata": {"name": "nfslab-control-plane",
            "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let s = node_status(&node);
        assert!(s.ready && s.control_plane);
        let worker = serde_json::json!({"metadata": {"name": "w"},
            "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        assert!(!node_status(&worker).ready);
    }
}
