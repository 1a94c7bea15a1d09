//! The in-cluster NFS server: its manifests, bringing it up, checking it really serves,
//! finding it again, and taking it down.
//!
//! Both flavors run as a one-replica StatefulSet `nfs-server` (pod `nfs-server-0`, a stable
//! name scenarios can restart) pinned to one node, exporting a hostPath directory of that node
//! so a server restart keeps the data. A ClusterIP Service with fixed ports carries NFSv3
//! (rpcbind 111, nfsd 2049, mountd, statd, lockd) and NFSv4.x (2049); PVs name the Service's
//! ClusterIP, which kube-proxy routes on every node and which survives server restarts.
//!
//! - `kernel`: the node kernel's nfsd, started by nfslab's script
//!   (`scripts/kernel-server.sh`) in a privileged pod on the image Kubernetes' own e2e tests
//!   use for their NFS server.
//! - `ganesha`: nfs-ganesha in user space (`scripts/ganesha-server.sh`, `ganesha.conf`).
//!
//! Next to the server runs a `files` container (the `nfslab-io` image, `sleep`) mounting the
//! same directory: [`super::files`] uses it for server-side file operations.
//!
//! The server counts as up only when a real client can use it: a short-lived pod mounts the
//! export with an inline `nfs:` volume and writes a file, which is then read back on the
//! server side.

use std::time::Duration;

use serde_json::{Value, json};

use super::{FileAccess, NfsServer, ServerFlavor};
use crate::config::{Config, Timeouts};
use crate::k8s::conditions::{self, Condition};
use crate::k8s::ownership::{MANAGED_BY, MANAGED_BY_LABEL};
use crate::k8s::{Cluster, ClusterError, ObjectRef, Propagation, wait};

/// Name of the StatefulSet, its Service and ConfigMap.
pub const SERVER_NAME: &str = "nfs-server";
/// The server container.
pub const SERVER_CONTAINER: &str = "server";
/// The file-access container.
pub const FILES_CONTAINER: &str = "files";
/// The exported path, the same for NFSv3 and NFSv4.x, and where both containers mount it.
pub const EXPORT: &str = "/exports";
/// Fixed mountd port.
pub const MOUNTD_PORT: u16 = 20048;
/// Fixed statd port.
pub const STATD_PORT: u16 = 662;
/// Fixed lockd (NLM) port, TCP and UDP.
pub const LOCKD_PORT: u16 = 32803;
/// Label naming nfslab's infrastructure components (`nfs-server`).
pub const COMPONENT_LABEL: &str = "nfslab.io/component";
/// Label naming the server flavor on the StatefulSet.
pub const FLAVOR_LABEL: &str = "nfslab.io/nfs-flavor";

const KERNEL_SCRIPT: &str = include_str!("scripts/kernel-server.sh");
const GANESHA_SCRIPT: &str = include_str!("scripts/ganesha-server.sh");
const GANESHA_CONF: &str = include_str!("scripts/ganesha.conf");

/// Everything needed to render the server's manifests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    /// `Kernel` or `Ganesha`.
    pub flavor: ServerFlavor,
    /// Namespace of the server objects.
    pub namespace: String,
    /// Node the server runs on (its disk backs the export).
    pub node: String,
    /// Directory on that node holding the exported files.
    pub host_path: String,
    /// NFSv4 lease time and grace period.
    pub grace_period: Duration,
    /// Server image.
    pub server_image: String,
    /// `nfslab-io` image for the file-access container and client checks.
    pub files_image: String,
}

impl ServerSpec {
    /// The spec the configuration describes, for `flavor` (the configuration's when `None`)
    /// on `node`.
    #[must_use]
    pub fn from_config(config: &Config, flavor: Option<ServerFlavor>, node: &str) -> Self {
        let flavor = flavor.unwrap_or(config.nfs.flavor);
        let server_image = match flavor {
            ServerFlavor::Ganesha => config.images.ganesha_nfs_server.clone(),
            ServerFlavor::Kernel | ServerFlavor::External => {
                config.images.kernel_nfs_server.clone()
            }
        };
        Self {
            flavor,
            namespace: config.nfs.namespace.clone(),
            node: node.to_owned(),
            host_path: config.nfs.host_path.clone(),
            grace_period: config.nfs.grace_period,
            server_image,
            files_image: config.images.nfslab_io(),
        }
    }

    /// The server pod (stable across restarts).
    #[must_use]
    pub fn pod(&self) -> ObjectRef {
        ObjectRef::pod(&self.namespace, &format!("{SERVER_NAME}-0"))
    }

    /// The Service carrying the server's address.
    #[must_use]
    pub fn service(&self) -> ObjectRef {
        ObjectRef::namespaced("v1", "Service", &self.namespace, SERVER_NAME)
    }

    fn labels(&self) -> Value {
        json!({
            MANAGED_BY_LABEL: MANAGED_BY,
            "app.kubernetes.io/name": SERVER_NAME,
            "app.kubernetes.io/part-of": "nfslab",
            COMPONENT_LABEL: SERVER_NAME,
        })
    }

    fn selector(&self) -> Value {
        json!({"app.kubernetes.io/name": SERVER_NAME, COMPONENT_LABEL: SERVER_NAME})
    }
}

