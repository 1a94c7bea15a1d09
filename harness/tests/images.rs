//! Moving images through a tarball with a real Docker daemon, as `nfslab images save/load`
//! does for air-gapped clusters: a small `FROM scratch` image is built, saved, removed,
//! loaded back and found again.
//!
//! Needs a Docker daemon (`docker info`); without one the test is ignored with the reason,
//! or fails when `NFSLAB_REQUIRE` names `docker`.

use std::process::Command;
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use nfslab::cluster::images::{self, Image, Role};
use nfslab::cluster::tools::SystemTools;

fn docker_missing() -> Option<String> {
    match Command::new("docker").arg("info").output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "the Docker daemon does not answer: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        )),
        Err(e) => Some(format!("docker cannot be run: {e}")),
    }
}

fn required() -> bool {
    std::env::var("NFSLAB_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .any(|s| s.trim() == "docker")
}

fn docker(args: &[&str]) -> Result<String, Failed> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| Failed::from(format!("docker {}: {e}", args.join(" "))))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "docker {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )
        .into())
    }
}

fn round_trip() -> Result<(), Failed> {
    let dir = tempfile::tempdir().map_err(|e| Failed::from(e.to_string()))?;
    std::fs::write(dir.path().join("hello"), "nfslab\n")
        .map_err(|e| Failed::from(e.to_string()))?;
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY hello /hello\n",
    )
    .map_err(|e| Failed::from(e.to_string()))?;
    let tag = format!("nfslab-images-test:{}", std::process::id());
    docker(&["build", "-q", "-t", &tag, &dir.path().to_string_lossy()])?;
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::from(e.to_string()))?
        .block_on(async {
            let tools = SystemTools::quiet();
            let timeout = Duration::from_secs(120);
            let list = [Image {
                role: Role::Nginx,
                reference: tag.clone(),
            }];
            let present = |t: &str| {
                let t = t.to_owned();
                let tools = tools.clone();
                async move {
                    images::present(&tools, &t)
                        .await
                        .map_err(|e| Failed::from(e.to_string()))
                }
            };
            if !present(&tag).await? {
                return Err(Failed::from("the freshly built image is not found"));
            }
            let tarball = dir.path().join("images.tar");
            images::save(&tools, &list, &tarball, timeout)
                .await
                .map_err(|e| Failed::from(e.to_string()))?;
            docker(&["rmi", &tag])?;
            if present(&tag).await? {
                return Err(Failed::from("the image is still there after docker rmi"));
            }
            let loaded = images::load(&tools, &tarball, timeout)
                .await
                .map_err(|e| Failed::from(e.to_string()))?;
            if loaded != [tag.clone()] {
                return Err(format!("the tarball held {loaded:?}, expected [{tag}]").into());
            }
            if !present(&tag).await? {
                return Err(Failed::from("the loaded image is not found"));
            }
            let missing = images::save(
                &tools,
                &[Image {
                    role: Role::Nginx,
                    reference: "nfslab-images-test:absent".to_owned(),
                }],
                &dir.path().join("x.tar"),
                timeout,
            )
            .await
            .err()
            .ok_or_else(|| Failed::from("saving a missing image succeeded"))?;
            if !missing.to_string().contains("`nfslab images pull`") {
                return Err(format!("unhelpful error: {missing}").into());
            }
            Ok(())
        });
    let _ = docker(&["rmi", "-f", &tag]);
    result
}

/// The nodes' kernel is the Docker daemon's: preflight reads it from a container of the
/// `nfslab-io` image (built here by its recipe when missing or stale, as `cluster up` does).
/// On this machine the daemon runs on this kernel, so what the container reports must be
/// what this process reads itself.
fn the_daemons_kernel_from_a_container() -> Result<(), Failed> {
    let config = nfslab::config::Config::default();
    let image = config.images.nfslab_io();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::from(e.to_string()))?;
    let probe = runtime.block_on(async {
        let tools = SystemTools::quiet();
        let source = images::source_dir();
        let state = images::freshness_of(&tools, &source, images::IO_RECIPE, &image)
            .await
            .map_err(|e| Failed::from(e.to_string()))?;
        if state.needs_build() {
            images::build(
                &tools,
                &source,
                images::IO_RECIPE,
                &image,
                config.timeouts.image_build,
            )
            .await
            .map_err(|e| Failed::from(e.to_string()))?;
        }
        nfslab::cluster::preflight::daemon_kernel(&tools, &image)
            .await
            .map_err(Failed::from)
    })?;
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_err(|e| Failed::from(e.to_string()))?;
    if probe.release().as_deref() != Some(release.trim()) {
        return Err(format!("release {:?}, this kernel {release:?}", probe.release()).into());
    }
    let host = nfslab::cluster::preflight::KernelProbe::default();
    for (fs, module) in [
        ("nfs", "kernel/fs/nfs/nfs.ko"),
        ("nfsd", "kernel/fs/nfsd/nfsd.ko"),
        ("overlay", "kernel/fs/overlayfs/overlay.ko"),
    ] {
        let (seen, here) = (probe.filesystem(fs, module), host.filesystem(fs, module));
        if seen != here {
            return Err(format!("{fs}: the container sees {seen:?}, this process {here:?}").into());
        }
    }
    Ok(())
}

type Test = (&'static str, fn() -> Result<(), Failed>);

fn main() {
    let args = Arguments::from_args();
    let tests: Vec<Test> = vec![
        ("save_remove_load_round_trip", round_trip),
        (
            "the_daemons_kernel_from_a_container",
            the_daemons_kernel_from_a_container,
        ),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, f)| match docker_missing() {
            None => Trial::test(name, f),
            Some(reason) if required() => Trial::test(name, move || {
                Err(format!("NFSLAB_REQUIRE names `docker` but {reason}").into())
            }),
            Some(reason) => {
                eprintln!("image test ignored: {reason}");
                Trial::ignorable_test(name, move || Ok(Completion::ignored_with(reason)))
            }
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
