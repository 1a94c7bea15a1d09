//! Preflight of a cluster nfslab did not make (`--existing`): before the first object, the
//! checks that tell the user what would go wrong there and what to do about it.
//!
//! - **Consent.** nfslab creates privileged pods, hostPath volumes, PersistentVolumes,
//!   StorageClasses and namespaces. Without an explicit `--context` (or `--yes`) it names the
//!   context and API server it would act on and stops ([`Target`]).
//! - **Rights.** The verbs nfslab uses on each resource ([`needed_rights`]) are asked of the
//!   API server's authorizer with SelfSubjectAccessReview, what `kubectl auth can-i` sends;
//!   every missing one is listed at once.
//! - **Admission.** A probe namespace made as scenario namespaces are (no Pod Security label:
//!   the cluster's default level applies) receives server-side dry runs of a scenario pod and
//!   a hostPath pod; then, labelled `privileged` as the server's namespace is, a dry run of
//!   the server pod itself. The PV controller's recycler pod (the template of kubernetes
//!   `pkg/volume/plugins.go`, `NewPersistentVolumeRecyclerPodTemplate`) is dry-run in
//!   `default`, where the controller starts it. Dry runs go through the same admission chain
//!   as the real requests (Pod Security admission and any webhook), so the refusal quoted is
//!   the cluster's own.
//! - **Images.** nfslab's own images exist only where they were built. A short pod per image
//!   ([`probe_pod`]) shows that the nodes can pull the reference nfslab will use; a pull
//!   failure stops the run with the recipe (`--image-registry`, or loading the images onto
//!   the nodes).
//!
//! Tainted and cordoned nodes are handled where the server's node is chosen
//! ([`crate::nfs::server::choose_node`]).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::authorization::v1::ResourceAttributes;
use serde_json::{Value, json};

use crate::k8s::ownership::{MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL, RunId};
use crate::k8s::wait::{self, WaitError};
use crate::k8s::{Cluster, ClusterError, ObjectRef, Propagation, conditions};

/// The cluster a `--existing` run would act on, as the user should see it before anything
/// is created there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The kubeconfig file (`None`: in-cluster configuration, no file).
    pub kubeconfig: Option<PathBuf>,
    /// The context (`None`: the file has no current context).
    pub context: Option<String>,
    /// The API server URL.
    pub server: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "context `{}` (API server {}",
            self.context.as_deref().unwrap_or("(none)"),
            self.server
        )?;
        if let Some(file) = &self.kubeconfig {
            write!(f, ", kubeconfig {}", file.display())?;
        }
        f.write_str(")")
    }
}

impl Target {
    /// The context and kubeconfig a connection used: the named ones, else the file's
    /// current context (`KUBECONFIG`'s first file or `~/.kube/config`).
    #[must_use]
    pub fn describe(
        kubeconfig: Option<&std::path::Path>,
        context: Option<&str>,
        server: &str,
    ) -> Self {
        let file = kubeconfig
            .map(std::path::Path::to_path_buf)
            .or_else(super::default_kubeconfig);
        let context = context.map(str::to_owned).or_else(|| {
            let parsed = match kubeconfig {
                Some(f) => kube::config::Kubeconfig::read_from(f).ok(),
                None => kube::config::Kubeconfig::read().ok(),
            };
            parsed.and_then(|k| k.current_context)
        });
        Self {
            kubeconfig: file,
            context,
            server: server.to_owned(),
        }
    }
}

/// One right nfslab needs: a verb on a resource of an API group, cluster-wide (nfslab
/// creates its own namespaces, so namespaced rights are needed in namespaces that do not
/// exist yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Right {
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// Resource, with a subresource after a slash (`pods/exec`).
    pub resource: &'static str,
    /// Verb.
    pub verb: &'static str,
}

/// Server-side apply is a PATCH: every kind nfslab applies needs `patch` as well as `create`.
const MANAGE: &[&str] = &["create", "patch", "get", "list", "watch", "delete"];

