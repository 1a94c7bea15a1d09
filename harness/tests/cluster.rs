//! End to end on a real cluster: `nfslab cluster up` and `nfslab nfs up`, then pods mounting
//! the server's export over NFSv3 and NFSv4.1 each write a file that the server side reads
//! back, then everything is removed again (`nfslab nfs down`, `nfslab cluster down`).
//!
//! On that cluster it also checks what a first real run depends on: the preflight of
//! `--existing` passes (rights, pulls of nfslab's own images, which on kind only succeed
//! because they were side-loaded, admission of every pod kind nfslab makes); a pod with an
//! image that cannot exist fails its wait with the pull reason at once; and the debug bundle
//! of a failure holds the server pod's description and log (and kind's node logs).
//!
//! Runs only when asked, since it needs Docker + kind (or a cluster) and takes minutes. The
//! variables are those of every cluster-gated test binary
//! ([`ClusterChoice::from_env`](nfslab::ClusterChoice::from_env)):
//! - `NFSLAB_E2E_CLUSTER=kind`: nfslab creates a kind cluster `nfslab-e2e` and deletes it
//!   (`NFSLAB_E2E_REUSE=1` keeps it for inspection; delete it before the next run).
//! - `NFSLAB_E2E_CLUSTER=existing`: uses `NFSLAB_E2E_KUBECONFIG` (else `KUBECONFIG` or
//!   `~/.kube/config`) and `NFSLAB_E2E_CONTEXT` (else its current context); the cluster is
//!   left as it was. Its nodes must reach the images (`nfslab images ...`).
//!
//! Optional: `NFSLAB_E2E_FLAVOR=kernel|ganesha` (default: the configuration's),
//! `NFSLAB_CONFIG=FILE`. Unset, the test is reported ignored with the reason; with
//! `NFSLAB_REQUIRE` naming `cluster` it fails instead. A value the variables do not accept
//! fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};
use nfslab::ClusterChoice;
use nfslab::Config;
use nfslab::cluster::StateStore;
use nfslab::k8s::KubeCluster;
use nfslab::k8s::conditions;
use nfslab::k8s::ownership::{RunId, stamp};
use nfslab::k8s::{Cluster, ObjectRef, Propagation, wait};
use nfslab::nfs::ServerFiles;
use nfslab::nfs::{NfsServer, server};
use nfslab_test_support::gate;
use serde_json::{Value, json};

const CLUSTER_NAME: &str = "nfslab-e2e";
const TEST_NAME: &str = "cluster_up_nfs_up_v3_and_v41_roundtrip";

/// Runs the nfslab binary like a user would; returns its stdout or a message with all output.
fn nfslab(state: &Path, args: &[&str]) -> Result<String, Failed> {
    let output = Command::new(env!("CARGO_BIN_EXE_nfslab"))
        .args(args)
        .env("NFSLAB_STATE_DIR", state)
        .output()
        .map_err(|e| Failed::from(format!("could not run nfslab: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    eprint!("{stderr}");
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "`nfslab {}` failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
            args.join(" "),
            output.status
        )
        .into())
    }
}

fn fail(step: &str) -> impl FnOnce(String) -> Failed + '_ {
    move |detail| Failed::from(format!("{step}: {detail}"))
}

/// One NFS version's check: a PV with that version's mount options, a claim bound to it, a
/// pod mounting it; the pod writes a file, the server side reads it back, and the pod's
/// mount table shows the version.
struct VersionCheck {
    label: &'static str,
    mount_options: &'static [&'static str],
    expect_in_mountinfo: &'static str,
}

const CHECKS: [VersionCheck; 2] = [
    VersionCheck {
        label: "v3",
        mount_options: &["nfsvers=3"],
        expect_in_mountinfo: "vers=3",
    },
    VersionCheck {
        label: "v41",
        mount_options: &["nfsvers=4.1"],
        expect_in_mountinfo: "vers=4.1",
    },
];

fn manifests(
    check: &VersionCheck,
    run: &RunId,
    namespace: &str,
    server: &NfsServer,
    image: &str,
) -> Vec<Value> {
    let pv_name = format!("{}-{}", run.prefix(), check.label);
    let dir = format!("{}/e2e-{}", server.export, check.label);
    let mut docs = vec![
        json!({"apiVersion": "v1", "kind": "PersistentVolume",
               "metadata": {"name": pv_name},
               "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"],
                        "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                        "mountOptions": check.mount_options,
                        "nfs": {"server": server.address, "path": dir}}}),
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": format!("claim-{}", check.label), "namespace": namespace},
               "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "",
                        "volumeName": pv_name,
                        "resources": {"requests": {"storage": "1Gi"}}}}),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": format!("client-{}", check.label), "namespace": namespace},
               "spec": {"terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "client", "image": image,
                                        "imagePullPolicy": "IfNotPresent", "args": ["sleep"],
                                        "volumeMounts": [{"name": "data", "mountPath": "/mnt"}]}],
                        "volumes": [{"name": "data", "persistentVolumeClaim":
                                     {"claimName": format!("claim-{}", check.label)}}]}}),
    ];
    for doc in &mut docs {
        stamp(doc, run, Some("e2e-cluster"));
    }
    docs
}

