//! The `nfslab` binary as users run it: exit codes, messages and side effects of the commands
//! that need no cluster.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nfslab_test_support::run::Run;

/// The PATH entries that hold no `kind`, so the binary sees a host without kind.
fn path_without_kind() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| !d.join("kind").exists())
        .collect();
    std::env::join_paths(dirs)
        .expect("joinable")
        .to_string_lossy()
        .into_owned()
}

fn nfslab(args: &[&str], state: &Path, extra_env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nfslab"));
    command
        .args(args)
        .env("NFSLAB_STATE_DIR", state)
        // Where a missing kind would be installed from and to: nowhere real.
        .env("NFSLAB_CACHE_DIR", state.with_extension("cache"))
        .env("KIND_BASE_URL", "http://127.0.0.1:9")
        .env("PATH", path_without_kind())
        .env_remove("NFSLAB_CONFIG")
        .env_remove("KUBECONFIG");
    for (k, v) in extra_env {
        command.env(k, v);
    }
    // The test's directory: where state, cache and results would appear.
    let run = Run::of(&mut command);
    match state.parent() {
        Some(dir) => run.in_dir(dir),
        None => run,
    }
}

fn docker_containers_of(cluster: &str) -> Option<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label=io.x-k8s.kind.cluster={cluster}"),
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn cluster_up_without_kind_fails_fast_with_preflight_lines_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let name = "nfslab-cli-test";
    let run = nfslab(
        &["cluster", "up", "--name", name, "--no-install"],
        &state,
        &[],
    );
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    let stderr = &run.stderr;
    assert!(
        stderr.contains("(nothing was created)"),
        "{}",
        run.describe()
    );
    let kind_line = stderr
        .lines()
        .find(|l| l.contains("kind: not found on PATH"))
        .unwrap_or_else(|| panic!("no kind line\n{}", run.describe()));
    assert!(kind_line.contains("needed because") && kind_line.contains("fix: install kind"));
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
    assert!(
        run.took < Duration::from_secs(1),
        "preflight must answer within a second\n{}",
        run.describe()
    );
    assert!(!state.exists(), "no state was written\n{}", run.describe());
    assert_last_line_offers_other_paths(&run, "--server HOST:/EXPORT");
    if let Some(containers) = docker_containers_of(name) {
        assert_eq!(containers, "", "no node containers were created");
    }
}

#[test]
fn run_without_kind_fails_fast_with_preflight_lines_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let results = dir.path().join("results");
    let results_arg = results.display().to_string();
    let run = nfslab(
        &[
            "run",
            "--quick",
            "--results",
            &results_arg,
            "--name",
            "nfslab-cli-run",
            "--no-install",
        ],
        &state,
        &[],
    );
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    let stderr = &run.stderr;
    assert!(
        stderr.contains("(nothing was created)"),
        "{}",
        run.describe()
    );
    assert!(
        stderr.contains("kind: not found on PATH"),
        "{}",
        run.describe()
    );
    assert!(
        stderr.contains("nfslab doctor"),
        "points at doctor\n{}",
        run.describe()
    );
    assert_eq!(
        run.stdout,
        "",
        "no run directory to report\n{}",
        run.describe()
    );
    assert!(
        !results.exists(),
        "no results directory\n{}",
        run.describe()
    );
    assert!(!state.exists(), "no state was written\n{}", run.describe());
    assert_last_line_offers_other_paths(&run, "--server HOST:/EXPORT");
    if let Some(containers) = docker_containers_of("nfslab-cli-run") {
        assert_eq!(containers, "", "no node containers were created");
    }
}

/// The last line after a refused kind run names what works on this machine instead.
fn assert_last_line_offers_other_paths(run: &Run, server: &str) {
    let stderr = &run.stderr;
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    assert!(
        last.starts_with("instead, on this machine: "),
        "last line: {last}\n{}",
        run.describe()
    );
    assert!(
        last.contains(&format!("`nfslab bench --host {server}`")),
        "{last}"
    );
    assert!(last.contains("`nfslab run --context NAME"), "{last}");
}

