//! A validated scenario, as the engine runs it.
//!
//! Everything here has passed `super::validate`: references point at objects the scenario
//! creates, durations parsed, templates use only known variables. Strings that may contain
//! template expressions are kept as [`Tpl`] and rendered when the step runs (values
//! captured by earlier steps, such as a PVC's uid, are only known then).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Timeouts;
use crate::k8s::manifest::{Located, Node, Pos};
use crate::k8s::{ObjectRef, Propagation};
use crate::model::scenarios::Note;

/// A string that may contain template expressions, and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Tpl {
    /// The text as written.
    pub text: String,
    /// Where.
    pub pos: Pos,
}

/// A Kubernetes kind the scenarios may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindInfo {
    /// Short name in references: `pvc`, `pv`, `pod`...
    pub short: &'static str,
    /// `apiVersion`.
    pub api_version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

/// Every kind scenarios can apply and refer to.
pub(crate) const KINDS: &[KindInfo] = &[
    kind("pod", "v1", "Pod", true),
    kind("pvc", "v1", "PersistentVolumeClaim", true),
    kind("pv", "v1", "PersistentVolume", false),
    kind("service", "v1", "Service", true),
    kind("configmap", "v1", "ConfigMap", true),
    kind("secret", "v1", "Secret", true),
    kind("serviceaccount", "v1", "ServiceAccount", true),
    kind("deployment", "apps/v1", "Deployment", true),
    kind("statefulset", "apps/v1", "StatefulSet", true),
    kind("replicaset", "apps/v1", "ReplicaSet", true),
    kind("daemonset", "apps/v1", "DaemonSet", true),
    kind("job", "batch/v1", "Job", true),
    kind("storageclass", "storage.k8s.io/v1", "StorageClass", false),
    kind("role", "rbac.authorization.k8s.io/v1", "Role", true),
    kind(
        "rolebinding",
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        true,
    ),
    kind(
        "clusterrole",
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        false,
    ),
    kind(
        "clusterrolebinding",
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        false,
    ),
];

const fn kind(
    short: &'static str,
    api_version: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> KindInfo {
    KindInfo {
        short,
        api_version,
        kind,
        namespaced,
    }
}

impl KindInfo {
    /// The kind for a short name (`pvc`) or a kind name (`PersistentVolumeClaim`, any case).
    #[must_use]
    pub fn by_name(name: &str) -> Option<&'static KindInfo> {
        KINDS
            .iter()
            .find(|k| k.short == name || k.kind.eq_ignore_ascii_case(name))
    }

    /// The kind for a manifest's `apiVersion` and `kind`.
    #[must_use]
    pub fn by_manifest(api_version: &str, kind: &str) -> Option<&'static KindInfo> {
        KINDS
            .iter()
            .find(|k| k.api_version == api_version && k.kind == kind)
    }

    /// A reference to an object of this kind (in `namespace` when namespaced).
    #[must_use]
    pub fn object(&self, namespace: &str, name: &str) -> ObjectRef {
        if self.namespaced {
            ObjectRef::namespaced(self.api_version, self.kind, namespace, name)
        } else {
            ObjectRef::cluster(self.api_version, self.kind, name)
        }
    }
}

/// A reference to an object by kind and (templated) name, such as `pvc/pvc1`.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjRef {
    /// The kind.
    pub kind: &'static KindInfo,
    /// The name, possibly templated.
    pub name: Tpl,
}

/// Which pod(s) a command runs in.
#[derive(Clone, Debug, PartialEq)]
pub enum PodTarget {
    /// A pod by name.
    Named(Tpl),
    /// Running pods matching a label selector (the first by name, or all).
    Selector(Tpl),
}

/// A condition on an object's state, rendered into a [`crate::k8s::conditions::Condition`]
/// when the step runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Pred {
    /// All must hold.
    All(Vec<Pred>),
    /// At least one must hold.
    Any(Vec<Pred>),
    /// Must not hold.
    Not(Box<Pred>),
    /// `status.phase`.
    Phase(Tpl),
    /// PVC bound to this PV.
    BoundTo(Tpl),
    /// PV claimRef names this claim (`name` in the scenario namespace, or `ns/name`).
    ClaimedBy(Tpl),
    /// PV has no claimRef (`true`) or has one (`false`).
    Unclaimed(bool),
    /// Pod Ready (or not).
    Ready(bool),
    /// Deployment has at least N available replicas.
    Available(i32),
    /// StatefulSet has exactly N ready replicas.
    ReadyReplicas(i32),
    /// Job complete (or not).
    Complete(bool),
    /// Job failed (or not).
    Failed(bool),
    /// Object exists (or is gone).
    Exists(bool),
    /// Object is being deleted (or not).
    Terminating(bool),
    /// Object carries a finalizer.
    Finalizer(Tpl),
    /// Object labels include these.
    Labels(Vec<(String, Tpl)>),
    /// Object annotations include these.
    Annotations(Vec<(String, Tpl)>),
    /// PVC `status.capacity.storage`.
    Capacity(Tpl),
    /// The value at a JSON pointer equals a (templated) value.
    Field(String, Located<Node>),
    /// Pod uid differs from this one.
    UidDiffers(Tpl),
    /// A container restarted at least N times.
    Restarts(String, i32),
}

