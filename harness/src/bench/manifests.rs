//! The Kubernetes objects of one repetition of one cell, and the dry-run rendering of a
//! whole plan.
//!
//! Per repetition (names from [`Names`]):
//! - a ConfigMap holding the job (`job.yaml`, the nfslab-io job as JSON, which is YAML);
//! - a PV with the profile's `spec.mountOptions` (omitted for an empty profile, which is what
//!   the kubelet does by default), the server by IP, `Retain`, pre-bound to its claim, and a
//!   `storageClassName` unique to the repetition, so neither the cluster's default class nor
//!   another claim can take it;
//! - a PVC naming that class and volume;
//! - K client pods, spread over nodes (topology spread + preferred anti-affinity), each with
//!   - init `prepare`: `mkdir -p` of the client's own directory on the volume,
//!   - init `layout`: `nfslab-io run --layout-only` (files for reads, not measured),
//!   - `client`: `nfslab-io run --reuse-layout --start-barrier /run/nfslab/start --output
//!     /run/nfslab/result.json`,
//!   - `control`: `nfslab-io sleep`, sharing `/run/nfslab` (an emptyDir) and the volume: the
//!     runner writes the barrier file and reads the result through it.
//!
//! The start barrier lives on each pod's emptyDir, written by the runner into every pod at
//! once, not on the NFS volume: a client polling for a file on NFS may not see it for up to
//! `acdirmax` seconds (negative lookup caching), which would skew the start by the very
//! option being measured.

use nfslab_workload::Job;
use serde_json::{Value, json};

use crate::k8s::ObjectRef;
use crate::k8s::ownership::{RunId, stamp};
use crate::model::matrix::Cell;

/// Scenario label value of benchmark objects.
pub const SCENARIO: &str = "bench";
/// Label carrying the cell index.
pub const CELL_LABEL: &str = "nfslab.io/cell";
/// Label carrying the repetition.
pub const REPETITION_LABEL: &str = "nfslab.io/repetition";
/// Where the volume is mounted in client pods.
pub const DATA_MOUNT: &str = "/data";
/// Where the job file is mounted.
pub const JOB_MOUNT: &str = "/etc/nfslab";
/// The shared emptyDir of the client and control containers.
pub const CONTROL_MOUNT: &str = "/run/nfslab";
/// The barrier file clients wait for.
pub const BARRIER_FILE: &str = "/run/nfslab/start";
/// The result file clients write.
pub const RESULT_FILE: &str = "/run/nfslab/result.json";
/// The nfslab-io binary inside its image.
pub const ENGINE: &str = "/nfslab-io";
/// The client container.
pub const CLIENT_CONTAINER: &str = "client";
/// The control container.
pub const CONTROL_CONTAINER: &str = "control";
/// The layout init container.
pub const LAYOUT_CONTAINER: &str = "layout";

/// Object names of one repetition of one cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    /// Namespace of the run.
    pub namespace: String,
    /// `c07-r2`: cell index and repetition.
    pub tag: String,
    /// PV name (cluster-scoped, run-prefixed).
    pub pv: String,
    /// Storage class name, unique to the repetition (no such StorageClass object exists).
    pub storage_class: String,
    /// PVC name.
    pub pvc: String,
    /// ConfigMap name.
    pub config_map: String,
    /// Pod names, one per client.
    pub pods: Vec<String>,
    /// Directory of this repetition on the volume (inside the pods).
    pub data_dir: String,
}

/// The namespace of a run's benchmark objects: `nfslab-bench-<run short>`.
#[must_use]
pub fn namespace_name(run: &RunId) -> String {
    format!("nfslab-bench-{}", run.short())
}

impl Names {
    /// Names for one repetition of a cell.
    #[must_use]
    pub fn new(run: &RunId, cell: &Cell, repetition: u32) -> Self {
        let tag = format!("c{:02}-r{repetition}", cell.index);
        let pv = format!("{}-{tag}", run.prefix());
        Self {
            namespace: namespace_name(run),
            storage_class: pv.clone(),
            pvc: format!("bench-{tag}"),
            config_map: format!("bench-{tag}-job"),
            pods: (0..cell.clients)
                .map(|k| format!("bench-{tag}-client-{k}"))
                .collect(),
            data_dir: format!("{DATA_MOUNT}/nfslab-bench/{run}/{tag}"),
            tag,
            pv,
        }
    }

    /// The PV.
    #[must_use]
    pub fn pv_ref(&self) -> ObjectRef {
        ObjectRef::pv(&self.pv)
    }

