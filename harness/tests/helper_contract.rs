//! The contract between the harness and `nfslab-io`, through the path scenarios and the
//! benchmark use on a cluster: an exec into a pod. Every helper role runs for real (the
//! fake cluster's stand-in runs the real binary on local directories standing in for the
//! pods' volumes) and every output is read by the harness's own readers, which decode with
//! the producer's types (`nfslab::nfs::helper`, the benchmark's `RunResult`).
//!
//! Roles: `mkdir`, `file write|append|cat`, `ls`, `check-empty`, `rm`, `rename`,
//! `wait-file`, `mountinfo`, `serve` + `get`, and a benchmark client (`run` with its start
//! barrier and result file) made from the benchmark's own pod manifests.

use std::sync::Arc;
use std::time::Duration;

use nfslab::bench::manifests::{
    BARRIER_FILE, CLIENT_CONTAINER, CONTROL_CONTAINER, CellSpec, ENGINE, LAYOUT_CONTAINER, Names,
    RESULT_FILE, Volume, cell_objects,
};
use nfslab::k8s::fake::FakeCluster;
use nfslab::k8s::ownership::RunId;
use nfslab::k8s::{Cluster, ObjectRef};
use nfslab::k8s::{StandIn, test_binary};
use nfslab::model::Matrix;
use nfslab::model::plan::{BuiltInIncludes, parse_plan};
use nfslab::nfs::ServerFiles;
use nfslab::nfs::helper;
use nfslab::nfs::{FileAccess, NfsServer, ServerFlavor};
use nfslab::scenario::{ExecFiles, ServerFiles as _};
use nfslab_workload::{RunResult, Status};
use serde_json::json;

const ADDRESS: &str = "10.96.0.20";

fn server_pod() -> ObjectRef {
    ObjectRef::pod("nfslab-nfs", "nfs-server-0")
}

fn access() -> FileAccess {
    FileAccess {
        pod: server_pod(),
        container: "files".to_owned(),
        root: "/exports".to_owned(),
    }
}

fn server() -> NfsServer {
    NfsServer {
        flavor: ServerFlavor::Ganesha,
        address: ADDRESS.to_owned(),
        export: "/exports".to_owned(),
        files: Some(access()),
    }
}

