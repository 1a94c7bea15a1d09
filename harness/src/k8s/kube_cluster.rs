//! The real [`Cluster`]: a Kubernetes API server reached through kube-rs.
//!
//! Manifests travel as `serde_json::Value`; each `apiVersion`/`kind` is resolved once to its
//! REST resource and scope (the kinds the scenarios use are known up front, anything else
//! goes through API discovery) and cached. Writes are server-side apply with field manager
//! `nfslab`, forced, so re-applying a scenario's manifest takes over fields a previous run
//! set. Watches use `kube::runtime::watcher` on a `metadata.name` field selector and report
//! the object's whole state (`None` while it does not exist), current state first, again
//! after every re-list (restarts, `410 Gone` desyncs). Exec uses the websocket subresource
//! and reads the exit code from the status channel.
//!
//! Every failure becomes a [`ClusterError`] naming the verb and the object.

use std::any::TypeId;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::{StreamExt, future, stream};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status as ExecStatus;
use kube::api::{
    Api, ApiResource, AttachParams, DeleteParams, DynamicObject, ListParams, LogParams, Patch,
    PatchParams, PropagationPolicy,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{
    Cluster, ClusterError, ClusterResult, EventRecord, ExecOutput, ObjectRef, Propagation,
    StateStream,
};

/// The field manager nfslab's server-side applies use.
pub(crate) const FIELD_MANAGER: &str = "nfslab";

/// Consecutive watch failures tolerated (the watcher backs off and retries in between)
/// before a watch reports that it broke.
const MAX_WATCH_FAILURES: u32 = 6;

/// A kind resolved to its REST resource.
#[derive(Clone, Debug)]
struct Resolved {
    resource: ApiResource,
    namespaced: bool,
}

/// [`Cluster`] on a Kubernetes API server.
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    resources: Arc<Mutex<HashMap<(String, String), Resolved>>>,
    exec_timeout: Duration,
    api_server: String,
}

/// Why nfslab could not build a client for a cluster.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The kubeconfig file could not be read or parsed.
    #[error("could not read the kubeconfig `{}`", .file.display())]
    Kubeconfig {
        /// The file.
        file: std::path::PathBuf,
        /// What went wrong.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// No kubeconfig was given and none could be found in the environment.
    #[error(
        "no kubeconfig found (hint: pass --kubeconfig FILE, set KUBECONFIG, or create a \
         cluster with `nfslab cluster up`)"
    )]
    NoKubeconfig {
        /// What kube-rs reported.
        #[source]
        source: kube::config::InferConfigError,
    },
    /// The kubeconfig (or the chosen context in it) is unusable.
    #[error(
        "the kubeconfig{} cannot be used{} (hint: `kubectl config get-contexts` lists the \
         contexts it holds)",
        .file.as_ref().map(|f| format!(" `{}`", f.display())).unwrap_or_default(),
        .context.as_ref().map(|c| format!(" with context `{c}`")).unwrap_or_default()
    )]
    Context {
        /// The file, when one was named.
        file: Option<std::path::PathBuf>,
        /// The context, when one was named.
        context: Option<String>,
        /// What kube-rs reported.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// A client could not be built from the configuration (TLS, proxy...).
    #[error("could not build a Kubernetes client from the kubeconfig")]
    Client {
        /// What kube-rs reported.
        #[source]
        source: kube::Error,
    },
}

impl KubeCluster {
    /// Server-side apply of `manifest` by nfslab, forced, with strict field validation: a
    /// field the API server does not know fails the apply with its name instead of being
    /// dropped silently (the offline check in `k8s::schema` catches most of them before;
    /// this covers the server's own schema, CRDs and version skew). `dry_run` stores
    /// nothing.
    async fn apply_with(&self, manifest: &Value, dry_run: bool) -> ClusterResult<Value> {
        let object = ObjectRef::from_manifest(manifest).ok_or_else(|| ClusterError::Invalid {
            object: "manifest".to_owned(),
            detail: "needs apiVersion, kind and metadata.name".to_owned(),
        })?;
        let (api, resolved) = self.api_for(&object).await?;
        let mut params = PatchParams::apply(FIELD_MANAGER)
            .force()
            .validation_strict();
        if dry_run {
            params = params.dry_run();
        }
        let verb = if dry_run { "dry-run apply" } else { "apply" };
        let stored = api
            .patch(&object.name, &params, &Patch::Apply(manifest))
            .await
            .map_err(|e| match e {
                // A 404 on apply means the namespace is missing, not the object.
                kube::Error::Api(s) if s.code == 404 => ClusterError::Api {
                    verb: verb.to_owned(),
                    object: object.to_string(),
                    code: s.code,
                    reason: s.reason.clone(),
                    message: s.message.clone(),
                },
                other => map_error(verb, &object.to_string(), other),
            })?;
        to_value(stored, &resolved)
    }

    /// Wraps a kube client. Exec calls give up after `exec_timeout`.
    #[must_use]
    pub fn new(client: Client, exec_timeout: Duration) -> Self {
        Self {
            client,
            resources: Arc::new(Mutex::new(builtin_resources())),
            exec_timeout,
            api_server: String::new(),
        }
    }

    /// The API server URL the client talks to (empty for a client built by [`Self::new`]).
    #[must_use]
    pub fn api_server(&self) -> &str {
        &self.api_server
    }

    /// Connects with a kubeconfig file (or the environment's: `KUBECONFIG`, `~/.kube/config`,
    /// in-cluster) and an optional context.
    ///
    /// # Errors
    /// [`ConnectError`] when the kubeconfig cannot be read or used.
    pub async fn connect(
        kubeconfig: Option<&Path>,
        context: Option<&str>,
        exec_timeout: Duration,
    ) -> Result<Self, ConnectError> {
        let options = KubeConfigOptions {
            context: context.map(str::to_owned),
            ..KubeConfigOptions::default()
        };
        let config =
            match kubeconfig {
                Some(file) => {
                    let parsed =
                        Kubeconfig::read_from(file).map_err(|source| ConnectError::Kubeconfig {
                            file: file.to_owned(),
                            source,
                        })?;
                    kube::Config::from_custom_kubeconfig(parsed, &options)
                        .await
                        .map_err(|source| ConnectError::Context {
                            file: Some(file.to_owned()),
                            context: context.map(str::to_owned),
                            source,
                        })?
                }
                None if context.is_some() => kube::Config::from_kubeconfig(&options)
                    .await
                    .map_err(|source| ConnectError::Context {
                        file: None,
                        context: context.map(str::to_owned),
                        source,
                    })?,
                None => kube::Config::infer()
                    .await
                    .map_err(|source| ConnectError::NoKubeconfig { source })?,
            };
        let api_server = config.cluster_url.to_string();
        let client = Client::try_from(config).map_err(|source| ConnectError::Client { source })?;
        Ok(Self {
            api_server,
            ..Self::new(client, exec_timeout)
        })
    }

