//! Evidence on failure: a debug bundle written before anything is torn down, so a failed
//! first run leaves what is needed to say why.
//!
//! `results/<run-id>/debug/` holds:
//! - `failure.txt`: what failed, as the run reported it;
//! - `objects.txt`: every object nfslab created that the cluster still has (by label), one
//!   per line, with recycler pods of the PV controller (`recycler-for-*` in `default`, which
//!   carry no label);
//! - `pods/<namespace>/<pod>.json`: each such pod as the API server has it (status, container
//!   states, conditions), and `<pod>.<container>.log` / `.previous.log`;
//! - `events/<namespace>.txt`: the events of each namespace nfslab created and of `default`
//!   (where events about PVs and recycler pods live);
//! - `persistentvolumes.json`: nfslab's PVs;
//! - `manifests/`: what the run rendered (the NFS server's objects);
//! - `kind/`: `kind export logs` of a kind cluster (node journals, kubelet and containerd
//!   logs, every container's log);
//! - `README.txt`: this list, and how to look at a kept cluster.
//!
//! Collecting never fails the run: each piece that cannot be read is named in `README.txt`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::cluster::tools::{CommandSpec, Tools};
use crate::k8s::ownership::{MANAGED_BY, MANAGED_BY_LABEL};
use crate::k8s::{Cluster, ObjectRef};

/// Name of the bundle's directory in the run directory.
pub const DEBUG_DIR: &str = "debug";

/// How long `kind export logs` may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(300);
/// How long one API read may take while collecting.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What to collect.
pub struct Evidence<'a> {
    /// The cluster, when one was reached.
    pub cluster: Option<&'a dyn Cluster>,
    /// The kind cluster's name, when the run made or used one.
    pub kind: Option<&'a str>,
    /// Host tools (for `kind export logs`).
    pub tools: &'a dyn Tools,
    /// What failed.
    pub failure: &'a str,
    /// Manifests the run rendered: `(file name, objects)`.
    pub manifests: Vec<(String, Vec<Value>)>,
}

/// Writes the bundle into `dir`; returns the lines of what could not be collected.
pub async fn collect(evidence: &Evidence<'_>, dir: &Path) -> Vec<String> {
    let mut missing: Vec<String> = Vec::new();
    if let Err(e) = std::fs::create_dir_all(dir) {
        return vec![format!("cannot create `{}`: {e}", dir.display())];
    }
    write(
        dir,
        "failure.txt",
        &format!("{}\n", evidence.failure),
        &mut missing,
    );
    for (name, objects) in &evidence.manifests {
        let text = crate::k8s::manifest::yaml_documents(objects);
        write(&dir.join("manifests"), name, &text, &mut missing);
    }
    if let Some(cluster) = evidence.cluster {
        cluster_evidence(cluster, dir, &mut missing).await;
    }
    if let Some(name) = evidence.kind {
        let target = dir.join("kind");
        let target_arg = target.to_string_lossy().into_owned();
        let command = CommandSpec::new(
            "kind",
            &["export", "logs", &target_arg, "--name", name],
            EXPORT_TIMEOUT,
        );
        match evidence.tools.run(&command).await {
            Ok(out) if out.success() => {}
            Ok(out) => missing.push(format!("kind export logs failed: {}", out.last_line())),
            Err(e) => missing.push(format!("kind export logs could not run: {e}")),
        }
    }
    let mut readme = String::from(
        "nfslab debug bundle: what the cluster showed when the run failed.\n\n\
         failure.txt              what failed\n\
         objects.txt              what nfslab created that was still there\n\
         pods/NS/POD.json         each pod as the API server had it; POD.CONTAINER.log and \
         .previous.log\n\
         events/NS.txt            events of nfslab's namespaces and of `default` (PVs, \
         recycler pods)\n\
         persistentvolumes.json   nfslab's PVs\n\
         manifests/               what the run rendered\n\
         kind/                    `kind export logs` (node journals, kubelet, containerd)\n",
    );
    if let Some(name) = evidence.kind {
        let _ = write!(
            readme,
            "\nA kept kind cluster: `nfslab cluster kubeconfig --name {name}` prints the \
             kubeconfig to use with kubectl; `nfslab cluster down --name {name}` removes it.\n"
        );
    }
    if !missing.is_empty() {
        readme.push_str("\nNot collected:\n");
        for m in &missing {
            let _ = writeln!(readme, "  - {m}");
        }
    }
    let mut ignored = Vec::new();
    write(dir, "README.txt", &readme, &mut ignored);
    missing
}

