//! The objects of nfs-subdir-external-provisioner, as its own `deploy/` manifests define
//! them: a ServiceAccount, a ClusterRole and ClusterRoleBinding for provisioning, a Role and
//! RoleBinding for leader election, and a Deployment with `NFS_SERVER`, `NFS_PATH` and
//! `PROVISIONER_NAME` and the NFS root mounted at `/persistentvolumes` through an `nfs:`
//! volume. Scenarios apply them in their namespace; cluster-scoped names carry the run prefix
//! so runs can share a cluster.

use serde_json::{Value, json};

use crate::k8s::ownership::{MANAGED_BY, MANAGED_BY_LABEL};

/// Name of the namespaced objects (ServiceAccount, Deployment), as upstream names them.
pub(crate) const NAME: &str = "nfs-client-provisioner";
/// Name of the leader-election Role and RoleBinding, as upstream names them.
pub(crate) const LEADER_LOCKING: &str = "leader-locking-nfs-client-provisioner";
/// The provisioner name upstream's examples use (`StorageClass.provisioner`).
pub(crate) const DEFAULT_PROVISIONER_NAME: &str = "k8s-sigs.io/nfs-subdir-external-provisioner";

/// What the provisioner's objects depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Params {
    /// Prefix for cluster-scoped names (`nfslab-a1b2c3`).
    pub run_prefix: String,
    /// Namespace of the ServiceAccount, Role, RoleBinding and Deployment.
    pub namespace: String,
    /// NFS server address (an IP: the kubelet mounts the root volume from the node).
    pub server: String,
    /// Exported directory under which volumes are created.
    pub path: String,
    /// Provisioner name StorageClasses refer to.
    pub provisioner_name: String,
    /// Provisioner image.
    pub image: String,
}

impl Params {
    /// The ClusterRole's name.
    #[must_use]
    pub(crate) fn cluster_role(&self) -> String {
        format!("{}-nfs-client-provisioner-runner", self.run_prefix)
    }

    /// The ClusterRoleBinding's name.
    #[must_use]
    pub(crate) fn cluster_role_binding(&self) -> String {
        format!("{}-run-nfs-client-provisioner", self.run_prefix)
    }
}

/// The provisioner's objects in apply order (identity and permissions before the Deployment).
#[must_use]
pub(crate) fn manifests(params: &Params) -> Vec<Value> {
    let labels = json!({
        MANAGED_BY_LABEL: MANAGED_BY,
        "app.kubernetes.io/name": "nfs-subdir-external-provisioner",
    });
    let meta = |name: &str| json!({"name": name, "namespace": params.namespace, "labels": labels});
    let cluster_meta = |name: String| json!({"name": name, "labels": labels});
    let subject = json!([{"kind": "ServiceAccount", "name": NAME, "namespace": params.namespace}]);
    let service_account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(NAME),
    });
    let cluster_role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": cluster_meta(params.cluster_role()),
        "rules": [
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["persistentvolumes"],
             "verbs": ["get", "list", "watch", "create", "delete"]},
            {"apiGroups": [""], "resources": ["persistentvolumeclaims"],
             "verbs": ["get", "list", "watch", "update"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "update", "patch"]},
        ],
    });
    let cluster_role_binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": cluster_meta(params.cluster_role_binding()),
        "subjects": subject,
        "roleRef": {"kind": "ClusterRole", "name": params.cluster_role(),
                    "apiGroup": "rbac.authorization.k8s.io"},
    });
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta(LEADER_LOCKING),
        "rules": [
            {"apiGroups": [""], "resources": ["endpoints"],
             "verbs": ["get", "list", "watch", "create", "update", "patch"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
             "verbs": ["get", "create", "update"]},
        ],
    });
    let role_binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta(LEADER_LOCKING),
        "subjects": subject,
        "roleRef": {"kind": "Role", "name": LEADER_LOCKING,
                    "apiGroup": "rbac.authorization.k8s.io"},
    });
    let mut deployment_meta = meta(NAME);
    deployment_meta["labels"]["app"] = json!(NAME);
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": deployment_meta,
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME, MANAGED_BY_LABEL: MANAGED_BY}},
                "spec": {
                    "serviceAccountName": NAME,
                    "containers": [{
                        "name": NAME,
                        "image": params.image,
                        "imagePullPolicy": "IfNotPresent",
                        "volumeMounts": [{"name": "nfs-client-root",
                                          "mountPath": "/persistentvolumes"}],
                        "env": [
                            {"name": "PROVISIONER_NAME", "value": params.provisioner_name},
                            {"name": "NFS_SERVER", "value": params.server},
                            {"name": "NFS_PATH", "value": params.path},
                        ],
                    }],
                    "volumes": [{"name": "nfs-client-root",
                                 "nfs": {"server": params.server, "path": params.path}}],
                },
            },
        },
    });
    vec![
        service_account,
        cluster_role,
        cluster_role_binding,
        role,
        role_binding,
        deployment,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params {
            run_prefix: "nfslab-a1b2c3".to_owned(),
            namespace: "nfslab-d1-a1b2c3".to_owned(),
            server: "10.96.100.7".to_owned(),
            path: "/exports".to_owned(),
            provisioner_name: DEFAULT_PROVISIONER_NAME.to_owned(),
            image: "registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2".to_owned(),
        }
    }

    #[test]
    fn manifests_snapshot() {
        insta::assert_snapshot!(crate::render::yaml_documents(&manifests(&params())));
    }

    #[test]
    fn cluster_scoped_names_carry_the_run_prefix_and_bind_the_namespaced_account() {
        let docs = manifests(&params());
        for doc in &docs {
            let cluster_scoped = doc["kind"]
                .as_str()
                .is_some_and(|k| k.starts_with("Cluster"));
            let name = doc["metadata"]["name"].as_str().expect("name");
            assert_eq!(cluster_scoped, name.starts_with("nfslab-a1b2c3-"), "{name}");
            assert_eq!(
                doc["metadata"].get("namespace").is_none(),
                cluster_scoped,
                "{name}"
            );
        }
        assert_eq!(docs[2]["roleRef"]["name"], docs[1]["metadata"]["name"]);
        assert_eq!(docs[2]["subjects"][0]["namespace"], "nfslab-d1-a1b2c3");
        let env = &docs[5]["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(
            env[1],
            json!({"name": "NFS_SERVER", "value": "10.96.100.7"})
        );
        assert_eq!(
            docs[5]["spec"]["template"]["spec"]["volumes"][0]["nfs"],
            json!({"server": "10.96.100.7", "path": "/exports"})
        );
    }
}