    /// The underlying kube client.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The API server's Kubernetes version as `major.minor` (`1.33`).
    ///
    /// # Errors
    /// [`ClusterError`] when the server does not answer.
    pub async fn server_version(&self) -> ClusterResult<String> {
        let info = self
            .client
            .apiserver_version()
            .await
            .map_err(|e| map_error("read the version of", "the API server", e))?;
        let minor: String = info
            .minor
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Ok(format!("{}.{minor}", info.major))
    }

    /// Resolves `apiVersion`/`kind` to a REST resource, from the cache or by discovery.
    async fn resolve(&self, api_version: &str, kind: &str) -> ClusterResult<Resolved> {
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(found) = self.lock().get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|e| match e {
                kube::Error::Api(status) if status.code != 404 => map_error(
                    "discover",
                    &format!("kind `{kind}` in `{api_version}`"),
                    kube::Error::Api(status),
                ),
                kube::Error::Api(_) | kube::Error::Discovery(_) => ClusterError::Invalid {
                    object: format!("kind `{kind}` in `{api_version}`"),
                    detail: "the cluster does not serve this kind (hint: check apiVersion and \
                             kind, or install the CustomResourceDefinition)"
                        .to_owned(),
                },
                other => map_error(
                    "discover",
                    &format!("kind `{kind}` in `{api_version}`"),
                    other,
                ),
            })?;
        let resolved = Resolved {
            resource,
            namespaced: caps.scope == Scope::Namespaced,
        };
        self.lock().insert(key, resolved.clone());
        Ok(resolved)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Resolved>> {
        // The cache holds plain data; a panic elsewhere cannot leave it inconsistent.
        self.resources.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The dynamic API for one object: namespaced kinds need the object's namespace.
    async fn api_for(&self, object: &ObjectRef) -> ClusterResult<(Api<DynamicObject>, Resolved)> {
        let resolved = self.resolve(&object.api_version, &object.kind).await?;
        let api = match (&object.namespace, resolved.namespaced) {
            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, &resolved.resource),
            (None, true) => {
                return Err(ClusterError::Invalid {
                    object: object.to_string(),
                    detail: format!(
                        "{} is a namespaced kind but no namespace was given (hint: set \
                         metadata.namespace)",
                        object.kind
                    ),
                });
            }
            (_, false) => Api::all_with(self.client.clone(), &resolved.resource),
        };
        Ok((api, resolved))
    }

    fn pods(&self, pod: &ObjectRef) -> ClusterResult<Api<Pod>> {
        match &pod.namespace {
            Some(ns) => Ok(Api::namespaced(self.client.clone(), ns)),
            None => Err(ClusterError::Invalid {
                object: pod.to_string(),
                detail: "a pod needs a namespace".to_owned(),
            }),
        }
    }

    async fn list_events(
        &self,
        api: Api<Event>,
        fields: Option<String>,
        what: &str,
    ) -> ClusterResult<Vec<EventRecord>> {
        let mut params = ListParams::default();
        if let Some(f) = &fields {
            params = params.fields(f);
        }
        let list = api
            .list(&params)
            .await
            .map_err(|e| map_error("list events of", what, e))?;
        let mut events: Vec<(Option<k8s_openapi::jiff::Timestamp>, EventRecord)> =
            list.items.into_iter().map(event_record).collect();
        events.sort_by_key(|e| e.0);
        Ok(events.into_iter().map(|(_, e)| e).collect())
    }

    async fn run_exec(
        &self,
        pod: &ObjectRef,
        container: Option<&str>,
        command: &[String],
        stdin: Option<Vec<u8>>,
    ) -> ClusterResult<ExecOutput> {
        let pods = self.pods(pod)?;
        let exec_error = |detail: String| ClusterError::Exec {
            pod: format!(
                "{}/{}",
                pod.namespace.as_deref().unwrap_or_default(),
                pod.name
            ),
            command: command.join(" "),
            detail,
        };
        let mut params = AttachParams::default()
            .stdin(stdin.is_some())
            .stdout(true)
            .stderr(true);
        if let Some(c) = container {
            params = params.container(c);
        }
        let mut process = pods
            .exec(&pod.name, command.to_vec(), &params)
            .await
            .map_err(|e| match e {
                kube::Error::Api(status) => exec_error(format!(
                    "the API server refused: {} ({}, HTTP {})",
                    status.message, status.reason, status.code
                )),
                other => exec_error(format!("the connection failed: {other}")),
            })?;
        let stdout = process.stdout();
        let stderr = process.stderr();
        let writer = process.stdin();
        let status = process
            .take_status()
            .ok_or_else(|| exec_error("the exec stream carried no status channel".to_owned()))?;
        let feed = async move {
            if let (Some(mut w), Some(data)) = (writer, stdin) {
                // A command that exits without reading its input closes the pipe; that is
                // its business, not an exec failure.
                let _ = w.write_all(&data).await;
                let _ = w.shutdown().await;
            }
        };
        let (out, err, status, ()) = tokio::join!(read_all(stdout), read_all(stderr), status, feed);
        let _ = process.join().await;
        let exit_code = exit_code(status.as_ref()).map_err(exec_error)?;
        Ok(ExecOutput {
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            exit_code,
        })
    }
}

