//! nfslab's own NFS server image (the default `ganesha` flavor), started under Docker exactly
//! as its pod starts on a cluster, and used by real clients on loopback.
//!
//! The container is made from the rendered manifests (`nfslab render nfs-server`), never from
//! a copy in this test: the server container's command, environment, ports, memory limit and
//! security context, the ConfigMap's start script and ganesha configuration mounted where the
//! pod mounts them, a directory standing in for the node's hostPath, and the open-file limit
//! pods inherit on kind (`fs.nr_open`, as far as this Docker daemon allows). A field of the
//! server container this test cannot map to `docker run` fails it, so the two cannot drift.
//!
//! Then, through the container's published ports:
//! - the pod's own readiness probe passes once the server serves, and fails without one;
//! - NFSv3: `nfslab-io` writes with verification and reads back (explicit NFS and MOUNT ports,
//!   as a client behind the Service's fixed ports);
//! - NFSv4.0: libnfs' `nfs-cp` writes and `nfs-cat` reads (libnfs 4.0 speaks NFSv4.0 only:
//!   its SETCLIENTID is refused by a server with minor version 0 disabled);
//! - NFSv4.1: the `nfs-rs` client writes and reads back; NFSv4.1 and NFSv4.2: a minimal
//!   session client of this test (`nfs4_client`: nfs-rs asks ganesha 4.3 for a v4.2
//!   feature it refuses, see there) writes and reads back;
//! - a container restart (the pod restart of the fault scenario): a `hard` client stalls and
//!   completes with every block verified; a `soft` client gets EIO within its timeout when the
//!   server stops.
//!
//! Needs Docker, the image (built here with its recipe when missing or stale, as `cluster up`
//! does), and libnfs' tools; without them the tests are ignored with the reason, or fail when
//! `NFSLAB_REQUIRE` names `docker`.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use nfslab_test_support::gate;

mod nfs4_client;
use nfslab::Config;
use nfslab::cluster::SystemTools;
use nfslab::cluster::images;
use nfslab::nfs::ServerFlavor;
use nfslab::nfs::server::{SERVER_CONTAINER, SERVER_NAME};
use nfslab_workload::{RunResult, Status};

type Outcome = Result<(), Failed>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(Failed::from(format!($($msg)+)));
        }
    };
}

fn missing() -> Option<String> {
    match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Some(format!(
                "the Docker daemon does not answer: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or_default()
            ));
        }
        Err(e) => return Some(format!("docker cannot be run: {e}")),
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let absent: Vec<&str> = ["nfs-cp", "nfs-cat"]
        .into_iter()
        .filter(|t| !std::env::split_paths(&path).any(|d| d.join(t).is_file()))
        .collect();
    (!absent.is_empty()).then(|| format!("missing libnfs tools: {}", absent.join(", ")))
}

fn run(command: &mut Command) -> Result<Output, Failed> {
    command
        .output()
        .map_err(|e| Failed::from(format!("cannot run {command:?}: {e}")))
}