/// The default node for the server when nothing is configured and no cluster is asked:
/// kind's first worker (or the control plane of a cluster without workers).
#[must_use]
pub fn default_kind_node(config: &Config) -> String {
    if config.nfs.node.is_empty() {
        if config.cluster.workers > 0 {
            format!("{}-worker", config.cluster.name)
        } else {
            format!("{}-control-plane", config.cluster.name)
        }
    } else {
        config.nfs.node.clone()
    }
}

fn ports() -> Vec<(&'static str, u16)> {
    vec![
        ("rpcbind", 111),
        ("nfs", 2049),
        ("mountd", MOUNTD_PORT),
        ("statd", STATD_PORT),
        ("lockd", LOCKD_PORT),
    ]
}

/// The server's objects, in apply order: Namespace, ConfigMap, Service, StatefulSet.
#[must_use]
pub fn manifests(spec: &ServerSpec) -> Vec<Value> {
    let labels = spec.labels();
    let mut ns_labels = labels.clone();
    // The server pod is privileged; namespaces under Pod Security admission must allow it.
    ns_labels["pod-security.kubernetes.io/enforce"] = json!("privileged");
    let namespace = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": spec.namespace, "labels": ns_labels},
    });
    let grace = spec.grace_period.as_secs().to_string();
    let data = match spec.flavor {
        ServerFlavor::Ganesha => json!({
            "start.sh": GANESHA_SCRIPT,
            "ganesha.conf": ganesha_config(EXPORT, spec.grace_period),
        }),
        ServerFlavor::Kernel | ServerFlavor::External => json!({"start.sh": KERNEL_SCRIPT}),
    };
    let config_map = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": SERVER_NAME, "namespace": spec.namespace, "labels": labels},
        "data": data,
    });
    let service_ports: Vec<Value> = ports()
        .into_iter()
        .flat_map(|(name, port)| {
            ["TCP", "UDP"].map(|protocol| {
                json!({
                    "name": format!("{name}-{}", protocol.to_lowercase()),
                    "port": port,
                    "targetPort": format!("{name}-{}", protocol.to_lowercase()),
                    "protocol": protocol,
                })
            })
        })
        .collect();
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVER_NAME, "namespace": spec.namespace, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": spec.selector(),
            "ports": service_ports,
        },
    });
    let container_ports: Vec<Value> = ports()
        .into_iter()
        .flat_map(|(name, port)| {
            ["TCP", "UDP"].map(|protocol| {
                json!({
                    "name": format!("{name}-{}", protocol.to_lowercase()),
                    "containerPort": port,
                    "protocol": protocol,
                })
            })
        })
        .collect();
    let command = match spec.flavor {
        ServerFlavor::Ganesha => json!(["/bin/sh", "/nfslab/start.sh"]),
        ServerFlavor::Kernel | ServerFlavor::External => json!(["/bin/bash", "/nfslab/start.sh"]),
    };
    let mut template_labels = labels.clone();
    template_labels[FLAVOR_LABEL] = json!(flavor_name(spec.flavor));
    let mut set_labels = labels.clone();
    set_labels[FLAVOR_LABEL] = json!(flavor_name(spec.flavor));
    let statefulset = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": SERVER_NAME, "namespace": spec.namespace, "labels": set_labels},
        "spec": {
            "serviceName": SERVER_NAME,
            "replicas": 1,
            "selector": {"matchLabels": spec.selector()},
            "template": {
                "metadata": {"labels": template_labels},
                "spec": {
                    "nodeSelector": {"kubernetes.io/hostname": spec.node},
                    "tolerations": [{
                        "key": "node-role.kubernetes.io/control-plane",
                        "operator": "Exists",
                        "effect": "NoSchedule",
                    }],
                    "terminationGracePeriodSeconds": 30,
                    "containers": [
                        {
                            "name": SERVER_CONTAINER,
                            "image": spec.server_image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": command,
                            "env": [
                                {"name": "EXPORT_DIR", "value": EXPORT},
                                {"name": "GRACE_SECONDS", "value": grace},
                                {"name": "MOUNTD_PORT", "value": MOUNTD_PORT.to_string()},
                                {"name": "STATD_PORT", "value": STATD_PORT.to_string()},
                                {"name": "LOCKD_PORT", "value": LOCKD_PORT.to_string()},
                            ],
                            "securityContext": {"privileged": true},
                            "ports": container_ports,
                            "readinessProbe": {
                                "exec": {"command": [
                                    "/bin/sh", "-c",
                                    "/usr/sbin/rpcinfo -t 127.0.0.1 nfs 4 && \
                                     /usr/sbin/rpcinfo -t 127.0.0.1 mountd 3",
                                ]},
                                "periodSeconds": 3,
                                "timeoutSeconds": 5,
                                "failureThreshold": 2,
                            },
                            "volumeMounts": [
                                {"name": "exports", "mountPath": EXPORT},
                                {"name": "scripts", "mountPath": "/nfslab"},
                            ],
                        },
                        {
                            "name": FILES_CONTAINER,
                            "image": spec.files_image,
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["sleep"],
                            "volumeMounts": [{"name": "exports", "mountPath": EXPORT}],
                        },
                    ],
                    "volumes": [
                        {"name": "exports",
                         "hostPath": {"path": spec.host_path, "type": "DirectoryOrCreate"}},
                        {"name": "scripts",
                         "configMap": {"name": SERVER_NAME, "defaultMode": 0o755}},
                    ],
                },
            },
        },
    });
    vec![namespace, config_map, service, statefulset]
}

