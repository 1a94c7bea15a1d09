//! Kubernetes access behind a narrow interface.
//!
//! Scenarios and benchmarks need only a handful of operations from a cluster: apply a
//! manifest, patch, delete, read and watch one object, list objects by label, exec in a
//! container, read logs and events. [`Cluster`] is exactly that surface. The real
//! implementation talks to an API server through kube-rs; [`fake::FakeCluster`] is a scripted
//! in-memory double for testing the engine's own logic (it never imitates Kubernetes
//! controllers: a test states what the cluster reports after which call).
//!
//! Objects travel as `serde_json::Value` manifests so one interface covers every kind the
//! scenarios use (PV, PVC, Pod, Deployment, StatefulSet, Service, StorageClass, RBAC...).
//! Readiness checks parse them into `k8s-openapi` types ([`conditions`]); waiting is built on
//! [`Cluster::watch`] ([`wait`]), with deadlines chosen by the caller.
//! When a wait times out, [`diagnose`] gathers why (events, pod statuses, log tails);
//! [`manifest`] reads manifests from YAML keeping every value's line and column.

pub mod clean;
pub mod conditions;
pub mod diagnose;
pub mod fake;
pub(crate) mod kube_cluster;
pub mod manifest;
pub(crate) mod nodes;
pub mod ownership;
pub(crate) mod schema;
pub(crate) mod stand_in;
pub(crate) mod tracker;
pub mod wait;

pub use kube_cluster::{ConnectError, KubeCluster};
pub use nodes::NodeStatus;
pub use stand_in::{StandIn, test_binary};
pub use tracker::{CleanupReport, Leftover};

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Identifies one object: its API version, kind, namespace (for namespaced kinds) and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    /// `apiVersion` as in a manifest: `v1`, `apps/v1`, `storage.k8s.io/v1`.
    pub api_version: String,
    /// `kind` as in a manifest: `PersistentVolumeClaim`.
    pub kind: String,
    /// Namespace; `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl ObjectRef {
    /// A reference to a namespaced object.
    #[must_use]
    pub fn namespaced(api_version: &str, kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
        }
    }

    /// A reference to a cluster-scoped object.
    #[must_use]
    pub fn cluster(api_version: &str, kind: &str, name: &str) -> Self {
        Self {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: None,
            name: name.to_owned(),
        }
    }

    /// A `v1` Pod.
    #[must_use]
    pub fn pod(namespace: &str, name: &str) -> Self {
        Self::namespaced("v1", "Pod", namespace, name)
    }

    /// A `v1` PersistentVolumeClaim.
    #[must_use]
    pub fn pvc(namespace: &str, name: &str) -> Self {
        Self::namespaced("v1", "PersistentVolumeClaim", namespace, name)
    }

    /// A `v1` PersistentVolume.
    #[must_use]
    pub fn pv(name: &str) -> Self {
        Self::cluster("v1", "PersistentVolume", name)
    }

    /// The reference a manifest describes (`apiVersion`, `kind`, `metadata.namespace`,
    /// `metadata.name`); `None` when one of `apiVersion`, `kind` or `metadata.name` is missing.
    #[must_use]
    pub fn from_manifest(manifest: &Value) -> Option<Self> {
        let api_version = manifest.get("apiVersion")?.as_str()?;
        let kind = manifest.get("kind")?.as_str()?;
        let metadata = manifest.get("metadata")?;
        let name = metadata.get("name")?.as_str()?;
        let namespace = metadata.get("namespace").and_then(Value::as_str);
        Some(Self {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} `{}/{}`", self.kind, ns, self.name),
            None => write!(f, "{} `{}`", self.kind, self.name),
        }
    }
}

/// What a command run in a container produced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOutput {
    /// Everything written to standard output, lossily decoded as UTF-8.
    pub stdout: String,
    /// Everything written to standard error, lossily decoded as UTF-8.
    pub stderr: String,
    /// The command's exit code (0 = success).
    pub exit_code: i32,
}

impl ExecOutput {
    /// A successful run that printed `stdout`.
    #[must_use]
    pub fn ok(stdout: &str) -> Self {
        Self {
            stdout: stdout.to_owned(),
            stderr: String::new(),
            exit_code: 0,
        }
    }

    /// A failed run with exit code `code` that printed `stderr`.
    #[must_use]
    pub fn failed(code: i32, stderr: &str) -> Self {
        Self {
            stdout: String::new(),
            stderr: stderr.to_owned(),
            exit_code: code,
        }
    }

    /// Whether the command exited with code 0.
    #[must_use]
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

/// One Kubernetes Event, reduced to what diagnoses and assertions use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The object the event is about.
    pub involved: ObjectRef,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Machine-readable reason: `FailedMount`, `ProvisioningFailed`, `RecyclerPod`...
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// How many times it was seen.
    pub count: i32,
    /// Component that reported it (`persistentvolume-controller`, `kubelet`...).
    pub source: String,
    /// When it was last seen (RFC 3339), when known.
    pub last_seen: Option<String>,
}

/// How dependents are deleted with their owner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    /// The API server deletes dependents in the background (kubectl's default).
    #[default]
    Background,
    /// The owner is deleted only after its dependents are.
    Foreground,
    /// Dependents are left behind.
    Orphan,
}