fn docker(args: &[&str]) -> Result<String, Failed> {
    let out = run(Command::new("docker").args(args))?;
    ensure!(
        out.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The image clusters run, built with its recipe when Docker lacks it or it is stale: the
/// same path `nfslab cluster up` takes.
fn image(config: &Config) -> Result<String, Failed> {
    let reference = config.images.ganesha_nfs_server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::from(e.to_string()))?;
    runtime.block_on(async {
        let tools = SystemTools::quiet();
        let source = images::source_dir();
        let freshness = images::freshness_of(&tools, &source, images::SERVER_RECIPE, &reference)
            .await
            .map_err(|e| Failed::from(e.to_string()))?;
        if freshness.needs_build() {
            eprintln!("building {reference} ({freshness:?})");
            images::build(
                &tools,
                &source,
                images::SERVER_RECIPE,
                &reference,
                config.timeouts.image_build,
            )
            .await
            .map_err(|e| Failed::from(e.to_string()))?;
        }
        Ok(reference)
    })
}

fn free_port() -> Result<u16, Failed> {
    for _ in 0..50 {
        let tcp = std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| Failed::from(e.to_string()))?;
        let port = tcp
            .local_addr()
            .map_err(|e| Failed::from(e.to_string()))?
            .port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no port free for both TCP and UDP".into())
}

/// `1Gi` -> bytes.
fn quantity(text: &str) -> Result<u64, Failed> {
    let units = [("Ki", 1u64 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30)];
    for (suffix, factor) in units {
        if let Some(n) = text.strip_suffix(suffix) {
            return n
                .parse::<u64>()
                .map(|n| n * factor)
                .map_err(|e| Failed::from(format!("quantity `{text}`: {e}")));
        }
    }
    text.parse::<u64>()
        .map_err(|e| Failed::from(format!("quantity `{text}`: {e}")))
}

/// The server container of the rendered pod, mapped to `docker run`.
struct Plan {
    args: Vec<String>,
    /// Container port -> host port, TCP.
    tcp: BTreeMap<u16, u16>,
    probe: Vec<String>,
    probe_period: Duration,
    export: PathBuf,
    grace: Duration,
    memory_limit: u64,
}

fn plan(
    config: &Config,
    flavor: ServerFlavor,
    image: &str,
    dir: &Path,
    name: &str,
) -> Result<Plan, Failed> {
    let docs = nfslab::render::nfs_server(config, Some(flavor));
    let find = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .ok_or_else(|| Failed::from(format!("no {kind} rendered")))
    };
    let config_map = find("ConfigMap")?;
    let set = find("StatefulSet")?;
    let pod = &set["spec"]["template"]["spec"];
    let container = pod["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == SERVER_CONTAINER))
        .ok_or("no server container")?;
    let known = [
        "name",
        "image",
        "imagePullPolicy",
        "command",
        "args",
        "env",
        "securityContext",
        "resources",
        "ports",
        "readinessProbe",
        "volumeMounts",
    ];
    for key in container.as_object().ok_or("container")?.keys() {
        ensure!(
            known.contains(&key.as_str()),
            "the server container has `{key}`, which this test does not map to docker run"
        );
    }
    ensure!(
        container["image"] == image,
        "the pod runs {}",
        container["image"]
    );
    let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.into()];
    // Environment, as the pod sets it.
    let mut grace = Duration::from_secs(10);
    for e in container["env"].as_array().into_iter().flatten() {
        let (k, v) = (
            e["name"].as_str().unwrap_or(""),
            e["value"].as_str().unwrap_or(""),
        );
        if k == "GRACE_SECONDS" {
            grace = Duration::from_secs(v.parse().unwrap_or(10));
        }
        args.extend(["-e".into(), format!("{k}={v}")]);
    }
    // The security context: only what the pod asks for.
    let security = &container["securityContext"];
    for (key, value) in security.as_object().into_iter().flatten() {
        match key.as_str() {
            "privileged" if value == true => args.push("--privileged".into()),
            "privileged" => {}
            "capabilities" => {
                for cap in value["add"].as_array().into_iter().flatten() {
                    args.push(format!("--cap-add={}", cap.as_str().unwrap_or("")));
                }
                for cap in value["drop"].as_array().into_iter().flatten() {
                    args.push(format!("--cap-drop={}", cap.as_str().unwrap_or("")));
                }
            }
            "seccompProfile" => match value["type"].as_str() {
                Some("Unconfined") => args.push("--security-opt=seccomp=unconfined".into()),
                Some("RuntimeDefault") => {}
                other => return Err(format!("seccomp profile {other:?} is not mapped").into()),
            },
            other => return Err(format!("securityContext.{other} is not mapped").into()),
        }
    }
    // Limits (requests only steer scheduling).
    let limits = &container["resources"]["limits"];
    let memory_limit = quantity(limits["memory"].as_str().ok_or("a memory limit")?)?;
    args.push(format!("--memory={memory_limit}b"));
    if let Some(cpu) = limits["cpu"].as_str() {
        args.push(format!("--cpus={cpu}"));
    }
    // Ports, each published on loopback.
    let mut tcp = BTreeMap::new();
    for p in container["ports"].as_array().into_iter().flatten() {
        let port = u16::try_from(p["containerPort"].as_u64().ok_or("containerPort")?)
            .map_err(|e| Failed::from(e.to_string()))?;
        let protocol = p["protocol"].as_str().unwrap_or("TCP").to_lowercase();
        let host = if protocol == "tcp" {
            let h = free_port()?;
            tcp.insert(port, h);
            h
        } else {
            free_port()?
        };
        args.push(format!("--publish=127.0.0.1:{host}:{port}/{protocol}"));
    }
    // Volumes: the hostPath stands in as a directory, the ConfigMap as its files.
    let export = dir.join("export");
    std::fs::create_dir_all(&export).map_err(|e| Failed::from(e.to_string()))?;
    for mount in container["volumeMounts"].as_array().into_iter().flatten() {
        let name = mount["name"].as_str().unwrap_or("");
        let path = mount["mountPath"].as_str().unwrap_or("");
        let volume = pod["volumes"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["name"] == name))
            .ok_or_else(|| format!("volume `{name}`"))?;
        if volume.get("hostPath").is_some() {
            args.push(format!("--volume={}:{path}", export.display()));
        } else if let Some(cm) = volume.get("configMap") {
            let mode = cm["defaultMode"].as_u64().unwrap_or(0o644);
            let files = dir.join(name);
            std::fs::create_dir_all(&files).map_err(|e| Failed::from(e.to_string()))?;
            for (key, value) in config_map["data"].as_object().ok_or("data")? {
                let file = files.join(key);
                std::fs::write(&file, value.as_str().unwrap_or(""))
                    .map_err(|e| Failed::from(e.to_string()))?;
                std::fs::set_permissions(
                    &file,
                    std::os::unix::fs::PermissionsExt::from_mode(
                        u32::try_from(mode).unwrap_or(0o644),
                    ),
                )
                .map_err(|e| Failed::from(e.to_string()))?;
            }
            args.push(format!("--volume={}:{path}:ro", files.display()));
        } else {
            return Err(format!("volume `{name}` is neither hostPath nor configMap").into());
        }
    }
    let command: Vec<String> = container["command"]
        .as_array()
        .ok_or("a command")?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let (entry, rest) = command.split_first().ok_or("an empty command")?;
    args.push(format!("--entrypoint={entry}"));
    args.push("--ulimit=nofile=NOFILE:NOFILE".into());
    args.push(image.to_owned());
    args.extend(rest.iter().cloned());
    args.extend(
        container["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned)),
    );
    let probe_spec = &container["readinessProbe"];
    let probe: Vec<String> = probe_spec["exec"]["command"]
        .as_array()
        .ok_or("an exec readiness probe")?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let probe_period = Duration::from_secs(probe_spec["periodSeconds"].as_u64().unwrap_or(10));
    Ok(Plan {
        args,
        tcp,
        probe,
        probe_period,
        export,
        grace,
        memory_limit,
    })
}

