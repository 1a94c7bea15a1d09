//! Catalog scenarios, as shipped in `scenarios/`, run by the real engine against the scripted
//! fake cluster, with every helper reply produced by the real `nfslab-io` binary on local
//! directories standing in for the pods' volumes (`nfslab::k8s::stand_in`).
//!
//! The fake runs no controllers: each scenario's script below says when a claim is bound to
//! which PV, when a pod is Ready, which pod a Deployment creates, which pods answer an HTTP
//! host, and what the kernel lists in `mountinfo` for an NFS mount (the one thing no process
//! here can produce: this machine has no NFS client). Everything the helpers print
//! (listings, file contents, mount sections, HTTP bodies, exit codes) comes from the binary.
//!
//! `mkdir --owner` changes ownership as the NFS server's file-access container does, which
//! needs root: without it the scenarios using it are ignored with the reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed};
use nfslab::Config;
use nfslab::k8s::fake::{Call, FakeCluster};
use nfslab::k8s::ownership::RunId;
use nfslab::k8s::{Cluster as _, ObjectRef};
use nfslab::k8s::{StandIn, test_binary};
use nfslab::model::scenarios::{Outcome, ScenarioResult};
use nfslab::nfs::{FileAccess, NfsServer, ServerFlavor};
use nfslab::scenario::catalog::Catalog;
use nfslab::scenario::env::ScenarioEnv;
use nfslab::scenario::{Quiet, run_scenario};
use nfslab::scenario::{namespace_for, prefix_for};
use nfslab_test_support::gate;
use nfslab_workload::{RunResult, Status};
use serde_json::{Value, json};

const ADDRESS: &str = "10.96.0.20";
const RUN: &str = "20261206-120000-c0ffee";

/// The kernel's superblock options for an NFSv4.2 mount the kubelet made with no options.
const V42_DEFAULT: &str = "rw,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,hard,proto=tcp,\
                           timeo=600,retrans=2,sec=sys,clientaddr=172.18.0.3,local_lock=none,\
                           addr=10.96.0.20";

fn server_pod() -> ObjectRef {
    ObjectRef::pod("nfslab-nfs", "nfs-server-0")
}

fn server() -> NfsServer {
    NfsServer {
        flavor: ServerFlavor::Ganesha,
        address: ADDRESS.to_owned(),
        export: "/exports".to_owned(),
        files: Some(FileAccess {
            pod: server_pod(),
            container: "files".to_owned(),
            root: "/exports".to_owned(),
        }),
    }
}

/// One scenario's world: the fake, its stand-ins and the names the engine will use.
struct World {
    fake: FakeCluster,
    stand_in: StandIn,
    ns: String,
    prefix: String,
    _dir: tempfile::TempDir,
}

impl World {
    fn new(id: &str) -> Result<Self, Failed> {
        let binary = test_binary().map_err(Failed::from)?;
        let dir = tempfile::tempdir().map_err(|e| Failed::from(e.to_string()))?;
        let stand_in = StandIn::new(&binary, dir.path());
        stand_in.server_files(&server_pod(), "/exports", "/exports");
        let fake = FakeCluster::new();
        fake.run_helpers(stand_in.clone());
        let run = RunId::parse(RUN).ok_or("run id")?;
        Ok(Self {
            fake,
            stand_in,
            ns: namespace_for(&run, id),
            prefix: prefix_for(&run, id),
            _dir: dir,
        })
    }

    fn pvc(&self, name: &str) -> ObjectRef {
        ObjectRef::pvc(&self.ns, name)
    }

    fn pod(&self, name: &str) -> ObjectRef {
        ObjectRef::pod(&self.ns, name)
    }

    /// A second after `claim` is applied, it is Bound to PV `<prefix>-<pv>`.
    fn binds(&self, claim: &str, pv: &str) {
        let pvc = self.pvc(claim);
        self.fake
            .on_apply(&pvc)
            .after(Duration::from_secs(1))
            .merge(
                &pvc,
                json!({"spec": {"volumeName": format!("{}-{pv}", self.prefix)},
                       "status": {"phase": "Bound"}}),
            );
    }