/// The nfs-ganesha configuration for one export: `export_dir` is both its path and its
/// NFSv4 pseudo path (so clients use the same path with either version), services on the
/// fixed ports, lease time and grace period `grace`.
#[must_use]
pub fn ganesha_config(export_dir: &str, grace: Duration) -> String {
    GANESHA_CONF
        .replace("@MOUNTD_PORT@", &MOUNTD_PORT.to_string())
        .replace("@LOCKD_PORT@", &LOCKD_PORT.to_string())
        .replace("@GRACE_SECONDS@", &grace.as_secs().to_string())
        .replace("@EXPORT_DIR@", export_dir)
}

fn flavor_name(flavor: ServerFlavor) -> &'static str {
    match flavor {
        ServerFlavor::Kernel => "kernel",
        ServerFlavor::Ganesha => "ganesha",
        ServerFlavor::External => "external",
    }
}

/// The client pod that proves the export works: it mounts `address:/exports` with an inline
/// `nfs:` volume (kernel default version negotiation) and writes `file` containing `token`.
#[must_use]
pub fn client_check_pod(
    spec: &ServerSpec,
    address: &str,
    name: &str,
    file: &str,
    token: &str,
) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": spec.namespace, "labels": {
            MANAGED_BY_LABEL: MANAGED_BY,
            COMPONENT_LABEL: "nfs-client-check",
        }},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "client",
                "image": spec.files_image,
                "imagePullPolicy": "IfNotPresent",
                "args": ["file", "write", format!("/mnt/{file}"), "--content", token],
                "volumeMounts": [{"name": "export", "mountPath": "/mnt"}],
            }],
            "volumes": [{"name": "export", "nfs": {"server": address, "path": EXPORT}}],
        },
    })
}

/// Why the NFS server could not be brought up, found, or taken down.
#[derive(Debug, thiserror::Error)]
pub enum NfsError {
    /// A server object could not be applied, read or deleted.
    #[error("could not {verb} the NFS server's {object}")]
    Cluster {
        /// `apply`, `delete`, `read`.
        verb: &'static str,
        /// The object.
        object: String,
        /// What the cluster said.
        #[source]
        source: Box<ClusterError>,
    },
    /// The server pod did not become ready.
    #[error(
        "the NFS server pod {pod} was not ready within {}: {diagnosis}",
        humantime::format_duration(*.after)
    )]
    NotReady {
        /// The pod.
        pod: String,
        /// The limit.
        after: Duration,
        /// What the cluster reports about it (events, container states, log lines).
        diagnosis: String,
    },
    /// A real client could not use the export.
    #[error("an NFS client could not use `{address}:{EXPORT}`: {detail}")]
    ClientCheck {
        /// The server address.
        address: String,
        /// What happened, with the relevant events.
        detail: String,
    },
    /// The Service has no ClusterIP.
    #[error("the Service {service} has no cluster IP (hint: it must be of type ClusterIP)")]
    NoAddress {
        /// The Service.
        service: String,
    },
    /// No node can run the server.
    #[error("{detail}")]
    Node {
        /// Which node is missing or why none fits.
        detail: String,
    },
    /// No server is deployed.
    #[error(
        "no NFS server is deployed in namespace `{namespace}` (hint: `nfslab nfs up` deploys \
         one)"
    )]
    NotDeployed {
        /// The namespace looked in.
        namespace: String,
    },
    /// Waiting for the server's objects to disappear failed.
    #[error("the NFS server's objects were not removed")]
    Removal {
        /// Why.
        #[source]
        source: Box<wait::WaitError>,
    },
}

fn cluster_err(verb: &'static str, object: &ObjectRef) -> impl FnOnce(ClusterError) -> NfsError {
    let object = object.to_string();
    move |source| NfsError::Cluster {
        verb,
        object,
        source: Box::new(source),
    }
}