async fn describe(cluster: &KubeCluster, pod: &ObjectRef) -> String {
    let mut lines = Vec::new();
    if let Ok(Some(state)) = cluster.get(pod).await {
        lines.push(format!(
            "status: {}",
            state.get("status").cloned().unwrap_or_default()
        ));
    }
    if let Ok(events) = cluster.events_for(pod).await {
        for e in events {
            lines.push(format!("event {} {}: {}", e.type_, e.reason, e.message));
        }
    }
    lines.join("\n")
}

async fn check_version(
    cluster: &KubeCluster,
    config: &Config,
    server: &NfsServer,
    run: &RunId,
    namespace: &str,
    check: &VersionCheck,
) -> Result<(), Failed> {
    let files = ServerFiles::new(cluster, server, config.timeouts.exec)
        .map_err(|e| fail("server-side access")(e.to_string()))?;
    let dir = format!("e2e-{}", check.label);
    files
        .mkdir(&dir, 0o777, None)
        .await
        .map_err(|e| fail("create the volume directory on the server")(e.to_string()))?;
    for doc in manifests(check, run, namespace, server, &config.images.nfslab_io()) {
        cluster
            .apply(&doc)
            .await
            .map_err(|e| fail("apply")(e.to_string()))?;
    }
    let pod = ObjectRef::pod(namespace, &format!("client-{}", check.label));
    if let Err(e) = wait::until_within(
        cluster,
        &pod,
        &conditions::pod_ready(),
        config.timeouts.pod_ready,
    )
    .await
    {
        return Err(format!(
            "{} client pod not ready: {e}\n{}",
            check.label,
            describe(cluster, &pod).await
        )
        .into());
    }
    let content = format!("written by the {} client of run {run}", check.label);
    let pod_ref = &pod;
    let exec = |args: &[&str]| {
        let command: Vec<String> = std::iter::once("/nfslab-io")
            .chain(args.iter().copied())
            .map(str::to_owned)
            .collect();
        async move { cluster.exec(pod_ref, Some("client"), &command, None).await }
    };
    let wrote = exec(&["file", "write", "/mnt/hello.txt", "--content", &content])
        .await
        .map_err(|e| fail("exec in the client pod")(e.to_string()))?;
    if !wrote.success() {
        return Err(format!("{}: writing through NFS failed: {wrote:?}", check.label).into());
    }
    let mountinfo = exec(&["mountinfo", "/mnt"])
        .await
        .map_err(|e| fail("exec in the client pod")(e.to_string()))?;
    if !mountinfo.stdout.contains(check.expect_in_mountinfo) {
        return Err(format!(
            "{}: the pod's mount does not show `{}`: {}",
            check.label, check.expect_in_mountinfo, mountinfo.stdout
        )
        .into());
    }
    let read = files
        .read(&format!("{dir}/hello.txt"))
        .await
        .map_err(|e| fail("read back on the server")(e.to_string()))?;
    if read.trim_end() != content {
        return Err(format!(
            "{}: the server side reads `{}`, the client wrote `{content}`",
            check.label,
            read.trim_end()
        )
        .into());
    }
    eprintln!(
        "e2e: {} ok: client wrote, server read back, mount shows {}",
        check.label, check.expect_in_mountinfo
    );
    Ok(())
}

async fn remove_run(cluster: &KubeCluster, config: &Config, run: &RunId, namespace: &str) {
    let _ = cluster
        .delete(
            &ObjectRef::cluster("v1", "Namespace", namespace),
            Propagation::Background,
        )
        .await;
    let ns = ObjectRef::cluster("v1", "Namespace", namespace);
    let _ = wait::until_within(cluster, &ns, &conditions::is_gone(), config.timeouts.delete).await;
    for check in &CHECKS {
        let _ = cluster
            .delete(
                &ObjectRef::pv(&format!("{}-{}", run.prefix(), check.label)),
                Propagation::Background,
            )
            .await;
    }
}

