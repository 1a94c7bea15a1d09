//! The nfs-subdir-external-provisioner objects a `deploy-provisioner` step applies.
//!
//! The objects come from `scenarios/manifests/nfs-subdir-external-provisioner.yaml`
//! (embedded at build time), rendered with [`Params`]: a ServiceAccount, a ClusterRole and
//! ClusterRoleBinding carrying the scenario's prefix, a leader-election Role and
//! RoleBinding, and the Deployment with `PROVISIONER_NAME`, `NFS_SERVER` and `NFS_PATH`
//! and the NFS root mounted at `/persistentvolumes`. StorageClasses are not part of it:
//! scenarios apply their own, with the parameters they assert (`onDelete`,
//! `archiveOnDelete`, `pathPattern`).

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::Value as Ctx;
use serde_json::Value;

use super::template::{Known, Templates};
use crate::k8s::manifest::{self, Node};

/// The template, as shipped in `scenarios/manifests/`.
pub(super) const TEMPLATE: &str =
    include_str!("../../../scenarios/manifests/nfs-subdir-external-provisioner.yaml");

/// Where the template lives, for messages.
pub(super) const TEMPLATE_PATH: &str = "scenarios/manifests/nfs-subdir-external-provisioner.yaml";

/// What varies between deployments of the provisioner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Params {
    /// Deployment and ServiceAccount name (`nfs-client-provisioner`).
    pub name: String,
    /// Namespace it runs in.
    pub namespace: String,
    /// Prefix of its cluster-wide RBAC names.
    pub prefix: String,
    /// `PROVISIONER_NAME`, which StorageClasses name.
    pub provisioner: String,
    /// `NFS_SERVER`: an address the nodes reach.
    pub server: String,
    /// `NFS_PATH`: the exported directory volumes are made under.
    pub path: String,
    /// The provisioner image.
    pub image: String,
}

/// The template could not be turned into manifests.
#[derive(Debug, thiserror::Error)]
#[error("{TEMPLATE_PATH}:{pos}: {message}")]
pub(super) struct ProvisionerError {
    /// Where in the template.
    pub pos: manifest::Pos,
    /// What went wrong.
    pub message: String,
}

/// The manifests (without namespace and ownership labels, which the engine adds).
///
/// # Errors
/// The template is broken (a bug in the shipped file, caught by its unit test).
pub(super) fn manifests(params: &Params) -> Result<Vec<Value>, ProvisionerError> {
    let docs = manifest::parse_documents(TEMPLATE, Path::new(TEMPLATE_PATH)).map_err(|e| {
        ProvisionerError {
            pos: e.pos,
            message: e.message,
        }
    })?;
    let templates = Templates::new();
    let keys = [
        "name",
        "namespace",
        "prefix",
        "provisioner",
        "server",
        "path",
        "image",
    ];
    let known = Known {
        scalars: keys.iter().map(|k| (*k).to_owned()).collect(),
        maps: BTreeMap::new(),
    };
    let values = [
        &params.name,
        &params.namespace,
        &params.prefix,
        &params.provisioner,
        &params.server,
        &params.path,
        &params.image,
    ];
    let ctx = Ctx::from(
        keys.iter()
            .zip(values)
            .map(|(k, v)| ((*k).to_owned(), Ctx::from(v.as_str())))
            .collect::<BTreeMap<String, Ctx>>(),
    );
    docs.iter()
        .map(|doc| {
            let rendered = doc.value.try_map_strings(doc.pos, &mut |s, pos| {
                templates
                    .check(s, &known)
                    .and_then(|()| templates.render(s, &ctx))
                    .map_err(|issue| ProvisionerError {
                        pos,
                        message: issue.message,
                    })
            })?;
            match rendered {
                Node::Map(_) => Ok(rendered.to_json()),
                _ => Err(ProvisionerError {
                    pos: doc.pos,
                    message: "a document is not a mapping".to_owned(),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params {
            name: "nfs-client-provisioner".into(),
            namespace: "nfslab-d1-a1b2c3".into(),
            prefix: "nfslab-a1b2c3-d1".into(),
            provisioner: "nfslab-a1b2c3-d1/nfs-subdir-external-provisioner".into(),
            server: "10.96.0.20".into(),
            path: "/exports/nfslab-d1-a1b2c3".into(),
            image: "registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2".into(),
        }
    }

    #[test]
    fn renders_rbac_and_deployment_with_prefixed_cluster_names() {
        let m = manifests(&params()).expect("renders");
        let kinds: Vec<&str> = m.iter().filter_map(|v| v["kind"].as_str()).collect();
        assert_eq!(
            kinds,
            vec![
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "Role",
                "RoleBinding",
                "Deployment"
            ]
        );
        assert_eq!(
            m[1]["metadata"]["name"],
            "nfslab-a1b2c3-d1-nfs-client-provisioner-runner"
        );
        assert_eq!(m[2]["subjects"][0]["namespace"], "nfslab-d1-a1b2c3");
        assert_eq!(m[2]["roleRef"]["name"], m[1]["metadata"]["name"]);
        let container = &m[5]["spec"]["template"]["spec"]["containers"][0];
        let env: BTreeMap<&str, &str> = container["env"]
            .as_array()
            .expect("env")
            .iter()
            .filter_map(|e| Some((e["name"].as_str()?, e["value"].as_str()?)))
            .collect();
        assert_eq!(env["PROVISIONER_NAME"], params().provisioner);
        assert_eq!(env["NFS_SERVER"], "10.96.0.20");
        assert_eq!(env["NFS_PATH"], "/exports/nfslab-d1-a1b2c3");
        assert_eq!(
            container["volumeMounts"][0]["mountPath"],
            "/persistentvolumes"
        );
        assert_eq!(
            m[5]["spec"]["template"]["spec"]["volumes"][0]["nfs"]["path"],
            "/exports/nfslab-d1-a1b2c3"
        );
    }
}