    /// `delay` after `pod` is applied it runs on `node`, Ready.
    fn ready(&self, pod: &str, delay: Duration) {
        let r = self.pod(pod);
        self.fake
            .on_apply(&r)
            .after(delay)
            .merge(&r, running("node-1"));
    }

    /// The NFS source of this scenario's directory on the server.
    fn source(&self, sub: &str) -> String {
        format!("{ADDRESS}:/exports/{}{sub}", self.ns)
    }

    fn pv(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// Runs the catalog's scenario `id` with the real engine.
    fn run(&self, id: &str) -> Result<ScenarioResult, Failed> {
        let catalog = Catalog::load(&catalog_dir()).map_err(|e| Failed::from(e.to_string()))?;
        let entry = catalog
            .get(id)
            .ok_or_else(|| format!("no scenario `{id}`"))?;
        let scenario = entry
            .scenario
            .as_ref()
            .map_err(|e| Failed::from(format!("{e:?}")))?
            .clone();
        let mut config = Config::default();
        config.timeouts.cleanup = Duration::from_secs(60);
        let run = RunId::parse(RUN).ok_or("run id")?;
        let env = Arc::new(ScenarioEnv::new(
            Arc::new(self.fake.clone()),
            server(),
            config,
            run,
        ));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .map_err(|e| Failed::from(e.to_string()))?;
        Ok(runtime.block_on(run_scenario(env, Arc::new(scenario), Arc::new(Quiet), None)))
    }
}

fn running(node: &str) -> Value {
    json!({"spec": {"nodeName": node},
           "status": {"phase": "Running",
                      "conditions": [{"type": "Ready", "status": "True"}]}})
}

fn catalog_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Passes when the scenario passed; otherwise says which step failed and why.
fn passed(result: &ScenarioResult) -> Result<(), Failed> {
    if result.outcome == Outcome::Passed {
        return Ok(());
    }
    let steps: Vec<String> = result
        .steps
        .iter()
        .map(|s| {
            format!(
                "  {:?} {} ({}): {}",
                s.outcome,
                s.label,
                s.location,
                s.message.clone().unwrap_or_default()
            )
        })
        .collect();
    Err(format!(
        "{} {:?}: {}\n{}",
        result.id,
        result.outcome,
        result.reason.clone().unwrap_or_default(),
        steps.join("\n")
    )
    .into())
}

/// S4: nginx (the `serve` helper) on an NFS claim; content written on the server is served,
/// an append from the pod reaches the server, a replacement pod serves both lines.
fn nginx_serves_nfs_content() -> Result<(), Failed> {
    let id = "nginx-serves-nfs-content";
    let w = World::new(id)?;
    w.binds("pvc1", "pv1");
    // What the Deployment controller creates, and its replacement after a delete.
    let pod = |name: &str, uid: &str| {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": w.ns, "uid": uid, "labels": {"app": "nginx"}},
            "spec": {
                "nodeName": "node-2",
                "containers": [{
                    "name": "nginx", "image": "nfslab-io:0.1.0",
                    "args": ["serve", "--dir", "/usr/share/nginx/html", "--port", "80"],
                    "volumeMounts": [{"name": "html", "mountPath": "/usr/share/nginx/html"}]
                }],
                "volumes": [{"name": "html", "persistentVolumeClaim": {"claimName": "pvc1"}}]
            },
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        })
    };
    let first = w.pod("nginx-7d9c5-abcde");
    let second = w.pod("nginx-7d9c5-fghij");
    let deployment = ObjectRef::namespaced("apps/v1", "Deployment", &w.ns, "nginx");
    w.fake
        .on_apply(&deployment)
        .after(Duration::from_secs(2))
        .set(&first, pod(&first.name, "uid-first"))
        .merge(
            &deployment,
            json!({"metadata": {"generation": 1},
                   "status": {"observedGeneration": 1, "availableReplicas": 1}}),
        );
    w.fake
        .on_delete(&first)
        .after(Duration::from_secs(3))
        .set(&second, pod(&second.name, "uid-second"));
    w.ready("client", Duration::from_secs(1));
    w.stand_in
        .route(&format!("nginx.{}.svc", w.ns), &w.ns, "app=nginx");
    w.stand_in.kernel_mount(&w.pv("pv1"), "nfs4", V42_DEFAULT);
    let result = w.run(id)?;
    passed(&result)?;
    let mount = result.mounts.first().ok_or("a mount record")?;
    if mount.fstype != "nfs4" || !mount.super_options.iter().any(|o| o == "vers=4.2") {
        return Err(format!("recorded mount: {mount:?}").into());
    }
    if mount.source != w.source("/pv1") {
        return Err(format!("recorded source: {}", mount.source).into());
    }
    Ok(())
}

