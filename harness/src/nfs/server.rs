//! The in-cluster NFS server: its manifests, bringing it up, checking it really serves,
//! finding it again, and taking it down.
//!
//! Both flavors run as a one-replica StatefulSet `nfs-server` (pod `nfs-server-0`, a stable
//! name scenarios can restart) pinned to one node, exporting a hostPath directory of that node
//! so a server restart keeps the data. A ClusterIP Service with fixed ports carries NFSv3
//! (rpcbind 111, nfsd 2049, mountd, statd, lockd) and NFSv4.x (2049); PVs name the Service's
//! ClusterIP, which kube-proxy routes on every node and which survives server restarts.
//!
//! - `ganesha` (the default): nfs-ganesha in user space (`scripts/ganesha-server.sh`,
//!   `ganesha.conf`) in nfslab's own image (`image/build.sh`: Debian's nfs-ganesha, rpcbind
//!   and rpc.statd). It needs no host module, only `DAC_READ_SEARCH` (ganesha's VFS backend
//!   opens files by handle) and no seccomp filter (the runtime's default one refuses
//!   `name_to_handle_at`).
//! - `kernel`: the node kernel's nfsd, started by nfslab's script
//!   (`scripts/kernel-server.sh`) in a privileged pod on the image Kubernetes' own e2e tests
//!   use for their NFS server. NFSv4's pseudo-root is a tmpfs holding a bind of the export,
//!   as `fsid=0` needs a real file system (the pod's `/` is overlayfs).
//!
//! Next to the server runs a `files` container (the `nfslab-io` image, `sleep`) mounting the
//! same directory: `super::files` uses it for server-side file operations.
//!
//! The server counts as up only when real clients can use it: a short-lived pod mounts the
//! export three times, with `vers=4.2`, with `vers=3,nolock` (PVs with those mountOptions)
//! and with no options (an inline `nfs:` volume, the kernel's own negotiation), writes a file
//! through each, reads back the version the kernel used, and the files are read on the
//! server side. A version the server does not serve can never pass silently.

use std::time::Duration;

use serde::{Deserialize, Serialize};
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
/// Memory limit of the server container. No CPU limit: throttling the server would skew
/// every benchmark that measures it.
pub const SERVER_MEMORY_LIMIT: &str = "1Gi";

/// The server container's readiness probe: every RPC service registered and answering on
/// its fixed port, and the export really exported (ganesha starts, and answers NULL calls,
/// even when its export failed). libtirpc tools need a sane open-file limit (see the
/// scripts).
#[must_use]
pub fn readiness_command() -> String {
    format!(
        "ulimit -n 65536 2>/dev/null || ulimit -n \"$(ulimit -H -n)\"; \
         rpcinfo -t 127.0.0.1 nfs 3 >/dev/null && rpcinfo -t 127.0.0.1 nfs 4 >/dev/null && \
         rpcinfo -t 127.0.0.1 mountd 3 >/dev/null && \
         showmount -e 127.0.0.1 | grep -q '^{EXPORT} '"
    )
}

/// The least each flavor needs: the kernel flavor mounts nfsd and changes kernel settings
/// (privileged, as Kubernetes' e2e NFS server); ganesha opens files by handle
/// (`DAC_READ_SEARCH`, and no seccomp filter: the runtime's default one refuses
/// `name_to_handle_at`).
fn security_context(flavor: ServerFlavor) -> Value {
    match flavor {
        ServerFlavor::Ganesha => json!({
            "capabilities": {"add": ["DAC_READ_SEARCH"]},
            "seccompProfile": {"type": "Unconfined"},
        }),
        ServerFlavor::Kernel | ServerFlavor::External => json!({"privileged": true}),
    }
}

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
            ServerFlavor::Ganesha => config.images.ganesha_nfs_server(),
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
    let command = json!(["/bin/bash", "/nfslab/start.sh"]);
    let mut template_labels = labels.clone();
    template_labels[FLAVOR_LABEL] = json!(spec.flavor.name());
    let mut set_labels = labels.clone();
    set_labels[FLAVOR_LABEL] = json!(spec.flavor.name());
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
                            "securityContext": security_context(spec.flavor),
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "64Mi"},
                                "limits": {"memory": SERVER_MEMORY_LIMIT},
                            },
                            "ports": container_ports,
                            "readinessProbe": {
                                "exec": {"command": ["/bin/sh", "-c", readiness_command()]},
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

/// One mount of the client check: how it is made and what the kernel used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedMount {
    /// The mount options asked for (a PV's `mountOptions`); empty for the kernel's own
    /// negotiation (an inline `nfs:` volume, as the recycler and option-less PVs mount).
    pub requested: Vec<String>,
    /// The NFS version the kernel used (`4.2`, `3`), from the pod's mountinfo.
    pub version: String,
}