/// The exit status a command must end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitExpect {
    /// This code (0 by default).
    Code(i32),
    /// Any code but 0.
    Fails,
}

impl Default for ExitExpect {
    fn default() -> Self {
        Self::Code(0)
    }
}

/// What `exec` output must look like.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecExpect {
    /// Exit status.
    pub exit: ExitExpect,
    /// Exact stdout.
    pub stdout: Option<Tpl>,
    /// Substring of stdout.
    pub stdout_contains: Option<Tpl>,
    /// Substring of stderr.
    pub stderr_contains: Option<Tpl>,
}

/// What the effective mount options must show.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MountExpect {
    /// The filesystem must be NFS (any version).
    pub nfs: Option<bool>,
    /// Options that must be in effect (per-mount or superblock options).
    pub contains: Vec<Tpl>,
    /// Options that must not be.
    pub absent: Vec<Tpl>,
}

/// Where to look for an event.
#[derive(Clone, Debug, PartialEq)]
pub enum EventSource {
    /// Events about one object.
    Object(ObjRef),
    /// Any event in a namespace (`default` holds the recycler pods' events).
    Namespace(Tpl),
}

/// Where a captured value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum CaptureSource {
    /// An object.
    Object(ObjRef),
    /// The only pod matching a selector.
    Selector(Tpl),
}

/// One manifest to apply.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The manifest tree, templates not yet rendered.
    pub node: Located<Node>,
    /// The file it was written in.
    pub file: PathBuf,
}

/// Parameters of the nfs-subdir-external-provisioner a step deploys.
#[derive(Clone, Debug, PartialEq)]
pub struct ProvisionerStep {
    /// Deployment (and ServiceAccount) name.
    pub name: Tpl,
    /// `PROVISIONER_NAME`, which StorageClasses name in `provisioner:`.
    pub provisioner: Tpl,
    /// `NFS_PATH`: the directory on the server under which volumes are made.
    pub path: Tpl,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Server-side apply manifests in order.
    Apply(Vec<Manifest>),
    /// Delete objects, optionally waiting until they are gone.
    Delete(DeleteStep),
    /// Wait until a condition holds.
    Wait(WaitStep),
    /// A condition must keep holding for a duration.
    Stays(StaysStep),
    /// Run a command in pods.
    Exec(ExecStep),
    /// HTTP GET from inside a pod.
    HttpGet(HttpGetStep),
    /// Create a directory on the server.
    ServerMkdir(ServerMkdirStep),
    /// Write (or append to) a file on the server.
    ServerWrite(ServerWriteStep),
    /// Remove a path on the server.
    ServerRemove(ServerRemoveStep),
    /// Rename on the server.
    ServerRename(ServerRenameStep),
    /// Check a path on the server.
    ServerExpect(ServerExpectStep),
    /// Wait until a path exists on the server.
    ServerWait(ServerWaitStep),
    /// Wait for an event.
    ExpectEvent(ExpectEventStep),
    /// Change a workload's replicas.
    Scale(ScaleStep),
    /// Delete pods by label and (optionally) wait for their replacements.
    DeletePods(DeletePodsStep),
    /// Remember a value for later templates (`{{ captured.NAME }}`).
    Capture(CaptureStep),
    /// JSON merge patch.
    Patch(PatchStep),
    /// Record (and check) effective mount options.
    MountOptions(MountOptionsStep),
    /// Record a pod's last log lines.
    Logs(LogsStep),
    /// Deploy nfs-subdir-external-provisioner into the scenario namespace.
    DeployProvisioner(ProvisionerStep),
    /// Restart the NFS server pod and wait until it serves again.
    RestartNfsServer,
}

/// Delete objects, optionally waiting until they are gone.
#[derive(Clone, Debug, PartialEq)]
pub struct DeleteStep {
    /// What.
    pub objects: Vec<ObjRef>,
    /// Wait until gone.
    pub wait: bool,
    /// How dependents go.
    pub propagation: Propagation,
}