/// The rights nfslab uses, resource by resource: the objects of the NFS server and its
/// provisioner, the scenarios' PVs, claims, pods, Deployments, StatefulSets and Jobs, exec
/// into pods (websocket exec is authorized as `get` before Kubernetes 1.35 and `create`
/// from then on: both are asked), logs and events for evidence.
#[must_use]
pub fn needed_rights() -> Vec<Right> {
    let table: &[(&str, &str, &[&str])] = &[
        ("", "namespaces", MANAGE),
        ("", "nodes", &["get", "list"]),
        ("", "persistentvolumes", MANAGE),
        ("", "persistentvolumeclaims", MANAGE),
        ("", "pods", MANAGE),
        ("", "pods/exec", &["create", "get"]),
        ("", "pods/log", &["get"]),
        ("", "services", MANAGE),
        ("", "configmaps", MANAGE),
        ("", "serviceaccounts", MANAGE),
        ("", "events", &["list"]),
        ("apps", "deployments", MANAGE),
        ("apps", "statefulsets", MANAGE),
        ("batch", "jobs", MANAGE),
        ("storage.k8s.io", "storageclasses", MANAGE),
        ("rbac.authorization.k8s.io", "clusterroles", MANAGE),
        ("rbac.authorization.k8s.io", "clusterrolebindings", MANAGE),
        ("rbac.authorization.k8s.io", "roles", MANAGE),
        ("rbac.authorization.k8s.io", "rolebindings", MANAGE),
    ];
    table
        .iter()
        .flat_map(|(group, resource, verbs)| {
            verbs.iter().map(move |verb| Right {
                group,
                resource,
                verb,
            })
        })
        .collect()
}

/// The rights of `rights` the API server's authorizer denies, in the order given.
///
/// # Errors
/// [`ClusterError`] when a review cannot be made (the first such error).
pub async fn missing_rights(
    cluster: &dyn Cluster,
    rights: &[Right],
) -> Result<Vec<Right>, ClusterError> {
    // Futures made first and then polled eight at a time: a closure inside the stream
    // would make the future not `Send` for every lifetime (rust-lang/rust#102211).
    let reviews: Vec<_> = rights
        .iter()
        .enumerate()
        .map(|(i, right)| review(cluster, i, right))
        .collect();
    let answers: Vec<(usize, Result<bool, ClusterError>)> = futures::stream::iter(reviews)
        .buffer_unordered(8)
        .collect()
        .await;
    let mut denied = Vec::new();
    let mut sorted = answers;
    sorted.sort_by_key(|(i, _)| *i);
    for (i, answer) in sorted {
        if !answer? {
            denied.push(rights[i].clone());
        }
    }
    Ok(denied)
}

fn review<'a>(
    cluster: &'a dyn Cluster,
    i: usize,
    right: &Right,
) -> futures::future::BoxFuture<'a, (usize, Result<bool, ClusterError>)> {
    let (resource, subresource) = match right.resource.split_once('/') {
        Some((r, s)) => (r, Some(s.to_owned())),
        None => (right.resource, None),
    };
    let attributes = ResourceAttributes {
        group: Some(right.group.to_owned()),
        resource: Some(resource.to_owned()),
        subresource,
        verb: Some(right.verb.to_owned()),
        ..ResourceAttributes::default()
    };
    Box::pin(async move {
        let answer = cluster.review_access(&attributes).await;
        (i, answer.map(|status| status.allowed))
    })
}

