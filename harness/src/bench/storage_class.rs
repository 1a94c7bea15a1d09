//! Benchmarking through the user's own StorageClass (`nfslab bench --existing
//! --storage-class NAME`): the matrix runs on volumes its provisioner makes, each profile
//! through a clone of the class that carries the profile's `mountOptions`.
//!
//! For every selected profile a StorageClass is cloned from the user's: the same
//! provisioner, parameters, binding mode and topology, the profile's `mountOptions` instead
//! of the class's, `reclaimPolicy: Delete` (the volumes made for the benchmark are removed
//! with their claims), never marked default, labelled with the run ([`clone_class`]). Each
//! repetition's claim names its profile's clone; the provisioner makes the volume, the
//! client pods mount it, and the effective options are read inside the pods as for every
//! other cell. The clones are deleted when the run ends, after the last volume they made is
//! gone.
//!
//! Whether the provisioner passes `mountOptions` on, as read in the provisioners' sources
//! (kubernetes-csi/external-provisioner `pkg/controller/controller.go` at 014be4a5,
//! kubernetes-csi/csi-driver-nfs `pkg/nfs/nodeserver.go` at 0e85efab,
//! kubernetes-sigs/nfs-subdir-external-provisioner
//! `cmd/nfs-subdir-external-provisioner/provisioner.go` at 00778740):
//! - csi-driver-nfs (`nfs.csi.k8s.io`): the CSI external-provisioner copies the class's
//!   `mountOptions` into the PV it creates (`pkg/controller/controller.go`, `Provision`:
//!   `MountOptions: options.StorageClass.MountOptions`); the node plugin mounts with the
//!   volume capability's mount flags (kubernetes-csi/csi-driver-nfs
//!   `pkg/nfs/nodeserver.go`, `NodePublishVolume`: `volCap.GetMount().GetMountFlags()`) and
//!   appends a `mountOptions` *parameter* of the class when one is set, so such a parameter
//!   is added to every profile (said as a warning). Its controller mounts the base share with
//!   the same flags to create each volume's directory (`pkg/nfs/controllerserver.go`,
//!   `CreateVolume` → `internalMount`), so options the server refuses fail provisioning: the
//!   claim stays Pending and the repetition fails with the wait's reason.
//! - nfs-subdir-external-provisioner (any provisioner name: it is set by its deployment's
//!   `PROVISIONER_NAME`): `Provision` returns a PV with `MountOptions:
//!   options.StorageClass.MountOptions` and the class's reclaim policy
//!   (kubernetes-sigs/nfs-subdir-external-provisioner
//!   `cmd/nfs-subdir-external-provisioner/provisioner.go`). Its `Delete` looks the class up
//!   by name (`getClassForVolume`) to read `onDelete`/`archiveOnDelete`, so a clone must
//!   outlive every volume made through it; the benchmark's files are removed before each
//!   claim is deleted, so an archived directory is empty.
//! - Provisioners that make no NFS mount ignore `mountOptions` (local and hostPath volumes),
//!   and `kubernetes.io/no-provisioner` makes no volume at all: such classes are refused
//!   before anything is created, with the reason ([`support`]).
//! - Any other provisioner is tried: the first volume it makes must carry the profile's
//!   options in `spec.mountOptions` ([`pv_carries`]), or the run stops with the reason.

use serde_json::{Value, json};

use crate::k8s::ObjectRef;
use crate::k8s::ownership::{RunId, stamp};

/// Scenario label value of the clones.
pub(crate) const SCENARIO: &str = "bench";
/// The annotation that makes a class the cluster's default (never set on a clone).
#[cfg(test)]
pub(crate) const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
/// Provisioner name of csi-driver-nfs.
pub(crate) const CSI_DRIVER_NFS: &str = "nfs.csi.k8s.io";

/// Whether a class's provisioner passes the profiles' options to the mounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    /// It does, as read in its sources: the name of the project.
    Known(&'static str),
    /// nfslab does not know it: tried, and checked on the first volume it makes.
    Unknown,
    /// It does not; why.
    Ignores(String),
}