/// Wait until a condition holds.
#[derive(Clone, Debug, PartialEq)]
pub struct WaitStep {
    /// Objects (all must satisfy it).
    pub objects: Vec<ObjRef>,
    /// Or pods by selector.
    pub selector: Option<Tpl>,
    /// How many selected pods must satisfy it.
    pub count: u32,
    /// The condition.
    pub pred: Pred,
    /// A condition another object must keep while waiting.
    pub meanwhile: Option<(ObjRef, Pred)>,
}

/// A condition must keep holding for a duration.
#[derive(Clone, Debug, PartialEq)]
pub struct StaysStep {
    /// Objects.
    pub objects: Vec<ObjRef>,
    /// The condition.
    pub pred: Pred,
    /// How long (default: the `observe` timeout).
    pub duration: Option<Duration>,
}

/// Run a command in pods.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecStep {
    /// Where.
    pub target: PodTarget,
    /// In all selected pods.
    pub all: bool,
    /// Container (first when absent).
    pub container: Option<Tpl>,
    /// The command.
    pub command: Vec<Tpl>,
    /// Expectations.
    pub expect: ExecExpect,
}

/// HTTP GET from inside a pod.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpGetStep {
    /// Client pod.
    pub target: PodTarget,
    /// Container.
    pub container: Option<Tpl>,
    /// URL.
    pub url: Tpl,
    /// Exact body.
    pub body: Option<Tpl>,
    /// Substring of the body.
    pub body_contains: Option<Tpl>,
}

/// Create a directory on the server.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerMkdirStep {
    /// Path under the scenario's directory.
    pub path: Tpl,
    /// Octal mode.
    pub mode: Option<Tpl>,
    /// `uid:gid`.
    pub owner: Option<Tpl>,
}

/// Write (or append to) a file on the server.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerWriteStep {
    /// Path.
    pub path: Tpl,
    /// Content.
    pub content: Tpl,
    /// Append instead of replacing.
    pub append: bool,
}

/// Remove a path on the server.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerRemoveStep {
    /// Path.
    pub path: Tpl,
    /// Recursively.
    pub recursive: bool,
}

/// Rename on the server.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerRenameStep {
    /// From.
    pub from: Tpl,
    /// To.
    pub to: Tpl,
}

/// Check a path on the server.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerExpectStep {
    /// Path.
    pub path: Tpl,
    /// Exists or not.
    pub exists: Option<bool>,
    /// Exact file content.
    pub content: Option<Tpl>,
    /// Directory empty (dotfiles count) or not.
    pub empty: Option<bool>,
    /// Entries the directory must contain.
    pub entries: Vec<Tpl>,
    /// Numeric owner `UID:GID` the path must have.
    pub owner: Option<Tpl>,
}

/// Wait until a path exists on the server.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerWaitStep {
    /// Path.
    pub path: Tpl,
}

/// Wait for an event.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectEventStep {
    /// Where.
    pub source: EventSource,
    /// Reason.
    pub reason: Tpl,
    /// Substring of the message.
    pub message: Option<Tpl>,
    /// `Normal` or `Warning`.
    pub event_type: Option<String>,
}

/// Change a workload's replicas.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleStep {
    /// The workload.
    pub object: ObjRef,
    /// Replicas.
    pub replicas: i32,
}

/// Delete pods by label and (optionally) wait for their replacements.
#[derive(Clone, Debug, PartialEq)]
pub struct DeletePodsStep {
    /// Selector.
    pub selector: Tpl,
    /// Wait until as many new pods are Ready.
    pub replaced: bool,
}

/// Remember a value for later templates (`{{ captured.NAME }}`).
#[derive(Clone, Debug, PartialEq)]
pub struct CaptureStep {
    /// Where from.
    pub source: CaptureSource,
    /// JSON pointer.
    pub pointer: String,
    /// Name.
    pub name: String,
}

/// JSON merge patch.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchStep {
    /// The object.
    pub object: ObjRef,
    /// The patch.
    pub patch: Located<Node>,
}

/// Record (and check) effective mount options.
#[derive(Clone, Debug, PartialEq)]
pub struct MountOptionsStep {
    /// Pod.
    pub target: PodTarget,
    /// Container.
    pub container: Option<Tpl>,
    /// Mounted path in the container.
    pub path: Tpl,
    /// Requested options, for the report.
    pub requested: Option<Tpl>,
    /// Expectations.
    pub expect: MountExpect,
}

/// Record a pod's last log lines.
#[derive(Clone, Debug, PartialEq)]
pub struct LogsStep {
    /// Pod.
    pub target: PodTarget,
    /// Container.
    pub container: Option<Tpl>,
    /// Lines.
    pub tail: i64,
    /// Substring the log must contain.
    pub contains: Option<Tpl>,
}