/// The kinds scenarios and the harness use, known without asking the API server.
fn builtin_resources() -> HashMap<(String, String), Resolved> {
    use k8s_openapi::api::{apps, batch, core, rbac, storage};
    fn entry<K>() -> ((String, String), Resolved)
    where
        K: Resource<DynamicType = ()> + k8s_openapi::Resource,
        <K as k8s_openapi::Resource>::Scope: 'static,
    {
        let resource = ApiResource::erase::<K>(&());
        let namespaced = TypeId::of::<<K as k8s_openapi::Resource>::Scope>()
            == TypeId::of::<NamespaceResourceScope>();
        (
            (resource.api_version.clone(), resource.kind.clone()),
            Resolved {
                resource,
                namespaced,
            },
        )
    }
    [
        entry::<core::v1::Namespace>(),
        entry::<core::v1::Pod>(),
        entry::<core::v1::PersistentVolume>(),
        entry::<core::v1::PersistentVolumeClaim>(),
        entry::<core::v1::Service>(),
        entry::<core::v1::ConfigMap>(),
        entry::<core::v1::Secret>(),
        entry::<core::v1::ServiceAccount>(),
        entry::<core::v1::Node>(),
        entry::<core::v1::Event>(),
        entry::<core::v1::Endpoints>(),
        entry::<apps::v1::Deployment>(),
        entry::<apps::v1::StatefulSet>(),
        entry::<apps::v1::DaemonSet>(),
        entry::<apps::v1::ReplicaSet>(),
        entry::<batch::v1::Job>(),
        entry::<storage::v1::StorageClass>(),
        entry::<rbac::v1::ClusterRole>(),
        entry::<rbac::v1::ClusterRoleBinding>(),
        entry::<rbac::v1::Role>(),
        entry::<rbac::v1::RoleBinding>(),
    ]
    .into_iter()
    .collect()
}

/// Turns a kube error into a [`ClusterError`] naming what was attempted on which object.
fn map_error(verb: &str, object: &str, error: kube::Error) -> ClusterError {
    match error {
        kube::Error::Api(status) if status.code == 404 => ClusterError::NotFound {
            object: object.to_owned(),
        },
        kube::Error::Api(status) => ClusterError::Api {
            verb: verb.to_owned(),
            object: object.to_owned(),
            code: status.code,
            reason: status.reason.clone(),
            message: status.message.clone(),
        },
        kube::Error::SerdeError(e) => ClusterError::Invalid {
            object: object.to_owned(),
            detail: format!("the API server's answer to `{verb}` could not be decoded: {e}"),
        },
        kube::Error::BuildRequest(e) => ClusterError::Invalid {
            object: object.to_owned(),
            detail: format!("the `{verb}` request could not be built: {e}"),
        },
        other => ClusterError::Unreachable {
            verb: verb.to_owned(),
            object: object.to_owned(),
            source: Arc::new(other),
        },
    }
}

/// The object as a manifest, with the `apiVersion`/`kind` that list and watch results omit.
fn to_value(object: DynamicObject, resolved: &Resolved) -> ClusterResult<Value> {
    let mut value = serde_json::to_value(&object).map_err(|e| ClusterError::Invalid {
        object: object.metadata.name.clone().unwrap_or_default(),
        detail: format!("the object could not be represented as JSON: {e}"),
    })?;
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "apiVersion".to_owned(),
            Value::from(resolved.resource.api_version.as_str()),
        );
        map.insert(
            "kind".to_owned(),
            Value::from(resolved.resource.kind.as_str()),
        );
    }
    Ok(value)
}

fn propagation_policy(p: Propagation) -> PropagationPolicy {
    match p {
        Propagation::Background => PropagationPolicy::Background,
        Propagation::Foreground => PropagationPolicy::Foreground,
        Propagation::Orphan => PropagationPolicy::Orphan,
    }
}

async fn read_all(reader: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut buffer = Vec::new();
    if let Some(mut r) = reader {
        // A broken stream ends the output; the status channel says how the command ended.
        let _ = r.read_to_end(&mut buffer).await;
    }
    buffer
}

/// The exit code an exec status reports: `Success` is 0, `NonZeroExitCode` carries the code
/// in a cause `ExitCode`; any other failure means the command never ran.
fn exit_code(status: Option<&ExecStatus>) -> Result<i32, String> {
    let Some(status) = status else {
        return Err("the connection closed before the command's status arrived".to_owned());
    };
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    if status.reason.as_deref() == Some("NonZeroExitCode") {
        let code = status
            .details
            .as_ref()
            .and_then(|d| d.causes.as_ref())
            .and_then(|causes| {
                causes
                    .iter()
                    .find(|c| c.reason.as_deref() == Some("ExitCode"))
            })
            .and_then(|c| c.message.as_deref()?.parse::<i32>().ok());
        if let Some(code) = code {
            return Ok(code);
        }
    }
    Err(format!(
        "the container runtime refused it: {}",
        status.message.as_deref().unwrap_or("no reason given")
    ))
}

fn event_record(e: Event) -> (Option<k8s_openapi::jiff::Timestamp>, EventRecord) {
    let when = e
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let involved = &e.involved_object;
    let record = EventRecord {
        involved: ObjectRef {
            api_version: involved.api_version.clone().unwrap_or_default(),
            kind: involved.kind.clone().unwrap_or_default(),
            namespace: involved.namespace.clone().filter(|n| !n.is_empty()),
            name: involved.name.clone().unwrap_or_default(),
        },
        type_: e.type_.unwrap_or_default(),
        reason: e.reason.unwrap_or_default(),
        message: e.message.unwrap_or_default(),
        count: e
            .count
            .or_else(|| e.series.as_ref().and_then(|s| s.count))
            .unwrap_or(1),
        source: e
            .source
            .and_then(|s| s.component)
            .or(e.reporting_component)
            .unwrap_or_default(),
        last_seen: when.map(|t| t.to_string()),
    };
    (when, record)
}

/// Folds watcher events into whole-object states (see the module documentation).
struct WatchState {
    object: String,
    init: Option<Option<Value>>,
    failures: u32,
    done: bool,
    resolved: Resolved,
}