/// `pods: create, delete; apps/deployments: patch`: denied rights grouped per resource.
#[must_use]
pub fn describe_rights(rights: &[Right]) -> String {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for right in rights {
        let name = if right.group.is_empty() {
            right.resource.to_owned()
        } else {
            format!("{}/{}", right.group, right.resource)
        };
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, verbs)) => verbs.push(right.verb),
            None => groups.push((name, vec![right.verb])),
        }
    }
    groups
        .iter()
        .map(|(name, verbs)| format!("{name}: {}", verbs.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why an existing cluster cannot be used as it is.
#[derive(Debug, thiserror::Error)]
pub enum ExistingError {
    /// No explicit context and no `--yes`.
    #[error(
        "--existing would act on {target}: nfslab creates namespaces, PersistentVolumes, \
         StorageClasses, cluster roles and privileged pods with hostPath volumes there \
         (hint: name the context with --context NAME, or pass --yes to use this one)"
    )]
    Unconfirmed {
        /// Where it would act.
        target: Target,
    },
    /// The account lacks rights nfslab uses.
    #[error(
        "the account of {target} lacks rights nfslab uses: {} (hint: `kubectl auth can-i \
         --list` shows yours; nfslab needs them cluster-wide, as cluster-admin has them)",
        describe_rights(.missing)
    )]
    Rights {
        /// Where.
        target: Target,
        /// What is denied.
        missing: Vec<Right>,
    },
    /// The nodes cannot pull one of nfslab's images.
    #[error(
        "the nodes cannot pull `{image}` ({reason}{}) (hint: nfslab's own images exist only \
         where they were built: pass --image-registry REGISTRY to push them to a registry \
         the nodes can pull from, or load them onto every node, e.g. `nfslab images save \
         FILE` and `ctr -n k8s.io images import FILE` there)",
        if .message.is_empty() { String::new() } else { format!(": {}", .message) }
    )]
    Unpullable {
        /// The image.
        image: String,
        /// The kubelet's reason (`ErrImagePull`, `ImagePullBackOff`...).
        reason: String,
        /// The kubelet's message.
        message: String,
    },
    /// Admission refuses pods nfslab cannot do without.
    #[error("{what} (hint: {hint})")]
    Refused {
        /// What is refused and the cluster's words.
        what: String,
        /// What to do.
        hint: String,
    },
    /// A preflight request failed.
    #[error("the preflight of the existing cluster could not {step}")]
    Cluster {
        /// What it tried.
        step: String,
        /// Why.
        #[source]
        source: ClusterError,
    },
    /// A probe pod did not start.
    #[error("the image probe pod did not start")]
    Probe(#[source] WaitError),
    /// The probe namespace never got its `default` ServiceAccount, without which every
    /// pod is refused.
    #[error(
        "namespace `{namespace}` got no `default` ServiceAccount (hint: the cluster's \
         service-account controller in kube-controller-manager makes it; check that it runs)"
    )]
    NoServiceAccount {
        /// The probe namespace.
        namespace: String,
        /// The wait's failure.
        #[source]
        source: WaitError,
    },
}

/// A pod that runs `image` with `command` once, as restricted Pod Security allows, so that
/// a probe namespace of any level admits it: it only shows that the nodes can pull it.
#[must_use]
pub fn probe_pod(namespace: &str, name: &str, image: &str, command: &[&str]) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {MANAGED_BY_LABEL: MANAGED_BY}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "terminationGracePeriodSeconds": 0,
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": 65534,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [{
                "name": "probe",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": command,
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]},
                },
                "resources": {"limits": {"cpu": "100m", "memory": "32Mi"}},
            }],
        },
    })
}

/// The PV controller's recycler pod as `NewPersistentVolumeRecyclerPodTemplate` (kubernetes
/// `pkg/volume/plugins.go`) makes it for an NFS volume, in `default` where it runs.
#[must_use]
pub fn recycler_pod(name: &str, image: &str, server: &str, path: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": crate::k8s::clean::RECYCLER_NAMESPACE},
        "spec": {
            "activeDeadlineSeconds": 60,
            "restartPolicy": "Never",
            "volumes": [{"name": "vol", "nfs": {"server": server, "path": path}}],
            "containers": [{
                "name": "pv-recycler",
                "image": image,
                "command": ["/bin/sh"],
                "args": ["-c", "test -e /scrub && find /scrub -mindepth 1 -delete && test -z \"$(ls -A /scrub)\" || exit 1"],
                "volumeMounts": [{"name": "vol", "mountPath": "/scrub"}],
            }],
        },
    })
}