fn write(dir: &Path, name: &str, text: &str, missing: &mut Vec<String>) {
    let path = dir.join(name);
    let done = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, text));
    if let Err(e) = done {
        missing.push(format!("cannot write `{}`: {e}", path.display()));
    }
}

async fn read<T>(
    what: &str,
    future: impl Future<Output = crate::k8s::ClusterResult<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(READ_TIMEOUT, future).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {READ_TIMEOUT:?}")),
    }
}

fn name_of(v: &Value) -> (String, String) {
    let text = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (text("/metadata/namespace"), text("/metadata/name"))
}

async fn cluster_evidence(cluster: &dyn Cluster, dir: &Path, note: &mut Vec<String>) {
    let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY}");
    let mut objects = String::new();
    let mut namespaces: Vec<String> = vec!["default".to_owned()];
    match read(
        "namespaces",
        cluster.list("v1", "Namespace", None, Some(&selector)),
    )
    .await
    {
        Ok(list) => {
            for ns in &list {
                let (_, name) = name_of(ns);
                let _ = writeln!(objects, "Namespace {name}");
                namespaces.push(name);
            }
        }
        Err(e) => note.push(e),
    }
    let mut pods = match read("pods", cluster.list("v1", "Pod", None, Some(&selector))).await {
        Ok(list) => list,
        Err(e) => {
            note.push(e);
            Vec::new()
        }
    };
    // The PV controller's recycler pods carry no label: found by their name.
    if let Ok(list) = read(
        "pods in default",
        cluster.list("v1", "Pod", Some("default"), None),
    )
    .await
    {
        pods.extend(
            list.into_iter()
                .filter(|p| name_of(p).1.starts_with("recycler-for-")),
        );
    }
    for pod in &pods {
        let (ns, name) = name_of(pod);
        let _ = writeln!(objects, "Pod {ns}/{name}");
        let pod_dir = dir.join("pods").join(&ns);
        write(
            &pod_dir,
            &format!("{name}.json"),
            &serde_json::to_string_pretty(pod).unwrap_or_default(),
            note,
        );
        let object = ObjectRef::pod(&ns, &name);
        let containers = ["/spec/initContainers", "/spec/containers"]
            .iter()
            .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect::<Vec<_>>();
        for container in containers {
            for (previous, suffix) in [(false, "log"), (true, "previous.log")] {
                let text = cluster.logs(&object, Some(&container), Some(2000), previous);
                match tokio::time::timeout(READ_TIMEOUT, text).await {
                    Ok(Ok(text)) if !text.is_empty() => write(
                        &pod_dir,
                        &format!("{name}.{container}.{suffix}"),
                        &text,
                        note,
                    ),
                    // No previous instance, or nothing logged: nothing to keep.
                    _ => {}
                }
            }
        }
    }
    match read(
        "persistent volumes",
        cluster.list("v1", "PersistentVolume", None, Some(&selector)),
    )
    .await
    {
        Ok(pvs) => {
            for pv in &pvs {
                let _ = writeln!(objects, "PersistentVolume {}", name_of(pv).1);
            }
            write(
                dir,
                "persistentvolumes.json",
                &serde_json::to_string_pretty(&pvs).unwrap_or_default(),
                note,
            );
        }
        Err(e) => note.push(e),
    }
    for ns in &namespaces {
        match read(&format!("events of {ns}"), cluster.events_in(ns)).await {
            Ok(events) => {
                let mut text = String::new();
                for e in &events {
                    let _ = writeln!(
                        text,
                        "{} {} {} {}/{}: {} (x{}, {})",
                        e.last_seen.as_deref().unwrap_or("-"),
                        e.type_,
                        e.reason,
                        e.involved.kind,
                        e.involved.name,
                        e.message,
                        e.count,
                        e.source
                    );
                }
                write(&dir.join("events"), &format!("{ns}.txt"), &text, note);
            }
            Err(e) => note.push(e),
        }
    }
    write(dir, "objects.txt", &objects, note);
}