#[test]
fn a_refused_benchmark_against_a_named_server_suggests_measuring_it_from_here() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let results = dir.path().join("results");
    let run = nfslab(
        &[
            "bench",
            "--server",
            "nas=192.168.1.20:/vol1",
            "--results",
            &results.display().to_string(),
            "--name",
            "nfslab-cli-bench",
            "--no-install",
        ],
        &state,
        &[],
    );
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    assert_last_line_offers_other_paths(&run, "--server nas=192.168.1.20:/vol1");
    // An outside server only: preflight asks for no NFS server module of the host.
    assert!(!run.stderr.contains("no NFS server"), "{}", run.describe());
}

#[test]
fn scenarios_run_writes_junit_even_when_the_cluster_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let junit = dir.path().join("scenarios.xml");
    let results = dir.path().join("scenarios.json");
    let run = nfslab(
        &[
            "scenarios",
            "run",
            "static-binding-selector",
            "--junit",
            &junit.display().to_string(),
            "--results",
            &results.display().to_string(),
            "--no-install",
        ],
        &state,
        &[],
    );
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("{e}\n{}", run.describe()));
    assert!(
        xml.contains("<testcase name=\"static-binding-selector\""),
        "{xml}"
    );
    assert!(
        xml.contains("errors=\"1\""),
        "the case is an error, not a pass: {xml}"
    );
    assert_last_line_offers_other_paths(&run, "--server HOST:/EXPORT");
}

#[test]
fn listings_print_documents_that_read_back_into_their_types() {
    use nfslab::output::{DoctorReport, ImageList, ImageState, ScenarioList, ScenarioShow};
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let files = std::fs::read_dir(&catalog)
        .expect("the catalog")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .count();

    let json = nfslab(&["scenarios", "list", "-o", "json"], &state, &[]);
    assert_eq!(json.code(), Some(0), "{}", json.describe());
    let list: ScenarioList = serde_json::from_str(&json.stdout).expect("ScenarioList JSON");
    assert_eq!(list.kind, "ScenarioList");
    assert_eq!(list.scenarios.len(), files, "one entry per file");
    assert!(
        list.scenarios.iter().all(|s| s.valid),
        "{:?}",
        list.scenarios
    );
    assert!(
        list.scenarios
            .iter()
            .any(|s| s.code.as_deref() == Some("S1") && s.id == "static-binding-selector")
    );
    let yaml = nfslab(&["scenarios", "list", "--output", "yaml"], &state, &[]);
    assert_eq!(yaml.code(), Some(0), "{}", yaml.describe());
    let from_yaml: ScenarioList = serde_saphyr::from_str(&yaml.stdout).expect("YAML");
    assert_eq!(from_yaml, list, "JSON and YAML carry the same document");

    let show = nfslab(&["scenarios", "show", "S1", "-o", "json"], &state, &[]);
    assert_eq!(show.code(), Some(0), "{}", show.describe());
    let s1: ScenarioShow = serde_json::from_str(&show.stdout).expect("ScenarioShow");
    assert_eq!(s1.id, "static-binding-selector");
    assert!(!s1.steps.is_empty());
    let missing = nfslab(&["scenarios", "show", "nope", "-o", "json"], &state, &[]);
    assert_eq!(missing.code(), Some(2), "{}", missing.describe());
    assert_eq!(missing.stdout, "", "no document for a missing scenario");

    // doctor: the same exit code as the text, here without kind (3).
    let doctor = nfslab(&["doctor", "-o", "json"], &state, &[]);
    let report: DoctorReport = serde_json::from_str(&doctor.stdout).expect("DoctorReport");
    assert_eq!(doctor.code(), Some(if report.ready { 0 } else { 3 }));
    assert!(
        !report.ready,
        "kind is not on this PATH\n{}",
        doctor.describe()
    );
    assert_eq!(report.without_kind.len(), 2);
    let text = nfslab(&["doctor"], &state, &[]);
    assert_eq!(text.code(), doctor.code());

    // Docker down: every image unknown, and exit 3 (never 0) in both formats.
    let down = [("DOCKER_HOST", "unix:///nonexistent/nfslab-test.sock")];
    let images = nfslab(&["images", "list", "-o", "json"], &state, &down);
    assert_eq!(images.code(), Some(3), "{}", images.describe());
    let list: ImageList = serde_json::from_str(&images.stdout).expect("ImageList");
    assert!(list.docker_error.is_some());
    assert!(!list.images.is_empty());
    assert!(list.images.iter().all(|i| i.state == ImageState::Unknown));
    let text = nfslab(&["images", "list"], &state, &down);
    assert_eq!(text.code(), Some(3), "{}", text.describe());
    assert!(text.stderr.contains("start Docker"), "{}", text.describe());
}