/// Picks the node for the server: the configured one (which must exist), else the first
/// Ready worker by name, else the first Ready node.
///
/// # Errors
/// [`NfsError::Node`] when the configured node does not exist or no node is Ready.
pub async fn choose_node(cluster: &dyn Cluster, configured: &str) -> Result<String, NfsError> {
    let nodes = crate::cluster::node_statuses(cluster)
        .await
        .map_err(|source| NfsError::Cluster {
            verb: "list",
            object: "nodes".to_owned(),
            source: Box::new(source),
        })?;
    let names = || {
        nodes
            .iter()
            .map(|n| n.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !configured.is_empty() {
        return if nodes.iter().any(|n| n.name == configured) {
            Ok(configured.to_owned())
        } else {
            Err(NfsError::Node {
                detail: format!(
                    "node `{configured}` (nfs.node) is not in the cluster (hint: nodes are: {})",
                    names()
                ),
            })
        };
    }
    nodes
        .iter()
        .find(|n| n.ready && !n.control_plane)
        .or_else(|| nodes.iter().find(|n| n.ready))
        .map(|n| n.name.clone())
        .ok_or_else(|| NfsError::Node {
            detail: format!(
                "no node is Ready to run the NFS server (nodes: {})",
                if nodes.is_empty() {
                    "none".to_owned()
                } else {
                    names()
                }
            ),
        })
}

/// Deploys the server, waits until it is ready and a real client can use the export, and
/// returns how to reach it. `progress` receives one line per step.
///
/// # Errors
/// [`NfsError`] naming the step and object, with events and log lines when the server or
/// the client check fails.
pub async fn up(
    cluster: &dyn Cluster,
    spec: &ServerSpec,
    timeouts: &Timeouts,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<NfsServer, NfsError> {
    // A namespace still terminating from `nfs down` refuses new objects: let it finish.
    let ns = ObjectRef::cluster("v1", "Namespace", &spec.namespace);
    let terminating = conditions::is_terminating();
    if terminating.matches(
        cluster
            .get(&ns)
            .await
            .map_err(cluster_err("read", &ns))?
            .as_ref(),
    ) {
        progress(&format!(
            "namespace `{}` is still being deleted; waiting for it to go",
            spec.namespace
        ));
        wait::until_within(cluster, &ns, &conditions::is_gone(), timeouts.delete)
            .await
            .map_err(|source| NfsError::Removal {
                source: Box::new(source),
            })?;
    }
    for manifest in manifests(spec) {
        let object = ObjectRef::from_manifest(&manifest).unwrap_or_else(|| spec.service());
        cluster
            .apply(&manifest)
            .await
            .map_err(cluster_err("apply", &object))?;
    }
    progress(&format!(
        "applied the {} NFS server on node `{}`; waiting for it to be ready",
        flavor_name(spec.flavor),
        spec.node
    ));
    let pod = spec.pod();
    let ready = conditions::pod_ready();
    if let Err(e) = wait::until_within(cluster, &pod, &ready, timeouts.server_ready).await {
        return Err(not_ready(cluster, &pod, timeouts.server_ready, &e).await);
    }
    let address = service_address(cluster, &spec.service()).await?;
    progress(&format!(
        "server ready at {address}:{EXPORT}; checking that a client can write to it"
    ));
    let server = NfsServer {
        flavor: spec.flavor,
        address,
        export: EXPORT.to_owned(),
        files: Some(FileAccess {
            pod,
            container: FILES_CONTAINER.to_owned(),
            root: EXPORT.to_owned(),
        }),
    };
    client_check(cluster, spec, &server, timeouts).await?;
    Ok(server)
}

async fn service_address(cluster: &dyn Cluster, service: &ObjectRef) -> Result<String, NfsError> {
    let state = cluster
        .get(service)
        .await
        .map_err(cluster_err("read", service))?;
    state
        .as_ref()
        .and_then(|s| s.pointer("/spec/clusterIP"))
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty() && *ip != "None")
        .map(str::to_owned)
        .ok_or_else(|| NfsError::NoAddress {
            service: service.to_string(),
        })
}

/// What the cluster says about a pod that is not ready: container waiting/terminated
/// reasons, warning events and the last log lines.
async fn describe_pod(cluster: &dyn Cluster, pod: &ObjectRef, container: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Ok(Some(state)) = cluster.get(pod).await {
        if let Some(phase) = state.pointer("/status/phase").and_then(Value::as_str) {
            parts.push(format!("phase {phase}"));
        }
        for status in state
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = status["name"].as_str().unwrap_or("?");
            for key in ["waiting", "terminated"] {
                if let Some(s) = status.pointer(&format!("/state/{key}")) {
                    let reason = s["reason"].as_str().unwrap_or(key);
                    let message = s["message"].as_str().unwrap_or_default();
                    parts.push(
                        format!("container `{name}` {key}: {reason} {message}")
                            .trim()
                            .to_owned(),
                    );
                }
            }
        }
    } else {
        parts.push("the pod does not exist".to_owned());
    }
    if let Ok(events) = cluster.events_for(pod).await {
        let warnings: Vec<_> = events.iter().filter(|e| e.type_ == "Warning").collect();
        for e in &warnings[warnings.len().saturating_sub(5)..] {
            parts.push(format!("event {}: {}", e.reason, e.message));
        }
    }
    if let Ok(text) = cluster.logs(pod, container, Some(5), false).await {
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if !lines.is_empty() {
            parts.push(format!("last log lines: {}", lines.join(" | ")));
        }
    }
    if parts.is_empty() {
        "the cluster reports nothing about it".to_owned()
    } else {
        parts.join("; ")
    }
}

async fn not_ready(
    cluster: &dyn Cluster,
    pod: &ObjectRef,
    after: Duration,
    error: &wait::WaitError,
) -> NfsError {
    let mut diagnosis = describe_pod(cluster, pod, Some(SERVER_CONTAINER)).await;
    if !matches!(error, wait::WaitError::Timeout { .. }) {
        diagnosis = format!("{error}; {diagnosis}");
    }
    if diagnosis.contains("nfsd") && diagnosis.contains("mount") {
        diagnosis.push_str(
            " (hint: the kernel flavor needs the nfsd module on the host: `modprobe nfsd`, or \
             use `--flavor ganesha`)",
        );
    }
    NfsError::NotReady {
        pod: pod.to_string(),
        after,
        diagnosis,
    }
}

/// Turns the kubelet's mount failure messages into an explanation.
fn explain_mount_failure(message: &str) -> Option<&'static str> {
    if message.contains("helper program") || message.contains("bad option") {
        Some(
            "the node has no NFS mount helper (/sbin/mount.nfs); install nfs-common on every \
             node or use a node image that ships it",
        )
    } else if message.contains("rpc.statd is not running") {
        Some(
            "NFSv3 with locking needs rpc.statd on the node; start it there (`systemctl start \
             rpc-statd`) or mount with the `nolock` option",
        )
    } else if message.contains("Failed to resolve server") {
        Some("the node cannot resolve the server name; PVs must name the server by IP")
    } else if message.contains("access denied") || message.contains("Permission denied") {
        Some("the server refused the export to this client; check the export options")
    } else if message.contains("timed out") || message.contains("Connection refused") {
        Some("the node cannot reach the server's ports; check the Service and kube-proxy")
    } else {
        None
    }
}