/// T4: the StatefulSet controller's pods and claims appear when the script says; the
/// scale down of `drop` removes `drop-1`, then its claim (the garbage collector), then the
/// recycler empties the directory and the PV is Available; `keep` loses only its pod.
fn statefulset_claim_retention() -> Result<(), Failed> {
    let id = "statefulset-claim-retention";
    let w = World::new(id)?;
    let set = |name: &str| ObjectRef::namespaced("apps/v1", "StatefulSet", &w.ns, name);
    let ready = |replicas: u32| {
        json!({"metadata": {"generation": 1},
               "status": {"observedGeneration": 1, "replicas": replicas,
                          "readyReplicas": replicas}})
    };
    // Ordinal `n` of `name`: its claim, Bound to the PV reserved for it, and its pod, made
    // from the set's template with the claim volume the controller adds.
    let ordinal = |name: &str, n: u32, rule: nfslab::k8s::fake::RuleBuilder| {
        let (pod, claim) = (format!("{name}-{n}"), format!("www-{name}-{n}"));
        rule.set(
            &w.pvc(&claim),
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": claim, "labels": {"app": name}},
                   "spec": {"volumeName": w.pv(&format!("{name}-{n}"))},
                   "status": {"phase": "Bound"}}),
        )
        .pod_from(
            &set(name),
            &w.pod(&pod),
            json!({"metadata": {"labels": {"app": name}},
                   "spec": {"nodeName": "node-1",
                            "volumes": [{"name": "www",
                                         "persistentVolumeClaim": {"claimName": claim}}]},
                   "status": {"phase": "Running",
                              "conditions": [{"type": "Ready", "status": "True"}]}}),
        )
    };
    for name in ["drop", "keep"] {
        let r = set(name);
        let up = w.fake.on_apply(&r).after(Duration::from_secs(2));
        ordinal(name, 1, ordinal(name, 0, up)).merge(&r, ready(2));
        w.fake
            .on_patch_with(&r, json!({"spec": {"replicas": 1}}))
            .after(Duration::from_secs(2))
            .remove(&w.pod(&format!("{name}-1")))
            .merge(&r, ready(1));
        let up = w
            .fake
            .on_patch_with(&r, json!({"spec": {"replicas": 2}}))
            .after(Duration::from_secs(2));
        ordinal(name, 1, up).merge(&r, ready(2));
    }
    // whenScaled: Delete: the claim goes after its pod, then the PV is recycled.
    let claim = w.pvc("www-drop-1");
    let pv = ObjectRef::pv(&w.pv("drop-1"));
    let dir = w.stand_in.nfs_dir(&format!("/exports/{}/drop-1", w.ns));
    w.fake
        .on_patch_with(&set("drop"), json!({"spec": {"replicas": 1}}))
        .after(Duration::from_secs(4))
        .remove(&claim);
    w.fake
        .on_patch_with(&set("drop"), json!({"spec": {"replicas": 1}}))
        .after(Duration::from_secs(20))
        .outside(move || empty_dir(&dir))
        .merge(
            &pv,
            json!({"spec": {"claimRef": {"uid": null}}, "status": {"phase": "Available"}}),
        );
    let result = w.run(id)?;
    passed(&result)
}