/// What `provisioner` does with a class's `mountOptions` ([module docs](self)).
#[must_use]
pub(crate) fn support(provisioner: &str) -> Support {
    const LOCAL: [&str; 7] = [
        "rancher.io/local-path",
        "hostpath.csi.k8s.io",
        "k8s.io/minikube-hostpath",
        "microk8s.io/hostpath",
        "openebs.io/local",
        "kubernetes.io/host-path",
        "topolvm.io",
    ];
    if provisioner == CSI_DRIVER_NFS {
        Support::Known("csi-driver-nfs")
    } else if provisioner.contains("nfs-subdir-external-provisioner")
        || provisioner.contains("nfs-client-provisioner")
        || provisioner == "fuseim.pri/ifs"
    {
        Support::Known("nfs-subdir-external-provisioner")
    } else if provisioner == "kubernetes.io/no-provisioner" {
        Support::Ignores(
            "`kubernetes.io/no-provisioner` makes no volumes: claims of this class bind PVs made \
             by hand, which carry their own mountOptions (hint: benchmark the NFS server those \
             PVs name with --server HOST:/EXPORT)"
                .to_owned(),
        )
    } else if LOCAL.contains(&provisioner) {
        Support::Ignores(format!(
            "`{provisioner}` makes local or hostPath volumes, which are not NFS mounts: \
             mountOptions do not apply to them"
        ))
    } else {
        Support::Unknown
    }
}

/// Why a class cannot be benchmarked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClassError {
    /// No such class in the cluster.
    #[error("no StorageClass `{name}` in the cluster (hint: classes there: {known})")]
    Missing {
        /// The class asked for.
        name: String,
        /// The classes the cluster has.
        known: String,
    },
    /// The class's document lacks a provisioner.
    #[error("StorageClass `{name}` has no `provisioner`")]
    Malformed {
        /// The class.
        name: String,
    },
    /// Its provisioner ignores mountOptions.
    #[error("StorageClass `{name}` cannot compare mount options: {reason}")]
    Ignored {
        /// The class.
        name: String,
        /// Why.
        reason: String,
    },
}

/// The user's class, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceClass {
    /// Its name.
    pub name: String,
    /// Its provisioner.
    pub provisioner: String,
    /// What nfslab knows of the provisioner.
    pub support: Support,
    /// The class as the API server returned it (or as a file gave it, for dry runs).
    pub manifest: Value,
}

impl SourceClass {
    /// Checks `manifest`, the class named `name`.
    ///
    /// # Errors
    /// [`ClassError::Malformed`] without a provisioner, [`ClassError::Ignored`] when the
    /// provisioner ignores mountOptions.
    pub fn check(name: &str, manifest: Value) -> Result<Self, ClassError> {
        let provisioner = manifest
            .get("provisioner")
            .and_then(Value::as_str)
            .ok_or_else(|| ClassError::Malformed {
                name: name.to_owned(),
            })?
            .to_owned();
        let support = support(&provisioner);
        if let Support::Ignores(reason) = &support {
            return Err(ClassError::Ignored {
                name: name.to_owned(),
                reason: reason.clone(),
            });
        }
        Ok(Self {
            name: name.to_owned(),
            provisioner,
            support,
            manifest,
        })
    }

