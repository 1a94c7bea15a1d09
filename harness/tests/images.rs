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

fn main() {
    let args = Arguments::from_args();
    let name = "save_remove_load_round_trip";
    let trial = match docker_missing() {
        None => Trial::test(name, round_trip),
        Some(reason) if required() => Trial::test(name, move || {
            Err(format!("NFSLAB_REQUIRE names `docker` but {reason}").into())
        }),
        Some(reason) => {
            eprintln!("image test ignored: {reason}");
            Trial::ignorable_test(name, move || Ok(Completion::ignored_with(reason)))
        }
    };
    libtest_mimic::run(&args, vec![trial]).exit();
}
