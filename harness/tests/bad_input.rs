//! Bad input as a new user gives it, table-driven: malformed flags, configuration files,
//! benchmark plans, scenario files, results directories and `nfslab-io` flags and job
//! files, each run through the real binaries.
//!
//! Every case asserts: the documented exit code (2, bad input), stderr is exactly one line,
//! it names the flag or the field (and `file:line:column` for files), no panic and no hang
//! (each run is killed after [`DEADLINE`]), and nothing was created or removed anywhere in
//! the case's temporary directory: the run's working directory, the state directory and a
//! sibling `outside/` that names such as `../../outside` aim at. The messages are
//! snapshotted (`snapshots/bad_input__messages.snap`) so every wording change is reviewed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a bad-input run may take before it counts as a hang.
const DEADLINE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bin {
    Nfslab,
    Io,
}

struct Case {
    name: String,
    bin: Bin,
    args: Vec<String>,
    files: Vec<(String, Vec<u8>)>,
    dirs: Vec<String>,
    code: i32,
    /// The flag or field the one line must name.
    needle: String,
    /// A file the line must locate as `file:line:column`.
    located: Option<String>,
}

fn case(name: &str, bin: Bin, args: &[&str], needle: &str) -> Case {
    Case {
        name: name.to_owned(),
        bin,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        files: Vec::new(),
        dirs: Vec::new(),
        code: 2,
        needle: needle.to_owned(),
        located: None,
    }
}

impl Case {
    fn file(mut self, name: &str, content: impl Into<Vec<u8>>) -> Self {
        self.files.push((name.to_owned(), content.into()));
        self
    }
    fn dir(mut self, name: &str) -> Self {
        self.dirs.push(name.to_owned());
        self
    }
    fn located(mut self, file: &str) -> Self {
        self.located = Some(file.to_owned());
        self
    }
}

fn nfslab(name: &str, args: &[&str], needle: &str) -> Case {
    case(name, Bin::Nfslab, args, needle)
}

fn io(name: &str, args: &[&str], needle: &str) -> Case {
    case(name, Bin::Io, args, needle)
}

/// `nfslab --config c.yaml config` with `yaml` in `c.yaml`.
fn config(name: &str, yaml: &str, field: &str) -> Case {
    nfslab(
        &format!("config/{name}"),
        &["--config", "c.yaml", "config"],
        field,
    )
    .file("c.yaml", yaml)
    .located("c.yaml")
}

const PLAN: &str = "\
profiles:
  - name: a
    options: [vers=4.1]
workloads:
  - name: w
    job: {pattern: read, bs: 4k, size: 1m}
";

/// `nfslab bench --plan p.yaml --dry-run` with `yaml` in `p.yaml`.
fn plan(name: &str, yaml: &str, needle: &str) -> Case {
    nfslab(
        &format!("plan/{name}"),
        &["bench", "--plan", "p.yaml", "--dry-run"],
        needle,
    )
    .file("p.yaml", yaml)
    .located("p.yaml")
}

/// The plan with `from` replaced by `to`.
fn plan_edit(name: &str, from: &str, to: &str, needle: &str) -> Case {
    assert!(PLAN.contains(from), "{name}: `{from}` is not in the plan");
    plan(name, &PLAN.replacen(from, to, 1), needle)
}

const SCENARIO: &str = r#"id: t
title: test
sources: [unit]
description: x
steps:
  - apply:
      manifests:
        - apiVersion: v1
          kind: PersistentVolumeClaim
          metadata: {name: pvc1}
          spec:
            accessModes: [ReadWriteOnce]
            resources: {requests: {storage: 1Gi}}
            storageClassName: "{{ prefix }}-nfs"
  - wait: {object: pvc/pvc1, for: {phase: Bound}, timeout: 30s}
"#;

/// `nfslab scenarios run --dry-run t.yaml` with `yaml` in `t.yaml`.
fn scenario(name: &str, yaml: &str, needle: &str) -> Case {
    nfslab(
        &format!("scenario/{name}"),
        &[
            "scenarios",
            "--scenarios",
            ".",
            "run",
            "--dry-run",
            "t.yaml",
        ],
        needle,
    )
    .file("t.yaml", yaml)
    .located("t.yaml")
}