    /// What the user should know before the run: options every profile gets on top of its
    /// own, and provisioners nfslab only checks as it goes.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.provisioner == CSI_DRIVER_NFS
            && let Some(extra) = self
                .manifest
                .pointer("/parameters/mountOptions")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        {
            out.push(format!(
                "StorageClass `{}` sets the parameter mountOptions `{extra}`: csi-driver-nfs adds \
                 it to every profile's options when it mounts",
                self.name
            ));
        }
        if self.support == Support::Unknown {
            out.push(format!(
                "StorageClass `{}`: nfslab does not know provisioner `{}`; the first volume it \
                 makes must carry the profile's mountOptions, or the run stops",
                self.name, self.provisioner
            ));
        }
        out
    }

    /// The server and export the class names, when its parameters say (csi-driver-nfs:
    /// `server`, `share`); for the report.
    #[must_use]
    pub fn target(&self) -> (String, String) {
        let param = |k: &str| {
            self.manifest
                .pointer(&format!("/parameters/{k}"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        (
            param("server").unwrap_or_else(|| "-".to_owned()),
            param("share").unwrap_or_else(|| "-".to_owned()),
        )
    }
}

/// The reference of a StorageClass.
#[must_use]
pub(crate) fn class_ref(name: &str) -> ObjectRef {
    ObjectRef::cluster("storage.k8s.io/v1", "StorageClass", name)
}

/// The name of the clone of `server`'s class for `profile` in `run`.
#[must_use]
pub(crate) fn clone_name(run: &RunId, server: &str, profile: &str) -> String {
    format!("{}-{server}-{profile}", run.prefix())
}

/// The clone of `source` for one profile: same provisioner, parameters, binding mode,
/// topology and expansion; `options` as its `mountOptions` (none for an empty profile);
/// `reclaimPolicy: Delete`; the user's labels and annotations dropped (the default-class
/// annotation above all), nfslab's run labels set.
#[must_use]
pub(crate) fn clone_class(
    source: &SourceClass,
    run: &RunId,
    name: &str,
    options: &[String],
) -> Value {
    let mut clone = json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": name,
            "annotations": {
                "nfslab.io/cloned-from": source.name,
            }
        },
        "provisioner": source.provisioner,
        "reclaimPolicy": "Delete",
    });
    for key in [
        "parameters",
        "volumeBindingMode",
        "allowVolumeExpansion",
        "allowedTopologies",
    ] {
        if let Some(v) = source.manifest.get(key).filter(|v| !v.is_null()) {
            clone[key] = v.clone();
        }
    }
    if !options.is_empty() {
        clone["mountOptions"] = json!(options);
    }
    stamp(&mut clone, run, Some(SCENARIO));
    clone
}