/// What the recycler does to a volume: everything in `dir` is removed, dotfiles included.
fn empty_dir(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// X1: doc 000's NFSv3 options on a PV; a pod writes `node2.txt`, the server holds it, and
/// the requested and effective options are recorded.
fn nfs_export_roundtrip() -> Result<(), Failed> {
    let id = "nfs-export-roundtrip";
    let w = World::new(id)?;
    w.binds("export", "export");
    w.ready("node2", Duration::from_secs(2));
    // The document's kernel: 1 MiB asked, 256 KiB negotiated.
    w.stand_in.kernel_mount(
        &w.pv("export"),
        "nfs",
        "rw,vers=3,rsize=262144,wsize=262144,namlen=255,hard,nolock,noresvport,proto=tcp,\
         timeo=600,retrans=2,sec=sys,mountaddr=10.96.0.20,mountvers=3,mountport=20048,\
         mountproto=tcp,local_lock=all,addr=10.96.0.20",
    );
    let result = w.run(id)?;
    passed(&result)?;
    let mount = result.mounts.first().ok_or("a mount record")?;
    let requested = mount.requested.clone().unwrap_or_default();
    if !requested.iter().any(|o| o == "rsize=1048576")
        || !mount.super_options.iter().any(|o| o == "rsize=262144")
    {
        return Err(format!("requested vs effective not both recorded: {mount:?}").into());
    }
    Ok(())
}

/// X5: three profiles' options are in effect in their pods; a PV with an unknown option
/// leaves its pod Pending with the kubelet's FailedMount event.
fn mount_options_applied() -> Result<(), Failed> {
    let id = "mount-options-applied";
    let w = World::new(id)?;
    for (profile, fstype, options) in [
        (
            "doc-v3",
            "nfs",
            "rw,vers=3,rsize=1048576,wsize=1048576,namlen=255,hard,nolock,noresvport,proto=tcp,\
             timeo=600,retrans=2,sec=sys,mountaddr=10.96.0.20,mountvers=3,mountport=20048,\
             mountproto=tcp,local_lock=all,addr=10.96.0.20",
        ),
        (
            "v41-hard",
            "nfs4",
            "rw,vers=4.1,rsize=1048576,wsize=1048576,namlen=255,hard,noresvport,proto=tcp,\
             timeo=600,retrans=2,sec=sys,clientaddr=172.18.0.3,local_lock=none,addr=10.96.0.20",
        ),
        (
            "v42-soft",
            "nfs4",
            "rw,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,soft,proto=tcp,timeo=100,\
             retrans=3,sec=sys,clientaddr=172.18.0.3,local_lock=none,addr=10.96.0.20",
        ),
    ] {
        w.binds(profile, profile);
        w.ready(profile, Duration::from_secs(3));
        w.stand_in.kernel_mount(&w.pv(profile), fstype, options);
    }
    w.binds("bad-option", "bad-option");
    let bad = w.pod("bad-option");
    w.fake
        .on_apply(&bad)
        .after(Duration::from_secs(4))
        .merge(
            &bad,
            json!({"spec": {"nodeName": "node-1"}, "status": {"phase": "Pending"}}),
        )
        .event(nfslab::k8s::EventRecord {
            type_: "Warning".to_owned(),
            reason: "FailedMount".to_owned(),
            message: "MountVolume.SetUp failed for volume \"bad\" : mount failed: exit status 32 \
                      ... mount.nfs: an incorrect mount option was specified"
                .to_owned(),
            involved: bad.clone(),
            count: 3,
            source: "kubelet".to_owned(),
            last_seen: None,
        });
    let result = w.run(id)?;
    passed(&result)?;
    if result.mounts.len() != 3 {
        return Err(format!("{} mounts recorded", result.mounts.len()).into());
    }
    Ok(())
}

/// R4: the PV controller, finding no plugin that can delete an NFS volume, marks the static
/// PV Failed with its warning; the file the pod wrote stays on the server.
fn delete_on_static_pv() -> Result<(), Failed> {
    let id = "delete-on-static-pv";
    let w = World::new(id)?;
    w.binds("pvc1", "pv1");
    w.ready("writer", Duration::from_secs(2));
    let pv = ObjectRef::pv(&w.pv("pv1"));
    // What pv_controller.go does once the claim is gone: the phase, the claimRef it keeps,
    // and the event of deleteVolumeOperation (its message from findDeletablePlugin).
    w.fake
        .on_delete(&w.pvc("pvc1"))
        .after(Duration::from_secs(3))
        .merge(
            &pv,
            json!({"spec": {"claimRef": {"namespace": w.ns, "name": "pvc1"}},
                   "status": {"phase": "Failed"}}),
        )
        .event(nfslab::k8s::EventRecord {
            type_: "Warning".to_owned(),
            reason: "VolumeFailedDelete".to_owned(),
            message: format!(
                "error getting deleter volume plugin for volume \"{}\": \
                 no deletable volume plugin matched",
                pv.name
            ),
            involved: pv.clone(),
            count: 1,
            source: "persistentvolume-controller".to_owned(),
            last_seen: None,
        });
    let result = w.run(id)?;
    passed(&result)
}

/// X6: two pods on one ReadWriteOnce claim run on two nodes and read each other's files;
/// a second pod on a ReadWriteOncePod claim stays Pending with the scheduler's event until
/// the first one is deleted.
fn access_modes_not_locks() -> Result<(), Failed> {
    let id = "access-modes-not-locks";
    let w = World::new(id)?;
    w.binds("rwo", "rwo");
    w.binds("rwop", "rwop");
    for (pod, node) in [
        ("rwo-a", "node-1"),
        ("rwo-b", "node-2"),
        ("rwop-first", "node-2"),
    ] {
        let r = w.pod(pod);
        w.fake
            .on_apply(&r)
            .after(Duration::from_secs(2))
            .merge(&r, running(node));
    }
    // The scheduler's verdict on the second pod (volume_restrictions.go), and what it does
    // once the first pod is gone.
    let second = w.pod("rwop-second");
    // The API server creates every pod `Pending`.
    w.fake.on_apply(&second).set(
        &second,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": second.name},
               "status": {"phase": "Pending"}}),
    );
    w.fake
        .on_apply(&second)
        .after(Duration::from_secs(1))
        .merge(
            &second,
            json!({"status": {"phase": "Pending",
                              "conditions": [{"type": "PodScheduled", "status": "False",
                                              "reason": "Unschedulable"}]}}),
        )
        .event(nfslab::k8s::EventRecord {
            type_: "Warning".to_owned(),
            reason: "FailedScheduling".to_owned(),
            message: "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) \
                      unavailable due to PersistentVolumeClaim with ReadWriteOncePod access \
                      mode already in-use by another pod. preemption: 0/3 nodes are \
                      available: 1 Preemption is not helpful for scheduling, 2 No preemption \
                      victims found for incoming pod."
                .to_owned(),
            involved: second.clone(),
            count: 1,
            source: "default-scheduler".to_owned(),
            last_seen: None,
        });
    w.fake
        .on_delete(&w.pod("rwop-first"))
        .after(Duration::from_secs(3))
        .merge(&second, running("node-1"));
    let result = w.run(id)?;
    passed(&result)?;
    // The second pod was scheduled only after the first was deleted.
    let calls = w.fake.calls();
    let deleted = calls
        .iter()
        .position(|c| *c == Call::Delete(w.pod("rwop-first")))
        .ok_or("rwop-first was never deleted")?;
    let read = calls
        .iter()
        .position(|c| matches!(c, Call::Exec(p, _, _) if *p == second))
        .ok_or("rwop-second never read the file")?;
    if read < deleted {
        return Err("rwop-second was used before rwop-first was deleted".into());
    }
    Ok(())
}