/// Mounts the export from a fresh client pod, writes a file, reads it back on the server.
async fn client_check(
    cluster: &dyn Cluster,
    spec: &ServerSpec,
    server: &NfsServer,
    timeouts: &Timeouts,
) -> Result<(), NfsError> {
    let token = crate::k8s::ownership::RunId::generate();
    let file = format!(".nfslab-client-check-{}", token.short());
    let name = "nfs-client-check";
    let pod = ObjectRef::pod(&spec.namespace, name);
    let fail = |detail: String| NfsError::ClientCheck {
        address: server.address.clone(),
        detail,
    };
    // A previous check pod (an interrupted run) would keep its old spec; start clean.
    if cluster
        .delete(&pod, Propagation::Background)
        .await
        .map_err(cluster_err("delete", &pod))?
    {
        wait::until_within(cluster, &pod, &conditions::is_gone(), timeouts.delete)
            .await
            .map_err(|source| NfsError::Removal {
                source: Box::new(source),
            })?;
    }
    let manifest = client_check_pod(spec, &server.address, name, &file, token.as_str());
    cluster
        .apply(&manifest)
        .await
        .map_err(cluster_err("apply", &pod))?;
    let finished = conditions::pod_phase("Succeeded").or(conditions::pod_phase("Failed"));
    let outcome = wait::until_within(cluster, &pod, &finished, timeouts.server_ready).await;
    let result = match outcome {
        Ok(state) if phase(state.as_ref()) == Some("Succeeded") => {
            read_back(cluster, server, &file, token.as_str(), timeouts).await
        }
        Ok(_) | Err(_) => {
            let mut detail = describe_pod(cluster, &pod, Some("client")).await;
            if let Some(why) = explain_mount_failure(&detail) {
                detail.push_str(&format!(" (hint: {why})"));
            }
            if let Err(wait::WaitError::Timeout { after, .. }) = outcome {
                detail = format!(
                    "the client pod did not finish within {}: {detail}",
                    humantime::format_duration(after)
                );
            }
            Err(fail(detail))
        }
    };
    // The check pod is disposable; a failure to delete it is not the server's problem.
    let _ = cluster.delete(&pod, Propagation::Background).await;
    result
}

fn phase(state: Option<&Value>) -> Option<&str> {
    state?.pointer("/status/phase")?.as_str()
}

async fn read_back(
    cluster: &dyn Cluster,
    server: &NfsServer,
    file: &str,
    token: &str,
    timeouts: &Timeouts,
) -> Result<(), NfsError> {
    let files = super::files::ServerFiles::new(cluster, server, timeouts.exec).map_err(|e| {
        NfsError::ClientCheck {
            address: server.address.clone(),
            detail: e.to_string(),
        }
    })?;
    let fail = |detail: String| NfsError::ClientCheck {
        address: server.address.clone(),
        detail,
    };
    let content = files.read(file).await.map_err(|e| {
        fail(format!(
            "the client wrote `{file}` but the server side cannot read it: {e}"
        ))
    })?;
    if content.trim_end() != token {
        return Err(fail(format!(
            "the client wrote `{token}` to `{file}` but the server side reads `{}`",
            content.trim_end()
        )));
    }
    files
        .remove(file, false)
        .await
        .map_err(|e| fail(format!("the check file could not be removed: {e}")))
}