/// Why a cluster operation failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ClusterError {
    /// The object does not exist.
    #[error("{object} does not exist")]
    NotFound {
        /// The object, as displayed by [`ObjectRef`].
        object: String,
    },
    /// The API server answered with an error status.
    #[error("the API server refused to {verb} {object}: {message} ({reason}, HTTP {code})")]
    Api {
        /// What was attempted: `apply`, `delete`, `watch`...
        verb: String,
        /// The object, as displayed by [`ObjectRef`].
        object: String,
        /// HTTP status code.
        code: u16,
        /// The status reason (`Invalid`, `Forbidden`, `Conflict`...).
        reason: String,
        /// The server's message.
        message: String,
    },
    /// The API server could not be reached or the connection broke.
    #[error(
        "could not {verb} {object}: the API server did not answer (hint: check the cluster is \
         running and the kubeconfig points at it)"
    )]
    Unreachable {
        /// What was attempted.
        verb: String,
        /// The object, as displayed by [`ObjectRef`].
        object: String,
        /// The transport error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// A manifest or request could not be understood before it reached the cluster.
    #[error("invalid request for {object}: {detail}")]
    Invalid {
        /// The object, or a description of the manifest.
        object: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A command could not be started in a container (the command's own failure is an
    /// [`ExecOutput`] with a non-zero exit code, not this error).
    #[error("could not exec `{command}` in pod `{pod}`: {detail}")]
    Exec {
        /// `namespace/name` of the pod.
        pod: String,
        /// The command line.
        command: String,
        /// What went wrong.
        detail: String,
    },
}

impl ClusterError {
    /// Whether the error means the object does not exist.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. } | Self::Api { code: 404, .. })
    }
}

/// Result of cluster operations.
pub type ClusterResult<T> = Result<T, ClusterError>;

/// Stream of an object's states: `None` while it does not exist.
pub type StateStream = BoxStream<'static, ClusterResult<Option<Value>>>;

/// The operations scenarios and benchmarks need from a Kubernetes cluster.
///
/// Implementations must be cheap to share (`Arc<dyn Cluster>`); every method is safe to call
/// concurrently.
#[async_trait]
pub trait Cluster: Send + Sync {
    /// Server-side applies `manifest` (field manager `nfslab`, forced) and returns the object
    /// as stored.
    async fn apply(&self, manifest: &Value) -> ClusterResult<Value>;

    /// Asks the API server to check `manifest` as [`Cluster::apply`] would send it, with
    /// strict field validation and without storing anything (server-side dry run). The
    /// default refuses: a cluster that is not an API server cannot judge a manifest.
    async fn dry_run_apply(&self, manifest: &Value) -> ClusterResult<Value> {
        Err(ClusterError::Invalid {
            object: ObjectRef::from_manifest(manifest)
                .map_or_else(|| "manifest".to_owned(), |o| o.to_string()),
            detail: "this cluster cannot dry-run manifests".to_owned(),
        })
    }

    /// Asks the API server whether the caller may do what `attributes` describe (a
    /// SelfSubjectAccessReview, what `kubectl auth can-i` sends) and returns its answer. The
    /// default refuses: a cluster that is not an API server has no authorizer to ask.
    async fn review_access(
        &self,
        _attributes: &k8s_openapi::api::authorization::v1::ResourceAttributes,
    ) -> ClusterResult<k8s_openapi::api::authorization::v1::SubjectAccessReviewStatus> {
        Err(ClusterError::Invalid {
            object: "SelfSubjectAccessReview".to_owned(),
            detail: "this cluster cannot review access".to_owned(),
        })
    }

    /// Applies a JSON merge patch (RFC 7386) to an existing object and returns the result.
    /// Used where server-side apply would drop fields (scaling, clearing `spec.claimRef`).
    async fn patch_merge(&self, object: &ObjectRef, patch: &Value) -> ClusterResult<Value>;

    /// Asks the API server to delete an object. Returns `false` when it did not exist.
    /// Returns as soon as the request is accepted: finalizers may keep the object around
    /// (wait with [`wait::until`] and [`conditions::is_gone`]).
    async fn delete(&self, object: &ObjectRef, propagation: Propagation) -> ClusterResult<bool>;

    /// The object's current state, `None` when it does not exist.
    async fn get(&self, object: &ObjectRef) -> ClusterResult<Option<Value>>;

    /// Objects of one kind, in one namespace (`None`: all namespaces or cluster-scoped),
    /// optionally filtered by a label selector (`a=b,c=d`).
    async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> ClusterResult<Vec<Value>>;

    /// The object's states: first its current state, then each change. The stream does not
    /// end by itself; it yields an error when the watch breaks beyond repair.
    fn watch(&self, object: &ObjectRef) -> StateStream;

    /// Runs `command` in a container of a pod (the first container when `container` is
    /// `None`), feeding `stdin` when given, and returns its output and exit code.
    async fn exec(
        &self,
        pod: &ObjectRef,
        container: Option<&str>,
        command: &[String],
        stdin: Option<Vec<u8>>,
    ) -> ClusterResult<ExecOutput>;

    /// The last `tail_lines` lines of a container's log (all when `None`); `previous` reads
    /// the previous instance of a restarted container.
    async fn logs(
        &self,
        pod: &ObjectRef,
        container: Option<&str>,
        tail_lines: Option<i64>,
        previous: bool,
    ) -> ClusterResult<String>;

    /// Events about one object, oldest first.
    async fn events_for(&self, object: &ObjectRef) -> ClusterResult<Vec<EventRecord>>;

    /// All events in a namespace, oldest first (events about cluster-scoped objects live in
    /// `default`).
    async fn events_in(&self, namespace: &str) -> ClusterResult<Vec<EventRecord>>;
}