/// X7: the reader's volume is mounted read-only for real on its stand-in, so the binary's
/// write fails with the kernel's own EROFS; the editor, on the same claim, writes.
fn read_only_claim() -> Result<(), Failed> {
    let id = "read-only-claim";
    let w = World::new(id)?;
    w.binds("content", "ro");
    for (pod, node) in [("reader", "node-1"), ("editor", "node-2")] {
        let r = w.pod(pod);
        w.fake
            .on_apply(&r)
            .after(Duration::from_secs(2))
            .merge(&r, running(node));
    }
    // The kubelet mounted the export with `ro` on the reader's node.
    w.stand_in.kernel_mount(
        &w.pv("ro"),
        "nfs4",
        "ro,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,hard,proto=tcp,timeo=600,\
         retrans=2,sec=sys,clientaddr=172.18.0.3,local_lock=none,addr=10.96.0.20",
    );
    // Its write and append steps pass only when the real nfslab-io, on a read-only bind
    // of the stand-in, fails with "Read-only file system".
    passed(&w.run(id)?)
}

/// X8: the stand-in mounts each pod's subPath of the claim, creating a missing one as the
/// kubelet does (as root), so listings, files and owners are what the binary sees.
fn subpath_on_nfs() -> Result<(), Failed> {
    let id = "subpath-on-nfs";
    let w = World::new(id)?;
    w.binds("shared", "shared");
    for (pod, node) in [
        ("alpha", "node-1"),
        ("beta", "node-2"),
        ("fresh", "node-1"),
        ("whole", "node-2"),
    ] {
        let r = w.pod(pod);
        w.fake
            .on_apply(&r)
            .after(Duration::from_secs(2))
            .merge(&r, running(node));
    }
    let result = w.run(id)?;
    passed(&result)
}