fn end_to_end(choice: &ClusterChoice) -> Result<(), Failed> {
    let config_file = std::env::var_os("NFSLAB_CONFIG").map(PathBuf::from);
    let config =
        Config::load(config_file.as_deref()).map_err(|e| fail("configuration")(e.to_string()))?;
    let state_dir = tempfile::tempdir().map_err(|e| fail("temporary directory")(e.to_string()))?;
    let state = state_dir.path().to_owned();
    let flavor = std::env::var("NFSLAB_E2E_FLAVOR").ok();
    let mut up_args = vec!["cluster", "up", "--name", CLUSTER_NAME];
    let keep = match choice {
        ClusterChoice::Kind { keep, .. } => *keep,
        ClusterChoice::Existing {
            kubeconfig,
            context,
            ..
        } => {
            if let Some(k) = kubeconfig {
                let k = k.to_str().ok_or_else(|| {
                    fail("kubeconfig")(format!("`{}` is not valid UTF-8", k.display()))
                })?;
                up_args.extend(["--kubeconfig", k]);
            }
            if let Some(c) = context {
                up_args.extend(["--context", c]);
            }
            false
        }
    };
    if let Some(f) = &flavor {
        up_args.extend(["--nfs-flavor", f]);
    }
    nfslab(&state, &up_args)?;
    let kind = matches!(choice, ClusterChoice::Kind { .. });
    let outcome = with_cluster(&state, &config, flavor.as_deref(), kind);
    let teardown = if keep {
        eprintln!(
            "e2e: keeping kind cluster `{CLUSTER_NAME}`; kubeconfig {}/clusters/{CLUSTER_NAME}/kubeconfig \
             (remove it with: kind delete cluster --name {CLUSTER_NAME})",
            state.display()
        );
        std::mem::forget(state_dir);
        Ok(String::new())
    } else {
        // Existing clusters get their NFS server removed; kind clusters go entirely.
        let nfs_down = nfslab(&state, &["nfs", "down", "--name", CLUSTER_NAME]);
        let cluster_down = nfslab(&state, &["cluster", "down", "--name", CLUSTER_NAME]);
        nfs_down.and(cluster_down)
    };
    outcome?;
    teardown.map(drop)
}

fn with_cluster(
    state: &Path,
    config: &Config,
    flavor: Option<&str>,
    kind: bool,
) -> Result<(), Failed> {
    let mut nfs_up = vec!["nfs", "up", "--name", CLUSTER_NAME];
    if let Some(f) = flavor {
        nfs_up.extend(["--flavor", f]);
    }
    nfslab(state, &nfs_up)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| fail("tokio runtime")(e.to_string()))?;
    runtime.block_on(async {
        let store = StateStore::at(state);
        let target = nfslab::cluster::Target {
            name: CLUSTER_NAME.to_owned(),
            ..Default::default()
        };
        let cluster = nfslab::cluster::connect(&store, &target, config)
            .await
            .map_err(|e| fail("connect")(e.to_string()))?;
        let server = server::locate(&cluster, &config.nfs.namespace)
            .await
            .map_err(|e| fail("locate the NFS server")(e.to_string()))?
            .ok_or_else(|| Failed::from("`nfslab nfs up` succeeded but no server is deployed"))?;
        if server.address.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("the server address `{}` is not an IP", server.address).into());
        }
        let run = RunId::generate();
        let namespace = format!("nfslab-e2e-cluster-{}", run.short());
        let mut ns =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
        stamp(&mut ns, &run, Some("e2e-cluster"));
        cluster
            .apply(&ns)
            .await
            .map_err(|e| fail("create namespace")(e.to_string()))?;
        let mut result = Ok(());
        for check in &CHECKS {
            result = check_version(&cluster, config, &server, &run, &namespace, check).await;
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = preflight_passes(&cluster, config, flavor, kind).await;
        }
        if result.is_ok() {
            result = a_pull_failure_is_reported_at_once(&cluster, &run, &namespace).await;
        }
        if result.is_ok() {
            result = the_debug_bundle_holds_the_server(&cluster, config, kind).await;
        }
        remove_run(&cluster, config, &run, &namespace).await;
        result
    })
}