#[test]
fn run_rejects_bad_input_before_touching_anything() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    for (args, needle) in [
        (&["run", "no-such-scenario"][..], "no-such-scenario"),
        (
            &["run", "--server", "nas-without-export"][..],
            "nas-without-export",
        ),
        (
            &["run", "--plan", "/nonexistent/plan.yaml"][..],
            "/nonexistent/plan.yaml",
        ),
        (
            &["run", "--skip-scenarios", "pvc-protection"][..],
            "--skip-scenarios",
        ),
        (
            &["run", "--skip-scenarios", "--skip-bench"][..],
            "leave nothing to run",
        ),
    ] {
        let run = nfslab(args, &state, &[]);
        assert_eq!(run.code(), Some(2), "{}", run.describe());
        assert!(run.stderr.contains(needle), "{}", run.describe());
    }
    assert!(!state.exists());
}

/// A kubeconfig as users have them: one context, current, pointing at `server`.
fn kubeconfig(dir: &Path, server: &str) -> PathBuf {
    let file = dir.join("kubeconfig");
    std::fs::write(
        &file,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster:\n    server: \
             {server}\ncontexts:\n- name: lab-prod\n  context:\n    cluster: prod\n    \
             user: admin\ncurrent-context: lab-prod\nusers:\n- name: admin\n  user:\n    \
             token: t\n"
        ),
    )
    .expect("write the kubeconfig");
    file
}

#[test]
fn existing_without_a_named_context_names_it_and_waits_for_yes() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    // Port 9 (discard) refuses connections: any request would fail with "did not answer".
    let file = kubeconfig(dir.path(), "https://127.0.0.1:9");
    let file_arg = file.to_string_lossy().into_owned();
    for (args, env) in [
        (
            vec![
                "run",
                "--existing",
                "--kubeconfig",
                &file_arg,
                "--skip-bench",
            ],
            vec![],
        ),
        (
            vec!["bench", "--existing", "--repetitions", "1"],
            vec![("KUBECONFIG", file_arg.as_str())],
        ),
    ] {
        let run = nfslab(&args, &state, &env);
        assert_eq!(run.code(), Some(2), "{}", run.describe());
        let expected = format!(
            "--existing would act on context `lab-prod` (API server https://127.0.0.1:9/, \
             kubeconfig {file_arg}): nfslab creates namespaces"
        );
        assert!(run.stderr.contains(&expected), "{}", run.describe());
        assert!(
            run.stderr.contains("--context NAME, or pass --yes"),
            "{}",
            run.describe()
        );
        assert!(!run.stderr.contains("did not answer"), "{}", run.describe());
    }
    // Named context or --yes: past the gate, to the first request, which fails.
    for extra in [["--context", "lab-prod"], ["--yes", "--skip-bench"]] {
        let mut args = vec!["run", "--kubeconfig", &file_arg, "--skip-bench"];
        args.extend(extra.iter().filter(|a| **a != "--skip-bench"));
        let run = nfslab(&args, &state, &[]);
        assert_eq!(run.code(), Some(3), "{}", run.describe());
        assert!(run.stderr.contains("did not answer"), "{}", run.describe());
    }
}

#[test]
fn doctor_lists_what_is_missing_and_why() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let run = nfslab(&["doctor"], &state, &[]);
    let stdout = &run.stdout;
    let kind = stdout
        .lines()
        .position(|l| l.contains("MISSING  kind: not found on PATH"))
        .unwrap_or_else(|| panic!("no kind line\n{}", run.describe()));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[kind + 1].contains("why: nfslab creates its cluster with the kind CLI"));
    assert!(
        lines[kind + 2].contains("fix: nfslab installs kind v0.30.0 into its cache itself"),
        "{}",
        run.describe()
    );
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    assert!(
        stdout.contains("would stop at preflight (exit 3)"),
        "{}",
        run.describe()
    );
    assert!(
        !state.exists(),
        "doctor creates nothing\n{}",
        run.describe()
    );
}

#[test]
fn a_bad_config_file_is_bad_input_with_its_location() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("nfslab.yaml");
    std::fs::write(&file, "cluster:\n  workers: many\n").expect("write");
    let run = nfslab(
        &["--config", &file.to_string_lossy(), "config"],
        &dir.path().join("state"),
        &[],
    );
    assert_eq!(run.code(), Some(2), "{}", run.describe());
    assert!(
        run.stderr.starts_with(&format!(
            "error: {}:2:12: field `cluster.workers`",
            file.display()
        )),
        "{}",
        run.describe()
    );
}

