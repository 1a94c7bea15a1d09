//! The image: `workloads/image/build.sh` builds the static binary and the FROM-scratch
//! image; a container from it runs a short verified job against a tmpfs volume and its JSON
//! result is parsed, and the image carries the source hash of the tree it was built from.
//! Those need a Docker daemon: ignored with the reason when none answers, failed instead
//! when `NFSLAB_REQUIRE` names `docker`. The source hash itself (what marks an image stale)
//! is checked without Docker.

mod common;

use std::path::PathBuf;
use std::process::Command;

use nfslab_test_support::gate::{Body, gated_trials};
use nfslab_workload::{RunResult, Status};
use testcontainers::core::wait::ExitWaitStrategy;
use testcontainers::core::{Mount, WaitFor};
use testcontainers::runners::SyncRunner as _;
use testcontainers::{GenericImage, ImageExt as _};

fn docker_available() -> Result<(), String> {
    match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`docker info` failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or_default()
        )),
        Err(e) => Err(format!("cannot run `docker`: {e}")),
    }
}

fn build_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("image/build.sh")
}

/// Builds the image with the script; returns its tag.
fn build_image() -> Result<String, libtest_mimic::Failed> {
    let out = Command::new("bash").arg(build_script()).output()?;
    if !out.status.success() {
        return Err(format!(
            "build.sh failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tag = stdout.lines().last().unwrap_or_default().trim().to_owned();
    ensure!(
        tag == format!("nfslab-io:{}", env!("CARGO_PKG_VERSION")),
        "unexpected tag `{tag}`"
    );
    Ok(tag)
}

fn image_is_only_the_binary(tag: &str) -> Result<(), libtest_mimic::Failed> {
    let out = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{len .RootFS.Layers}} {{.Size}} {{json .Config.Entrypoint}}",
            tag,
        ])
        .output()?;
    ensure!(
        out.status.success(),
        "docker image inspect failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    ensure!(fields.first() == Some(&"1"), "one layer expected: {text}");
    let size: u64 = fields
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX);
    ensure!(
        size < 8 << 20,
        "image is {size} bytes; the stripped static binary alone is about 3 MiB"
    );
    ensure!(
        fields.get(2) == Some(&"[\"/nfslab-io\"]"),
        "entrypoint: {text}"
    );
    let label = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{ index .Config.Labels \"org.nfslab.source\" }}",
            tag,
        ])
        .output()?;
    let label = String::from_utf8_lossy(&label.stdout).trim().to_owned();
    let tree = source_hash(&build_script())?;
    ensure!(
        label == tree,
        "the image's source label `{label}` is not the tree's hash `{tree}`"
    );
    Ok(())
}