    /// The PVC.
    #[must_use]
    pub fn pvc_ref(&self) -> ObjectRef {
        ObjectRef::pvc(&self.namespace, &self.pvc)
    }

    /// The ConfigMap.
    #[must_use]
    pub fn config_map_ref(&self) -> ObjectRef {
        ObjectRef::namespaced("v1", "ConfigMap", &self.namespace, &self.config_map)
    }

    /// The client pods.
    #[must_use]
    pub fn pod_refs(&self) -> Vec<ObjectRef> {
        self.pods
            .iter()
            .map(|p| ObjectRef::pod(&self.namespace, p))
            .collect()
    }

    /// The client directory of client `k` inside the pods.
    #[must_use]
    pub fn client_dir(&self, k: usize) -> String {
        format!("{}/client-{k}", self.data_dir)
    }
}

/// Everything a repetition's manifests depend on.
#[derive(Clone, Debug)]
pub struct CellSpec<'a> {
    /// The run.
    pub run: &'a RunId,
    /// The cell.
    pub cell: &'a Cell,
    /// Repetition, 1-based.
    pub repetition: u32,
    /// The volume the clients mount.
    pub volume: Volume<'a>,
    /// The job.
    pub job: &'a Job,
    /// The nfslab-io image.
    pub image: &'a str,
    /// PV capacity / PVC request.
    pub volume_size: &'a str,
    /// How long clients wait for the barrier (`--barrier-timeout`), e.g. `10m`.
    pub barrier_timeout: &'a str,
}

/// The volume a repetition's clients mount.
#[derive(Clone, Copy, Debug)]
pub enum Volume<'a> {
    /// A PV nfslab makes for an NFS server, carrying the profile's options.
    Nfs {
        /// Server address for `spec.nfs.server`.
        server_address: &'a str,
        /// Export path for `spec.nfs.path`.
        export: &'a str,
        /// The profile's options, as written.
        mount_options: &'a [String],
    },
    /// A claim provisioned through a StorageClass: the profile's clone of the user's class
    /// (`super::storage_class`), which carries the options.
    Provisioned {
        /// The clone's name.
        storage_class: &'a str,
    },
}

/// The namespace object of a run.
#[must_use]
pub fn namespace(run: &RunId) -> Value {
    let mut ns = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace_name(run)}
    });
    stamp(&mut ns, run, Some(SCENARIO));
    ns
}

/// The objects of one repetition, in creation order: ConfigMap, PV (unless provisioned),
/// PVC, pods.
#[must_use]
pub fn cell_objects(spec: &CellSpec<'_>) -> Vec<Value> {
    let names = Names::new(spec.run, spec.cell, spec.repetition);
    let cell_labels = json!({
        CELL_LABEL: format!("c{:02}", spec.cell.index),
        REPETITION_LABEL: spec.repetition.to_string(),
    });
    let label = |mut v: Value| {
        stamp(&mut v, spec.run, Some(SCENARIO));
        if let (Some(labels), Some(extra)) = (
            v.pointer_mut("/metadata/labels")
                .and_then(Value::as_object_mut),
            cell_labels.as_object(),
        ) {
            for (k, val) in extra {
                labels.insert(k.clone(), val.clone());
            }
        }
        v
    };
    let job_text = serde_json::to_string_pretty(spec.job).unwrap_or_default();
    let mut out = vec![label(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": names.config_map, "namespace": names.namespace},
        "data": {"job.yaml": job_text}
    }))];

    out.extend(volume_objects(spec, &names).into_iter().map(label));
    let selector = json!({
        "matchLabels": {
            crate::k8s::ownership::RUN_ID_LABEL: spec.run.as_str(),
            CELL_LABEL: format!("c{:02}", spec.cell.index),
            REPETITION_LABEL: spec.repetition.to_string(),
        }
    });
    for (k, pod) in names.pods.iter().enumerate() {
        out.push(label(client_pod(spec, &names, k, pod, &selector)));
    }
    out
}