/// A scenario's pod: nfslab-io with an NFS volume and no security context, as the catalog's
/// pods are; with `host_path`, a hostPath volume as the hostPath scenarios mount.
#[must_use]
pub fn scenario_pod(namespace: &str, name: &str, image: &str, host_path: bool) -> Value {
    let volume = if host_path {
        json!({"name": "data", "hostPath": {"path": "/tmp/nfslab-preflight", "type": "DirectoryOrCreate"}})
    } else {
        json!({"name": "data", "nfs": {"server": "192.0.2.1", "path": "/"}})
    };
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [volume],
            "containers": [{
                "name": "main",
                "image": image,
                "args": ["--version"],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            }],
        },
    })
}

/// What the preflight needs to know about the run.
pub struct Plan<'a> {
    /// Where the run acts, for messages.
    pub target: &'a Target,
    /// Images nfslab runs that are not public (its own), with the command that ends at once
    /// in each (`["/nfslab-io", "--version"]`, `["true"]`).
    pub own_images: Vec<(String, Vec<String>)>,
    /// The server pod as it will be created (its StatefulSet's template), when an
    /// in-cluster server will be deployed.
    pub server_pod: Option<Value>,
    /// The PV recycler image of the cluster's version, when known.
    pub recycler_image: Option<String>,
    /// The `nfslab-io` image, for the scenario-pod dry runs.
    pub io_image: String,
    /// How long a probe pod may take to start (its image pull aside).
    pub pod_ready: Duration,
    /// How long an image pull may take.
    pub image_pull: Duration,
    /// How long a namespace and its service account may take to appear.
    pub request: Duration,
    /// Names the probe namespace (`nfslab-preflight-<short id>`) and labels it, so that
    /// `nfslab clean` finds it if the preflight is interrupted.
    pub run: RunId,
}

impl Plan<'_> {
    /// The probe namespace.
    #[must_use]
    pub fn namespace(&self) -> String {
        format!("nfslab-preflight-{}", self.run.short())
    }

    /// The probe namespace as it is created (labelled as nfslab's, with the run id).
    #[must_use]
    pub fn namespace_manifest(&self) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": self.namespace(),
                         "labels": {MANAGED_BY_LABEL: MANAGED_BY, RUN_ID_LABEL: self.run.as_str()}},
        })
    }

    /// The pods the preflight dry-runs or starts, in order: the recycler pod (in `default`),
    /// the scenario pod, the hostPath pod, one pull probe per own image, and the server pod.
    /// `nfslab render preflight` prints them (with the namespace) for review and schema
    /// validation.
    #[must_use]
    pub fn pods(&self) -> Vec<Value> {
        let ns = self.namespace();
        let mut pods = Vec::new();
        if let Some(image) = &self.recycler_image {
            pods.push(recycler_pod(
                &format!("nfslab-preflight-recycler-{}", self.run.short()),
                image,
                "192.0.2.1",
                "/",
            ));
        }
        pods.push(scenario_pod(
            &ns,
            "nfslab-preflight-scenario",
            &self.io_image,
            false,
        ));
        pods.push(scenario_pod(
            &ns,
            "nfslab-preflight-hostpath",
            &self.io_image,
            true,
        ));
        for (i, (image, command)) in self.own_images.iter().enumerate() {
            let command: Vec<&str> = command.iter().map(String::as_str).collect();
            pods.push(probe_pod(
                &ns,
                &format!("nfslab-preflight-pull-{i}"),
                image,
                &command,
            ));
        }
        if let Some(server) = &self.server_pod {
            let mut pod = server.clone();
            pod["metadata"]["namespace"] = json!(ns);
            pod["metadata"]["name"] = json!("nfslab-preflight-server");
            pods.push(pod);
        }
        pods
    }
}