/// `build.sh --source-hash` for the tree `script` belongs to.
fn source_hash(script: &std::path::Path) -> Result<String, libtest_mimic::Failed> {
    let out = Command::new("bash")
        .arg(script)
        .arg("--source-hash")
        .output()?;
    ensure!(
        out.status.success(),
        "build.sh --source-hash failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The source hash that marks stale images: stable, and changed by an edit of the engine's
/// sources or lock file but not by other parts of the tree. Runs the real script on a copy
/// of the engine's inputs.
fn source_hash_follows_the_engine_sources() -> Result<(), libtest_mimic::Failed> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let copy = tempfile::tempdir()?;
    for file in ["Cargo.toml", "Cargo.lock"] {
        std::fs::copy(repo.join(file), copy.path().join(file))?;
    }
    // The engine and the mount-option crate its NFS client parses with.
    for krate in ["workloads", "mount-options"] {
        let status = Command::new("cp")
            .args(["-R", "--"])
            .arg(repo.join(krate))
            .arg(copy.path())
            .status()?;
        ensure!(status.success(), "cp -R {krate} failed");
    }
    let _ = std::fs::remove_dir_all(copy.path().join("workloads/target"));
    let script = copy.path().join("workloads/image/build.sh");
    let first = source_hash(&script)?;
    ensure!(
        first.len() == 16 && first.bytes().all(|b| b.is_ascii_hexdigit()),
        "not a hash: `{first}`"
    );
    ensure!(source_hash(&script)? == first, "the hash is not stable");
    ensure!(
        source_hash(&build_script())? == first,
        "a copy of the same sources hashes differently from the tree"
    );
    std::fs::write(copy.path().join("workloads/README.md"), "edited\n")?;
    std::fs::create_dir_all(copy.path().join("harness"))?;
    std::fs::write(copy.path().join("harness/x.rs"), "// other crate\n")?;
    ensure!(
        source_hash(&script)? == first,
        "docs and other crates must not mark the image stale"
    );
    let lib = copy.path().join("workloads/src/lib.rs");
    let mut text = std::fs::read_to_string(&lib)?;
    text.push_str("\n// edited\n");
    std::fs::write(&lib, text)?;
    let edited = source_hash(&script)?;
    ensure!(
        edited != first,
        "an edit of the engine did not change the hash"
    );
    let options = copy.path().join("mount-options/src/lib.rs");
    let mut text = std::fs::read_to_string(&options)?;
    text.push_str("\n// edited\n");
    std::fs::write(&options, text)?;
    let edited_options = source_hash(&script)?;
    ensure!(
        edited_options != edited,
        "an edit of the mount-option crate did not change the hash"
    );
    std::fs::write(copy.path().join("Cargo.lock"), "# other dependencies\n")?;
    ensure!(
        source_hash(&script)? != edited_options,
        "a change of the lock file did not change the hash"
    );
    Ok(())
}

fn verified_job_in_a_container() -> Result<(), libtest_mimic::Failed> {
    let tag = build_image()?;
    image_is_only_the_binary(&tag)?;
    let (name, version) = tag.split_once(':').ok_or("tag without version")?;
    let container = GenericImage::new(name, version)
        .with_wait_for(WaitFor::exit(ExitWaitStrategy::new()))
        .with_cmd([
            "run",
            "--dir",
            "/data",
            "--pattern",
            "randwrite",
            "--bs",
            "4k",
            "--size",
            "4m",
            "--threads",
            "2",
            "--verify",
            "--compact",
        ])
        .with_mount(Mount::tmpfs_mount("/data"))
        .start()?;
    let code = container.exit_code()?;
    let stdout = container.stdout_to_vec()?;
    let stderr = String::from_utf8_lossy(&container.stderr_to_vec()?).into_owned();
    ensure!(
        code == Some(0),
        "container exit {code:?}\nstderr:\n{stderr}"
    );
    let r: RunResult = serde_json::from_slice(&stdout)
        .map_err(|e| format!("stdout is not a result: {e}\nstderr:\n{stderr}"))?;
    ensure!(r.status == Status::Ok, "status {:?}", r.status);
    let v = r.verify.as_ref().ok_or("no verify section")?;
    ensure!(v.mismatches == 0 && v.blocks_checked == 2 * 1024, "{v:?}");
    ensure!(r.totals.data_ops == 2 * 1024, "{:?}", r.totals);
    let mount = r.mount.as_ref().ok_or("no mount section")?;
    ensure!(
        mount.mount.mount_point == "/data" && mount.mount.fstype == "tmpfs",
        "{:?}",
        mount.mount
    );
    ensure!(
        stderr.contains("status: ok"),
        "summary on stderr:\n{stderr}"
    );
    container.rm()?;
    Ok(())
}

/// The target follows the Docker daemon's architecture (which is the kind nodes'), not this
/// host's: the script is run with a `docker` on PATH answering `docker info` as a daemon of
/// each architecture answers.
fn target_follows_the_daemons_architecture() -> Result<(), libtest_mimic::Failed> {
    for (arch, want) in [
        ("x86_64", Some("x86_64-unknown-linux-musl")),
        ("aarch64", Some("aarch64-unknown-linux-musl")),
        ("s390x", None),
    ] {
        let dir = tempfile::tempdir()?;
        let docker = dir.path().join("docker");
        std::fs::write(&docker, format!("#!/bin/sh\necho {arch}\n"))?;
        std::fs::set_permissions(&docker, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        let path = format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("bash")
            .arg(build_script())
            .arg("--triple")
            .env("PATH", path)
            .output()?;
        let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        match want {
            Some(triple) => ensure!(
                out.status.success() && printed == triple,
                "{arch}: {printed} ({})",
                String::from_utf8_lossy(&out.stderr)
            ),
            None => ensure!(
                !out.status.success()
                    && String::from_utf8_lossy(&out.stderr).contains("x86_64 and aarch64 only"),
                "{arch} is refused: {printed}"
            ),
        }
    }
    Ok(())
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let tests: Vec<(&'static str, Body)> = vec![(
        "image_builds_and_runs_a_verified_job_on_tmpfs",
        Box::new(verified_job_in_a_container),
    )];
    let mut trials = gated_trials("docker", docker_available(), tests);
    trials.push(libtest_mimic::Trial::test(
        "source_hash_follows_the_engine_sources",
        source_hash_follows_the_engine_sources,
    ));
    trials.push(libtest_mimic::Trial::test(
        "target_follows_the_daemons_architecture",
        target_follows_the_daemons_architecture,
    ));
    libtest_mimic::run(&args, trials).exit();
}