#[test]
fn config_shows_the_commented_defaults_or_the_merged_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let defaults = nfslab(&["config"], &state, &[]);
    assert_eq!(defaults.code(), Some(0), "{}", defaults.describe());
    assert!(
        defaults
            .stdout
            .contains("# Worker nodes next to the single control-plane node")
    );
    let file = dir.path().join("nfslab.yaml");
    std::fs::write(&file, "cluster:\n  workers: 4\n").expect("write");
    let merged = nfslab(
        &["--config", &file.to_string_lossy(), "config"],
        &state,
        &[],
    );
    assert_eq!(merged.code(), Some(0), "{}", merged.describe());
    assert!(
        merged.stdout.contains("workers: 4"),
        "{}",
        merged.describe()
    );
    assert!(
        merged.stdout.contains("pod-ready: 3m"),
        "{}",
        merged.describe()
    );
}

#[test]
fn commands_needing_a_cluster_explain_how_to_get_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = nfslab(&["nfs", "status"], &dir.path().join("state"), &[]);
    assert_eq!(run.code(), Some(2), "{}", run.describe());
    assert!(
        run.stderr.contains("`nfslab cluster up` creates one"),
        "{}",
        run.describe()
    );
}

#[test]
fn render_prints_yaml_and_refuses_bad_run_ids() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let run = nfslab(
        &["render", "nfs-server", "--flavor", "ganesha"],
        &state,
        &[],
    );
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        run.stdout
            .starts_with("---\napiVersion: v1\nkind: Namespace\n")
    );
    let bad = nfslab(&["render", "provisioner", "--run-id", "Run_1"], &state, &[]);
    assert_eq!(bad.code(), Some(2), "{}", bad.describe());
    assert!(
        bad.stderr.contains("--run-id `Run_1`"),
        "{}",
        bad.describe()
    );
}

/// Writes an executable shell script.
fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}")).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn ctrl_c_during_cluster_up_deletes_the_half_made_cluster() {
    let dir = tempfile::tempdir().expect("tmp");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let log = dir.path().join("calls.log");
    // Stand-ins for kind and docker: record every call; `kind create` takes its time.
    script(
        &bin.join("kind"),
        &format!(
            "echo \"kind $*\" >> {log}\n\
             case \"$1 $2\" in\n\
               'version ') echo 'kind v0.29.0 go1.24.2 linux/amd64' ;;\n\
               'get clusters') ;;\n\
               'create cluster') sleep 60 ;;\n\
               'delete cluster') echo 'Deleting cluster' ;;\n\
             esac\n",
            log = log.display()
        ),
    );
    script(
        &bin.join("docker"),
        &format!("echo \"docker $*\" >> {}\necho 27.1.1\n", log.display()),
    );
    // A host whose kernel has the NFS client and server.
    let host = dir.path().join("host");
    std::fs::create_dir_all(host.join("proc/sys/kernel")).expect("dirs");
    std::fs::write(host.join("proc/sys/kernel/osrelease"), "6.18.0\n").expect("w");
    std::fs::write(host.join("proc/filesystems"), "nodev\tnfs\nnodev\tnfsd\n").expect("w");
    let state = dir.path().join("state");
    let mut command = Command::new(env!("CARGO_BIN_EXE_nfslab"));
    command
        .args(["cluster", "up", "--name", "lab"])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("NFSLAB_STATE_DIR", &state)
        .env("NFSLAB_HOST_ROOT", &host)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let child = command.spawn().expect("spawn");
    // Wait until kind is creating, then press Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("kind create cluster")
    {
        assert!(Instant::now() < deadline, "kind create never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait");
    let run = Run::finished(&command, output, started.elapsed()).in_dir(dir.path());
    assert_eq!(run.code(), Some(130), "{}", run.describe());
    assert!(
        run.stderr
            .contains("interrupted; the half-made cluster was deleted"),
        "{}",
        run.describe()
    );
    let calls = std::fs::read_to_string(&log).expect("log");
    assert!(
        calls
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("kind delete cluster --name lab"),
        "calls:\n{calls}"
    );
    assert!(
        !state.join("clusters/lab").exists(),
        "the record is gone too"
    );
}