/// A fake whose helper execs run the real binary; the guard keeps its directory.
fn world() -> (FakeCluster, StandIn, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = test_binary().expect("nfslab-io");
    let stand_in = StandIn::new(&binary, dir.path());
    stand_in.server_files(&server_pod(), "/exports", "/exports");
    let fake = FakeCluster::new();
    fake.run_helpers(stand_in.clone());
    (fake, stand_in, dir)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn server_side_file_roles() {
    let (fake, stand_in, _dir) = world();
    runtime().block_on(async {
        let exec = ExecFiles::new(Arc::new(fake.clone()), access(), ENGINE);
        exec.mkdir("c", Some("0777"), None).await.expect("mkdir");
        exec.mkdir("c/pv1", Some("0750"), None)
            .await
            .expect("mkdir");
        exec.write("c/pv1/index.html", "HelloWorld\n", false)
            .await
            .expect("write");
        exec.write("c/pv1/index.html", "222222\n", true)
            .await
            .expect("append");
        exec.write("c/pv1/.hidden", "", false)
            .await
            .expect("dotfile");
        let files = ServerFiles::new(&fake, &server(), Duration::from_secs(30)).expect("access");
        assert_eq!(
            files.read("c/pv1/index.html").await.expect("cat"),
            "HelloWorld\n222222\n"
        );
        assert_eq!(
            files.list("c/pv1").await.expect("ls"),
            [".hidden", "index.html"]
        );
        assert!(!files.is_empty("c/pv1").await.expect("check-empty"));
        exec.rename("c/pv1", "c/archived-pv1")
            .await
            .expect("rename");
        assert!(
            files
                .exists("c/archived-pv1/.hidden")
                .await
                .expect("exists")
        );
        assert!(!files.exists("c/pv1").await.expect("gone"));
        exec.wait_for("c/archived-pv1/index.html", Duration::from_secs(1))
            .await
            .expect("wait-file");
        assert!(
            exec.wait_for("c/never", Duration::from_secs(1))
                .await
                .is_err(),
            "wait-file times out on a missing file"
        );
        files.remove("c/archived-pv1", true).await.expect("rm -r");
        assert!(files.is_empty("c").await.expect("empty now"));
    });
    // What the helpers did is on the stand-in export, with the modes asked for.
    use std::os::unix::fs::PermissionsExt as _;
    let c = stand_in.nfs_dir("/exports/c");
    assert_eq!(
        std::fs::metadata(&c).expect("c").permissions().mode() & 0o7777,
        0o777
    );
}

#[test]
fn mountinfo_role_reads_the_kernels_line() {
    let (fake, stand_in, _dir) = world();
    let pod = ObjectRef::pod("t", "client");
    fake.set(
        &pod,
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "client", "namespace": "t"},
               "spec": {"containers": [{"name": "c", "image": "nfslab-io",
                                        "volumeMounts": [{"name": "d", "mountPath": "/data"}]}],
                        "volumes": [{"name": "d", "nfs": {"server": ADDRESS, "path": "/exports/c"}}]}}),
    );
    let source = format!("{ADDRESS}:/exports/c");
    stand_in.kernel_mount(
        &source,
        "nfs4",
        "rw,vers=4.1,rsize=262144,wsize=262144,namlen=255,hard,proto=tcp,timeo=600,retrans=2,\
         sec=sys,clientaddr=172.18.0.3,local_lock=none,addr=10.96.0.20",
    );
    let out = runtime()
        .block_on(fake.exec(
            &pod,
            None,
            &[
                ENGINE.to_owned(),
                "mountinfo".to_owned(),
                "/data/sub".to_owned(),
            ],
            None,
        ))
        .expect("exec");
    // A path that does not exist on the mount is the helper's own error, in container terms.
    assert_eq!(out.exit_code, helper::ExitCode::IoError.code(), "{out:?}");
    assert!(out.stderr.contains("`/data/sub`"), "{}", out.stderr);
    std::fs::create_dir_all(stand_in.nfs_dir("/exports/c/sub")).expect("sub");
    let out = runtime()
        .block_on(fake.exec(
            &pod,
            None,
            &[
                ENGINE.to_owned(),
                "mountinfo".to_owned(),
                "/data/sub".to_owned(),
            ],
            None,
        ))
        .expect("exec");
    let section = helper::decode_mount(&out.stdout).expect("a mount section");
    assert_eq!(section.path, "/data/sub", "container paths in the output");
    assert_eq!(section.mount.fstype, "nfs4");
    assert_eq!(section.mount.source, source);
    let options = section.nfs_options.expect("NFS options");
    assert_eq!(options.get("vers").map(String::as_str), Some("4.1"));
    assert_eq!(options.get("rsize").map(String::as_str), Some("262144"));
}