/// The preflight an existing cluster gets passes on this one: every right is granted, the
/// nodes pull nfslab's own images (on kind: only because they were side-loaded, as the
/// references exist in no registry), and admission admits the scenario, hostPath, server
/// and recycler pods. On kind nothing is even worth a warning.
async fn preflight_passes(
    cluster: &KubeCluster,
    config: &Config,
    flavor: Option<&str>,
    kind: bool,
) -> Result<(), Failed> {
    let flavor = match flavor {
        Some("kernel") => nfslab::nfs::ServerFlavor::Kernel,
        Some(_) => nfslab::nfs::ServerFlavor::Ganesha,
        None => config.nfs.flavor,
    };
    let version = cluster.server_version().await.ok();
    let target = nfslab::cluster::existing::Target::describe(None, None, cluster.api_server());
    let plan = nfslab::existing_plan(config, &[flavor], &target, version.as_deref());
    let namespace = ObjectRef::cluster("v1", "Namespace", &plan.namespace());
    let rights = nfslab::cluster::existing::check_rights(cluster, &target, &|_| {})
        .await
        .map_err(|e| fail("rights")(nfslab::error_chain(&e)))?;
    if let Some(warning) = rights {
        return Err(format!("the rights could not be reviewed: {warning}").into());
    }
    let warnings = nfslab::cluster::existing::preflight(cluster, &plan, &|line| {
        eprintln!("preflight: {line}");
    })
    .await
    .map_err(|e| fail("preflight")(nfslab::error_chain(&e)))?;
    if kind && !warnings.is_empty() {
        return Err(format!("preflight warned on kind: {warnings:?}").into());
    }
    // The probe namespace goes away.
    wait::until_within(
        cluster,
        &namespace,
        &conditions::is_gone(),
        config.timeouts.delete,
    )
    .await
    .map_err(|e| fail("probe namespace removal")(e.to_string()))?;
    Ok(())
}

/// A pod whose image cannot exist fails its wait with the kubelet's pull reason, long
/// before the readiness deadline.
async fn a_pull_failure_is_reported_at_once(
    cluster: &KubeCluster,
    run: &RunId,
    namespace: &str,
) -> Result<(), Failed> {
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "unpullable", "namespace": namespace},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c",
            "image": "nfslab.invalid/no-such-image:0", "imagePullPolicy": "Always"}]}});
    stamp(&mut pod, run, Some("e2e-cluster"));
    cluster
        .apply(&pod)
        .await
        .map_err(|e| fail("create the unpullable pod")(e.to_string()))?;
    let started = std::time::Instant::now();
    let outcome = wait::pod_ready_minding_pulls(
        cluster,
        &ObjectRef::pod(namespace, "unpullable"),
        std::time::Duration::from_secs(600),
        std::time::Duration::from_secs(60),
        &|line| eprintln!("{line}"),
    )
    .await;
    match outcome {
        Err(wait::WaitError::ImagePull { reason, image, .. })
            if image.contains("no-such-image")
                && (reason == "ErrImagePull" || reason == "ImagePullBackOff") =>
        {
            eprintln!(
                "pull failure reported after {:?}: {reason}",
                started.elapsed()
            );
            Ok(())
        }
        other => Err(format!("expected an image pull failure, got {other:?}").into()),
    }
}

/// The debug bundle a failed run writes holds the server pod's description and log, and
/// for kind the nodes' logs.
async fn the_debug_bundle_holds_the_server(
    cluster: &KubeCluster,
    config: &Config,
    kind: bool,
) -> Result<(), Failed> {
    let dir = tempfile::tempdir().map_err(|e| fail("temporary directory")(e.to_string()))?;
    let tools = nfslab::cluster::SystemTools::new();
    let evidence = nfslab::cluster::debug::Evidence {
        cluster: Some(cluster),
        kind: kind.then_some(CLUSTER_NAME),
        tools: &tools,
        failure: "the cluster lane asked for a bundle",
        manifests: Vec::new(),
    };
    let missing = nfslab::cluster::debug::collect(&evidence, dir.path()).await;
    let pods = dir.path().join("pods").join(&config.nfs.namespace);
    let pod_json = pods.join(format!("{}-0.json", server::SERVER_NAME));
    if !pod_json.is_file() {
        return Err(format!(
            "the bundle has no `{}` (could not collect: {missing:?})",
            pod_json.display()
        )
        .into());
    }
    let logs = std::fs::read_dir(&pods)
        .map_err(|e| fail("read the bundle")(e.to_string()))?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .count();
    if logs == 0 {
        return Err(
            format!("the bundle has no server log (could not collect: {missing:?})").into(),
        );
    }
    if kind && !dir.path().join("kind").is_dir() {
        return Err(format!("the bundle has no kind logs (could not collect: {missing:?})").into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let trial = match ClusterChoice::from_env() {
        Ok(Some(choice)) => Trial::test(TEST_NAME, move || end_to_end(&choice)),
        Ok(None) => gate::trial(
            "cluster",
            TEST_NAME,
            Some(ClusterChoice::unset_reason()),
            || Ok(()),
        ),
        // A misspelt value must not pass for "no cluster asked for".
        Err(e) => {
            let message = e.to_string();
            Trial::test(TEST_NAME, move || Err(message.into()))
        }
    };
    libtest_mimic::run(&args, vec![trial]).exit();
}