/// The server deployed in `namespace`, if any, as clients reach it. Does not check that it
/// serves (see [`status`]).
///
/// # Errors
/// [`NfsError`] when the objects cannot be read.
pub async fn locate(cluster: &dyn Cluster, namespace: &str) -> Result<Option<NfsServer>, NfsError> {
    let set = ObjectRef::namespaced("apps/v1", "StatefulSet", namespace, SERVER_NAME);
    let Some(state) = cluster.get(&set).await.map_err(cluster_err("read", &set))? else {
        return Ok(None);
    };
    let flavor = match state
        .pointer(&format!(
            "/metadata/labels/{}",
            FLAVOR_LABEL.replace('/', "~1")
        ))
        .and_then(Value::as_str)
    {
        Some("ganesha") => ServerFlavor::Ganesha,
        _ => ServerFlavor::Kernel,
    };
    let service = ObjectRef::namespaced("v1", "Service", namespace, SERVER_NAME);
    let address = service_address(cluster, &service).await?;
    Ok(Some(NfsServer {
        flavor,
        address,
        export: EXPORT.to_owned(),
        files: Some(FileAccess {
            pod: ObjectRef::pod(namespace, &format!("{SERVER_NAME}-0")),
            container: FILES_CONTAINER.to_owned(),
            root: EXPORT.to_owned(),
        }),
    }))
}

/// What `nfs status` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStatus {
    /// The server as clients reach it.
    pub server: NfsServer,
    /// Whether the server pod is Ready.
    pub ready: bool,
    /// The node it runs on, when scheduled.
    pub node: Option<String>,
    /// What is wrong when not ready.
    pub diagnosis: Option<String>,
}