/// F1: each writer waits for a go file on its own emptyDir, says there that it is writing
/// and stops when told, all as the real binary does with the Job's own arguments; the
/// server restarts only once both said so; each Job ends as its real writer exits.
fn server_restart_hard_vs_soft() -> Result<(), Failed> {
    let id = "server-restart-hard-vs-soft";
    let w = World::new(id)?;
    w.binds("hard", "hard");
    w.binds("soft", "soft");
    let mut writers = Vec::new();
    for mount in ["hard", "soft"] {
        let name = format!("writer-{mount}");
        let job = ObjectRef::namespaced("batch/v1", "Job", &w.ns, &name);
        let pod = w.pod(&format!("{name}-5k2xq"));
        // The Job controller's pod, from the Job as the engine applied it.
        w.fake
            .on_apply(&job)
            .after(Duration::from_secs(2))
            .pod_from(
                &job,
                &pod,
                json!({"metadata": {"labels": {"job-name": name}}, "spec": {"nodeName": "node-1"},
                   "status": {"phase": "Running",
                              "conditions": [{"type": "Ready", "status": "True"}]}}),
            );
        // A real writer sits at its barrier from the start; here its process starts as the
        // go file is delivered, which nothing can tell apart.
        w.fake
            .on_exec(&pod, &["/nfslab-io", "file", "write", "/sync/go"])
            .times(1)
            .run(&pod, "writer");
        w.fake
            .on_exit(&pod, "writer", true)
            .merge(&pod, json!({"status": {"phase": "Succeeded"}}))
            .merge(
                &job,
                json!({"status": {"succeeded": 1,
                                  "conditions": [{"type": "Complete", "status": "True"}]}}),
            );
        w.fake
            .on_exit(&pod, "writer", false)
            .merge(&pod, json!({"status": {"phase": "Failed"}}))
            .merge(
                &job,
                json!({"status": {"failed": 1,
                                  "conditions": [{"type": "Failed", "status": "True"}]}}),
            );
        writers.push(pod);
    }
    // The server's StatefulSet replaces its pod at once, Ready.
    let server = server_pod();
    let server_state = |uid: &str| {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": server.name, "namespace": server.namespace, "uid": uid},
               "status": {"phase": "Running",
                          "conditions": [{"type": "Ready", "status": "True"}]}})
    };
    w.fake.set(&server, server_state("first"));
    w.fake
        .on_delete(&server)
        .instead()
        .set(&server, server_state("second"));
    let result = w.run(id)?;
    passed(&result)?;
    // The restart came after both writers said they were writing.
    let calls = w.fake.calls();
    let position = |wanted: &dyn Fn(&Call) -> bool| calls.iter().position(wanted);
    let restart = position(&|c| *c == Call::Delete(server.clone())).ok_or("no restart")?;
    for pod in &writers {
        let progress = position(&|c| {
            matches!(c, Call::Exec(p, _, cmd)
                if p == pod && cmd.get(1).map(String::as_str) == Some("wait-file"))
        })
        .ok_or_else(|| format!("no progress wait in {pod}"))?;
        if progress > restart {
            return Err(format!("{pod} reported after the restart").into());
        }
    }
    // The hard writer's log is its real result: every block it wrote verified.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Failed::from(e.to_string()))?;
    let log = runtime
        .block_on(w.fake.logs(&writers[0], Some("writer"), None, false))
        .map_err(|e| Failed::from(e.to_string()))?;
    let run: RunResult = serde_json::Deserializer::from_str(&log)
        .into_iter()
        .next()
        .ok_or("an empty log")?
        .map_err(|e| Failed::from(format!("not a run result: {e}\n{log}")))?;
    if run.status != Status::Ok || run.verify.as_ref().is_none_or(|v| v.blocks_checked == 0) {
        return Err(format!("the hard writer's result: {log}").into());
    }
    // It wrote until told to stop, after the restart.
    if !run
        .notes
        .iter()
        .any(|n| n.starts_with("the measured phase ended early: `/sync/stop`"))
    {
        return Err(format!(
            "the writer was not stopped by the scenario: {:?}",
            run.notes
        )
        .into());
    }
    let stopped = position(&|c| {
        matches!(c, Call::Exec(p, _, cmd)
            if *p == writers[0] && cmd.get(3).map(String::as_str) == Some("/sync/stop"))
    })
    .ok_or("no stop")?;
    if stopped < restart {
        return Err("the writers were stopped before the restart".into());
    }
    Ok(())
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn main() {
    let args = Arguments::from_args();
    // Trials that need root say why when they are ignored.
    let trial = |name: &'static str, f: fn() -> Result<(), Failed>, root: Option<&'static str>| {
        let missing = root.filter(|_| !is_root()).map(str::to_owned);
        gate::trial("root", name, missing, f)
    };
    let owner = Some("`mkdir --owner` on the stand-in server needs root");
    let read_only = Some("a read-only bind mount for the stand-in needs root");
    let trials = vec![
        trial(
            "s4_nginx_serves_nfs_content",
            nginx_serves_nfs_content,
            owner,
        ),
        trial("r4_delete_on_static_pv", delete_on_static_pv, None),
        trial(
            "t4_statefulset_claim_retention",
            statefulset_claim_retention,
            None,
        ),
        trial("x1_nfs_export_roundtrip", nfs_export_roundtrip, None),
        trial("x5_mount_options_applied", mount_options_applied, None),
        trial("x6_access_modes_not_locks", access_modes_not_locks, None),
        trial("x7_read_only_claim", read_only_claim, read_only),
        trial("x8_subpath_on_nfs", subpath_on_nfs, owner),
        trial(
            "f1_server_restart_hard_vs_soft",
            server_restart_hard_vs_soft,
            None,
        ),
    ];
    libtest_mimic::run(&args, trials).exit();
}