/// The repetition's volume: an NFS PV with the profile's options and its claim, or a
/// claim on the profile's StorageClass clone.
fn volume_objects(spec: &CellSpec<'_>, names: &Names) -> Vec<Value> {
    let mut out = Vec::new();
    match spec.volume {
        Volume::Nfs {
            server_address,
            export,
            mount_options,
        } => {
            let mut pv_spec = json!({
                "capacity": {"storage": spec.volume_size},
                "accessModes": ["ReadWriteMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": names.storage_class,
                "claimRef": {"namespace": names.namespace, "name": names.pvc},
                "nfs": {"server": server_address, "path": export}
            });
            if !mount_options.is_empty() {
                pv_spec["mountOptions"] = json!(mount_options);
            }
            out.push(json!({
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": names.pv},
                "spec": pv_spec
            }));
            out.push(json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": names.pvc, "namespace": names.namespace},
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": names.storage_class,
                    "volumeName": names.pv,
                    "resources": {"requests": {"storage": spec.volume_size}}
                }
            }));
        }
        Volume::Provisioned { storage_class } => {
            out.push(json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": names.pvc, "namespace": names.namespace},
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": storage_class,
                    "resources": {"requests": {"storage": spec.volume_size}}
                }
            }));
        }
    }
    out
}

/// Client pod `k`: it creates its directory and lays out its files (init containers),
/// then runs the job once released by the barrier file; a control container stays for
/// the runner's commands. Pods of a repetition prefer distinct nodes.
fn client_pod(spec: &CellSpec<'_>, names: &Names, k: usize, pod: &str, selector: &Value) -> Value {
    let job_file = format!("{JOB_MOUNT}/job.yaml");
    let dir = names.client_dir(k);
    let data = json!({"name": "data", "mountPath": DATA_MOUNT});
    let job = json!({"name": "job", "mountPath": JOB_MOUNT, "readOnly": true});
    let control = json!({"name": "control", "mountPath": CONTROL_MOUNT});
    let container = |name: &str, args: Vec<String>, mounts: Vec<&Value>| {
        json!({
            "name": name,
            "image": spec.image,
            "imagePullPolicy": "IfNotPresent",
            "args": args,
            "volumeMounts": mounts,
        })
    };
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
    let run_args = |extra: &[&str]| {
        let mut a = s(&["run", "--dir", &dir, "--job", &job_file]);
        a.extend(s(extra));
        a
    };
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod, "namespace": names.namespace},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 5,
            "topologySpreadConstraints": [{
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": selector,
            }],
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {
                    "topologyKey": "kubernetes.io/hostname",
                    "labelSelector": selector,
                }
            }]}},
            "initContainers": [
                container("prepare", s(&["mkdir", "--parents", &dir]), vec![&data]),
                container(LAYOUT_CONTAINER, run_args(&["--layout-only"]), vec![&data, &job]),
            ],
            "containers": [
                container(
                    CLIENT_CONTAINER,
                    run_args(&[
                        "--start-barrier", BARRIER_FILE,
                        "--barrier-timeout", spec.barrier_timeout,
                        "--output", RESULT_FILE,
                        "--compact",
                        "--reuse-layout",
                    ]),
                    vec![&data, &job, &control],
                ),
                container(CONTROL_CONTAINER, s(&["sleep"]), vec![&data, &control]),
            ],
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": names.pvc}},
                {"name": "job", "configMap": {"name": names.config_map}},
                {"name": "control", "emptyDir": {}},
            ],
        }
    })
}

/// The server address dry runs use for in-cluster servers, whose IP is only known once the
/// server is deployed (TEST-NET-1, reserved for documentation).
pub const PLACEHOLDER_ADDRESS: &str = "192.0.2.1";
/// The export path dry runs use for in-cluster servers.
pub const PLACEHOLDER_EXPORT: &str = "/exports";

/// Every manifest a run of the plan would apply, without a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedPlan {
    /// `(file name, multi-document YAML)`: the namespace first, then one file per step.
    pub files: Vec<(String, String)>,
    /// Steps (repetitions of cells).
    pub steps: usize,
    /// Client pods over the whole run.
    pub pods: u64,
    /// Measured time over the whole run (runtime plus ramp of every step), when every job
    /// is time-based.
    pub measured: Option<std::time::Duration>,
}