/// The running server container; removed when dropped.
struct Server {
    name: String,
    plan: Plan,
    nofile: u64,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

impl Server {
    fn start() -> Result<Server, Failed> {
        let config = Config::default();
        let image = image(&config)?;
        Self::start_flavor(&config, ServerFlavor::Ganesha, &image)
    }

    fn start_flavor(config: &Config, flavor: ServerFlavor, image: &str) -> Result<Server, Failed> {
        let dir = tempfile::tempdir().map_err(|e| Failed::from(e.to_string()))?;
        let name = format!(
            "nfslab-{}-{flavor:?}-test-{}",
            SERVER_NAME,
            std::process::id()
        )
        .to_lowercase();
        let plan = plan(config, flavor, image, dir.path(), &name)?;
        let _ = Command::new("docker").args(["rm", "-f", &name]).output();
        // Pods on kind inherit containerd's open-file limit, fs.nr_open; use it when this
        // daemon may set it (raising a hard limit needs CAP_SYS_RESOURCE), else the most it
        // allows.
        let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(1 << 20);
        let mut started = None;
        for nofile in [nr_open, 65_536, 20_000] {
            let args: Vec<String> = plan
                .args
                .iter()
                .map(|a| a.replace("NOFILE", &nofile.to_string()))
                .collect();
            let out = run(Command::new("docker").args(&args))?;
            if out.status.success() {
                started = Some(nofile);
                break;
            }
            let _ = Command::new("docker").args(["rm", "-f", &name]).output();
            let err = String::from_utf8_lossy(&out.stderr);
            if !err.contains("rlimit") && !err.contains("operation not permitted") {
                return Err(format!("docker {}: {err}", args.join(" ")).into());
            }
        }
        let nofile = started.ok_or("docker refused every open-file limit")?;
        let server = Server {
            name,
            plan,
            nofile,
            _dir: dir,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn port(&self, container: u16) -> Result<u16, Failed> {
        self.plan
            .tcp
            .get(&container)
            .copied()
            .ok_or_else(|| Failed::from(format!("port {container} is not published")))
    }

    /// Runs the pod's readiness probe as the kubelet does, every period, until it passes.
    fn wait_ready(&self) -> Result<Duration, Failed> {
        let start = Instant::now();
        loop {
            let mut args = vec!["exec".to_owned(), self.name.clone()];
            args.extend(self.plan.probe.iter().cloned());
            let out = run(Command::new("docker").args(&args))?;
            if out.status.success() {
                return Ok(start.elapsed());
            }
            ensure!(
                start.elapsed() < Duration::from_secs(90),
                "the readiness probe did not pass within 90 s: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                self.logs()
            );
            std::thread::sleep(self.plan.probe_period);
        }
    }

    fn logs(&self) -> String {
        Command::new("docker")
            .args(["logs", "--tail", "40", &self.name])
            .output()
            .map(|o| {
                format!(
                    "server log:\n{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .unwrap_or_default()
    }

    /// A directory on the export, made on the node's side as a PV's directory would be.
    fn subdir(&self, name: &str) -> Result<PathBuf, Failed> {
        let dir = self.plan.export.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| Failed::from(e.to_string()))?;
        Ok(dir)
    }

    fn url(&self, path: &str, extra: &str) -> Result<String, Failed> {
        let mut url = format!(
            "nfs://127.0.0.1{path}?nfsport={}&mountport={}",
            self.port(2049)?,
            self.port(nfslab::nfs::server::MOUNTD_PORT)?
        );
        if !extra.is_empty() {
            url.push('&');
            url.push_str(extra);
        }
        Ok(url)
    }
}

/// Retries `attempt` while the server may still refuse calls as in grace (one-shot clients
/// give up on the first NFS3ERR_JUKEBOX / NFS4ERR_GRACE; kernel clients and nfslab-io retry):
/// ganesha lifts its grace period lazily, so on a loaded host it outlasts the configured
/// seconds; a few times the grace period is the bound.
fn in_grace<T>(
    server: &Server,
    mut attempt: impl FnMut(u32) -> Result<T, String>,
) -> Result<T, Failed> {
    let limit = server.plan.grace * 4 + Duration::from_secs(5);
    let start = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt(tries) {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() < limit => {
                eprintln!("try {tries}: {e}");
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => return Err(format!("gave up after {tries} tries: {e}").into()),
        }
    }
}

fn engine() -> Result<PathBuf, Failed> {
    nfslab::k8s::test_binary().map_err(Failed::from)
}

fn io_run(args: &[String]) -> Result<(i32, Option<RunResult>, String), Failed> {
    let out = run(Command::new(engine()?).args(args))?;
    let result = serde_json::from_slice::<RunResult>(&out.stdout).ok();
    Ok((
        out.status.code().unwrap_or(-1),
        result,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

static SERVER: Mutex<Option<Server>> = Mutex::new(None);

fn with_server(f: impl FnOnce(&Server) -> Outcome) -> Outcome {
    let mut guard = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        *guard = Some(Server::start()?);
    }
    let server = guard.as_ref().ok_or("no server")?;
    let result = f(server);
    if let Err(e) = &result {
        return Err(format!("{}\n{}", e.message().unwrap_or_default(), server.logs()).into());
    }
    result
}

fn starts_from_the_rendered_pod() -> Outcome {
    with_server(|server| {
        let log = server.logs();
        let limit: u64 = log
            .lines()
            .find_map(|l| l.strip_prefix("nfslab: open file limit "))
            .and_then(|n| n.trim().parse().ok())
            .ok_or("the script logs its open-file limit")?;
        ensure!(
            limit <= 65_536 && limit <= server.nofile,
            "the script capped {} to {limit}",
            server.nofile
        );
        ensure!(log.contains("NFS SERVER INITIALIZED"), "ganesha started");
        ensure!(
            !log.contains("Can't open pid file") && !log.contains("FATAL"),
            "no fatal start-up error"
        );
        let memory = docker(&[
            "inspect",
            "--format",
            "{{.HostConfig.Memory}}",
            &server.name,
        ])?;
        ensure!(
            memory.trim() == server.plan.memory_limit.to_string(),
            "memory limit {memory}"
        );
        Ok(())
    })
}

fn the_probe_fails_without_a_server() -> Outcome {
    let config = Config::default();
    let image = image(&config)?;
    let dir = tempfile::tempdir().map_err(|e| Failed::from(e.to_string()))?;
    let plan = plan(&config, ServerFlavor::Ganesha, &image, dir.path(), "unused")?;
    let (entry, rest) = plan.probe.split_first().ok_or("a probe")?;
    let out = run(Command::new("docker")
        .args(["run", "--rm", "--entrypoint", entry, &image])
        .args(rest))?;
    ensure!(
        !out.status.success(),
        "the probe passed with no server running"
    );
    Ok(())
}

fn nfsv3_with_nfslab_io() -> Outcome {
    with_server(|server| {
        server.subdir("v3")?;
        let url = server.url("/exports/v3", "")?;
        let write = s(&[
            "run",
            "--target",
            &url,
            "--pattern",
            "write",
            "--bs",
            "256k",
            "--size",
            "8m",
            "--nrfiles",
            "2",
            "--verify",
            "--keep",
            "--compact",
        ]);
        let (code, result, err) = io_run(&write)?;
        let result = result.ok_or_else(|| format!("no result (exit {code}): {err}"))?;
        ensure!(
            code == 0 && result.status == Status::Ok,
            "write: exit {code}: {err}"
        );
        let read = s(&[
            "run",
            "--target",
            &url,
            "--pattern",
            "read",
            "--bs",
            "256k",
            "--size",
            "8m",
            "--nrfiles",
            "2",
            "--verify",
            "--reuse-layout",
            "--compact",
        ]);
        let (code, result, err) = io_run(&read)?;
        let result = result.ok_or_else(|| format!("no result (exit {code}): {err}"))?;
        ensure!(
            code == 0 && result.status == Status::Ok,
            "read: exit {code}: {err}"
        );
        let verify = result.verify.as_ref().ok_or("a verify section")?;
        ensure!(
            verify.mismatches == 0 && verify.blocks_checked == 64,
            "verified blocks: {verify:?}"
        );
        // The files are on the node's directory, as the pod's hostPath holds them.
        let on_disk = server.plan.export.join("v3");
        let files = std::fs::read_dir(&on_disk)
            .map_err(|e| Failed::from(format!("{}: {e}", on_disk.display())))?
            .count();
        ensure!(files == 2, "{files} files in {}", on_disk.display());
        Ok(())
    })
}

fn nfsv4_0_with_libnfs() -> Outcome {
    with_server(|server| {
        let dir = tempfile::tempdir().map_err(|e| Failed::from(e.to_string()))?;
        let source = dir.path().join("source.txt");
        std::fs::write(&source, "written over NFSv4.0\n")
            .map_err(|e| Failed::from(e.to_string()))?;
        let port = server.port(2049)?;
        std::fs::create_dir_all(server.plan.export.join("v40"))
            .map_err(|e| Failed::from(e.to_string()))?;
        // nfs-cp creates exclusively: each try writes a fresh name.
        let name = in_grace(server, |n| {
            let name = format!("v40/f{n}.txt");
            let url = format!("nfs://127.0.0.1/exports/{name}?version=4&nfsport={port}");
            let out = Command::new("nfs-cp")
                .arg(&source)
                .arg(&url)
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(name)
            } else {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            }
        })?;
        let url = format!("nfs://127.0.0.1/exports/{name}?version=4&nfsport={port}");
        let read = in_grace(server, |_| {
            let out = Command::new("nfs-cat")
                .arg(&url)
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            }
        })?;
        ensure!(read == "written over NFSv4.0\n", "read back {read:?}");
        let on_disk = std::fs::read_to_string(server.plan.export.join(&name))
            .map_err(|e| Failed::from(e.to_string()))?;
        ensure!(on_disk == read, "on the node: {on_disk:?}");
        Ok(())
    })
}

/// Writes then reads `name` with the nfs-rs client at `version` (`4.1`, `4.2`).
async fn nfs_rs_round_trip(
    port: u16,
    version: &str,
    name: &str,
    data: &[u8],
) -> Result<Vec<u8>, String> {
    let url = format!("nfs://127.0.0.1/exports?version={version}&nfsport={port}&uid=0&gid=0");
    let mount = nfs_rs::parse_url_and_mount(&url)
        .await
        .map_err(|e| format!("mount {url}: {e}"))?;
    let outcome = async {
        let created = mount
            .create_path(name, Some(0o644))
            .await
            .map_err(|e| format!("create {name}: {e}"))?;
        nfs_rs::write_all(
            &*mount,
            created.fh.clone(),
            0,
            bytes::Bytes::copy_from_slice(data),
        )
        .await
        .map_err(|e| format!("write {name}: {e}"))?;
        mount
            .close(created.fh)
            .await
            .map_err(|e| format!("close {name}: {e}"))?;
        let opened = mount
            .open_path(name, nfs_rs::OPEN_READ)
            .await
            .map_err(|e| format!("open {name}: {e}"))?;
        let read = mount
            .read(
                opened.fh.clone(),
                0,
                u32::try_from(data.len()).unwrap_or(u32::MAX),
            )
            .await
            .map_err(|e| format!("read {name}: {e}"))?;
        mount
            .close(opened.fh)
            .await
            .map_err(|e| format!("close {name}: {e}"))?;
        Ok(read.to_vec())
    }
    .await;
    let _ = mount.umount().await;
    outcome
}

fn nfsv4_1_with_nfs_rs() -> Outcome {
    with_server(|server| {
        let port = server.port(2049)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failed::from(e.to_string()))?;
        let data = "written over NFSv4.1 by nfs-rs\n".repeat(1000);
        let (name, read) = in_grace(server, |n| {
            let name = format!("nfs-rs-v4.1-{n}.txt");
            runtime
                .block_on(nfs_rs_round_trip(port, "4.1", &name, data.as_bytes()))
                .map(|r| (name, r))
        })?;
        ensure!(read == data.as_bytes(), "NFSv4.1: read back differs");
        let on_disk = std::fs::read(server.plan.export.join(&name))
            .map_err(|e| Failed::from(e.to_string()))?;
        ensure!(
            on_disk == data.as_bytes(),
            "NFSv4.1: the node's file differs"
        );
        Ok(())
    })
}

/// Creates `dir/name`, writes `data` in 64 KiB pieces, reads it back, at minor `minor`.
fn session_round_trip(
    port: u16,
    minor: u32,
    dir: &str,
    name: &str,
    data: &[u8],
) -> Result<Vec<u8>, String> {
    let mut client =
        nfs4_client::Client::connect(port, minor, &format!("nfslab-test-{minor}-{name}"))
            .map_err(|e| format!("session: {e}"))?;
    let open = client
        .create(dir, name)
        .map_err(|e| format!("create: {e}"))?;
    for (i, piece) in data.chunks(65_536).enumerate() {
        let written = client
            .write(&open, (i * 65_536) as u64, piece)
            .map_err(|e| format!("write: {e}"))?;
        if written as usize != piece.len() {
            return Err(format!("short write: {written} of {}", piece.len()));
        }
    }
    client.close(open).map_err(|e| format!("close: {e}"))?;
    let open = client
        .open_read(dir, name)
        .map_err(|e| format!("open: {e}"))?;
    let mut read = Vec::new();
    while read.len() < data.len() {
        let piece = client
            .read(&open, read.len() as u64, 65_536)
            .map_err(|e| format!("read: {e}"))?;
        if piece.is_empty() {
            break;
        }
        read.extend_from_slice(&piece);
    }
    client.close(open).map_err(|e| format!("close: {e}"))?;
    client.shutdown().map_err(|e| format!("shutdown: {e}"))?;
    Ok(read)
}

fn nfsv4_1_and_4_2_sessions() -> Outcome {
    with_server(|server| {
        let port = server.port(2049)?;
        server.subdir("v4x")?;
        // The minor version really travels: one the server does not serve is refused.
        match nfs4_client::Client::connect(port, 3, "nfslab-test-minor-3") {
            Err(nfs4_client::Error::Status { status, .. })
                if status == nfs4_client::NFS4ERR_MINOR_VERS_MISMATCH => {}
            Err(e) => return Err(format!("minor version 3: {e}").into()),
            Ok(_) => return Err("the server accepted NFSv4.3".into()),
        }
        for minor in [1, 2] {
            let data: Vec<u8> = (0..300_000u32)
                .map(|i| (i % 251) as u8 ^ minor as u8)
                .collect();
            let (name, read) = in_grace(server, |n| {
                let name = format!("v4.{minor}-{n}.bin");
                session_round_trip(port, minor, "exports/v4x", &name, &data).map(|r| (name, r))
            })?;
            ensure!(
                read == data,
                "NFSv4.{minor}: read back differs ({} bytes)",
                read.len()
            );
            let on_disk = std::fs::read(server.plan.export.join("v4x").join(&name))
                .map_err(|e| Failed::from(e.to_string()))?;
            ensure!(on_disk == data, "NFSv4.{minor}: the node's file differs");
        }
        Ok(())
    })
}

/// Starts a verified write in the background; returns once its file on the node grew
/// past 2 MiB (the measured phase runs).
fn start_write(server: &Server, sub: &str, options: &str, extra: &[&str]) -> Result<Child, Failed> {
    server.subdir(sub)?;
    let url = server.url(&format!("/exports/{sub}"), "")?;
    let mut args = s(&[
        "run",
        "--target",
        &url,
        "--compact",
        "--nfs-options",
        options,
        "--pattern",
        "write",
        "--bs",
        "64k",
        "--verify",
        "--keep",
    ]);
    args.extend(s(extra));
    let child = Command::new(engine()?)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failed::from(format!("cannot start nfslab-io: {e}")))?;
    let file = server.plan.export.join(sub).join("nfslab.t0.f0");
    let start = Instant::now();
    while std::fs::metadata(&file).map_or(0, |m| m.len()) < 2 << 20 {
        ensure!(
            start.elapsed() < Duration::from_secs(60),
            "the write never reached 2 MiB on the node"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(child)
}

fn finish(mut child: Child, limit: Duration) -> Result<(i32, RunResult, String), Failed> {
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| Failed::from(e.to_string()))? {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            return Err(format!("nfslab-io did not end within {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let result: RunResult = serde_json::from_str(stdout.trim())
        .map_err(|e| Failed::from(format!("no result ({status}): {e}\n{stderr}")))?;
    Ok((status.code().unwrap_or(-1), result, stderr))
}

fn event(r: &RunResult, name: &str) -> u64 {
    r.nfs
        .as_ref()
        .and_then(|n| n.rpc.as_ref())
        .and_then(|rpc| rpc.events.get(name).copied())
        .unwrap_or(0)
}

fn hard_client_rides_out_a_restart() -> Outcome {
    with_server(|server| {
        let child = start_write(
            server,
            "hard",
            "hard,timeo=10,retrans=2",
            &["--size", "512m", "--iodepth", "4"],
        )?;
        let stopped = Instant::now();
        // The pod's restart: SIGTERM (ganesha stops cleanly), a gap while the replacement is
        // scheduled (at least two seconds here, so the stall is unmistakable), the same start.
        docker(&["stop", "--time", "30", &server.name])?;
        std::thread::sleep(Duration::from_secs(2));
        docker(&["start", &server.name])?;
        server.wait_ready()?;
        let down = stopped.elapsed();
        let (code, r, err) = finish(child, Duration::from_secs(240))?;
        let context = format!("server back after {down:?}; exit {code}: {err}");
        ensure!(
            code == 0 && r.status == Status::Ok && r.errors.is_empty(),
            "{context}"
        );
        ensure!(
            r.totals.data_ops == 8192,
            "{} data ops: {context}",
            r.totals.data_ops
        );
        let verify = r.verify.as_ref().ok_or("a verify section")?;
        ensure!(
            verify.mismatches == 0 && verify.blocks_checked == 8192,
            "every block verified: {verify:?}: {context}"
        );
        ensure!(
            event(&r, "reconnects") >= 1,
            "the client reconnected: {context}"
        );
        let write = r.ops.get("write").ok_or("write statistics")?;
        ensure!(
            write.latency_ns.max >= 2_000_000_000,
            "the writes in flight stalled while the server was down (max {} ns): {context}",
            write.latency_ns.max
        );
        Ok(())
    })
}

fn soft_client_fails_within_its_timeout() -> Outcome {
    with_server(|server| {
        let child = start_write(
            server,
            "soft",
            "soft,timeo=10,retrans=2",
            &["--size", "64m", "--runtime", "60s", "--iodepth", "1"],
        )?;
        docker(&["stop", "--time", "30", &server.name])?;
        let stopped = Instant::now();
        let finished = finish(child, Duration::from_secs(60));
        let took = stopped.elapsed();
        // Back up for whoever runs next.
        docker(&["start", &server.name])?;
        server.wait_ready()?;
        let (code, r, err) = finished?;
        let context = format!("ended {took:?} after the server stopped; exit {code}: {err}");
        ensure!(code == 3 && r.status == Status::IoError, "{context}");
        ensure!(
            took <= Duration::from_secs(15),
            "a soft mount fails within about timeo x (retrans + 1): {context}"
        );
        ensure!(
            r.errors.contains_key("EIO"),
            "EIO: {:?}: {context}",
            r.errors
        );
        ensure!(
            r.totals.data_ops > 0,
            "the writes before the stop are kept: {context}"
        );
        Ok(())
    })
}

/// Why the kernel flavor cannot run here, if it cannot: it needs the host kernel's nfsd and
/// the image of Kubernetes' e2e NFS server in the local Docker.
fn kernel_flavor_missing(config: &Config) -> Option<String> {
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !filesystems
        .lines()
        .any(|l| l.split_whitespace().last() == Some("nfsd"))
    {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let module = Path::new("/lib/modules")
            .join(release.trim())
            .join("kernel/fs/nfsd");
        if !module.is_dir() {
            return Some(
                "the kernel flavor needs the host kernel's nfsd (not in /proc/filesystems, no \
                 nfsd module): it runs on hosts that have it"
                    .to_owned(),
            );
        }
    }
    let image = &config.images.kernel_nfs_server;
    let present = Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .is_ok_and(|o| o.status.success());
    (!present).then(|| format!("the kernel flavor's image `{image}` is not in the local Docker"))
}

/// The kernel flavor on this host's nfsd: the same `/exports/...` path works over NFSv3 and
/// NFSv4.x (its pseudo-root is a tmpfs holding the export, not the container's overlayfs).
fn kernel_flavor_serves_one_path_to_v3_and_v4() -> Outcome {
    let config = Config::default();
    let image = config.images.kernel_nfs_server.clone();
    let server = Server::start_flavor(&config, ServerFlavor::Kernel, &image)?;
    let sub = server.subdir("k")?;
    std::fs::write(sub.join("hello.txt"), "kernel\n").map_err(|e| Failed::from(e.to_string()))?;
    let url = server.url("/exports/k", "")?;
    let (code, _, err) = io_run(&s(&[
        "run",
        "--target",
        &url,
        "--pattern",
        "write",
        "--bs",
        "64k",
        "--size",
        "1m",
        "--verify",
        "--keep",
        "--compact",
    ]))?;
    ensure!(
        code == 0,
        "NFSv3 at /exports/k: exit {code}: {err}\n{}",
        server.logs()
    );
    let port = server.port(2049)?;
    for minor in [1, 2] {
        let data = format!("NFSv4.{minor} at the same path\n").into_bytes();
        let read = in_grace(&server, |n| {
            session_round_trip(port, minor, "exports/k", &format!("v4.{minor}-{n}"), &data)
        })?;
        ensure!(read == data, "NFSv4.{minor} read back differs");
    }
    Ok(())
}

type Test = (&'static str, fn() -> Outcome);

fn main() {
    let args = Arguments::from_args();
    let tests: Vec<Test> = vec![
        (
            "the_probe_fails_without_a_server",
            the_probe_fails_without_a_server,
        ),
        ("starts_from_the_rendered_pod", starts_from_the_rendered_pod),
        (
            "nfsv3_write_verify_read_with_nfslab_io",
            nfsv3_with_nfslab_io,
        ),
        ("nfsv4_0_with_libnfs", nfsv4_0_with_libnfs),
        ("nfsv4_1_with_nfs_rs", nfsv4_1_with_nfs_rs),
        ("nfsv4_1_and_4_2_sessions", nfsv4_1_and_4_2_sessions),
        (
            "hard_client_rides_out_a_restart",
            hard_client_rides_out_a_restart,
        ),
        (
            "soft_client_fails_within_its_timeout",
            soft_client_fails_within_its_timeout,
        ),
    ];
    let reason = missing();
    let mut trials: Vec<Trial> = tests
        .into_iter()
        .map(|(name, f)| gate::trial("docker", name, reason.clone(), f))
        .collect();
    trials.push(gate::trial(
        "nfsd",
        "kernel_flavor_serves_one_path_to_v3_and_v4",
        kernel_flavor_missing(&Config::default()),
        kernel_flavor_serves_one_path_to_v3_and_v4,
    ));
    // One server for all tests, which restart it: one at a time.
    let mut args = args;
    args.test_threads = Some(1);
    let conclusion = libtest_mimic::run(&args, trials);
    drop(SERVER.lock().map(|mut s| s.take()));
    conclusion.exit();
}