#[test]
fn serve_and_get_roles() {
    let (fake, stand_in, _dir) = world();
    let web = ObjectRef::pod("t", "web");
    fake.set(
        &web,
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "web", "namespace": "t", "uid": "u1", "labels": {"app": "web"}},
               "spec": {"containers": [{"name": "web", "image": "nfslab-io",
                                        "args": ["serve", "--dir", "/srv", "--port", "80"],
                                        "volumeMounts": [{"name": "d", "mountPath": "/srv"}]}],
                        "volumes": [{"name": "d", "nfs": {"server": ADDRESS, "path": "/exports/w"}}]}}),
    );
    std::fs::create_dir_all(stand_in.nfs_dir("/exports/w")).expect("w");
    std::fs::write(stand_in.nfs_dir("/exports/w/index.html"), "HelloWorld\n").expect("page");
    stand_in.route("web.t.svc", "t", "app=web");
    let client = ObjectRef::pod("t", "client");
    let get = |url: &str| {
        runtime()
            .block_on(fake.exec(
                &client,
                None,
                &[ENGINE.to_owned(), "get".to_owned(), url.to_owned()],
                None,
            ))
            .expect("exec")
    };
    let ok = get("http://web.t.svc/");
    assert_eq!((ok.exit_code, ok.stdout.as_str()), (0, "HelloWorld\n"));
    let missing = get("http://web.t.svc:80/nothing.html");
    assert_eq!(
        helper::check_verdict(missing.exit_code),
        Some(false),
        "a 404 is a failed check: {missing:?}"
    );
    let nobody = get("http://other.t.svc/");
    assert_ne!(nobody.exit_code, 0, "{nobody:?}");
}

#[test]
fn benchmark_client_role() {
    let (fake, _stand_in, _dir) = world();
    let plan = parse_plan(
        "servers:\n  - name: nas\n    external: 10.96.0.20:/exports/bench\nprofiles:\n  - name: v41\n    options: [vers=4.1]\nworkloads:\n  - name: w\n    job: {pattern: write, bs: 64k, size: 1m, nrfiles: 2, verify: true}\nrepetitions: 1\nclients: 2\n",
        "plan.yaml",
        &BuiltInIncludes,
    )
    .expect("plan");
    let cells = Matrix::expand(&plan).cells;
    let cell = &cells[0];
    let job = &plan.workload("w").expect("workload").job;
    let run = RunId::parse("20261206-120000-c0ffee").expect("run id");
    let spec = CellSpec {
        run: &run,
        cell,
        repetition: 1,
        volume: Volume::Nfs {
            server_address: ADDRESS,
            export: "/exports/bench",
            mount_options: &["vers=4.1".to_owned()],
        },
        job,
        image: "nfslab-io:0.1.0",
        volume_size: "1Gi",
        barrier_timeout: "1m",
    };
    let rt = runtime();
    for manifest in cell_objects(&spec) {
        rt.block_on(fake.apply(&manifest)).expect("apply");
    }
    let names = Names::new(&run, cell, 1);
    for pod in names.pod_refs() {
        // The kubelet runs the init containers in order.
        for container in ["prepare", LAYOUT_CONTAINER] {
            let out = fake.run_container(&pod, container).expect("init container");
            assert_eq!(out.exit_code, 0, "{container}: {}", out.stderr);
        }
        // The runner releases the barrier through the control container; the client starts.
        let barrier = [
            ENGINE.to_owned(),
            "file".to_owned(),
            "write".to_owned(),
            BARRIER_FILE.to_owned(),
            "--content".to_owned(),
            "go".to_owned(),
        ];
        let out = rt
            .block_on(fake.exec(&pod, Some(CONTROL_CONTAINER), &barrier, None))
            .expect("barrier");
        assert_eq!(out.exit_code, 0, "{}", out.stderr);
        let out = fake.run_container(&pod, CLIENT_CONTAINER).expect("client");
        assert_eq!(out.exit_code, 0, "client: {}", out.stderr);
        let cat = [
            ENGINE.to_owned(),
            "file".to_owned(),
            "cat".to_owned(),
            RESULT_FILE.to_owned(),
        ];
        let out = rt
            .block_on(fake.exec(&pod, Some(CONTROL_CONTAINER), &cat, None))
            .expect("result");
        let result: RunResult = serde_json::from_str(out.stdout.trim()).expect("a RunResult");
        assert_eq!(result.status, Status::Ok);
        assert_eq!(
            result.totals.data_ops, 32,
            "2 files x 1 MiB in 64 KiB blocks"
        );
        let verify = result.verify.as_ref().expect("verification");
        assert_eq!(verify.mismatches, 0);
    }
}