/// Where a run's bundle goes.
#[must_use]
pub fn dir_of(run_dir: &Path) -> PathBuf {
    run_dir.join(DEBUG_DIR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::tools::CommandOutput;
    use crate::cluster::tools::scripted::ScriptedTools;
    use crate::k8s::EventRecord;
    use crate::k8s::fake::FakeCluster;
    use serde_json::json;

    #[tokio::test]
    async fn the_bundle_holds_pods_logs_events_pvs_and_kind_logs() {
        let fake = FakeCluster::new();
        let labels = json!({MANAGED_BY_LABEL: MANAGED_BY});
        let server = ObjectRef::pod("nfslab-nfs", "nfs-server-0");
        fake.set(
            &ObjectRef::cluster("v1", "Namespace", "nfslab-nfs"),
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "nfslab-nfs", "labels": labels}}),
        );
        fake.set(
            &server,
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "nfs-server-0", "namespace": "nfslab-nfs", "labels": labels},
                   "spec": {"containers": [{"name": "server"}, {"name": "files"}]},
                   "status": {"phase": "Running", "containerStatuses": [{"name": "server",
                       "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}),
        );
        fake.set(
            &ObjectRef::pod("default", "recycler-for-nfslab-c0ffee-pv1"),
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "recycler-for-nfslab-c0ffee-pv1", "namespace": "default"},
                   "spec": {"containers": [{"name": "pv-recycler"}]}}),
        );
        fake.set(
            &ObjectRef::pod("default", "someone-elses"),
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "someone-elses", "namespace": "default"}}),
        );
        fake.set(
            &ObjectRef::cluster("v1", "PersistentVolume", "nfslab-c0ffee-pv1"),
            json!({"apiVersion": "v1", "kind": "PersistentVolume",
                   "metadata": {"name": "nfslab-c0ffee-pv1", "labels": labels},
                   "status": {"phase": "Failed"}}),
        );
        fake.set_logs(&server, Some("server"), "nfslab: starting NFS-Ganesha\n");
        fake.add_event(EventRecord {
            involved: ObjectRef::cluster("v1", "PersistentVolume", "nfslab-c0ffee-pv1"),
            type_: "Warning".into(),
            reason: "VolumeFailedRecycle".into(),
            message: "Recycle failed: pod was active on the node longer than the deadline".into(),
            count: 1,
            source: "persistentvolume-controller".into(),
            last_seen: None,
        });
        let tools = ScriptedTools::with(&["kind"]);
        tools.reply(&["kind", "export", "logs"], CommandOutput::ok(""));
        let dir = tempfile::tempdir().expect("dir");
        let missing = collect(
            &Evidence {
                cluster: Some(&fake),
                kind: Some("nfslab"),
                tools: &tools,
                failure: "environment: the NFS server pod was not ready within 3m",
                manifests: vec![(
                    "nfs-server.yaml".to_owned(),
                    vec![json!({"kind": "Service"})],
                )],
            },
            dir.path(),
        )
        .await;
        assert!(missing.is_empty(), "{missing:?}");
        let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap_or_default();
        assert!(read("failure.txt").contains("not ready within 3m"));
        let objects = read("objects.txt");
        assert!(objects.contains("Pod nfslab-nfs/nfs-server-0"), "{objects}");
        assert!(
            objects.contains("Pod default/recycler-for-nfslab-c0ffee-pv1"),
            "{objects}"
        );
        assert!(!objects.contains("someone-elses"), "{objects}");
        assert!(objects.contains("PersistentVolume nfslab-c0ffee-pv1"));
        assert!(read("pods/nfslab-nfs/nfs-server-0.json").contains("CrashLoopBackOff"));
        assert!(read("pods/nfslab-nfs/nfs-server-0.server.log").contains("starting NFS-Ganesha"));
        assert!(read("events/default.txt").contains("VolumeFailedRecycle"));
        assert!(read("manifests/nfs-server.yaml").contains("Service"));
        assert!(read("README.txt").contains("nfslab cluster down --name nfslab"));
        let export = tools.lines();
        assert!(
            export
                .iter()
                .any(|l| l.starts_with("kind export logs ") && l.ends_with(" --name nfslab")),
            "{export:?}"
        );
    }

    #[tokio::test]
    async fn what_cannot_be_read_is_listed_not_fatal() {
        let tools = ScriptedTools::with(&[]);
        let dir = tempfile::tempdir().expect("dir");
        let missing = collect(
            &Evidence {
                cluster: None,
                kind: Some("gone"),
                tools: &tools,
                failure: "kind create cluster failed",
                manifests: Vec::new(),
            },
            dir.path(),
        )
        .await;
        assert_eq!(missing.len(), 1, "{missing:?}");
        let readme = std::fs::read_to_string(dir.path().join("README.txt")).expect("readme");
        assert!(readme.contains("Not collected") && readme.contains("kind export logs"));
    }
}