impl WatchState {
    fn step(
        &mut self,
        event: Result<watcher::Event<DynamicObject>, watcher::Error>,
    ) -> Option<ClusterResult<Option<Value>>> {
        let event = match event {
            Ok(e) => {
                self.failures = 0;
                e
            }
            Err(e) => return self.failure(e),
        };
        match event {
            watcher::Event::Init => {
                self.init = Some(None);
                None
            }
            watcher::Event::InitApply(o) => match to_value(o, &self.resolved) {
                Ok(v) => {
                    self.init = Some(Some(v));
                    None
                }
                Err(e) => Some(Err(e)),
            },
            watcher::Event::InitDone => Some(Ok(self.init.take().flatten())),
            watcher::Event::Apply(o) => Some(to_value(o, &self.resolved).map(Some)),
            watcher::Event::Delete(_) => Some(Ok(None)),
        }
    }

    fn failure(&mut self, error: watcher::Error) -> Option<ClusterResult<Option<Value>>> {
        self.failures += 1;
        let permanent = match &error {
            watcher::Error::InitialListFailed(kube::Error::Api(s))
            | watcher::Error::WatchStartFailed(kube::Error::Api(s))
            | watcher::Error::WatchFailed(kube::Error::Api(s)) => matches!(s.code, 401 | 403),
            watcher::Error::WatchError(s) => matches!(s.code, 401 | 403),
            _ => false,
        };
        tracing::debug!(object = %self.object, failures = self.failures, "watch failed: {error}");
        if !permanent && self.failures < MAX_WATCH_FAILURES {
            return None;
        }
        self.done = true;
        let inner = match error {
            watcher::Error::InitialListFailed(e)
            | watcher::Error::WatchStartFailed(e)
            | watcher::Error::WatchFailed(e) => e,
            watcher::Error::WatchError(s) => kube::Error::Api(s),
            watcher::Error::NoResourceVersion => {
                return Some(Err(ClusterError::Invalid {
                    object: self.object.clone(),
                    detail: "the API server does not support watching this kind".to_owned(),
                }));
            }
        };
        Some(Err(map_error("watch", &self.object, inner)))
    }
}

#[async_trait]
impl Cluster for KubeCluster {
    async fn apply(&self, manifest: &Value) -> ClusterResult<Value> {
        self.apply_with(manifest, false).await
    }

    async fn dry_run_apply(&self, manifest: &Value) -> ClusterResult<Value> {
        self.apply_with(manifest, true).await
    }

    async fn review_access(
        &self,
        attributes: &k8s_openapi::api::authorization::v1::ResourceAttributes,
    ) -> ClusterResult<k8s_openapi::api::authorization::v1::SubjectAccessReviewStatus> {
        use k8s_openapi::api::authorization::v1::{
            SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        };
        let api: kube::Api<SelfSubjectAccessReview> = kube::Api::all(self.client.clone());
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(attributes.clone()),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let answered = api
            .create(&kube::api::PostParams::default(), &review)
            .await
            .map_err(|e| map_error("create", "SelfSubjectAccessReview", e))?;
        answered.status.ok_or_else(|| ClusterError::Invalid {
            object: "SelfSubjectAccessReview".to_owned(),
            detail: "the API server answered without a status".to_owned(),
        })
    }

    async fn patch_merge(&self, object: &ObjectRef, patch: &Value) -> ClusterResult<Value> {
        let (api, resolved) = self.api_for(object).await?;
        let stored = api
            .patch(&object.name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(|e| map_error("patch", &object.to_string(), e))?;
        to_value(stored, &resolved)
    }

    async fn delete(&self, object: &ObjectRef, propagation: Propagation) -> ClusterResult<bool> {
        let (api, _) = self.api_for(object).await?;
        let params = DeleteParams {
            propagation_policy: Some(propagation_policy(propagation)),
            ..DeleteParams::default()
        };
        match api.delete(&object.name, &params).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(map_error("delete", &object.to_string(), e)),
        }
    }

    async fn get(&self, object: &ObjectRef) -> ClusterResult<Option<Value>> {
        let (api, resolved) = self.api_for(object).await?;
        match api.get_opt(&object.name).await {
            Ok(Some(o)) => to_value(o, &resolved).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(map_error("get", &object.to_string(), e)),
        }
    }

    async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> ClusterResult<Vec<Value>> {
        let resolved = self.resolve(api_version, kind).await?;
        let api: Api<DynamicObject> = match namespace {
            Some(ns) if resolved.namespaced => {
                Api::namespaced_with(self.client.clone(), ns, &resolved.resource)
            }
            _ => Api::all_with(self.client.clone(), &resolved.resource),
        };
        let mut params = ListParams::default();
        if let Some(selector) = label_selector {
            params = params.labels(selector);
        }
        let what = match namespace {
            Some(ns) => format!("{kind} objects in namespace `{ns}`"),
            None => format!("{kind} objects"),
        };
        let list = api
            .list(&params)
            .await
            .map_err(|e| map_error("list", &what, e))?;
        list.items
            .into_iter()
            .map(|o| to_value(o, &resolved))
            .collect()
    }

    fn watch(&self, object: &ObjectRef) -> StateStream {
        let this = self.clone();
        let object = object.clone();
        stream::once(async move {
            let (api, resolved) = match this.api_for(&object).await {
                Ok(found) => found,
                Err(e) => return stream::once(future::ready(Err(e))).boxed(),
            };
            let config =
                watcher::Config::default().fields(&format!("metadata.name={}", object.name));
            let state = WatchState {
                object: object.to_string(),
                init: None,
                failures: 0,
                done: false,
                resolved,
            };
            watcher(api, config)
                .default_backoff()
                .scan(state, |state, event| {
                    if state.done {
                        return future::ready(None);
                    }
                    future::ready(Some(state.step(event)))
                })
                .filter_map(future::ready)
                .boxed()
        })
        .flatten()
        .boxed()
    }