/// Whether the PV a provisioner made carries `options` as its `spec.mountOptions` (in any
/// order); `Err` says what it carries instead.
///
/// # Errors
/// The options the PV carries, when they are not the requested ones.
pub(crate) fn pv_carries(pv: &Value, options: &[String]) -> Result<(), String> {
    let mut carried: Vec<String> = pv
        .pointer("/spec/mountOptions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let mut wanted = options.to_vec();
    carried.sort();
    wanted.sort();
    if carried == wanted {
        Ok(())
    } else if carried.is_empty() {
        Err("no mountOptions".to_owned())
    } else {
        Err(format!("mountOptions `{}`", carried.join(",")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NFSVolumeSource, PersistentVolume, PersistentVolumeSpec};
    use k8s_openapi::api::storage::v1::StorageClass;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn class(provisioner: &str, parameters: &[(&str, &str)], default: bool) -> Value {
        let sc = StorageClass {
            metadata: ObjectMeta {
                name: Some("nas".to_owned()),
                annotations: default
                    .then(|| [(DEFAULT_CLASS_ANNOTATION.to_owned(), "true".to_owned())].into()),
                labels: Some([("team".to_owned(), "storage".to_owned())].into()),
                ..ObjectMeta::default()
            },
            provisioner: provisioner.to_owned(),
            parameters: Some(
                parameters
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            mount_options: Some(vec!["nfsvers=4.1".to_owned()]),
            reclaim_policy: Some("Retain".to_owned()),
            volume_binding_mode: Some("WaitForFirstConsumer".to_owned()),
            ..StorageClass::default()
        };
        serde_json::to_value(sc).expect("serialises")
    }

    fn run() -> RunId {
        RunId::parse("20261123-150000-abcdef").expect("id")
    }

    #[test]
    fn csi_driver_nfs_and_nfs_subdir_are_known_local_volumes_are_refused() {
        assert_eq!(support(CSI_DRIVER_NFS), Support::Known("csi-driver-nfs"));
        for name in [
            "k8s-sigs.io/nfs-subdir-external-provisioner",
            "cluster.local/nfs-subdir-external-provisioner",
        ] {
            assert_eq!(
                support(name),
                Support::Known("nfs-subdir-external-provisioner")
            );
        }
        assert_eq!(support("example.com/nas"), Support::Unknown);
        let refused = SourceClass::check("local", class("rancher.io/local-path", &[], false))
            .expect_err("local-path ignores mountOptions");
        assert!(refused.to_string().contains("not NFS mounts"), "{refused}");
        let static_only =
            SourceClass::check("manual", class("kubernetes.io/no-provisioner", &[], false))
                .expect_err("no provisioner");
        assert!(
            static_only.to_string().contains("--server"),
            "{static_only}"
        );
    }

    #[test]
    fn a_clone_keeps_the_provisioner_and_carries_the_profile_options_only() {
        let source = SourceClass::check(
            "nas",
            class(
                CSI_DRIVER_NFS,
                &[("server", "10.0.0.7"), ("share", "/vol1")],
                true,
            ),
        )
        .expect("known");
        let name = clone_name(&run(), "nas", "doc-v3");
        let options = vec!["vers=3".to_owned(), "hard".to_owned()];
        let clone: StorageClass =
            serde_json::from_value(clone_class(&source, &run(), &name, &options))
                .expect("a StorageClass");
        assert_eq!(
            clone.metadata.name.as_deref(),
            Some("nfslab-abcdef-nas-doc-v3")
        );
        assert_eq!(clone.provisioner, CSI_DRIVER_NFS);
        assert_eq!(clone.mount_options, Some(options));
        assert_eq!(clone.reclaim_policy.as_deref(), Some("Delete"));
        assert_eq!(
            clone.volume_binding_mode.as_deref(),
            Some("WaitForFirstConsumer")
        );
        let annotations = clone.metadata.annotations.unwrap_or_default();
        assert!(!annotations.contains_key(DEFAULT_CLASS_ANNOTATION));
        let labels = clone.metadata.labels.unwrap_or_default();
        assert_eq!(
            labels
                .get(crate::k8s::ownership::RUN_ID_LABEL)
                .map(String::as_str),
            Some(run().as_str())
        );
        assert!(!labels.contains_key("team"));
        assert_eq!(source.target(), ("10.0.0.7".to_owned(), "/vol1".to_owned()));
        // An empty profile (what the kubelet does by default) sets no mountOptions at all.
        let plain: StorageClass =
            serde_json::from_value(clone_class(&source, &run(), &name, &[])).expect("class");
        assert_eq!(plain.mount_options, None);
    }

    #[test]
    fn a_mount_options_parameter_of_csi_driver_nfs_is_a_warning() {
        let source = SourceClass::check(
            "nas",
            class(CSI_DRIVER_NFS, &[("mountOptions", "nconnect=8")], false),
        )
        .expect("known");
        let warnings = source.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("nconnect=8"), "{warnings:?}");
    }

    #[test]
    fn the_volume_must_carry_the_profile_options() {
        let pv = |options: Option<Vec<String>>| {
            serde_json::to_value(PersistentVolume {
                metadata: ObjectMeta {
                    name: Some("pvc-1".to_owned()),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeSpec {
                    mount_options: options,
                    nfs: Some(NFSVolumeSource {
                        server: "10.0.0.7".to_owned(),
                        path: "/vol1/x".to_owned(),
                        read_only: None,
                    }),
                    ..PersistentVolumeSpec::default()
                }),
                ..PersistentVolume::default()
            })
            .expect("serialises")
        };
        let wanted = vec!["vers=3".to_owned(), "hard".to_owned()];
        assert_eq!(
            pv_carries(&pv(Some(vec!["hard".into(), "vers=3".into()])), &wanted),
            Ok(())
        );
        assert_eq!(
            pv_carries(&pv(None), &wanted),
            Err("no mountOptions".to_owned())
        );
        assert_eq!(pv_carries(&pv(None), &[]), Ok(()));
    }
}