/// Renders every object of every step of a plan, in run order. `classes` are the
/// StorageClasses the plan's `storage_class` servers name (their clones are rendered); a
/// class missing there is named in a comment instead.
#[must_use]
pub fn render_plan(
    plan: &crate::model::plan::Plan,
    run: &RunId,
    classes: &[super::storage_class::SourceClass],
) -> RenderedPlan {
    use super::storage_class::{clone_class, clone_name};
    use crate::model::plan::ServerKind;
    let matrix = crate::model::matrix::Matrix::expand(plan);
    let mut files = vec![(
        "000-namespace.yaml".to_owned(),
        to_yaml_documents(&[namespace(run)]),
    )];
    let mut clones = Vec::new();
    let mut missing = String::new();
    for server in &plan.selected_servers {
        let Some(ServerKind::StorageClass { class }) = plan.server(server).map(|s| &s.kind) else {
            continue;
        };
        let Some(source) = classes.iter().find(|c| &c.name == class) else {
            missing.push_str(&format!(
                "# StorageClass `{class}`: not rendered, its definition was not given\n"
            ));
            continue;
        };
        for profile in &plan.selected_profiles {
            let options = plan
                .profile(profile)
                .map(|p| p.options.clone())
                .unwrap_or_default();
            let name = clone_name(run, server, profile);
            clones.push(clone_class(source, run, &name, &options));
        }
    }
    if !clones.is_empty() || !missing.is_empty() {
        files.push((
            "000-storage-classes.yaml".to_owned(),
            missing + &to_yaml_documents(&clones),
        ));
    }
    let barrier = nfslab_workload::format_duration(plan.cell_timeout);
    let mut measured = Some(std::time::Duration::ZERO);
    let schedule = matrix.schedule();
    for (i, step) in schedule.iter().enumerate() {
        let cell = &matrix.cells[step.cell];
        let options = plan
            .profile(&cell.profile)
            .map(|p| p.options.clone())
            .unwrap_or_default();
        let class = clone_name(run, &cell.server, &cell.profile);
        let volume = match plan.server(&cell.server).map(|s| &s.kind) {
            Some(ServerKind::External { host, export }) => Volume::Nfs {
                server_address: host,
                export,
                mount_options: &options,
            },
            Some(ServerKind::StorageClass { .. }) => Volume::Provisioned {
                storage_class: &class,
            },
            _ => Volume::Nfs {
                server_address: PLACEHOLDER_ADDRESS,
                export: PLACEHOLDER_EXPORT,
                mount_options: &options,
            },
        };
        let Some(workload) = plan.workload(&cell.workload) else {
            continue;
        };
        let resolved = workload.job.resolve().ok();
        measured = match (
            measured,
            resolved
                .as_ref()
                .and_then(|j| j.runtime.map(|r| r + j.ramp_time)),
        ) {
            (Some(total), Some(d)) => Some(total + d),
            _ => None,
        };
        let objects = cell_objects(&CellSpec {
            run,
            cell,
            repetition: step.repetition,
            volume,
            job: &workload.job,
            image: &plan.image,
            volume_size: &plan.volume_size,
            barrier_timeout: &barrier,
        });
        let names = Names::new(run, cell, step.repetition);
        let header = format!(
            "# {} repetition {} ({})\n",
            cell.id, step.repetition, names.tag
        );
        files.push((
            format!("{:03}-{}.yaml", i + 1, names.tag),
            header + &to_yaml_documents(&objects),
        ));
    }
    RenderedPlan {
        files,
        steps: schedule.len(),
        pods: matrix.pod_count(),
        measured,
    }
}

/// A manifest as a YAML document.
#[must_use]
pub fn to_yaml(manifest: &Value) -> String {
    serde_saphyr::to_string(manifest).unwrap_or_else(|_| manifest.to_string())
}