    async fn exec(
        &self,
        pod: &ObjectRef,
        container: Option<&str>,
        command: &[String],
        stdin: Option<Vec<u8>>,
    ) -> ClusterResult<ExecOutput> {
        match tokio::time::timeout(
            self.exec_timeout,
            self.run_exec(pod, container, command, stdin),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(ClusterError::Exec {
                pod: format!(
                    "{}/{}",
                    pod.namespace.as_deref().unwrap_or_default(),
                    pod.name
                ),
                command: command.join(" "),
                detail: format!(
                    "it did not finish within {} (hint: raise timeouts.exec in the \
                     configuration)",
                    nfslab_workload::format_duration(self.exec_timeout)
                ),
            }),
        }
    }

    async fn logs(
        &self,
        pod: &ObjectRef,
        container: Option<&str>,
        tail_lines: Option<i64>,
        previous: bool,
    ) -> ClusterResult<String> {
        let pods = self.pods(pod)?;
        let params = LogParams {
            container: container.map(str::to_owned),
            tail_lines,
            previous,
            ..LogParams::default()
        };
        pods.logs(&pod.name, &params).await.map_err(|e| {
            let what = match container {
                Some(c) => format!("container `{c}` of {pod}"),
                None => pod.to_string(),
            };
            map_error("read the logs of", &what, e)
        })
    }

    async fn events_for(&self, object: &ObjectRef) -> ClusterResult<Vec<EventRecord>> {
        let mut fields = format!(
            "involvedObject.kind={},involvedObject.name={}",
            object.kind, object.name
        );
        let api: Api<Event> = match &object.namespace {
            Some(ns) => {
                fields.push_str(&format!(",involvedObject.namespace={ns}"));
                Api::namespaced(self.client.clone(), ns)
            }
            // Events about cluster-scoped objects are recorded in `default`, but recorders
            // may choose another namespace: search all.
            None => Api::all(self.client.clone()),
        };
        self.list_events(api, Some(fields), &object.to_string())
            .await
    }