/// The scenario without its wait step (for manifests the wait would then refer to).
fn apply_only() -> String {
    SCENARIO
        .lines()
        .filter(|l| !l.contains("- wait:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn scenario_edit(name: &str, from: &str, to: &str, needle: &str) -> Case {
    assert!(
        SCENARIO.contains(from),
        "{name}: `{from}` is not in the scenario"
    );
    scenario(name, &SCENARIO.replacen(from, to, 1), needle)
}

/// `nfslab-io run --dir d --job j.yaml` with `yaml` in `j.yaml`.
fn job(name: &str, yaml: &str, needle: &str) -> Case {
    io(
        &format!("job/{name}"),
        &["run", "--dir", "d", "--job", "j.yaml"],
        needle,
    )
    .file("j.yaml", yaml)
    .dir("d")
    .located("j.yaml")
}

/// A results directory `r` holding `files`, given to `nfslab report r`.
fn report(name: &str, files: &[(&str, &str)], needle: &str) -> Case {
    let mut c = nfslab(&format!("report/{name}"), &["report", "r"], needle).dir("r");
    for (f, text) in files {
        c = c.file(&format!("r/{f}"), *text);
    }
    c
}

/// `nfslab compare a b` where `a/summary.json` holds `text` and `b` is a valid-looking copy.
fn compare(name: &str, text: &str, needle: &str) -> Case {
    nfslab(&format!("compare/{name}"), &["compare", "a", "b"], needle)
        .dir("a")
        .dir("b")
        .file("a/summary.json", text)
        .file("b/summary.json", text)
}

const NAS_TIERS: &str = include_str!("../../workloads/plans/nas-tiers.yaml");

const DIGEST: &str = "050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f";

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    let mut c = Vec::new();

    // ---- names that would become paths -------------------------------------------------
    for (i, bad) in [
        "../../outside",
        "..",
        "a/b",
        "/tmp",
        "Lab",
        "a_b",
        "lab-",
        "",
    ]
    .into_iter()
    .enumerate()
    {
        c.push(nfslab(
            &format!("flags/cluster-down-name-{i}"),
            &["cluster", "down", "--name", bad],
            "--name",
        ));
    }
    for (i, bad) in ["../x", "a/b", ".."].into_iter().enumerate() {
        c.push(nfslab(
            &format!("flags/cluster-kubeconfig-name-{i}"),
            &["cluster", "kubeconfig", "--name", bad],
            "--name",
        ));
        c.push(nfslab(
            &format!("flags/cluster-status-name-{i}"),
            &["cluster", "status", "--name", bad],
            "--name",
        ));
    }
    c.push(nfslab(
        "flags/cluster-up-name-dots",
        &["cluster", "up", "--name", "../../outside"],
        "--name",
    ));
    c.push(nfslab(
        "flags/cluster-up-name-long",
        &["cluster", "up", "--name", &"a".repeat(51)],
        "--name",
    ));
    c.push(nfslab(
        "flags/run-cluster-dots",
        &["run", "--name", "../x"],
        "--name",
    ));
    c.push(nfslab(
        "flags/bench-cluster-dots",
        &["bench", "--name", "../x"],
        "--name",
    ));
    c.push(nfslab(
        "flags/scenarios-cluster-dots",
        &["scenarios", "run", "--name", "a/b"],
        "--name",
    ));
    c.push(nfslab(
        "flags/nfs-status-cluster-dots",
        &["nfs", "status", "--name", "../x"],
        "--name",
    ));
    for (i, bad) in ["../x", "Run_1", "a/b", ""].into_iter().enumerate() {
        c.push(nfslab(
            &format!("flags/bench-run-id-{i}"),
            &["bench", "--dry-run", "--run-id", bad],
            "--run-id",
        ));
    }
    c.push(nfslab(
        "flags/run-run-id-dots",
        &["run", "--run-id", "../../outside"],
        "--run-id",
    ));
    c.push(nfslab(
        "flags/render-run-id",
        &["render", "provisioner", "--run-id", "Run_1"],
        "--run-id",
    ));

    c.push(nfslab(
        "flags/images-load-cluster",
        &["images", "load", "--name", "../x"],
        "--name",
    ));
    c.push(nfslab(
        "flags/images-kubernetes",
        &["images", "pull", "--kubernetes", "latest"],
        "--kubernetes",
    ));
    c.push(nfslab(
        "flags/nfs-up-node",
        &["nfs", "up", "--node", "Worker_1"],
        "--node",
    ));
    c.push(nfslab(
        "flags/render-namespace",
        &["render", "provisioner", "--namespace", "../x"],
        "--namespace",
    ));

    // ---- numbers and durations on flags ------------------------------------------------
    for (i, bad) in ["-3", "0", "17", "many"].into_iter().enumerate() {
        c.push(nfslab(
            &format!("flags/workers-{i}"),
            &["cluster", "up", "--workers", bad],
            "--workers",
        ));
    }
    for (i, bad) in ["-1", "0", "1001", "x"].into_iter().enumerate() {
        c.push(nfslab(
            &format!("flags/repetitions-{i}"),
            &["bench", "--dry-run", "--repetitions", bad],
            "--repetitions",
        ));
    }
    for (i, bad) in ["-1", "0", "65", "1,x"].into_iter().enumerate() {
        c.push(nfslab(
            &format!("flags/clients-{i}"),
            &["bench", "--dry-run", "--clients", bad],
            "--clients",
        ));
    }
    for (i, bad) in ["-2", "0", "65"].into_iter().enumerate() {
        c.push(nfslab(
            &format!("flags/run-parallel-{i}"),
            &["run", "--parallel", bad],
            "--parallel",
        ));
        c.push(nfslab(
            &format!("flags/scenarios-parallel-{i}"),
            &["scenarios", "run", "--parallel", bad],
            "--parallel",
        ));
    }
    for (i, bad) in ["0s", "-1s", "2", "99h", "soon", "1.5s"]
        .into_iter()
        .enumerate()
    {
        c.push(nfslab(
            &format!("flags/connect-timeout-{i}"),
            &[
                "bench",
                "--host",
                "--server",
                "127.0.0.1:/x",
                "--connect-timeout",
                bad,
            ],
            "--connect-timeout",
        ));
    }
    for (i, bad) in ["-5", "abc", "0"].into_iter().enumerate() {
        c.push(nfslab(
            &format!("flags/threshold-{i}"),
            &["compare", "a", "b", "--threshold", bad],
            "--threshold",
        ));
    }

    // ---- servers, outputs, commands ----------------------------------------------------
    c.push(nfslab(
        "flags/bench-server-ipv6",
        &["bench", "--dry-run", "--server", "fd00::1:/vol"],
        "[fd00::1]:/vol",
    ));
    c.push(nfslab(
        "flags/run-server-ipv6",
        &["run", "--server", "fd00::1:/vol"],
        "[fd00::1]:/vol",
    ));
    c.push(nfslab(
        "flags/bench-server-no-export",
        &["bench", "--dry-run", "--server", "nas-without-export"],
        "--server",
    ));
    c.push(nfslab(
        "flags/bench-server-relative-export",
        &["bench", "--dry-run", "--server", "nas:vol1"],
        "--server",
    ));
    c.push(nfslab(
        "flags/run-server-no-export",
        &["run", "--server", "nas"],
        "--server",
    ));
    c.push(
        nfslab(
            "flags/bench-render-to-is-a-file",
            &["bench", "--dry-run", "--render-to", "out"],
            "--render-to",
        )
        .file("out", "keep"),
    );
    c.push(
        nfslab(
            "flags/render-to-is-a-file",
            &["scenarios", "run", "--dry-run", "--render-to", "out"],
            "--render-to",
        )
        .file("out", "keep"),
    );
    c.push(
        nfslab(
            "flags/bench-results-is-a-file",
            &["bench", "--dry-run", "--results", "out"],
            "--results",
        )
        .file("out", "keep"),
    );
    c.push(
        nfslab(
            "flags/run-results-is-a-file",
            &["run", "--results", "out"],
            "--results",
        )
        .file("out", "keep"),
    );
    c.push(
        nfslab(
            "flags/scenarios-results-is-a-dir",
            &["scenarios", "run", "--results", "out"],
            "--results",
        )
        .dir("out"),
    );
    c.push(
        nfslab(
            "flags/compare-html-is-a-dir",
            &["compare", "a", "b", "--html", "out"],
            "--html",
        )
        .dir("out"),
    );
    c.push(
        nfslab(
            "flags/compare-json-is-a-dir",
            &["compare", "a", "b", "--json", "out"],
            "--json",
        )
        .dir("out"),
    );
    c.push(nfslab(
        "flags/unknown-flag",
        &["run", "--clustr", "x"],
        "--clustr",
    ));
    c.push(nfslab(
        "flags/unknown-subcommand",
        &["frobnicate"],
        "frobnicate",
    ));
    c.push(nfslab(
        "flags/bad-flavor",
        &["run", "--nfs-flavor", "nfsd"],
        "--nfs-flavor",
    ));
    c.push(nfslab(
        "flags/show-unknown-scenario",
        &["scenarios", "show", "nope"],
        "nope",
    ));
    c.push(nfslab(
        "flags/run-unknown-scenario",
        &["run", "no-such-scenario"],
        "no-such-scenario",
    ));
    c.push(nfslab(
        "flags/skip-everything",
        &["run", "--skip-scenarios", "--skip-bench"],
        "--skip-bench",
    ));
    c.push(nfslab(
        "flags/missing-config-file",
        &["--config", "none.yaml", "config"],
        "none.yaml",
    ));
    c.push(nfslab(
        "flags/missing-plan-file",
        &["bench", "--plan", "none.yaml", "--dry-run"],
        "none.yaml",
    ));
    c.push(nfslab(
        "flags/unknown-profile",
        &["bench", "--dry-run", "--profiles", "nope"],
        "--profiles",
    ));
    c.push(nfslab(
        "flags/unknown-workload",
        &["bench", "--dry-run", "--workloads", "nope"],
        "--workloads",
    ));
    c.push(nfslab(
        "flags/unknown-server",
        &["bench", "--dry-run", "--servers", "nope"],
        "--servers",
    ));

    // ---- configuration file ------------------------------------------------------------
    for (name, yaml, field) in [
        (
            "request-zero",
            "timeouts:\n  request: 0s\n",
            "timeouts.request",
        ),
        (
            "bind-absurd",
            "timeouts:\n  bind: 9999999h\n",
            "timeouts.bind",
        ),
        ("bind-words", "timeouts:\n  bind: soon\n", "timeouts.bind"),
        (
            "bind-bare-number",
            "timeouts:\n  bind: 90\n",
            "timeouts.bind",
        ),
        ("bind-negative", "timeouts:\n  bind: -5s\n", "timeouts.bind"),
        (
            "bind-fraction",
            "timeouts:\n  pod-ready: 1.5m\n",
            "timeouts.pod-ready",
        ),
        ("unknown-timeout", "timeouts:\n  bnd: 2m\n", "timeouts.bnd"),
        ("unknown-section", "timeout:\n  bind: 2m\n", "timeout"),
        (
            "parallel-zero",
            "scenarios:\n  parallel: 0\n",
            "scenarios.parallel",
        ),
        (
            "parallel-negative",
            "scenarios:\n  parallel: -1\n",
            "scenarios.parallel",
        ),
        (
            "tail-negative",
            "scenarios:\n  log-tail-lines: -5\n",
            "scenarios.log-tail-lines",
        ),
        (
            "poll-zero",
            "scenarios:\n  poll-max-interval: 0s\n",
            "scenarios.poll-max-interval",
        ),
        (
            "poll-busy",
            "scenarios:\n  poll-max-interval: 10ms\n",
            "scenarios.poll-max-interval",
        ),
        ("name-dots", "cluster:\n  name: ../x\n", "cluster.name"),
        ("name-upper", "cluster:\n  name: Lab\n", "cluster.name"),
        ("name-nul", "cluster:\n  name: \"a\\0b\"\n", "cluster.name"),
        (
            "name-long",
            &format!("cluster:\n  name: {}\n", "a".repeat(51)),
            "cluster.name",
        ),
        (
            "workers-zero",
            "cluster:\n  workers: 0\n",
            "cluster.workers",
        ),
        (
            "workers-many",
            "cluster:\n  workers: 17\n",
            "cluster.workers",
        ),
        (
            "workers-negative",
            "cluster:\n  workers: -1\n",
            "cluster.workers",
        ),
        (
            "workers-words",
            "cluster:\n  workers: many\n",
            "cluster.workers",
        ),
        (
            "node-image-empty",
            "cluster:\n  node-image: ''\n",
            "cluster.node-image",
        ),
        (
            "node-image-digest",
            "cluster:\n  node-image: kindest/node@sha256:xyz\n",
            "cluster.node-image",
        ),
        (
            "node-image-tag",
            "cluster:\n  node-image: 'kindest/node:'\n",
            "cluster.node-image",
        ),
        (
            "kind-version",
            "cluster:\n  min-kind-version: latest\n",
            "cluster.min-kind-version",
        ),
        (
            "port-too-big",
            "cluster:\n  api-server-port: 70000\n",
            "cluster.api-server-port",
        ),
        (
            "port-negative",
            "cluster:\n  api-server-port: -1\n",
            "cluster.api-server-port",
        ),
        (
            "image-spaces",
            "images:\n  provisioner: 'Not An Image'\n",
            "images.provisioner",
        ),
        (
            "image-upper",
            "images:\n  kernel-nfs-server: Registry/NFS\n",
            "images.kernel-nfs-server",
        ),
        ("nginx-spaces", "images:\n  nginx: 'a b'\n", "images.nginx"),
        (
            "recycler-key",
            "images:\n  recycler:\n    latest: busybox\n",
            "images.recycler.\"latest\"",
        ),
        (
            "recycler-image",
            "images:\n  recycler:\n    \"1.33\": 'busy box'\n",
            "images.recycler.\"1.33\"",
        ),
        (
            "recycler-list",
            "images:\n  recycler: [busybox]\n",
            "images.recycler",
        ),
        ("flavor-unknown", "nfs:\n  flavor: nfsd\n", "nfs.flavor"),
        (
            "flavor-external",
            "nfs:\n  flavor: external\n",
            "nfs.flavor",
        ),
        ("namespace", "nfs:\n  namespace: Bad_NS\n", "nfs.namespace"),
        ("host-path", "nfs:\n  host-path: data\n", "nfs.host-path"),
        ("grace", "nfs:\n  grace-period: 1s\n", "nfs.grace-period"),
        ("node", "nfs:\n  node: Worker_1\n", "nfs.node"),
        (
            "duplicate-key",
            "cluster:\n  workers: 2\n  workers: 3\n",
            "workers",
        ),
        (
            "two-documents",
            "cluster: {}\n---\ncluster: {}\n",
            "more than one YAML document",
        ),
        (
            "map-where-scalar",
            "cluster:\n  name: {a: 1}\n",
            "cluster.name",
        ),
        ("list-for-section", "cluster: [a]\n", "cluster"),
        (
            "bad-indent",
            "cluster:\n  name: a\n workers: 2\n",
            "YAML syntax",
        ),
        ("unclosed-quote", "cluster:\n  name: 'lab\n", "YAML syntax"),
    ] {
        c.push(config(name, yaml, field));
    }
    c.push(config(
        "too-large",
        &format!("# {}\ncluster: {{}}\n", "x".repeat(5 << 20)),
        "at most 4 MiB",
    ));
    c.push(
        nfslab(
            "config/invalid-utf8",
            &["--config", "c.yaml", "config"],
            "UTF-8",
        )
        .file("c.yaml", b"cluster:\n  name: caf\xe9\n".to_vec())
        .located("c.yaml"),
    );

    // ---- benchmark plans ---------------------------------------------------------------
    let plans: Vec<Case> = vec![
        plan(
            "repetitions-zero",
            &format!("{PLAN}repetitions: 0\n"),
            "repetitions",
        ),
        plan(
            "repetitions-negative",
            &format!("{PLAN}repetitions: -1\n"),
            "repetitions",
        ),
        plan("clients-zero", &format!("{PLAN}clients: 0\n"), "clients"),
        plan("clients-many", &format!("{PLAN}clients: 65\n"), "clients"),
        plan(
            "clients-words",
            &format!("{PLAN}clients: many\n"),
            "clients",
        ),
        plan("clients-empty", &format!("{PLAN}clients: []\n"), "clients"),
        plan("runtime-zero", &format!("{PLAN}runtime: 0s\n"), "runtime"),
        plan("runtime-bare", &format!("{PLAN}runtime: 30\n"), "runtime"),
        plan(
            "runtime-fraction",
            &format!("{PLAN}runtime: 1.5s\n"),
            "runtime",
        ),
        plan(
            "runtime-absurd",
            &format!("{PLAN}runtime: 9999999h\n"),
            "runtime",
        ),
        plan(
            "cell-timeout-zero",
            &format!("{PLAN}cell_timeout: 0s\n"),
            "cell_timeout",
        ),
        plan(
            "ramp-time-long",
            &format!("{PLAN}ramp_time: 2h\n"),
            "ramp_time",
        ),
        plan(
            "volume-size",
            &format!("{PLAN}volume_size: 10GB\n"),
            "volume_size",
        ),
        plan(
            "image-spaces",
            &format!("{PLAN}image: 'Bad Image'\n"),
            "image",
        ),
        plan(
            "image-digest",
            &format!("{PLAN}image: 'nfslab-io@sha256:{}'\n", &DIGEST[..20]),
            "image",
        ),
        plan(
            "unknown-top-field",
            &format!("{PLAN}repetitons: 3\n"),
            "repetitons",
        ),
        plan_edit(
            "option-typo",
            "options: [vers=4.1]",
            "options: [vers=4.1, rsize=1M]",
            "rsize",
        ),
        plan_edit("profile-name", "name: a", "name: Bad_Name", "Bad_Name"),
        plan_edit("workload-name-dots", "name: w", "name: ../x", "../x"),
        plan(
            "duplicate-profile",
            &PLAN.replace(
                "profiles:\n",
                "profiles:\n  - name: a\n    options: [vers=3]\n",
            ),
            "`a`",
        ),
        plan(
            "server-ipv6",
            &format!("{PLAN}servers:\n  - name: nas\n    external: fd00::1:/x\n"),
            "[fd00::1]:/x",
        ),
        plan(
            "server-both",
            &format!(
                "{PLAN}servers:\n  - name: nas\n    external: h:/x\n    in_cluster: ganesha\n"
            ),
            "nas",
        ),
        plan(
            "server-flavor",
            &format!("{PLAN}servers:\n  - name: nas\n    in_cluster: nfsd\n"),
            "servers[0].in_cluster",
        ),
        plan(
            "run-unknown-profile",
            &format!("{PLAN}run:\n  profiles: [nope]\n"),
            "nope",
        ),
        plan_edit(
            "job-pattern",
            "pattern: read",
            "pattern: nope",
            "workloads[0].job.pattern",
        ),
        plan_edit(
            "job-threads-zero",
            "size: 1m}",
            "size: 1m, threads: 0}",
            "threads",
        ),
        plan_edit("job-bs-size", "bs: 4k", "bs: 3k", "size"),
        plan_edit(
            "job-runtime-zero",
            "size: 1m}",
            "size: 1m, runtime: 0s}",
            "runtime",
        ),
        plan_edit(
            "job-runtime-bare",
            "size: 1m}",
            "size: 1m, runtime: 2}",
            "runtime",
        ),
        plan_edit("job-unknown-field", "bs: 4k", "bsz: 4k", "bsz"),
        plan_edit(
            "job-bs-negative",
            "bs: 4k",
            "bs: -4096",
            "workloads[0].job.bs",
        ),
        plan(
            "workloads-map",
            "profiles: [{name: a}]\nworkloads: {name: w}\n",
            "workloads",
        ),
        plan("no-workloads", "profiles: [{name: a}]\n", "workloads"),
        plan(
            "duplicate-key",
            &format!("{PLAN}repetitions: 2\nrepetitions: 3\n"),
            "repetitions",
        ),
        plan(
            "two-documents",
            &format!("{PLAN}---\n{PLAN}"),
            "more than one YAML document",
        ),
        plan(
            "profile-file-missing",
            &format!("profile_files: [../none.yaml]\n{PLAN}"),
            "none.yaml",
        ),
        plan(
            "nas-unknown-tier",
            &format!("{PLAN}nas:\n  tier: nope\n  provisioned: 1t\n"),
            "nope",
        )
        .file("nas-tiers.yaml", NAS_TIERS),
        plan(
            "too-large",
            &format!("{PLAN}# {}\n", "x".repeat(5 << 20)),
            "at most 4 MiB",
        ),
    ];
    c.extend(plans);
    c.push(
        nfslab(
            "plan/invalid-utf8",
            &["bench", "--plan", "p.yaml", "--dry-run"],
            "UTF-8",
        )
        .file(
            "p.yaml",
            [PLAN.as_bytes(), b"description: caf\xe9\n"].concat(),
        )
        .located("p.yaml"),
    );

    // ---- scenario files ----------------------------------------------------------------
    let scenarios: Vec<Case> = vec![
        scenario_edit("unknown-step", "  - wait:", "  - wiat:", "steps[2]"),
        scenario_edit(
            "unknown-field",
            "timeout: 30s}",
            "timeout: 30s, forr: 1}",
            "steps[2].wait.forr",
        ),
        scenario_edit(
            "missing-field",
            ", for: {phase: Bound}",
            "",
            "steps[2].wait",
        ),
        scenario_edit(
            "timeout-zero",
            "timeout: 30s",
            "timeout: 0s",
            "steps[2].wait.timeout",
        ),
        scenario_edit(
            "timeout-bare",
            "timeout: 30s",
            "timeout: 30",
            "steps[2].wait.timeout",
        ),
        scenario_edit(
            "timeout-absurd",
            "timeout: 30s",
            "timeout: 9999999h",
            "steps[2].wait.timeout",
        ),
        scenario_edit(
            "timeout-negative",
            "timeout: 30s",
            "timeout: -1s",
            "steps[2].wait.timeout",
        ),
        scenario_edit(
            "manifest-unknown-field",
            "accessModes:",
            "accesModes:",
            "spec.accesModes",
        ),
        scenario_edit(
            "manifest-wrong-type",
            "accessModes: [ReadWriteOnce]",
            "accessModes: ReadWriteOnce",
            "spec.accessModes",
        ),
        scenario_edit(
            "manifest-nested-unknown",
            "requests: {storage: 1Gi}",
            "requets: {storage: 1Gi}",
            "spec.resources.requets",
        ),
        scenario(
            "manifest-name",
            &SCENARIO.replace("pvc1", "pvc_1"),
            "metadata.name",
        ),
        scenario_edit(
            "manifest-class-prefix",
            "storageClassName: \"{{ prefix }}-nfs\"",
            "storageClassName: nfs",
            "storageClassName",
        ),
        scenario_edit(
            "manifest-namespace",
            "metadata: {name: pvc1}",
            "metadata: {name: pvc1, namespace: default}",
            "metadata.namespace",
        ),
        scenario(
            "manifest-kind",
            &apply_only().replace("kind: PersistentVolumeClaim", "kind: PersistentVolumeClam"),
            "manifests[0]",
        ),
        scenario_edit(
            "template-variable",
            "{{ prefix }}-nfs",
            "{{ prefx }}-nfs",
            "prefx",
        ),
        scenario_edit(
            "reference",
            "object: pvc/pvc1",
            "object: pvc/pvc2",
            "steps[2].wait.object",
        ),
        scenario_edit("id-mismatch", "id: t", "id: other", "id"),
        scenario_edit(
            "steps-map",
            "steps:\n  - apply:",
            "steps:\n  apply:",
            "steps",
        ),
        scenario(
            "duplicate-key",
            &SCENARIO.replace("title: test\n", "title: test\ntitle: again\n"),
            "title",
        ),
        scenario(
            "two-documents",
            &format!("{SCENARIO}---\n{SCENARIO}"),
            "more than one YAML document",
        ),
        scenario_edit(
            "server-path",
            "  - wait:",
            "  - server-mkdir: {path: ../other}\n  - wait:",
            "steps[2].server-mkdir.path",
        ),
        scenario_edit(
            "predicate-kind",
            "for: {phase: Bound}",
            "for: {ready: true}",
            "steps[2].wait.for.ready",
        ),
        scenario_edit("wrong-type", "sources: [unit]", "sources: unit", "sources"),
        scenario_edit(
            "deep",
            "metadata: {name: pvc1}",
            &format!(
                "metadata: {{name: pvc1, labels: {}{}}}",
                "[".repeat(80),
                "]".repeat(80)
            ),
            "64 levels",
        ),
    ];
    c.extend(scenarios);
    c.push(
        nfslab(
            "scenario/invalid-utf8",
            &[
                "scenarios",
                "--scenarios",
                ".",
                "run",
                "--dry-run",
                "t.yaml",
            ],
            "UTF-8",
        )
        .file(
            "t.yaml",
            latin1(&SCENARIO.replace("title: test", "title: caf~")),
        )
        .located("t.yaml"),
    );

    // ---- results directories -----------------------------------------------------------
    let run_ok = r#"{"schema_version": 1}"#;
    c.push(report("empty-dir", &[], "run.json"));
    c.push(report("run-empty", &[("run.json", "")], "run.json").located("run.json"));
    c.push(
        report(
            "run-truncated",
            &[("run.json", "{\"schema_version\": 1, \"run_id\": \"x")],
            "truncated",
        )
        .located("run.json"),
    );
    c.push(report("run-list", &[("run.json", "[1, 2]")], "a list").located("run.json"));
    c.push(
        report(
            "run-not-json",
            &[("run.json", "schema_version: 1\n")],
            "not valid JSON",
        )
        .located("run.json"),
    );
    c.push(
        report(
            "run-no-version",
            &[("run.json", "{\"run_id\": \"x\"}")],
            "schema_version",
        )
        .located("run.json"),
    );
    c.push(report("run-wrong-shape", &[("run.json", run_ok)], "run.json").located("run.json"));
    c.push(report(
        "run-other-version",
        &[("run.json", r#"{"schema_version": 99}"#)],
        "schema_version `99`",
    ));
    c.push(nfslab(
        "compare/missing",
        &["compare", "nope", "nope2"],
        "nope",
    ));
    c.push(
        nfslab("compare/no-summary", &["compare", "a", "b"], "summary.json")
            .dir("a")
            .dir("b"),
    );
    c.push(compare("empty", "", "summary.json").located("summary.json"));
    c.push(
        compare(
            "truncated",
            "{\"schema_version\": 1, \"cells\": [",
            "truncated",
        )
        .located("summary.json"),
    );
    c.push(compare("list", "[]", "a list").located("summary.json"));
    c.push(
        compare(
            "wrong-shape",
            r#"{"schema_version": 1, "run_id": 5}"#,
            "run_id",
        )
        .located("summary.json"),
    );
    c.push(compare(
        "other-version",
        r#"{"schema_version": 99}"#,
        "schema_version `99`",
    ));
    c.push(
        nfslab(
            "compare/same-run",
            &["compare", "a", "a/summary.json"],
            "same run",
        )
        .dir("a")
        .file("a/summary.json", r#"{"schema_version": 1}"#),
    );

    // ---- nfslab-io flags ---------------------------------------------------------------
    let run = ["run", "--dir", "d", "--pattern", "read", "--size", "64k"];
    let with = |extra: &[&str]| -> Vec<String> {
        run.iter()
            .chain(extra.iter())
            .map(|s| (*s).to_owned())
            .collect()
    };
    for (name, extra, needle) in [
        ("prefix-dots", &["--prefix", "../x"][..], "--prefix"),
        ("prefix-slash", &["--prefix", "a/b"][..], "--prefix"),
        ("prefix-hidden", &["--prefix", ".x"][..], "--prefix"),
        ("prefix-empty", &["--prefix", ""][..], "--prefix"),
        ("prefix-dotdot", &["--prefix", ".."][..], "--prefix"),
        (
            "output-missing-dir",
            &["--output", "nodir/r.json"][..],
            "--output",
        ),
        ("output-is-dir", &["--output", "d"][..], "--output"),
        ("threads-negative", &["--threads", "-1"][..], "--threads"),
        ("threads-zero", &["--threads", "0"][..], "--threads"),
        ("iodepth-zero", &["--iodepth", "0"][..], "--iodepth"),
        ("bs-negative", &["--bs", "-4k"][..], "--bs"),
        ("bs-unit", &["--bs", "3x"][..], "--bs"),
        ("runtime-zero", &["--runtime", "0s"][..], "--runtime"),
        ("runtime-bare", &["--runtime", "2"][..], "--runtime"),
        ("runtime-negative", &["--runtime", "-1s"][..], "--runtime"),
        (
            "runtime-absurd",
            &["--runtime", "9999999h"][..],
            "--runtime",
        ),
        ("ramp-long", &["--ramp-time", "2h"][..], "--ramp-time"),
        ("rwmixread", &["--rwmixread", "101"][..], "--rwmixread"),
        ("fsync-words", &["--fsync", "sometimes"][..], "--fsync"),
        ("direct-words", &["--direct=maybe"][..], "--direct"),
        (
            "barrier-timeout",
            &["--barrier-timeout", "5"][..],
            "--barrier-timeout",
        ),
        (
            "nfs-options-on-dir",
            &["--nfs-options", "rsize=4096"][..],
            "--nfs-options",
        ),
        ("target-and-dir", &["--target", "nfs://h/x"][..], "--target"),
    ] {
        let mut case = io(&format!("io/{name}"), &[], needle).dir("d");
        case.args = with(extra);
        c.push(case);
    }
    c.push(
        io(
            "io/pattern-unknown",
            &["run", "--dir", "d", "--pattern", "nope"],
            "--pattern",
        )
        .dir("d"),
    );
    c.push(io("io/no-pattern", &["run", "--dir", "d"], "--pattern").dir("d"));
    c.push(io("io/no-target", &["run", "--pattern", "read"], "--dir"));
    c.push(io(
        "io/target-scheme",
        &["run", "--target", "ftp://h/x", "--pattern", "read"],
        "--target",
    ));
    c.push(io(
        "io/get-port-words",
        &["get", "http://web:port/"],
        "`port`",
    ));
    c.push(io("io/get-port-zero", &["get", "http://web:0/"], "`0`"));
    c.push(io(
        "io/get-port-big",
        &["get", "http://web:65536/"],
        "`65536`",
    ));
    c.push(io("io/get-https", &["get", "https://web/"], "https"));
    c.push(io(
        "io/get-timeout",
        &["get", "http://web/", "--timeout", "10"],
        "--timeout",
    ));
    c.push(io(
        "io/wait-timeout",
        &["wait-file", "x", "--timeout", "-1s"],
        "--timeout",
    ));
    c.push(
        io(
            "io/serve-port",
            &["serve", "--dir", "d", "--port", "70000"],
            "--port",
        )
        .dir("d"),
    );
    c.push(io(
        "io/mkdir-mode",
        &["mkdir", "d2", "--mode", "999"],
        "--mode",
    ));
    for (name, yaml, needle) in [
        ("unknown-field", "pattern: read\nbsz: 4k\n", "bsz"),
        ("runtime-bare", "pattern: read\nruntime: 2\n", "runtime"),
        ("runtime-zero", "pattern: read\nruntime: 0s\n", "runtime"),
        ("bs-negative", "pattern: read\nbs: -4096\n", "bs"),
        ("pattern", "pattern: nope\n", "pattern"),
        ("threads-words", "pattern: read\nthreads: many\n", "threads"),
        (
            "duplicate-key",
            "pattern: read\npattern: write\n",
            "pattern",
        ),
        (
            "two-documents",
            "pattern: read\n---\npattern: read\n",
            "more than one YAML document",
        ),
        ("list", "- pattern: read\n", "a list"),
        ("empty", "", "empty"),
    ] {
        c.push(job(name, yaml, needle));
    }
    c.push(
        io(
            "job/invalid-utf8",
            &["run", "--dir", "d", "--job", "j.yaml"],
            "UTF-8",
        )
        .dir("d")
        .file("j.yaml", b"pattern: read\nsize: 1\xff\n".to_vec())
        .located("j.yaml"),
    );
    c
}

/// `text` with each `~` turned into the Latin-1 byte of `é` (not UTF-8).
fn latin1(text: &str) -> Vec<u8> {
    text.bytes()
        .map(|b| if b == b'~' { 0xe9 } else { b })
        .collect()
}

/// Every file and directory under `root`, with sizes, sorted.
fn listing(root: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).ok();
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            if meta.as_ref().is_some_and(std::fs::Metadata::is_dir) {
                stack.push(path);
                out.push((format!("{rel}/"), 0));
            } else {
                out.push((rel, meta.map_or(0, |m| m.len())));
            }
        }
    }
    out.sort();
    out
}

/// Whether `text` holds `file:LINE:COLUMN` with both numbers at least 1.
fn has_location(text: &str, file: &str) -> bool {
    text.match_indices(&format!("{file}:")).any(|(i, m)| {
        let rest = &text[i + m.len()..];
        let mut parts = rest.splitn(3, ':');
        let number = |p: Option<&str>| {
            p.is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && p != "0")
        };
        number(parts.next()) && number(parts.next())
    })
}