/// The deployed server and whether its pod is ready.
///
/// # Errors
/// [`NfsError::NotDeployed`] when there is none; [`NfsError::Cluster`] when it cannot be
/// read.
pub async fn status(cluster: &dyn Cluster, namespace: &str) -> Result<ServerStatus, NfsError> {
    let server = locate(cluster, namespace)
        .await?
        .ok_or_else(|| NfsError::NotDeployed {
            namespace: namespace.to_owned(),
        })?;
    let pod = ObjectRef::pod(namespace, &format!("{SERVER_NAME}-0"));
    let state = cluster.get(&pod).await.map_err(cluster_err("read", &pod))?;
    let ready = conditions::pod_ready().matches(state.as_ref());
    let node = state
        .as_ref()
        .and_then(|s| s.pointer("/spec/nodeName"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let diagnosis = if ready {
        None
    } else {
        Some(describe_pod(cluster, &pod, Some(SERVER_CONTAINER)).await)
    };
    Ok(ServerStatus {
        server,
        ready,
        node,
        diagnosis,
    })
}

/// Removes the server's objects (the exported files stay in the node directory) and waits
/// until they are gone.
///
/// # Errors
/// [`NfsError`] when a delete is refused or the objects outlive `timeouts.delete`.
pub async fn down(
    cluster: &dyn Cluster,
    namespace: &str,
    timeouts: &Timeouts,
) -> Result<bool, NfsError> {
    let ns = ObjectRef::cluster("v1", "Namespace", namespace);
    let existed = cluster
        .delete(&ns, Propagation::Background)
        .await
        .map_err(cluster_err("delete", &ns))?;
    if existed {
        let gone: Condition = conditions::is_gone();
        wait::until_within(cluster, &ns, &gone, timeouts.delete)
            .await
            .map_err(|source| NfsError::Removal {
                source: Box::new(source),
            })?;
    }
    Ok(existed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::fake::{Call, FakeCluster};
    use crate::k8s::{EventRecord, ExecOutput};

    fn spec(flavor: ServerFlavor) -> ServerSpec {
        let mut config = Config::default();
        config.images.nfslab_io = "nfslab-io:test".to_owned();
        ServerSpec::from_config(&config, Some(flavor), "nfslab-worker")
    }

    #[test]
    fn kernel_manifests_snapshot() {
        let docs = manifests(&spec(ServerFlavor::Kernel));
        let kinds: Vec<&str> = docs
            .iter()
            .map(|d| d["kind"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(kinds, ["Namespace", "ConfigMap", "Service", "StatefulSet"]);
        // The script is snapshotted on its own file; keep the YAML snapshot readable.
        let mut docs = docs;
        docs[1]["data"]["start.sh"] = json!("<scripts/kernel-server.sh>");
        insta::assert_snapshot!(crate::render::yaml_documents(&docs));
    }

    #[test]
    fn ganesha_uses_the_same_paths_and_ports() {
        let docs = manifests(&spec(ServerFlavor::Ganesha));
        let conf = docs[1]["data"]["ganesha.conf"].as_str().expect("conf");
        assert!(conf.contains("Path = /exports;") && conf.contains("Pseudo = /exports;"));
        assert!(conf.contains("MNT_Port = 20048;") && conf.contains("NLM_Port = 32803;"));
        assert!(conf.contains("Grace_Period = 10;"));
        assert!(!conf.contains('@'), "every placeholder is filled: {conf}");
        let container = &docs[3]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            container["image"],
            "registry.k8s.io/sig-storage/nfs-provisioner:v4.0.8"
        );
        assert_eq!(container["command"], json!(["/bin/sh", "/nfslab/start.sh"]));
        assert_eq!(
            docs[2],
            manifests(&spec(ServerFlavor::Kernel))[2],
            "same Service"
        );
    }

    #[test]
    fn the_service_carries_every_nfsv3_port_on_both_protocols() {
        let docs = manifests(&spec(ServerFlavor::Kernel));
        let ports: Vec<(u64, String)> = docs[2]["spec"]["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .map(|p| {
                (
                    p["port"].as_u64().expect("port"),
                    p["protocol"].as_str().expect("p").to_owned(),
                )
            })
            .collect();
        for port in [111, 2049, 20048, 662, 32803] {
            for protocol in ["TCP", "UDP"] {
                assert!(
                    ports.contains(&(port, protocol.to_owned())),
                    "{port}/{protocol}"
                );
            }
        }
        let script = docs[1]["data"]["start.sh"].as_str().expect("script");
        assert!(
            script.contains(
                "echo \"$EXPORT_DIR *(rw,sync,insecure,no_root_squash,no_subtree_check,fsid=1)\""
            ),
            "exported read-write, no root squash, no fsid=0 pseudo-root"
        );
    }

    /// Scripts the cluster: the server pod becomes Ready 5 s after the StatefulSet is
    /// applied and the Service gets a cluster IP.
    fn server_ready(fake: &FakeCluster, spec: &ServerSpec) {
        let set = ObjectRef::namespaced("apps/v1", "StatefulSet", &spec.namespace, SERVER_NAME);
        fake.on_apply(&set).after(Duration::from_secs(5)).set(
            &spec.pod(),
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "nfs-server-0", "namespace": spec.namespace},
                   "spec": {"nodeName": spec.node},
                   "status": {"phase": "Running",
                              "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        // The API server allocates the IP as it stores the Service: right after the apply.
        fake.on_apply(&spec.service())
            .after(Duration::from_millis(10))
            .merge(
                &spec.service(),
                json!({"spec": {"clusterIP": "10.96.100.7"}}),
            );
    }

    #[tokio::test(start_paused = true)]
    async fn up_waits_for_the_pod_and_proves_a_client_can_write() {
        let fake = FakeCluster::new();
        let spec = spec(ServerFlavor::Kernel);
        server_ready(&fake, &spec);
        let client = ObjectRef::pod(&spec.namespace, "nfs-client-check");
        fake.on_apply(&client)
            .after(Duration::from_secs(3))
            .merge(&client, json!({"status": {"phase": "Succeeded"}}));
        let up_task = {
            let (fake, spec) = (fake.clone(), spec.clone());
            tokio::spawn(async move { up(&fake, &spec, &Timeouts::default(), &|_: &str| {}).await })
        };
        // Once the client pod exists, script the server side to read back the token it was
        // told to write (the pod "runs" for 3 s of virtual time).
        let token = loop {
            assert!(!up_task.is_finished(), "up ended before the client pod ran");
            if let Some(t) = fake.state(&client).and_then(|s| {
                s.pointer("/spec/containers/0/args/4")?
                    .as_str()
                    .map(str::to_owned)
            }) {
                break t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let pod = spec.pod();
        fake.on_exec(&pod, &["/nfslab-io", "file", "cat"])
            .reply(ExecOutput::ok(&format!("{token}\n")));
        fake.on_exec(&pod, &["/nfslab-io", "rm"])
            .reply(ExecOutput::ok(""));
        let server = up_task.await.expect("task").expect("up");
        assert_eq!(server.address, "10.96.100.7");
        assert_eq!(server.export, "/exports");
        assert_eq!(
            server
                .files
                .as_ref()
                .map(|f| (f.pod.clone(), f.container.as_str(), f.root.as_str())),
            Some((pod.clone(), "files", "/exports"))
        );
        assert_eq!(
            fake.state(&client),
            None,
            "the check pod is removed afterwards"
        );
        let read = fake
            .calls()
            .into_iter()
            .find_map(|c| match c {
                Call::Exec(p, Some(container), cmd) if p == pod && cmd[2] == "cat" => {
                    Some((container, cmd[3].clone()))
                }
                _ => None,
            })
            .expect("server-side read");
        assert_eq!(read.0, "files");
        assert!(
            read.1.starts_with("/exports/.nfslab-client-check-"),
            "{}",
            read.1
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_cannot_mount_is_explained_with_the_event() {
        let fake = FakeCluster::new();
        let spec = spec(ServerFlavor::Kernel);
        server_ready(&fake, &spec);
        let client = ObjectRef::pod(&spec.namespace, "nfs-client-check");
        fake.on_apply(&client).event(EventRecord {
            involved: client.clone(),
            type_: "Warning".into(),
            reason: "FailedMount".into(),
            message: "MountVolume.SetUp failed for volume \"export\" : mount failed: exit \
                      status 32 Output: mount: wrong fs type, bad option, bad superblock on \
                      10.96.100.7:/exports, missing codepage or helper program, or other error"
                .into(),
            count: 3,
            source: "kubelet".into(),
            last_seen: None,
        });
        let timeouts = Timeouts {
            server_ready: Duration::from_secs(30),
            ..Timeouts::default()
        };
        let err = up(&fake, &spec, &timeouts, &|_: &str| {})
            .await
            .expect_err("no mount");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "an NFS client could not use `10.96.100.7:/exports`: the client pod did not \
                 finish within 30s"
            ),
            "{text}"
        );
        assert!(text.contains("event FailedMount"), "{text}");
        assert!(
            text.contains("hint: the node has no NFS mount helper"),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_never_gets_ready_reports_why() {
        let fake = FakeCluster::new();
        let spec = spec(ServerFlavor::Kernel);
        let pod = spec.pod();
        let set = ObjectRef::namespaced("apps/v1", "StatefulSet", &spec.namespace, SERVER_NAME);
        fake.on_apply(&set).set(
            &pod,
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "nfs-server-0", "namespace": spec.namespace},
                   "status": {"phase": "Running", "containerStatuses": [{
                       "name": "server",
                       "state": {"waiting": {"reason": "CrashLoopBackOff",
                                             "message": "back-off 40s restarting failed container"}}}]}}),
        );
        fake.set_logs(
            &pod,
            Some("server"),
            "mount: /proc/fs/nfsd: unknown filesystem type 'nfsd'.",
        );
        let err = up(&fake, &spec, &Timeouts::default(), &|_: &str| {})
            .await
            .expect_err("never ready");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "the NFS server pod Pod `nfslab-nfs/nfs-server-0` was not ready within 3m"
            ),
            "{text}"
        );
        assert!(text.contains("CrashLoopBackOff"), "{text}");
        assert!(text.contains("unknown filesystem type 'nfsd'"), "{text}");
        assert!(text.contains("modprobe nfsd"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn up_waits_for_a_terminating_namespace_to_go() {
        let fake = FakeCluster::new();
        let spec = spec(ServerFlavor::Kernel);
        let ns = ObjectRef::cluster("v1", "Namespace", &spec.namespace);
        fake.set(
            &ns,
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": spec.namespace,
                                "deletionTimestamp": "2026-01-01T00:00:00Z"}}),
        );
        let gone = {
            let fake = fake.clone();
            let ns = ns.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(7)).await;
                fake.remove(&ns);
            })
        };
        let timeouts = Timeouts {
            server_ready: Duration::from_secs(5),
            delete: Duration::from_secs(60),
            ..Timeouts::default()
        };
        let err = up(&fake, &spec, &timeouts, &|_: &str| {})
            .await
            .expect_err("no pod");
        gone.await.expect("task");
        assert!(matches!(err, NfsError::NotReady { .. }), "{err}");
        let first_apply = fake
            .calls()
            .iter()
            .position(|c| matches!(c, Call::Apply(_)))
            .expect("applied");
        assert!(
            fake.calls()[..first_apply]
                .iter()
                .any(|c| matches!(c, Call::Watch(o) if *o == ns)),
            "waited on the namespace before applying"
        );
    }

    #[tokio::test]
    async fn locate_status_and_down() {
        let fake = FakeCluster::new();
        let spec = spec(ServerFlavor::Ganesha);
        assert_eq!(locate(&fake, "nfslab-nfs").await.expect("locate"), None);
        assert!(matches!(
            status(&fake, "nfslab-nfs").await,
            Err(NfsError::NotDeployed { .. })
        ));
        for m in manifests(&spec) {
            fake.apply(&m).await.expect("apply");
        }
        fake.merge(&spec.service(), json!({"spec": {"clusterIP": "10.96.0.9"}}));
        let found = locate(&fake, "nfslab-nfs")
            .await
            .expect("locate")
            .expect("there");
        assert_eq!(found.flavor, ServerFlavor::Ganesha);
        assert_eq!(found.address, "10.96.0.9");
        let s = status(&fake, "nfslab-nfs").await.expect("status");
        assert!(!s.ready);
        assert!(s.diagnosis.expect("why").contains("does not exist"));
        assert!(
            down(&fake, "nfslab-nfs", &Timeouts::default())
                .await
                .expect("down")
        );
        assert!(
            !down(&fake, "nfslab-nfs", &Timeouts::default())
                .await
                .expect("down twice")
        );
    }

    #[tokio::test]
    async fn the_server_goes_to_a_ready_worker_unless_configured() {
        let fake = FakeCluster::new();
        let node = |name: &str, cp: bool, ready: bool| {
            let mut labels = json!({});
            if cp {
                labels["node-role.kubernetes.io/control-plane"] = json!("");
            }
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
                   "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
        };
        for n in [
            node("lab-control-plane", true, true),
            node("lab-worker2", false, true),
            node("lab-worker", false, false),
        ] {
            fake.apply(&n).await.expect("apply");
        }
        assert_eq!(choose_node(&fake, "").await.expect("node"), "lab-worker2");
        assert_eq!(
            choose_node(&fake, "lab-worker").await.expect("node"),
            "lab-worker"
        );
        let err = choose_node(&fake, "other").await.expect_err("missing");
        assert!(
            err.to_string()
                .contains("nodes are: lab-control-plane, lab-worker, lab-worker2"),
            "{err}"
        );
    }

    #[test]
    fn mount_failures_are_explained() {
        assert!(explain_mount_failure("mount: bad option; for several filesystems (e.g. nfs, cifs) you might need a /sbin/mount.<type> helper program.").is_some());
        assert!(
            explain_mount_failure(
                "Failed to resolve server nfs-server.nfslab-nfs: Name or service not known"
            )
            .expect("dns")
            .contains("by IP")
        );
        assert_eq!(explain_mount_failure("something else"), None);
    }
}