/// Asks the authorizer for every right nfslab uses ([`needed_rights`]); run first, before
/// anything is pushed or created. Returns a warning when reviews cannot be made.
///
/// # Errors
/// [`ExistingError::Rights`] listing every denied right.
pub async fn check_rights(
    cluster: &dyn Cluster,
    target: &Target,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Option<String>, ExistingError> {
    progress("checking the account's rights (SelfSubjectAccessReview)");
    match missing_rights(cluster, &needed_rights()).await {
        Ok(missing) if missing.is_empty() => Ok(None),
        Ok(missing) => Err(ExistingError::Rights {
            target: target.clone(),
            missing,
        }),
        Err(e) => Ok(Some(format!(
            "could not review the account's rights ({e}); continuing, a missing right will \
             show as a refusal later"
        ))),
    }
}

/// Runs the preflight; returns warnings (things that will make some scenarios fail) or the
/// reason the cluster cannot be used. Everything it creates lives in a probe namespace
/// labelled as nfslab's (so `nfslab clean` finds it if interrupted) and is deleted before
/// it returns.
///
/// # Errors
/// [`ExistingError`] naming what is missing and what to do.
pub async fn preflight(
    cluster: &dyn Cluster,
    plan: &Plan<'_>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<String>, ExistingError> {
    let mut warnings = Vec::new();
    let pods = plan.pods();
    let named = |name: &str| {
        pods.iter()
            .find(|p| p.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
            .cloned()
    };
    if let Some(pod) = named(&format!("nfslab-preflight-recycler-{}", plan.run.short()))
        && let Err(e) = cluster.dry_run_apply(&pod).await
    {
        warnings.push(format!(
            "namespace `default` refuses the PV controller's recycler pod ({}): the \
             Recycle scenarios will fail there (hint: allow the baseline Pod Security \
             level in `default`, or run the other scenarios)",
            refusal(&e)
        ));
    }
    let namespace = plan.namespace();
    let ns = ObjectRef::cluster("v1", "Namespace", &namespace);
    progress(&format!(
        "probing admission and image pulls in namespace `{namespace}`"
    ));
    cluster
        .apply(&plan.namespace_manifest())
        .await
        .map_err(|source| ExistingError::Cluster {
            step: format!("create namespace `{namespace}`"),
            source,
        })?;
    let outcome = probe(cluster, plan, &named, &mut warnings, progress).await;
    let removed = cluster.delete(&ns, Propagation::Background).await;
    if let Err(e) = removed {
        warnings.push(format!(
            "could not delete the probe namespace `{namespace}` ({e}; `nfslab clean` removes it)"
        ));
    }
    outcome.map(|()| warnings)
}

/// The cluster's words in a refusal.
fn refusal(error: &ClusterError) -> String {
    match error {
        ClusterError::Api { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

async fn probe(
    cluster: &dyn Cluster,
    plan: &Plan<'_>,
    named: &(dyn Fn(&str) -> Option<Value> + Sync),
    warnings: &mut Vec<String>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), ExistingError> {
    let namespace = plan.namespace();
    // The ServiceAccount admission plugin refuses pods until the namespace's `default`
    // service account exists (kubernetes plugin/pkg/admission/serviceaccount).
    let account = ObjectRef::namespaced("v1", "ServiceAccount", &namespace, "default");
    wait::until_within(cluster, &account, &conditions::exists(), plan.request)
        .await
        .map_err(|source| ExistingError::NoServiceAccount {
            namespace: namespace.clone(),
            source,
        })?;
    if let Some(plain) = named("nfslab-preflight-scenario")
        && let Err(e) = cluster.dry_run_apply(&plain).await
    {
        return Err(ExistingError::Refused {
            what: format!(
                "a new namespace of {} refuses a scenario pod (an NFS volume, no security \
                 context): {}",
                plan.target,
                refusal(&e)
            ),
            hint: "the cluster's default Pod Security level (or a policy webhook) is stricter \
                   than baseline; nfslab's scenario pods need baseline"
                .to_owned(),
        });
    }
    if let Some(host) = named("nfslab-preflight-hostpath")
        && let Err(e) = cluster.dry_run_apply(&host).await
    {
        warnings.push(format!(
            "new namespaces refuse hostPath pods ({}): the hostPath scenarios will fail \
             (hint: they need the privileged Pod Security level)",
            refusal(&e)
        ));
    }
    for (i, (image, _)) in plan.own_images.iter().enumerate() {
        let name = format!("nfslab-preflight-pull-{i}");
        let Some(pod) = named(&name) else { continue };
        progress(&format!("checking that the nodes can pull `{image}`"));
        cluster
            .apply(&pod)
            .await
            .map_err(|source| ExistingError::Cluster {
                step: format!("create the probe pod for `{image}`"),
                source,
            })?;
        let object = ObjectRef::pod(&namespace, &name);
        let started = conditions::Condition::new("its container started", |pod| {
            pod.and_then(|p| p.pointer("/status/containerStatuses"))
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c.pointer("/state/running").is_some()
                            || c.pointer("/state/terminated").is_some()
                    })
                })
        });
        match wait::pod_minding_pulls(
            cluster,
            &object,
            &started,
            plan.pod_ready,
            plan.image_pull,
            progress,
        )
        .await
        {
            Ok(_) => {}
            Err(WaitError::ImagePull {
                reason,
                image,
                message,
                ..
            }) => {
                return Err(ExistingError::Unpullable {
                    image,
                    reason,
                    message,
                });
            }
            Err(e) => return Err(ExistingError::Probe(e)),
        }
    }
    if let Some(pod) = named("nfslab-preflight-server") {
        let ns = ObjectRef::cluster("v1", "Namespace", &namespace);
        let privileged = json!({"metadata": {"labels": {
            "pod-security.kubernetes.io/enforce": "privileged"}}});
        cluster
            .patch_merge(&ns, &privileged)
            .await
            .map_err(|source| ExistingError::Refused {
                what: format!(
                    "{} refuses the Pod Security label `privileged` on nfslab's namespaces: {}",
                    plan.target,
                    refusal(&source)
                ),
                hint: "the NFS server runs privileged; use --server HOST:/EXPORT with an NFS \
                       server outside the cluster instead"
                    .to_owned(),
            })?;
        if let Err(e) = cluster.dry_run_apply(&pod).await {
            return Err(ExistingError::Refused {
                what: format!(
                    "{} refuses nfslab's NFS server pod in a namespace labelled privileged: {}",
                    plan.target,
                    refusal(&e)
                ),
                hint: "a policy (webhook or admission configuration) forbids privileged pods; \
                       use --server HOST:/EXPORT with an NFS server outside the cluster"
                    .to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::fake::{Call, FakeCluster};

    fn target() -> Target {
        Target {
            kubeconfig: Some(PathBuf::from("/home/u/.kube/config")),
            context: Some("prod-eu".to_owned()),
            server: "https://10.1.2.3:6443".to_owned(),
        }
    }

    fn plan(target: &Target) -> Plan<'_> {
        Plan {
            target,
            own_images: vec![(
                "registry.example/nfslab-io:0.1.0-abc".to_owned(),
                vec!["/nfslab-io".to_owned(), "--version".to_owned()],
            )],
            server_pod: Some(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "x"}, "spec": {"containers": [{"name": "s", "image": "i"}]}})),
            recycler_image: Some(
                "registry.k8s.io/build-image/debian-base:bookworm-v1.0.4".to_owned(),
            ),
            io_image: "registry.example/nfslab-io:0.1.0-abc".to_owned(),
            pod_ready: Duration::from_secs(60),
            image_pull: Duration::from_secs(60),
            request: Duration::from_secs(30),
            run: RunId::parse("20261207-010000-abcdef").expect("a run id"),
        }
    }

    #[test]
    fn the_unconfirmed_refusal_names_context_server_and_file() {
        let e = ExistingError::Unconfirmed { target: target() };
        assert_eq!(
            e.to_string(),
            "--existing would act on context `prod-eu` (API server https://10.1.2.3:6443, \
             kubeconfig /home/u/.kube/config): nfslab creates namespaces, PersistentVolumes, \
             StorageClasses, cluster roles and privileged pods with hostPath volumes there \
             (hint: name the context with --context NAME, or pass --yes to use this one)"
        );
    }

    #[tokio::test]
    async fn denied_rights_are_listed_per_resource_before_anything_is_created() {
        let fake = FakeCluster::new();
        fake.deny("create", "", "pods/exec");
        fake.deny("get", "", "pods/exec");
        fake.deny("delete", "storage.k8s.io", "storageclasses");
        let t = target();
        let err = check_rights(&fake, &t, &|_| {}).await.expect_err("refused");
        assert_eq!(
            err.to_string(),
            "the account of context `prod-eu` (API server https://10.1.2.3:6443, kubeconfig \
             /home/u/.kube/config) lacks rights nfslab uses: pods/exec: create, get; \
             storage.k8s.io/storageclasses: delete (hint: `kubectl auth can-i --list` shows \
             yours; nfslab needs them cluster-wide, as cluster-admin has them)"
        );
        assert!(
            !fake
                .calls()
                .iter()
                .any(|c| matches!(c, Call::Apply(_) | Call::DryRun(_))),
            "nothing may be created before the rights are known"
        );
        let reviews = fake
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::Review(..)))
            .count();
        assert_eq!(reviews, needed_rights().len());
    }

    /// A pod status as the kubelet reports it, built with the API's own types: the probe
    /// container waiting for `waiting` (with the kubelet's message) or terminated with 0.
    fn pod_status(waiting: Option<(&str, &str)>) -> Value {
        use k8s_openapi::api::core::v1::{
            ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
            PodStatus,
        };
        let state = match waiting {
            Some((reason, message)) => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.to_owned()),
                    message: Some(message.to_owned()),
                }),
                ..Default::default()
            },
            None => ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 0,
                    reason: Some("Completed".to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        };
        let status = PodStatus {
            phase: Some(
                if waiting.is_some() {
                    "Pending"
                } else {
                    "Succeeded"
                }
                .to_owned(),
            ),
            container_statuses: Some(vec![ContainerStatus {
                name: "probe".to_owned(),
                image: "registry.example/nfslab-io:0.1.0-abc".to_owned(),
                state: Some(state),
                ..Default::default()
            }]),
            ..Default::default()
        };
        json!({"status": serde_json::to_value(status).expect("a status serializes")})
    }

    /// What the namespace controller does for a new namespace: its `default` account.
    fn account_appears(fake: &FakeCluster, plan: &Plan<'_>) {
        let ns = plan.namespace();
        let account = ObjectRef::namespaced("v1", "ServiceAccount", &ns, "default");
        fake.on_apply(&ObjectRef::cluster("v1", "Namespace", &ns))
            .after(Duration::from_millis(300))
            .set(
                &account,
                json!({"apiVersion": "v1", "kind": "ServiceAccount",
                       "metadata": {"name": "default", "namespace": ns}}),
            );
    }

    fn forbidden(pod: &str, why: &str) -> ClusterError {
        // The form of pod-security-admission's refusal (admission/admission.go,
        // policy/check_hostPathVolumes.go).
        ClusterError::Api {
            verb: "apply".to_owned(),
            object: format!("pod {pod}"),
            code: 403,
            reason: "Forbidden".to_owned(),
            message: format!("pods \"{pod}\" is forbidden: violates PodSecurity {why}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pull_failure_stops_with_the_recipe_and_removes_the_probe() {
        let fake = FakeCluster::new();
        let t = target();
        let plan = plan(&t);
        account_appears(&fake, &plan);
        let pod = ObjectRef::pod(&plan.namespace(), "nfslab-preflight-pull-0");
        fake.on_apply(&pod).after(Duration::from_secs(3)).merge(
            &pod,
            pod_status(Some((
                "ErrImagePull",
                "failed to pull and unpack image \"registry.example/nfslab-io:0.1.0-abc\": not found",
            ))),
        );
        let err = preflight(&fake, &plan, &|_| {})
            .await
            .expect_err("unpullable");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "the nodes cannot pull `registry.example/nfslab-io:0.1.0-abc` (ErrImagePull: \
                 failed to pull"
            ),
            "{text}"
        );
        assert!(text.contains("--image-registry REGISTRY"), "{text}");
        let ns = ObjectRef::cluster("v1", "Namespace", &plan.namespace());
        assert!(
            fake.deleted().contains(&ns),
            "the probe namespace is removed"
        );
        // Labelled with its run, so `nfslab clean` finds it if the preflight is interrupted.
        let applied = fake.applied(&ns).expect("the probe namespace was applied");
        assert_eq!(
            applied.pointer(&format!(
                "/metadata/labels/{}",
                RUN_ID_LABEL.replace('/', "~1")
            )),
            Some(&json!(plan.run.as_str()))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn admission_refusals_are_quoted_and_the_server_pod_is_dry_run_last() {
        let fake = FakeCluster::new();
        let t = target();
        let plan = plan(&t);
        account_appears(&fake, &plan);
        let ns = plan.namespace();
        let pod = ObjectRef::pod(&ns, "nfslab-preflight-pull-0");
        fake.on_apply(&pod)
            .after(Duration::from_secs(2))
            .merge(&pod, pod_status(None));
        let recycler = ObjectRef::pod(
            "default",
            &format!("nfslab-preflight-recycler-{}", plan.run.short()),
        );
        fake.on_dry_run(&recycler).instead().fail(forbidden(
            &recycler.name,
            "\"restricted:latest\": restricted volume types (volume \"vol\" uses restricted volume type \"nfs\")",
        ));
        let host = ObjectRef::pod(&ns, "nfslab-preflight-hostpath");
        fake.on_dry_run(&host).instead().fail(forbidden(
            &host.name,
            "\"baseline:latest\": hostPath volumes (volume \"data\")",
        ));
        let warnings = preflight(&fake, &plan, &|_| {}).await.expect("usable");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("namespace `default` refuses the PV controller's recycler pod (pods \"nfslab-preflight-recycler-"), "{}", warnings[0]);
        assert!(
            warnings[0].contains("the Recycle scenarios will fail"),
            "{}",
            warnings[0]
        );
        assert!(
            warnings[1].contains("hostPath volumes (volume \"data\")"),
            "{}",
            warnings[1]
        );
        let server = ObjectRef::pod(&ns, "nfslab-preflight-server");
        let calls = fake.calls();
        let labelled = calls
            .iter()
            .position(|c| matches!(c, Call::Patch(o, _) if o.kind == "Namespace"))
            .expect("the probe namespace is labelled privileged");
        let dry = calls
            .iter()
            .position(|c| matches!(c, Call::DryRun(o) if *o == server))
            .expect("the server pod is dry-run");
        assert!(labelled < dry);
        assert!(
            fake.deleted()
                .contains(&ObjectRef::cluster("v1", "Namespace", &ns))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_scenario_pod_stops_the_run() {
        let fake = FakeCluster::new();
        let t = target();
        let plan = plan(&t);
        account_appears(&fake, &plan);
        let plain = ObjectRef::pod(&plan.namespace(), "nfslab-preflight-scenario");
        fake.on_dry_run(&plain).instead().fail(forbidden(
            &plain.name,
            "\"restricted:latest\": runAsNonRoot != true",
        ));
        let err = preflight(&fake, &plan, &|_| {}).await.expect_err("refused");
        assert!(
            err.to_string().contains("refuses a scenario pod (an NFS volume, no security context): pods \"nfslab-preflight-scenario\" is forbidden: violates PodSecurity \"restricted:latest\": runAsNonRoot != true (hint: the cluster's default Pod Security level"),
            "{err}"
        );
        assert!(
            !fake
                .calls()
                .iter()
                .any(|c| matches!(c, Call::Apply(o) if o.kind == "Pod"))
        );
    }
}