/// The `nfslab-io` binary of this build (built by cargo when its sources changed).
fn engine() -> Result<PathBuf, String> {
    nfslab::k8s::test_binary()
}

fn path_without_kind() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| !d.join("kind").exists())
        .collect();
    std::env::join_paths(dirs)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

struct Ran {
    code: Option<i32>,
    stderr: String,
    stdout: String,
    took: Duration,
}

fn run(case: &Case, root: &Path) -> Result<Ran, String> {
    let work = root.join("work");
    let exe = match case.bin {
        Bin::Nfslab => PathBuf::from(env!("CARGO_BIN_EXE_nfslab")),
        Bin::Io => engine()?,
    };
    let mut command = Command::new(exe);
    command
        .args(&case.args)
        .current_dir(&work)
        .env("NFSLAB_STATE_DIR", root.join("state"))
        .env("HOME", root.join("home"))
        .env("PATH", path_without_kind())
        .env_remove("NFSLAB_CONFIG")
        .env_remove("NFSLAB_SCENARIOS")
        .env_remove("NFSLAB_DIR")
        .env_remove("NFSLAB_TARGET")
        .env_remove("XDG_STATE_HOME")
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("cannot start: {e}"))?;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > DEADLINE => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("hung: still running after {DEADLINE:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("cannot wait: {e}")),
        }
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    Ok(Ran {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        took: started.elapsed(),
    })
}