/// Several manifests as one multi-document YAML text.
#[must_use]
pub fn to_yaml_documents(manifests: &[Value]) -> String {
    let mut out = String::new();
    for m in manifests {
        out.push_str("---\n");
        out.push_str(&to_yaml(m));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nfslab_workload::Pattern;

    fn cell(clients: u32) -> Cell {
        Cell {
            index: 7,
            id: "in-cluster/seq-read-1m/doc-v3/k2".to_owned(),
            server: "in-cluster".to_owned(),
            workload: "seq-read-1m".to_owned(),
            profile: "doc-v3".to_owned(),
            clients,
            access: None,
        }
    }

    fn objects(options: &[String], clients: u32) -> Vec<Value> {
        let run = RunId::parse("20261123-150000-abcdef").unwrap();
        let c = cell(clients);
        let job = Job::new(Pattern::Read);
        cell_objects(&CellSpec {
            run: &run,
            cell: &c,
            repetition: 2,
            volume: Volume::Nfs {
                server_address: "10.96.0.20",
                export: "/exports",
                mount_options: options,
            },
            job: &job,
            image: "nfslab-io:0.1.0",
            volume_size: "10Gi",
            barrier_timeout: "10m",
        })
    }

    #[test]
    fn names_are_run_prefixed_and_unique_per_repetition() {
        let run = RunId::parse("20261123-150000-abcdef").unwrap();
        let n = Names::new(&run, &cell(2), 2);
        assert_eq!(n.namespace, "nfslab-bench-abcdef");
        assert_eq!(n.pv, "nfslab-abcdef-c07-r2");
        assert_eq!(n.storage_class, n.pv);
        assert_eq!(n.pvc, "bench-c07-r2");
        assert_eq!(n.pods, ["bench-c07-r2-client-0", "bench-c07-r2-client-1"]);
        assert_eq!(
            n.client_dir(1),
            "/data/nfslab-bench/20261123-150000-abcdef/c07-r2/client-1"
        );
        assert_ne!(Names::new(&run, &cell(2), 3).pv, n.pv);
    }

    #[test]
    fn pv_carries_the_profile_options_and_a_private_class() {
        let opts = vec!["vers=3".to_owned(), "nolock".to_owned()];
        let objs = objects(&opts, 2);
        let kinds: Vec<&str> = objs.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "ConfigMap",
                "PersistentVolume",
                "PersistentVolumeClaim",
                "Pod",
                "Pod"
            ]
        );
        let pv = &objs[1];
        assert_eq!(pv["spec"]["mountOptions"], json!(["vers=3", "nolock"]));
        assert_eq!(
            pv["spec"]["nfs"],
            json!({"server": "10.96.0.20", "path": "/exports"})
        );
        assert_eq!(pv["spec"]["storageClassName"], "nfslab-abcdef-c07-r2");
        assert_eq!(pv["spec"]["claimRef"]["name"], "bench-c07-r2");
        assert_eq!(
            pv["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "nfslab"
        );
        assert_eq!(pv["metadata"]["labels"]["nfslab.io/cell"], "c07");
        let pvc = &objs[2];
        assert_eq!(
            pvc["spec"]["storageClassName"],
            pv["spec"]["storageClassName"]
        );
        assert_eq!(pvc["spec"]["volumeName"], "nfslab-abcdef-c07-r2");
        // No mountOptions at all for the kubelet-default profile.
        assert!(objects(&[], 1)[1]["spec"].get("mountOptions").is_none());
    }

    #[test]
    fn pods_spread_lay_out_and_wait_on_the_barrier() {
        let objs = objects(&[], 2);
        let pod = &objs[4];
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Never");
        assert_eq!(
            spec["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]["nfslab.io/repetition"],
            "2"
        );
        assert!(spec["affinity"]["podAntiAffinity"].is_object());
        let init: Vec<&str> = spec["initContainers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(init, ["prepare", "layout"]);
        let dir = "/data/nfslab-bench/20261123-150000-abcdef/c07-r2/client-1";
        assert_eq!(
            spec["initContainers"][0]["args"],
            json!(["mkdir", "--parents", dir])
        );
        assert_eq!(
            spec["initContainers"][1]["args"],
            json!([
                "run",
                "--dir",
                dir,
                "--job",
                "/etc/nfslab/job.yaml",
                "--layout-only"
            ])
        );
        let client = &spec["containers"][0];
        assert_eq!(client["name"], "client");
        let args: Vec<&str> = client["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(
            args.windows(2)
                .any(|w| w == ["--start-barrier", "/run/nfslab/start"])
        );
        assert!(
            args.windows(2)
                .any(|w| w == ["--output", "/run/nfslab/result.json"])
        );
        assert_eq!(spec["containers"][1]["args"], json!(["sleep"]));
        let job = &objs[0]["data"]["job.yaml"];
        let parsed: Job = serde_json::from_str(job.as_str().unwrap()).unwrap();
        assert_eq!(parsed.pattern, Pattern::Read);
    }

    #[test]
    fn rendered_smoke_plan_step() {
        let plan = crate::model::plan::load_plan(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../workloads/plans/smoke.yaml"),
        )
        .unwrap();
        let mut plan = plan;
        plan.image = "nfslab-io:test".to_owned();
        let rendered = render_plan(&plan, &RunId::parse("20261123-150000-abcdef").unwrap(), &[]);
        assert_eq!(rendered.steps, 4);
        assert_eq!(rendered.pods, 4);
        assert_eq!(rendered.files.len(), 5);
        assert_eq!(rendered.measured, Some(std::time::Duration::from_secs(16)));
        // The second profile's step: mountOptions, placeholder address, one client.
        let (name, text) = &rendered.files[2];
        assert_eq!(name, "002-c01-r1.yaml");
        insta::assert_snapshot!("smoke_plan_step_2", text);
    }

    #[test]
    fn yaml_documents_round_trip() {
        let objs = objects(&["vers=4.1".to_owned()], 1);
        let text = to_yaml_documents(&objs);
        assert_eq!(text.matches("---\n").count(), objs.len());
        let back: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        assert_eq!(back, objs);
    }
}