/// The mounts the client check makes: `(name, mount options)`; no options is the kernel's
/// own negotiation.
pub const CHECK_MOUNTS: [(&str, &[&str]); 3] = [
    ("vers-4-2", &["vers=4.2"]),
    ("vers-3", &["vers=3", "nolock"]),
    ("default", &[]),
];

/// Name of the client check's pod.
pub const CHECK_POD: &str = "nfs-client-check";
/// Storage class name the client check's PVs and claims bind through (no such object).
const CHECK_CLASS: &str = "nfslab-client-check";

fn check_pv_name(spec: &ServerSpec, mount: &str) -> String {
    format!("{}-check-{mount}", spec.namespace)
}

/// The client check's objects, in apply order: a PV and claim (bound to each other) for
/// each mount with options, then the pod mounting every one of them plus an inline `nfs:`
/// volume with none, each at `/check/<name>`. The pod only sleeps: the check execs into it.
#[must_use]
pub fn client_check_objects(spec: &ServerSpec, address: &str) -> Vec<Value> {
    let labels = json!({
        MANAGED_BY_LABEL: MANAGED_BY,
        COMPONENT_LABEL: CHECK_POD,
    });
    let mut objects = Vec::new();
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for (name, options) in CHECK_MOUNTS {
        mounts.push(json!({"name": name, "mountPath": format!("/check/{name}")}));
        if options.is_empty() {
            volumes.push(json!({"name": name, "nfs": {"server": address, "path": EXPORT}}));
            continue;
        }
        let pv = check_pv_name(spec, name);
        objects.push(json!({
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv, "labels": labels},
            "spec": {
                "capacity": {"storage": "1Mi"},
                "accessModes": ["ReadWriteMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": CHECK_CLASS,
                "mountOptions": options,
                "claimRef": {"namespace": spec.namespace, "name": name},
                "nfs": {"server": address, "path": EXPORT},
            },
        }));
        objects.push(json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": spec.namespace, "labels": labels},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": CHECK_CLASS,
                "volumeName": pv,
                "resources": {"requests": {"storage": "1Mi"}},
            },
        }));
        volumes.push(json!({"name": name, "persistentVolumeClaim": {"claimName": name}}));
    }
    objects.push(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": CHECK_POD, "namespace": spec.namespace, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "client",
                "image": spec.files_image,
                "imagePullPolicy": "IfNotPresent",
                "args": ["sleep"],
                "volumeMounts": mounts,
            }],
            "volumes": volumes,
        },
    }));
    objects
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
        nfslab_workload::format_duration(*.after)
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
    let nodes = crate::k8s::nodes::node_statuses(cluster)
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
        return match nodes.iter().find(|n| n.name == configured) {
            Some(node) => match node.blocked() {
                // The server's pod carries a nodeSelector: the scheduler honours taints.
                Some(why) => Err(NfsError::Node {
                    detail: format!(
                        "node `{configured}` (nfs.node) is {why}: the NFS server tolerates only \
                         the control-plane taint and would stay Pending (hint: name another \
                         node in nfs.node, or leave it empty to let nfslab choose; nodes are: {})",
                        names()
                    ),
                }),
                None => Ok(configured.to_owned()),
            },
            None => Err(NfsError::Node {
                detail: format!(
                    "node `{configured}` (nfs.node) is not in the cluster (hint: nodes are: {})",
                    names()
                ),
            }),
        };
    }
    let usable = |n: &&crate::k8s::nodes::NodeStatus| n.ready && n.blocked().is_none();
    nodes
        .iter()
        .filter(usable)
        .find(|n| !n.control_plane)
        .or_else(|| nodes.iter().find(usable))
        .map(|n| n.name.clone())
        .ok_or_else(|| NfsError::Node {
            detail: if nodes.is_empty() {
                "no node is Ready to run the NFS server (nodes: none)".to_owned()
            } else {
                let each = nodes
                    .iter()
                    .map(|n| match (n.ready, n.blocked()) {
                        (false, _) => format!("{} not Ready", n.name),
                        (true, Some(why)) => format!("{} {why}", n.name),
                        (true, None) => n.name.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                format!(
                    "no node can run the NFS server ({each}) (hint: name a node in nfs.node once \
                     one is Ready, untainted and not cordoned)"
                )
            },
        })
}

/// Deploys the server, waits until it is ready and real clients can use the export with
/// NFSv4.2, NFSv3 and the kernel's own negotiation, and returns how to reach it with the
/// versions those mounts used. `progress` receives one line per step.
///
/// # Errors
/// [`NfsError`] naming the step and object, with events and log lines when the server or
/// the client check fails.
pub async fn up(
    cluster: &dyn Cluster,
    spec: &ServerSpec,
    timeouts: &Timeouts,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Ready, NfsError> {
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
        spec.flavor.name(),
        spec.node
    ));
    let pod = spec.pod();
    // A first run pulls the server image here: a pull in progress extends the wait, a pull
    // that fails ends it at once.
    if let Err(e) = wait::pod_ready_minding_pulls(
        cluster,
        &pod,
        timeouts.server_ready,
        timeouts.image_pull,
        progress,
    )
    .await
    {
        return Err(not_ready(cluster, &pod, timeouts.server_ready, &e).await);
    }
    let address = service_address(cluster, &spec.service()).await?;
    progress(&format!(
        "server ready at {address}:{EXPORT}; checking that clients can mount it with {}",
        describe_check_mounts()
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
    let mounts = client_check(cluster, spec, &server, timeouts).await?;
    progress(&format!(
        "clients mount it with {}",
        describe_checked(&mounts)
    ));
    Ok(Ready { server, mounts })
}

/// A server that is up, and what the client check saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ready {
    /// The server as clients reach it.
    pub server: NfsServer,
    /// The client check's mounts and the versions they used.
    pub mounts: Vec<CheckedMount>,
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

/// Mounts the export from a fresh client pod three ways (`vers=4.2`, `vers=3,nolock`, the
/// kernel's own negotiation), writes a file through each mount, reads the version each
/// mount uses, and reads the files back on the server side. Removes its objects afterwards.
async fn client_check(
    cluster: &dyn Cluster,
    spec: &ServerSpec,
    server: &NfsServer,
    timeouts: &Timeouts,
) -> Result<Vec<CheckedMount>, NfsError> {
    let objects = client_check_objects(spec, &server.address);
    let refs: Vec<ObjectRef> = objects
        .iter()
        .filter_map(ObjectRef::from_manifest)
        .collect();
    // A previous check (an interrupted run) would keep its old spec: start clean.
    remove_all(cluster, &refs, timeouts).await?;
    for (manifest, object) in objects.iter().zip(&refs) {
        cluster
            .apply(manifest)
            .await
            .map_err(cluster_err("apply", object))?;
    }
    let result = check_mounts(cluster, spec, server, timeouts).await;
    // The check's objects are disposable; failing to remove them is reported only when the
    // check itself passed.
    let removed = remove_all(cluster, &refs, timeouts).await;
    let mounts = result?;
    removed?;
    Ok(mounts)
}

/// Deletes `objects` (pod first: claims in use would wait for it) and waits until they are
/// gone.
async fn remove_all(
    cluster: &dyn Cluster,
    objects: &[ObjectRef],
    timeouts: &Timeouts,
) -> Result<(), NfsError> {
    for object in objects.iter().rev() {
        if cluster
            .delete(object, Propagation::Background)
            .await
            .map_err(cluster_err("delete", object))?
        {
            wait::until_within(cluster, object, &conditions::is_gone(), timeouts.delete)
                .await
                .map_err(|source| NfsError::Removal {
                    source: Box::new(source),
                })?;
        }
    }
    Ok(())
}

async fn check_mounts(
    cluster: &dyn Cluster,
    spec: &ServerSpec,
    server: &NfsServer,
    timeouts: &Timeouts,
) -> Result<Vec<CheckedMount>, NfsError> {
    let pod = ObjectRef::pod(&spec.namespace, CHECK_POD);
    let fail = |detail: String| NfsError::ClientCheck {
        address: server.address.clone(),
        detail,
    };
    let outcome = wait::pod_ready_minding_pulls(
        cluster,
        &pod,
        timeouts.server_ready,
        timeouts.image_pull,
        &|_: &str| {},
    )
    .await;
    if let Err(error) = outcome {
        let mut detail = describe_pod(cluster, &pod, Some("client")).await;
        if let Some(why) = explain_mount_failure(&detail) {
            detail.push_str(&format!(" (hint: {why})"));
        }
        if let wait::WaitError::Timeout { after, .. } = error {
            detail = format!(
                "the client pod mounting the export with {} did not start within {}: {detail}",
                describe_check_mounts(),
                nfslab_workload::format_duration(after)
            );
        }
        return Err(fail(detail));
    }
    let token = crate::k8s::ownership::RunId::generate();
    let files = super::files::ServerFiles::new(cluster, server, timeouts.exec)
        .map_err(|e| fail(e.to_string()))?;
    let mut checked = Vec::new();
    for (name, options) in CHECK_MOUNTS {
        let asked = if options.is_empty() {
            "no options".to_owned()
        } else {
            options.join(",")
        };
        let file = format!(".nfslab-client-check-{}-{name}", token.short());
        let path = format!("/check/{name}");
        let write = [
            super::files::HELPER.to_owned(),
            "file".to_owned(),
            "write".to_owned(),
            format!("{path}/{file}"),
            "--content".to_owned(),
            token.as_str().to_owned(),
        ];
        let out = exec_in(cluster, &pod, &write, timeouts)
            .await
            .map_err(&fail)?;
        if !out.success() {
            return Err(fail(format!(
                "writing through the mount with {asked} failed (exit {}): {}",
                out.exit_code,
                out.stderr.trim()
            )));
        }
        let info = [
            super::files::HELPER.to_owned(),
            "mountinfo".to_owned(),
            path.clone(),
        ];
        let out = exec_in(cluster, &pod, &info, timeouts)
            .await
            .map_err(&fail)?;
        let section = super::helper::decode_mount(&out.stdout).map_err(|why| {
            fail(format!(
                "cannot read the mount made with {asked} (exit {}: {}): {why}",
                out.exit_code,
                out.stderr.trim()
            ))
        })?;
        if !section.mount.is_nfs() {
            return Err(fail(format!(
                "`{path}` (asked with {asked}) is a `{}` mount, not NFS",
                section.mount.fstype
            )));
        }
        let version = section
            .nfs_options
            .as_ref()
            .and_then(|o| o.get("vers"))
            .cloned()
            .unwrap_or_default();
        if let Some(wanted) = options.iter().find_map(|o| o.strip_prefix("vers="))
            && version != wanted
        {
            return Err(fail(format!(
                "the mount asked with {asked} uses NFS version `{version}`"
            )));
        }
        let content = files.read(&file).await.map_err(|e| {
            fail(format!(
                "the client wrote `{file}` with {asked} but the server side cannot read it: {e}"
            ))
        })?;
        if content.trim_end() != token.as_str() {
            return Err(fail(format!(
                "the client wrote `{token}` to `{file}` with {asked} but the server side reads \
                 `{}`",
                content.trim_end(),
                token = token.as_str()
            )));
        }
        files
            .remove(&file, false)
            .await
            .map_err(|e| fail(format!("the check file could not be removed: {e}")))?;
        checked.push(CheckedMount {
            requested: options.iter().map(|o| (*o).to_owned()).collect(),
            version,
        });
    }
    Ok(checked)
}

fn describe_check_mounts() -> String {
    CHECK_MOUNTS
        .iter()
        .map(|(_, o)| {
            if o.is_empty() {
                "no options".to_owned()
            } else {
                o.join(",")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn exec_in(
    cluster: &dyn Cluster,
    pod: &ObjectRef,
    command: &[String],
    timeouts: &Timeouts,
) -> Result<crate::k8s::ExecOutput, String> {
    match tokio::time::timeout(
        timeouts.exec,
        cluster.exec(pod, Some("client"), command, None),
    )
    .await
    {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(format!(
            "could not run `{}` in {pod}: {e}",
            command.join(" ")
        )),
        Err(_) => Err(format!(
            "`{}` in {pod} did not finish within {}",
            command.join(" "),
            nfslab_workload::format_duration(timeouts.exec)
        )),
    }
}

/// What the client check saw, for reports: `NFSv4.2 (vers=4.2), NFSv3 (vers=3,nolock),
/// NFSv4.2 (no options)`.
#[must_use]
pub fn describe_checked(mounts: &[CheckedMount]) -> String {
    mounts
        .iter()
        .map(|m| {
            let asked = if m.requested.is_empty() {
                "no options".to_owned()
            } else {
                m.requested.join(",")
            };
            format!("NFSv{} ({asked})", m.version)
        })
        .collect::<Vec<_>>()
        .join(", ")
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

/// The NFS server objects `nfslab nfs up` would apply. Without a cluster the node is the
/// configured one or kind's first worker.
#[must_use]
pub fn manifests_without_cluster(config: &Config, flavor: Option<ServerFlavor>) -> Vec<Value> {
    let spec = ServerSpec::from_config(config, flavor, &default_kind_node(config));
    manifests(&spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::EventRecord;
    use crate::k8s::fake::{Call, FakeCluster};

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
            format!("nfslab-ganesha:{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(
            container["command"],
            json!(["/bin/bash", "/nfslab/start.sh"])
        );
        // The least ganesha needs: open by handle, without the runtime's seccomp filter.
        assert_eq!(
            container["securityContext"],
            json!({"capabilities": {"add": ["DAC_READ_SEARCH"]},
                   "seccompProfile": {"type": "Unconfined"}})
        );
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
        for export in [
            "$PSEUDO_ROOT *(ro,fsid=0,crossmnt,insecure,no_subtree_check)",
            "$PSEUDO_ROOT$EXPORT_DIR *($options,fsid=1)",
            "$EXPORT_DIR *($options,fsid=2)",
        ] {
            assert!(
                script.contains(export),
                "NFSv4 pseudo-root on tmpfs, the export under it and for NFSv3: {export}"
            );
        }
        assert!(script.contains(r#"options="rw,sync,insecure,no_root_squash,no_subtree_check""#));
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

    /// The fake runs the real `nfslab-io` for the check pod's and the files container's
    /// execs; the export's stand-in is shared by both, as the real export is.
    fn real_helpers(fake: &FakeCluster, spec: &ServerSpec) -> crate::k8s::stand_in::StandIn {
        let dir = tempfile::tempdir().expect("temp dir");
        let binary = crate::k8s::stand_in::test_binary().expect("nfslab-io");
        let stand_in =
            crate::k8s::stand_in::StandIn::new(&binary, dir.path()).owning(Box::new(dir));
        stand_in.server_files(&spec.pod(), EXPORT, EXPORT);
        fake.run_helpers(stand_in.clone());
        stand_in
    }

    /// What the kernel lists for each check mount: `(PV or inline source, fstype, options)`.
    fn kernel_answers(stand_in: &crate::k8s::stand_in::StandIn, spec: &ServerSpec, default: &str) {
        stand_in.kernel_mount(
            &check_pv_name(spec, "vers-4-2"),
            "nfs4",
            "rw,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,hard,proto=tcp,timeo=600,\
             retrans=2,sec=sys,clientaddr=172.18.0.3,local_lock=none,addr=10.96.100.7",
        );
        stand_in.kernel_mount(
            &check_pv_name(spec, "vers-3"),
            "nfs",
            "rw,vers=3,rsize=1048576,wsize=1048576,namlen=255,hard,nolock,proto=tcp,timeo=600,\
             retrans=2,sec=sys,mountaddr=10.96.100.7,mountvers=3,mountport=20048,\
             mountproto=tcp,local_lock=all,addr=10.96.100.7",
        );
        let (fstype, vers) = if default == "3" {
            ("nfs", "3")
        } else {
            ("nfs4", default)
        };
        stand_in.kernel_mount(
            "10.96.100.7:/exports",
            fstype,
            &format!("rw,vers={vers},rsize=1048576,wsize=1048576,hard,proto=tcp,sec=sys"),
        );
    }

    fn check_pod(spec: &ServerSpec) -> ObjectRef {
        ObjectRef::pod(&spec.namespace, CHECK_POD)
    }

    #[tokio::test(start_paused = true)]
    async fn up_waits_for_the_pod_and_proves_clients_can_write_with_each_version() {
        let fake = FakeCluster::new();
        let spec = spec(ServerFlavor::Ganesha);
        server_ready(&fake, &spec);
        let stand_in = real_helpers(&fake, &spec);
        kernel_answers(&stand_in, &spec, "4.2");
        let client = check_pod(&spec);
        fake.on_apply(&client).after(Duration::from_secs(3)).merge(
            &client,
            json!({"status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        let ready = up(&fake, &spec, &Timeouts::default(), &|_: &str| {})
            .await
            .expect("up");
        let server = &ready.server;
        assert_eq!(server.address, "10.96.100.7");
        assert_eq!(server.export, "/exports");
        assert_eq!(
            server
                .files
                .as_ref()
                .map(|f| (f.pod.clone(), f.container.as_str(), f.root.as_str())),
            Some((spec.pod(), "files", "/exports"))
        );
        assert_eq!(
            describe_checked(&ready.mounts),
            "NFSv4.2 (vers=4.2), NFSv3 (vers=3,nolock), NFSv4.2 (no options)"
        );
        // The files each mount wrote were read and removed on the server side.
        let export = stand_in.nfs_dir("/exports");
        let left: Vec<_> = std::fs::read_dir(&export).expect("export").collect();
        assert!(left.is_empty(), "{left:?}");
        let reads = fake
            .calls()
            .into_iter()
            .filter(|c| {
                matches!(c, Call::Exec(p, Some(container), cmd)
                if *p == spec.pod() && container == "files" && cmd[2] == "cat")
            })
            .count();
        assert_eq!(reads, 3);
        // Every object of the check is gone afterwards.
        for object in client_check_objects(&spec, "10.96.100.7") {
            let r = ObjectRef::from_manifest(&object).expect("ref");
            assert_eq!(fake.state(&r), None, "{r}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_version_the_server_does_not_serve_fails_the_check() {
        let fake = FakeCluster::new();
        let spec = spec(ServerFlavor::Kernel);
        server_ready(&fake, &spec);
        let stand_in = real_helpers(&fake, &spec);
        // The kernel answers vers=4.2 with... nothing NFS at all for the v4.2 claim.
        stand_in.kernel_mount(
            &check_pv_name(&spec, "vers-3"),
            "nfs",
            "rw,vers=3,hard,nolock,proto=tcp",
        );
        let client = check_pod(&spec);
        fake.on_apply(&client).after(Duration::from_secs(3)).merge(
            &client,
            json!({"status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        let err = up(&fake, &spec, &Timeouts::default(), &|_: &str| {})
            .await
            .expect_err("v4.2 is not NFS here");
        let text = err.to_string();
        assert!(
            text.contains("`/check/vers-4-2` (asked with vers=4.2) is a `")
                && text.contains("not NFS"),
            "{text}"
        );
        // A default mount that falls back to NFSv3 is recorded as such, not hidden.
        let fake = FakeCluster::new();
        server_ready(&fake, &spec);
        let stand_in = real_helpers(&fake, &spec);
        kernel_answers(&stand_in, &spec, "3");
        fake.on_apply(&client).after(Duration::from_secs(3)).merge(
            &client,
            json!({"status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        let ready = up(&fake, &spec, &Timeouts::default(), &|_: &str| {})
            .await
            .expect("up");
        assert!(
            describe_checked(&ready.mounts).ends_with("NFSv3 (no options)"),
            "{:?}",
            ready.mounts
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_cannot_mount_is_explained_with_the_event() {
        let fake = FakeCluster::new();
        let spec = spec(ServerFlavor::Kernel);
        server_ready(&fake, &spec);
        let client = check_pod(&spec);
        fake.on_apply(&client).event(EventRecord {
            involved: client.clone(),
            type_: "Warning".into(),
            reason: "FailedMount".into(),
            message: "MountVolume.SetUp failed for volume \"vers-4-2\" : mount failed: exit \
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
                "an NFS client could not use `10.96.100.7:/exports`: the client pod mounting the \
                 export with vers=4.2, vers=3,nolock, no options did not start within 30s"
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

    /// A node as the API server stores it, built with the API's own types.
    fn typed_node(name: &str, taints: &[(&str, &str)], cordoned: bool) -> serde_json::Value {
        use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeSpec, NodeStatus, Taint};
        let node = Node {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.to_owned()),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                taints: Some(
                    taints
                        .iter()
                        .map(|(key, effect)| Taint {
                            key: (*key).to_owned(),
                            effect: (*effect).to_owned(),
                            value: Some("true".to_owned()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                unschedulable: Some(cordoned),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".to_owned(),
                    status: "True".to_owned(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        };
        let mut value = serde_json::to_value(node).expect("a node serializes");
        value["apiVersion"] = json!("v1");
        value["kind"] = json!("Node");
        value
    }

    #[tokio::test]
    async fn the_server_avoids_tainted_and_cordoned_nodes() {
        let fake = FakeCluster::new();
        for n in [
            typed_node("a-gpu", &[("nvidia.com/gpu", "NoSchedule")], false),
            typed_node("b-drained", &[], true),
            typed_node("c-soft", &[("spot", "PreferNoSchedule")], false),
        ] {
            fake.apply(&n).await.expect("apply");
        }
        // PreferNoSchedule only steers the scheduler: that node is usable.
        assert_eq!(choose_node(&fake, "").await.expect("node"), "c-soft");
        let err = choose_node(&fake, "a-gpu").await.expect_err("tainted");
        assert!(
            err.to_string()
                .contains("node `a-gpu` (nfs.node) is tainted nvidia.com/gpu=true:NoSchedule"),
            "{err}"
        );
        let err = choose_node(&fake, "b-drained").await.expect_err("cordoned");
        assert!(err.to_string().contains("is cordoned"), "{err}");
        fake.apply(&typed_node(
            "c-soft",
            &[("maintenance", "NoExecute")],
            false,
        ))
        .await
        .expect("taint the last one");
        let err = choose_node(&fake, "").await.expect_err("none usable");
        assert!(
            err.to_string().contains(
                "no node can run the NFS server (a-gpu tainted nvidia.com/gpu=true:NoSchedule; \
                 b-drained cordoned; c-soft tainted maintenance=true:NoExecute)"
            ),
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