/// Which configured timeout a step uses when it names none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    /// `request`.
    Request,
    /// `bind`.
    Bind,
    /// `pod-ready`.
    PodReady,
    /// `delete`.
    Delete,
    /// `recycle`.
    Recycle,
    /// `provision`.
    Provision,
    /// `exec`.
    Exec,
    /// `observe`.
    Observe,
    /// `server-ready`.
    ServerReady,
}

impl TimeoutKind {
    /// Names usable in scenario files (`timeout: recycle`).
    pub const NAMES: &'static [(&'static str, TimeoutKind)] = &[
        ("request", Self::Request),
        ("bind", Self::Bind),
        ("pod-ready", Self::PodReady),
        ("delete", Self::Delete),
        ("recycle", Self::Recycle),
        ("provision", Self::Provision),
        ("exec", Self::Exec),
        ("observe", Self::Observe),
        ("server-ready", Self::ServerReady),
    ];

    /// The configured duration.
    #[must_use]
    pub fn of(self, t: &Timeouts) -> Duration {
        match self {
            Self::Request => t.request,
            Self::Bind => t.bind,
            Self::PodReady => t.pod_ready,
            Self::Delete => t.delete,
            Self::Recycle => t.recycle,
            Self::Provision => t.provision,
            Self::Exec => t.exec,
            Self::Observe => t.observe,
            Self::ServerReady => t.server_ready,
        }
    }
}

/// A step's timeout: a duration, or a configured one by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepTimeout {
    /// Written as a duration.
    Fixed(Duration),
    /// Written as a name, or the step kind's default.
    Configured(TimeoutKind),
}

impl StepTimeout {
    /// The duration under a configuration.
    #[must_use]
    pub fn resolve(self, t: &Timeouts) -> Duration {
        match self {
            Self::Fixed(d) => d,
            Self::Configured(k) => k.of(t),
        }
    }
}

/// One step.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// 1-based position in the scenario.
    pub index: usize,
    /// Where it starts in the file.
    pub pos: Pos,
    /// The step kind as written (`wait`).
    pub kind: &'static str,
    /// What the step shows.
    pub title: Option<String>,
    /// How long it may take.
    pub timeout: StepTimeout,
    /// What it does.
    pub action: Action,
}

impl Step {
    /// The line the live view and reports show: the title, or the kind and its subject.
    #[must_use]
    pub fn label(&self) -> String {
        if let Some(t) = &self.title {
            return t.clone();
        }
        let subject = match &self.action {
            Action::Apply(m) => format!("{} manifest(s)", m.len()),
            Action::Delete(DeleteStep { objects, .. })
            | Action::Wait(WaitStep { objects, .. })
            | Action::Stays(StaysStep { objects, .. }) => objects
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            Action::Scale(ScaleStep { object, replicas }) => format!("{object} to {replicas}"),
            Action::DeletePods(DeletePodsStep { selector, .. }) => format!("-l {}", selector.text),
            Action::ServerMkdir(ServerMkdirStep { path, .. })
            | Action::ServerWrite(ServerWriteStep { path, .. })
            | Action::ServerRemove(ServerRemoveStep { path, .. })
            | Action::ServerExpect(ServerExpectStep { path, .. })
            | Action::ServerWait(ServerWaitStep { path }) => path.text.clone(),
            Action::HttpGet(HttpGetStep { url, .. }) => url.text.clone(),
            Action::ExpectEvent(ExpectEventStep { reason, .. }) => reason.text.clone(),
            _ => String::new(),
        };
        if subject.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{} {subject}", self.kind)
        }
    }
}

impl fmt::Display for ObjRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.short, self.name.text)
    }
}

/// What a scenario needs from the environment beyond a cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Direct access to the NFS server's files (server-* steps, per-scenario directory).
    pub server_files: bool,
    /// Restarting the NFS server.
    pub server_restart: bool,
}

/// A validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Id (the file name without `.yaml`).
    pub id: String,
    /// Catalog code (`S1`), if any.
    pub code: Option<String>,
    /// One-line title.
    pub title: String,
    /// Which documents it replays.
    pub sources: Vec<String>,
    /// What it shows.
    pub description: String,
    /// Notes for the report.
    pub notes: Vec<Note>,
    /// The file.
    pub file: PathBuf,
    /// Overall time limit, if any.
    pub timeout: Option<Duration>,
    /// What it needs.
    pub requires: Requirements,
    /// It disturbs scenarios running beside it (a server restart): it runs alone, after
    /// every other scenario of the run has ended.
    pub exclusive: bool,
    /// The steps.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// `file:line:column` of a position in this scenario's file.
    #[must_use]
    pub fn location(&self, pos: Pos) -> String {
        format!("{}:{pos}", self.file.display())
    }
}