/// Runs one case in its own directory; `Ok` is its message for the snapshot.
fn check(case: &Case) -> Result<String, String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = tmp.path();
    let work = root.join("work");
    std::fs::create_dir_all(root.join("outside")).map_err(|e| e.to_string())?;
    std::fs::write(root.join("outside/keep"), "sentinel").map_err(|e| e.to_string())?;
    std::fs::write(root.join("outside/cluster.json"), "{}").map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    for d in &case.dirs {
        std::fs::create_dir_all(work.join(d)).map_err(|e| e.to_string())?;
    }
    for (name, content) in &case.files {
        let path = work.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, content).map_err(|e| e.to_string())?;
    }
    let before = listing(root);
    let ran = run(case, root)?;
    let after = listing(root);
    let stderr = ran.stderr.trim_end();
    let mut problems = Vec::new();
    if ran.code != Some(case.code) {
        problems.push(format!("exit {:?}, not {}", ran.code, case.code));
    }
    if stderr.lines().count() != 1 {
        problems.push(format!(
            "stderr has {} lines, not one",
            stderr.lines().count()
        ));
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        problems.push("a panic".to_owned());
    }
    if !stderr.contains(&case.needle) {
        problems.push(format!("stderr does not name `{}`", case.needle));
    }
    if let Some(file) = &case.located
        && !has_location(stderr, file)
    {
        problems.push(format!("stderr does not locate `{file}:LINE:COLUMN`"));
    }
    if before != after {
        let created: Vec<_> = after.iter().filter(|e| !before.contains(e)).collect();
        let removed: Vec<_> = before.iter().filter(|e| !after.contains(e)).collect();
        problems.push(format!(
            "the filesystem changed: created {created:?}, removed {removed:?}"
        ));
    }
    let shown = stderr
        .replace(&root.display().to_string(), "<tmp>")
        .replace(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .display()
                .to_string(),
            "<repo>",
        );
    if problems.is_empty() {
        Ok(shown)
    } else {
        Err(format!(
            "{}\n  args: {:?}\n  took: {:?}\n  stderr: {}\n  stdout: {}",
            problems.join("; "),
            case.args,
            ran.took,
            ran.stderr.trim_end(),
            ran.stdout.chars().take(400).collect::<String>()
        ))
    }
}

#[test]
fn every_bad_input_gets_one_precise_line_and_does_no_harm() {
    let cases = cases();
    assert!(cases.len() >= 150, "the corpus has {} cases", cases.len());
    let mut names = std::collections::BTreeSet::new();
    for c in &cases {
        assert!(names.insert(c.name.clone()), "two cases named {}", c.name);
    }
    // Cases run in parallel (each in its own directory); the order of the report is fixed.
    let chunks: Vec<&[Case]> = cases.chunks(cases.len().div_ceil(4)).collect();
    let results: Vec<(String, Result<String, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|c| (c.name.clone(), check(c)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
        .collect();
    let messages: String = results
        .iter()
        .map(|(name, r)| {
            format!(
                "{name}\n  {}\n",
                r.as_deref()
                    .unwrap_or_else(|e| e.lines().next().unwrap_or(""))
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        results.len(),
        failures.join("\n\n")
    );
    insta::assert_snapshot!("messages", messages);
}
