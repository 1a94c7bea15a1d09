//! Moving images through a tarball with a real Docker daemon, as `nfslab images save/load`
//! does for air-gapped clusters: a small `FROM scratch` image is built, saved, removed,
//! loaded back and found again.
//!
//! Pushing nfslab's own image to a registry, as `--image-registry` does for existing
//! clusters: a real registry (Debian's `docker-registry`, the CNCF distribution registry)
//! on loopback receives the push, and a pull from it after the local copy is removed gets
//! the image built from this tree, as a node would.
//!
//! Needs a Docker daemon (`docker info`) and, for the registry trial, `docker-registry` on
//! PATH; without them the tests are ignored with the reason, or fail when `NFSLAB_REQUIRE`
//! names `docker` (CI installs both).

use std::process::Command;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed};
use nfslab::cluster::SystemTools;
use nfslab::cluster::images::{self, Image, Role};
use nfslab_test_support::gate;

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
    let config = nfslab::Config::default();
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
        nfslab::cluster::daemon_kernel(&tools, &image)
            .await
            .map_err(Failed::from)
    })?;
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_err(|e| Failed::from(e.to_string()))?;
    if probe.release().as_deref() != Some(release.trim()) {
        return Err(format!("release {:?}, this kernel {release:?}", probe.release()).into());
    }
    let host = nfslab::cluster::KernelProbe::default();
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

/// A registry process on loopback, stopped (by its process id) when dropped.
struct Registry {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, Failed> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// `GET path` on the registry's HTTP API: status line and body.
fn http_get(port: u16, path: &str) -> Result<(String, String), Failed> {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

fn start_registry() -> Result<Registry, Failed> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = free_port()?;
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: \
             127.0.0.1:{port}\n",
            dir.path().join("data").display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.path().join("registry.log")).map_err(|e| e.to_string())?;
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("docker-registry cannot be started: {e}"))?;
    let registry = Registry {
        child,
        port,
        _dir: dir,
    };
    for _ in 0..100 {
        if http_get(port, "/v2/").is_ok_and(|(status, _)| status.contains(" 200")) {
            return Ok(registry);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("the registry did not answer on /v2/ within 10 s".into())
}

fn pushed_to_a_registry_the_nodes_pull_from() -> Result<(), Failed> {
    let registry = start_registry()?;
    let port = registry.port;
    let choice = nfslab::ClusterChoice::Existing {
        kubeconfig: None,
        context: None,
        confirmed: true,
        image_registry: Some(format!("127.0.0.1:{port}/lab/")),
    };
    let mut config = nfslab::Config::default();
    choice.use_registry(&mut config);
    let source = images::source_dir();
    let hash = images::source_hash(&source, images::IO_RECIPE).ok_or("no source hash")?;
    let target = format!(
        "127.0.0.1:{port}/lab/nfslab-io:{}-{hash}",
        env!("CARGO_PKG_VERSION")
    );
    if config.images.nfslab_io != target {
        return Err(format!(
            "use_registry chose `{}`, not `{target}`",
            config.images.nfslab_io
        )
        .into());
    }
    let tools = SystemTools::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime
        .block_on(images::publish(
            &tools,
            &source,
            images::IO_RECIPE,
            &target,
            Duration::from_secs(1800),
            Duration::from_secs(300),
        ))
        .map_err(|e| format!("publish: {}", nfslab::error_chain(&e)))?;
    let (status, body) = http_get(port, "/v2/lab/nfslab-io/tags/list")?;
    let tag = format!("{}-{hash}", env!("CARGO_PKG_VERSION"));
    if !status.contains(" 200") || !body.contains(&format!("\"{tag}\"")) {
        return Err(format!("the registry lists no tag {tag}: {status} {body}").into());
    }
    // What a node does: pull the reference from the registry, with no local copy.
    docker(&["image", "rm", &target])?;
    docker(&["pull", &target])?;
    let label = docker(&[
        "image",
        "inspect",
        "--format",
        &format!(
            "{{{{ index .Config.Labels \"{}\" }}}}",
            images::SOURCE_LABEL
        ),
        &target,
    ])?;
    let _ = docker(&["image", "rm", &target]);
    if label.trim() != hash {
        return Err(
            format!("the pulled image carries source {label:?}, the tree is {hash}").into(),
        );
    }
    // A registry that is not there: the push's failure, with what to check.
    drop(registry);
    let err = runtime
        .block_on(images::publish(
            &tools,
            &source,
            images::IO_RECIPE,
            &format!("127.0.0.1:{port}/lab/nfslab-io:gone"),
            Duration::from_secs(1800),
            Duration::from_secs(60),
        ))
        .err()
        .ok_or("a push to a stopped registry succeeded")?;
    let text = nfslab::error_chain(&err);
    let _ = docker(&[
        "image",
        "rm",
        &format!("127.0.0.1:{port}/lab/nfslab-io:gone"),
    ]);
    if !text.contains("could not push `127.0.0.1:") || !text.contains("docker login REGISTRY") {
        return Err(format!("unexpected failure text: {text}").into());
    }
    Ok(())
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn main() {
    let args = Arguments::from_args();
    let tests: Vec<Test> = vec![
        (
            "pushed_to_a_registry_the_nodes_pull_from",
            pushed_to_a_registry_the_nodes_pull_from,
        ),
        ("save_remove_load_round_trip", round_trip),
        (
            "the_daemons_kernel_from_a_container",
            the_daemons_kernel_from_a_container,
        ),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, f)| {
            let registry = (name == "pushed_to_a_registry_the_nodes_pull_from"
                && which("docker-registry").is_none())
            .then(|| {
                "docker-registry is not on PATH (Debian: apt-get install docker-registry)"
                    .to_owned()
            });
            (name, f, docker_missing().or(registry))
        })
        .map(|(name, f, missing)| gate::trial("docker", name, missing, f))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