    async fn events_in(&self, namespace: &str) -> ClusterResult<Vec<EventRecord>> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        self.list_events(api, None, &format!("namespace `{namespace}`"))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Request, Response, StatusCode};
    use kube::client::Body;
    use serde_json::json;
    use tower_test::mock;

    /// One expected request and the canned answer.
    struct Exchange {
        method: &'static str,
        uri: String,
        body: Option<Value>,
        content_type: Option<&'static str>,
        status: u16,
        reply: Value,
    }

    fn expect(method: &'static str, uri: &str, status: u16, reply: Value) -> Exchange {
        Exchange {
            method,
            uri: uri.to_owned(),
            body: None,
            content_type: None,
            status,
            reply,
        }
    }

    impl Exchange {
        fn body(mut self, body: Value) -> Self {
            self.body = Some(body);
            self
        }
        fn content_type(mut self, ct: &'static str) -> Self {
            self.content_type = Some(ct);
            self
        }
    }

    /// A cluster on a mocked API server that answers `exchanges` in order, asserting each
    /// request's method, URI (path and query), content type and JSON body.
    fn mocked(exchanges: Vec<Exchange>) -> (KubeCluster, tokio::task::JoinHandle<()>) {
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let mut handle = std::pin::pin!(handle);
            for ex in exchanges {
                let (request, send) = handle.next_request().await.expect("a request");
                assert_eq!(request.method().as_str(), ex.method, "method of {}", ex.uri);
                assert_eq!(request.uri().to_string(), ex.uri);
                if let Some(ct) = ex.content_type {
                    assert_eq!(
                        request
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok()),
                        Some(ct)
                    );
                }
                let bytes = request.into_body().collect_bytes().await.expect("body");
                if let Some(expected) = ex.body {
                    let actual: Value = serde_json::from_slice(&bytes).expect("json body");
                    assert_eq!(actual, expected);
                }
                let response = Response::builder()
                    .status(StatusCode::from_u16(ex.status).expect("status"))
                    .body(Body::from(serde_json::to_vec(&ex.reply).expect("reply")))
                    .expect("response");
                send.send_response(response);
            }
        });
        let client = Client::new(service, "default");
        (KubeCluster::new(client, Duration::from_secs(5)), server)
    }

    fn status(code: u16, reason: &str, message: &str) -> Value {
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
               "code": code, "reason": reason, "message": message})
    }

    fn pvc_manifest() -> Value {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "pvc1", "namespace": "s1"},
               "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "nfs",
                        "resources": {"requests": {"storage": "1Gi"}}}})
    }

    #[tokio::test]
    async fn apply_is_a_forced_server_side_apply_by_nfslab() {
        let mut stored = pvc_manifest();
        stored["metadata"]["uid"] = json!("u-1");
        let (cluster, server) = mocked(vec![
            expect(
                "PATCH",
                "/api/v1/namespaces/s1/persistentvolumeclaims/pvc1?&force=true&fieldManager=nfslab&fieldValidation=Strict",
                200,
                stored.clone(),
            )
            .content_type("application/apply-patch+yaml")
            .body(pvc_manifest()),
        ]);
        let result = cluster.apply(&pvc_manifest()).await.expect("apply");
        assert_eq!(result, stored);
        server.await.expect("server");
    }

    #[tokio::test]
    async fn apply_of_a_cluster_scoped_kind_uses_the_cluster_path() {
        let sc = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                        "metadata": {"name": "nfslab-a1b2c3-nfs"},
                        "provisioner": "kubernetes.io/no-provisioner"});
        let (cluster, server) = mocked(vec![expect(
            "PATCH",
            "/apis/storage.k8s.io/v1/storageclasses/nfslab-a1b2c3-nfs?&force=true&fieldManager=nfslab&fieldValidation=Strict",
            200,
            sc.clone(),
        )]);
        cluster.apply(&sc).await.expect("apply");
        server.await.expect("server");
    }

    #[tokio::test]
    async fn apply_errors_name_the_verb_and_object() {
        let (cluster, server) = mocked(vec![expect(
            "PATCH",
            "/api/v1/namespaces/s1/persistentvolumeclaims/pvc1?&force=true&fieldManager=nfslab&fieldValidation=Strict",
            422,
            status(422, "Invalid", "spec.resources.requests: Required value"),
        )]);
        let err = cluster.apply(&pvc_manifest()).await.expect_err("refused");
        assert_eq!(
            err.to_string(),
            "the API server refused to apply PersistentVolumeClaim `s1/pvc1`: \
             spec.resources.requests: Required value (Invalid, HTTP 422)"
        );
        server.await.expect("server");
    }

    #[tokio::test]
    async fn a_dry_run_apply_stores_nothing_and_asks_for_strict_validation() {
        let (cluster, server) = mocked(vec![
            expect(
                "PATCH",
                "/api/v1/namespaces/s1/persistentvolumeclaims/pvc1?&dryRun=All&force=true&fieldManager=nfslab&fieldValidation=Strict",
                422,
                status(
                    422,
                    "BadRequest",
                    r#".spec.accesModes: field not declared in schema"#,
                ),
            )
            .content_type("application/apply-patch+yaml")
            .body(pvc_manifest()),
        ]);
        let err = cluster
            .dry_run_apply(&pvc_manifest())
            .await
            .expect_err("refused");
        assert_eq!(
            err.to_string(),
            "the API server refused to dry-run apply PersistentVolumeClaim `s1/pvc1`: \
             .spec.accesModes: field not declared in schema (BadRequest, HTTP 422)"
        );
        server.await.expect("server");
    }

    #[tokio::test]
    async fn scenario_dry_runs_name_the_manifest_the_server_refuses() {
        let scenario = crate::scenario::load::parse(
            "id: t\ntitle: test\nsources: [unit]\ndescription: x\nsteps:\n  - apply:\n      \
             manifests:\n        - apiVersion: v1\n          kind: PersistentVolumeClaim\n          \
             metadata: {name: pvc1}\n          spec:\n            accessModes: [ReadWriteOnce]\n            \
             resources: {requests: {storage: 1Gi}}\n            storageClassName: \"{{ prefix }}-nfs\"\n",
            std::path::Path::new("dir/t.yaml"),
        )
        .expect("valid scenario");
        let (cluster, server) = mocked(vec![
            expect(
                "PATCH",
                "/api/v1/namespaces/default/persistentvolumeclaims/pvc1?&dryRun=All&force=true&fieldManager=nfslab&fieldValidation=Strict",
                422,
                status(422, "BadRequest", ".spec.volumeAttributesClassName: field not declared in schema"),
            )
            .content_type("application/apply-patch+yaml"),
        ]);
        let mut errors = Vec::new();
        let outcome = crate::scenario::commands::server_dry_run(&[scenario], &cluster, &mut errors)
            .await
            .expect("writes");
        assert_eq!(outcome, crate::exit::Outcome::BadInput);
        let text = String::from_utf8(errors).expect("utf-8");
        assert!(
            text.starts_with("dir/t.yaml:8:11: scenario `t`: the API server refused to dry-run apply PersistentVolumeClaim `default/pvc1`"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1, "{text}");
        server.await.expect("server");
    }

    #[tokio::test]
    async fn apply_without_namespace_for_a_namespaced_kind_is_refused_locally() {
        let (cluster, server) = mocked(vec![]);
        let mut m = pvc_manifest();
        m["metadata"]
            .as_object_mut()
            .expect("map")
            .remove("namespace");
        let err = cluster.apply(&m).await.expect_err("no namespace");
        assert!(err.to_string().contains("set metadata.namespace"), "{err}");
        server.await.expect("server");
    }

    #[tokio::test]
    async fn merge_patch_sends_the_patch_as_merge_json() {
        let pv = ObjectRef::pv("nfslab-a1b2c3-pv1");
        let patch = json!({"spec": {"claimRef": null}});
        let (cluster, server) = mocked(vec![
            expect(
                "PATCH",
                "/api/v1/persistentvolumes/nfslab-a1b2c3-pv1?",
                200,
                json!({"apiVersion": "v1", "kind": "PersistentVolume",
                       "metadata": {"name": "nfslab-a1b2c3-pv1"}}),
            )
            .content_type("application/merge-patch+json")
            .body(patch.clone()),
        ]);
        cluster.patch_merge(&pv, &patch).await.expect("patch");
        server.await.expect("server");
    }

    #[tokio::test]
    async fn delete_sends_propagation_and_reports_absence() {
        let pvc = ObjectRef::pvc("s1", "pvc1");
        let (cluster, server) = mocked(vec![
            expect(
                "DELETE",
                "/api/v1/namespaces/s1/persistentvolumeclaims/pvc1?",
                200,
                pvc_manifest(),
            )
            .body(json!({"propagationPolicy": "Foreground"})),
            expect(
                "DELETE",
                "/api/v1/namespaces/s1/persistentvolumeclaims/pvc1?",
                404,
                status(404, "NotFound", "persistentvolumeclaims \"pvc1\" not found"),
            ),
        ]);
        assert!(
            cluster
                .delete(&pvc, Propagation::Foreground)
                .await
                .expect("delete")
        );
        assert!(
            !cluster
                .delete(&pvc, Propagation::Background)
                .await
                .expect("already gone")
        );
        server.await.expect("server");
    }

    #[tokio::test]
    async fn get_maps_404_to_none_and_other_errors_to_api_errors() {
        let pod = ObjectRef::pod("s1", "web-0");
        let (cluster, server) = mocked(vec![
            expect(
                "GET",
                "/api/v1/namespaces/s1/pods/web-0",
                404,
                status(404, "NotFound", "pods \"web-0\" not found"),
            ),
            expect(
                "GET",
                "/api/v1/namespaces/s1/pods/web-0",
                403,
                status(403, "Forbidden", "pods \"web-0\" is forbidden"),
            ),
        ]);
        assert_eq!(cluster.get(&pod).await.expect("get"), None);
        let err = cluster.get(&pod).await.expect_err("forbidden");
        assert!(
            matches!(&err, ClusterError::Api { verb, code: 403, .. } if verb == "get"),
            "{err:?}"
        );
        server.await.expect("server");
    }

    #[tokio::test]
    async fn list_sends_the_label_selector_and_fills_in_kinds() {
        let (cluster, server) = mocked(vec![expect(
            "GET",
            "/api/v1/persistentvolumes?&labelSelector=app.kubernetes.io%2Fmanaged-by%3Dnfslab",
            200,
            json!({"apiVersion": "v1", "kind": "PersistentVolumeList", "metadata": {},
                   "items": [{"metadata": {"name": "nfslab-a1b2c3-pv1"}}]}),
        )]);
        let items = cluster
            .list(
                "v1",
                "PersistentVolume",
                None,
                Some("app.kubernetes.io/managed-by=nfslab"),
            )
            .await
            .expect("list");
        assert_eq!(items.len(), 1);
        assert_eq!(
            ObjectRef::from_manifest(&items[0]),
            Some(ObjectRef::pv("nfslab-a1b2c3-pv1"))
        );
        server.await.expect("server");
    }

    #[tokio::test]
    async fn unknown_kinds_are_discovered_once() {
        let (cluster, server) = mocked(vec![
            expect(
                "GET",
                "/apis/example.com/v1",
                200,
                json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "example.com/v1",
                       "resources": [{"name": "widgets", "singularName": "widget", "namespaced": true,
                                      "kind": "Widget", "verbs": ["get", "list", "watch", "patch"]}]}),
            ),
            expect(
                "GET",
                "/apis/example.com/v1/namespaces/s1/widgets/w",
                200,
                json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
            ),
            expect(
                "GET",
                "/apis/example.com/v1/namespaces/s1/widgets/w",
                200,
                json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
            ),
        ]);
        let w = ObjectRef::namespaced("example.com/v1", "Widget", "s1", "w");
        assert!(cluster.get(&w).await.expect("get").is_some());
        assert!(cluster.get(&w).await.expect("cached").is_some());
        server.await.expect("server");
    }

    #[tokio::test]
    async fn kinds_the_cluster_does_not_serve_are_explained() {
        let (cluster, server) = mocked(vec![expect(
            "GET",
            "/apis/example.com/v1",
            404,
            status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        )]);
        let w = ObjectRef::namespaced("example.com/v1", "Widget", "s1", "w");
        let err = cluster.get(&w).await.expect_err("unknown kind");
        assert!(
            err.to_string().contains("CustomResourceDefinition"),
            "{err}"
        );
        server.await.expect("server");
    }

    #[tokio::test]
    async fn events_query_the_involved_object_and_come_oldest_first() {
        let pv = ObjectRef::pv("nfslab-a1b2c3-pv1");
        let event = |name: &str, at: &str, reason: &str| {
            json!({"metadata": {"name": name, "namespace": "default"},
                   "involvedObject": {"kind": "PersistentVolume", "name": "nfslab-a1b2c3-pv1",
                                      "apiVersion": "v1"},
                   "reason": reason, "message": "m", "type": "Warning", "count": 2,
                   "source": {"component": "persistentvolume-controller"},
                   "lastTimestamp": at})
        };
        let (cluster, server) = mocked(vec![expect(
            "GET",
            "/api/v1/events?&fieldSelector=involvedObject.kind%3DPersistentVolume%2CinvolvedObject.name%3Dnfslab-a1b2c3-pv1",
            200,
            json!({"apiVersion": "v1", "kind": "EventList", "metadata": {},
                   "items": [event("b", "2026-01-01T10:00:05Z", "VolumeFailedRecycle"),
                             event("a", "2026-01-01T10:00:01Z", "RecyclerPod")]}),
        )]);
        let events = cluster.events_for(&pv).await.expect("events");
        let reasons: Vec<&str> = events.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(reasons, ["RecyclerPod", "VolumeFailedRecycle"]);
        assert_eq!(events[0].involved, pv);
        assert_eq!(events[0].source, "persistentvolume-controller");
        assert_eq!(events[0].count, 2);
        assert_eq!(events[0].last_seen.as_deref(), Some("2026-01-01T10:00:01Z"));
        server.await.expect("server");
    }

    #[tokio::test]
    async fn namespaced_events_filter_on_the_namespace_too() {
        let pod = ObjectRef::pod("s1", "web-0");
        let (cluster, server) = mocked(vec![expect(
            "GET",
            "/api/v1/namespaces/s1/events?&fieldSelector=involvedObject.kind%3DPod%2CinvolvedObject.name%3Dweb-0%2CinvolvedObject.namespace%3Ds1",
            200,
            json!({"apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": []}),
        )]);
        assert!(cluster.events_for(&pod).await.expect("events").is_empty());
        server.await.expect("server");
    }

    #[tokio::test]
    async fn logs_pass_container_tail_and_previous() {
        let pod = ObjectRef::pod("s1", "web-0");
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let mut handle = std::pin::pin!(handle);
            let (request, send) = handle.next_request().await.expect("request");
            assert_eq!(
                request.uri().to_string(),
                "/api/v1/namespaces/s1/pods/web-0/log?&container=nginx&previous=true&tailLines=20"
            );
            send.send_response(Response::new(Body::from(
                "line 1\nline 2\n".as_bytes().to_vec(),
            )));
        });
        let cluster = KubeCluster::new(Client::new(service, "default"), Duration::from_secs(5));
        let text = cluster
            .logs(&pod, Some("nginx"), Some(20), true)
            .await
            .expect("logs");
        assert_eq!(text, "line 1\nline 2\n");
        server.await.expect("server");
    }

    #[tokio::test]
    async fn watch_reports_the_current_state_then_changes() {
        let pvc = ObjectRef::pvc("s1", "pvc1");
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let mut handle = std::pin::pin!(handle);
            let (request, send) = handle.next_request().await.expect("list");
            let uri = request.uri().to_string();
            assert!(
                uri.starts_with("/api/v1/namespaces/s1/persistentvolumeclaims?")
                    && uri.contains("fieldSelector=metadata.name%3Dpvc1"),
                "{uri}"
            );
            send.send_response(Response::new(Body::from(
                serde_json::to_vec(&json!({
                    "apiVersion": "v1", "kind": "PersistentVolumeClaimList",
                    "metadata": {"resourceVersion": "10"},
                    "items": [{"metadata": {"name": "pvc1", "namespace": "s1",
                                            "resourceVersion": "9"},
                               "status": {"phase": "Pending"}}]}))
                .expect("json"),
            )));
            let (request, send) = handle.next_request().await.expect("watch");
            let uri = request.uri().to_string();
            assert!(
                uri.contains("watch=true") && uri.contains("resourceVersion=10"),
                "{uri}"
            );
            let bound = json!({"type": "MODIFIED", "object": {
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "pvc1", "namespace": "s1", "resourceVersion": "11"},
                "status": {"phase": "Bound"}}});
            let deleted = json!({"type": "DELETED", "object": {
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "pvc1", "namespace": "s1", "resourceVersion": "12"}}});
            let body = format!("{bound}\n{deleted}\n");
            send.send_response(Response::new(Body::from(body.into_bytes())));
        });
        let cluster = KubeCluster::new(Client::new(service, "default"), Duration::from_secs(5));
        let states: Vec<Option<Value>> = cluster
            .watch(&pvc)
            .take(3)
            .map(|s| s.expect("state"))
            .collect()
            .await;
        let phases: Vec<Option<&str>> = states
            .iter()
            .map(|s| {
                s.as_ref()
                    .and_then(|v| v.pointer("/status/phase")?.as_str())
            })
            .collect();
        assert_eq!(phases, [Some("Pending"), Some("Bound"), None]);
        assert_eq!(
            states[0].as_ref().and_then(|v| v.get("kind")),
            Some(&json!("PersistentVolumeClaim"))
        );
        server.await.expect("server");
    }

    #[tokio::test(start_paused = true)]
    async fn watch_survives_an_expired_resource_version_by_relisting() {
        let pvc = ObjectRef::pvc("s1", "pvc1");
        let list = |phase: &str, rv: &str| {
            serde_json::to_vec(&json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaimList",
                "metadata": {"resourceVersion": rv},
                "items": [{"metadata": {"name": "pvc1", "namespace": "s1", "resourceVersion": rv},
                           "status": {"phase": phase}}]}))
            .expect("json")
        };
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let mut handle = std::pin::pin!(handle);
            let (_, send) = handle.next_request().await.expect("list");
            send.send_response(Response::new(Body::from(list("Pending", "10"))));
            let (_, send) = handle.next_request().await.expect("watch");
            let gone = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
                "status": "Failure", "reason": "Expired", "code": 410,
                "message": "too old resource version: 10 (20)"}});
            send.send_response(Response::new(Body::from(format!("{gone}\n").into_bytes())));
            let (request, send) = handle.next_request().await.expect("relist");
            assert!(!request.uri().to_string().contains("watch=true"));
            send.send_response(Response::new(Body::from(list("Bound", "21"))));
        });
        let cluster = KubeCluster::new(Client::new(service, "default"), Duration::from_secs(5));
        let phases: Vec<Option<String>> = cluster
            .watch(&pvc)
            .take(2)
            .map(|s| {
                s.expect("state")
                    .and_then(|v| v.pointer("/status/phase")?.as_str().map(str::to_owned))
            })
            .collect()
            .await;
        assert_eq!(
            phases,
            [Some("Pending".to_owned()), Some("Bound".to_owned())]
        );
        server.await.expect("server");
    }

    #[tokio::test]
    async fn watch_of_an_absent_object_starts_with_none() {
        let pv = ObjectRef::pv("nfslab-a1b2c3-pv1");
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let mut handle = std::pin::pin!(handle);
            let (_, send) = handle.next_request().await.expect("list");
            send.send_response(Response::new(Body::from(
                serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "PersistentVolumeList",
                    "metadata": {"resourceVersion": "5"}, "items": []}))
                .expect("json"),
            )));
        });
        let cluster = KubeCluster::new(Client::new(service, "default"), Duration::from_secs(5));
        let first = cluster.watch(&pv).next().await.expect("a state");
        assert_eq!(first.expect("ok"), None);
        server.await.expect("server");
    }

    #[tokio::test]
    async fn forbidden_watches_end_with_an_error() {
        let pv = ObjectRef::pv("x");
        let (cluster, server) = mocked(vec![expect(
            "GET",
            "/api/v1/persistentvolumes?&fieldSelector=metadata.name%3Dx&limit=500",
            403,
            status(403, "Forbidden", "persistentvolumes is forbidden"),
        )]);
        let states: Vec<_> = cluster.watch(&pv).collect().await;
        assert_eq!(states.len(), 1);
        let err = states
            .into_iter()
            .next()
            .expect("one")
            .expect_err("forbidden");
        assert!(
            matches!(&err, ClusterError::Api { verb, code: 403, .. } if verb == "watch"),
            "{err:?}"
        );
        server.await.expect("server");
    }

    #[test]
    fn exit_codes_come_from_the_status_channel() {
        let ok: ExecStatus = serde_json::from_value(json!({"status": "Success"})).expect("status");
        assert_eq!(exit_code(Some(&ok)), Ok(0));
        let failed: ExecStatus = serde_json::from_value(json!({
            "status": "Failure", "reason": "NonZeroExitCode",
            "message": "command terminated with non-zero exit code: error executing command [false], exit code 1",
            "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}))
        .expect("status");
        assert_eq!(exit_code(Some(&failed)), Ok(3));
        let refused: ExecStatus = serde_json::from_value(json!({
            "status": "Failure", "reason": "InternalError",
            "message": "exec: \"nope\": executable file not found in $PATH"}))
        .expect("status");
        assert!(
            exit_code(Some(&refused))
                .expect_err("not run")
                .contains("executable file not found")
        );
        assert!(exit_code(None).is_err());
    }

    #[test]
    fn builtin_kinds_know_their_scope() {
        let table = builtin_resources();
        let scope = |v: &str, k: &str| {
            table
                .get(&(v.to_owned(), k.to_owned()))
                .map(|r| r.namespaced)
        };
        assert_eq!(scope("v1", "PersistentVolume"), Some(false));
        assert_eq!(scope("v1", "PersistentVolumeClaim"), Some(true));
        assert_eq!(scope("storage.k8s.io/v1", "StorageClass"), Some(false));
        assert_eq!(
            scope("rbac.authorization.k8s.io/v1", "RoleBinding"),
            Some(true)
        );
        assert_eq!(scope("apps/v1", "StatefulSet"), Some(true));
    }
}
