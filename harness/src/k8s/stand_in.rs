//! What runs inside pods, for the scripted fake cluster ([`super::fake`]): an exec of the
//! `nfslab-io` helper (`/nfslab-io ...`) runs the real `nfslab-io` binary on local
//! directories standing in for the pod's volumes, so every reply the fake gives for a helper
//! is what the producer prints, never a copy typed into a test.
//!
//! Where a container path lands is read from what the engine applied, never decided by a
//! model of Kubernetes: the container's `volumeMounts` and the pod's `volumes`; a claim is
//! followed to the PV the test reported it bound to (`spec.volumeName`) and the PV's
//! `spec.nfs` or `spec.hostPath`. NFS paths of every server share one local tree
//! (`<root>/nfs/<path>`), so a file a pod writes through `/exports/s1/pv1` is the file the
//! server's file-access container sees under `/exports/s1/pv1`. `emptyDir` volumes and
//! anything unmounted are private to the pod; `hostPath` volumes are per node.
//!
//! What the kernel would say is scripted by the test, as everything else the fake reports:
//! [`StandIn::kernel_mount`] adds an NFS line to the `mountinfo` the binary reads (through
//! `NFSLAB_IO_PROC`) for the local directory standing in for that NFS path. Without one the
//! binary sees the local file system, as it would on a pod whose volume is not NFS.
//! A volume the pod mounts `readOnly` (on the volume mount, the claim or the inline NFS
//! source) is made read-only for real: the binary then runs in a private mount namespace
//! where its directory is bind-mounted onto itself read-only (`unshare`, `mount`: needs
//! root), so a write gets the kernel's own EROFS.
//! [`StandIn::route`] says which pods answer an HTTP host name: `get` then reaches a real
//! `nfslab-io serve` started with that pod's own arguments on a local port.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{ExecOutput, ObjectRef};

/// The helper binary's path inside its image.
pub(crate) const IMAGE_BINARY: &str = "/nfslab-io";

/// How long one helper run may take before it is killed.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// The exit code and message prefix of the wrapper that makes a read-only mount when it
/// cannot (told apart from the helper's own failures).
const READ_ONLY_FAILED: i32 = 125;
const READ_ONLY_TAG: &str = "stand-in: cannot mount read-only:";

/// A scripted answer of the kernel: the `mountinfo` line of an NFS mount.
#[derive(Clone, Debug)]
struct KernelMount {
    /// The PV's name, or `server:/path` as an inline volume names it.
    key: String,
    /// `nfs` or `nfs4`.
    fstype: String,
    /// The superblock options the kernel reports (`rw,vers=4.1,rsize=...`).
    super_options: String,
}

/// Pods answering an HTTP host name.
#[derive(Clone, Debug)]
struct Route {
    host: String,
    namespace: String,
    selector: String,
}

/// A container path and the local directory standing in for it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Mapping {
    container: String,
    local: PathBuf,
    /// For NFS volumes, the `server:/path` source.
    nfs_source: Option<String>,
    /// The PV behind the volume, when it is a claim.
    pv: Option<String>,
    /// Mounted read-only (`readOnly` on the volume mount, the claim or the inline NFS
    /// source, as the pod asked for it).
    read_only: bool,
}

struct Served {
    child: Child,
    port: u16,
}

struct Inner {
    binary: PathBuf,
    root: PathBuf,
    explicit: Mutex<Vec<(ObjectRef, Mapping)>>,
    kernel: Mutex<Vec<KernelMount>>,
    routes: Mutex<Vec<Route>>,
    served: Mutex<BTreeMap<String, Served>>,
    runs: AtomicU64,
    /// Kept alive with the stand-in (a temporary directory's guard, say).
    guard: Mutex<Option<Box<dyn Send>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let served = self.served.get_mut().unwrap_or_else(|e| e.into_inner());
        for (_, mut s) in std::mem::take(served) {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
    }
}

/// Runs `nfslab-io` helper commands for the fake cluster on local stand-in directories.
/// Cheap to clone; clones share state. `serve` processes it started stop when the last
/// clone is dropped.
#[derive(Clone)]
pub struct StandIn {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandIn")
            .field("binary", &self.inner.binary)
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl StandIn {
    /// Runs `binary` (a real `nfslab-io`) with stand-in directories under `root`.
    #[must_use]
    pub fn new(binary: &Path, root: &Path) -> Self {
        Self {
            inner: Arc::new(Inner {
                binary: binary.to_owned(),
                root: root.to_owned(),
                explicit: Mutex::new(Vec::new()),
                kernel: Mutex::new(Vec::new()),
                routes: Mutex::new(Vec::new()),
                served: Mutex::new(BTreeMap::new()),
                runs: AtomicU64::new(0),
                guard: Mutex::new(None),
            }),
        }
    }

    /// Keeps `guard` (the temporary directory holding `root`, say) until the last clone of
    /// this stand-in is dropped.
    #[must_use]
    pub fn owning(self, guard: Box<dyn Send>) -> Self {
        *lock(&self.inner.guard) = Some(guard);
        self
    }

    /// The local file standing in for `path` in `pod`'s own file system (outside any
    /// volume), created parents included: where a test puts what a pod's image holds.
    #[must_use]
    pub fn pod_file(&self, pod: &ObjectRef, path: &str) -> PathBuf {
        let local = self
            .pod_dir(pod)
            .join("rootfs")
            .join(path.trim_start_matches('/'));
        if let Some(parent) = local.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        local
    }

    /// The local directory standing in for NFS path `path` (of any server).
    #[must_use]
    pub fn nfs_dir(&self, path: &str) -> PathBuf {
        self.inner
            .root
            .join("nfs")
            .join(path.trim_start_matches('/'))
    }

    /// `container_path` of `pod` is the server-side view of NFS path `nfs_path`: what the NFS
    /// server's file-access container mounts (`/exports`, the export's root).
    pub fn server_files(&self, pod: &ObjectRef, container_path: &str, nfs_path: &str) {
        let local = self.nfs_dir(nfs_path);
        let _ = std::fs::create_dir_all(&local);
        lock(&self.inner.explicit).push((
            pod.clone(),
            Mapping {
                container: container_path.trim_end_matches('/').to_owned(),
                local,
                nfs_source: None,
                pv: None,
                read_only: false,
            },
        ));
    }

    /// Scripts the kernel's `mountinfo` line for the NFS mounts of PV `key` (or of an
    /// inline volume whose `server:/path` is `key`): `fstype` (`nfs4`, `nfs`) and the
    /// superblock options the kernel would list.
    pub fn kernel_mount(&self, key: &str, fstype: &str, super_options: &str) {
        lock(&self.inner.kernel).push(KernelMount {
            key: key.to_owned(),
            fstype: fstype.to_owned(),
            super_options: super_options.to_owned(),
        });
    }

    /// HTTP requests to `host` (any port) reach the first pod in `namespace` matching
    /// `selector` (`a=b,c=d`), which runs the `serve` helper with its own arguments.
    pub fn route(&self, host: &str, namespace: &str, selector: &str) {
        lock(&self.inner.routes).push(Route {
            host: host.to_owned(),
            namespace: namespace.to_owned(),
            selector: selector.to_owned(),
        });
    }

    /// Whether the fake should hand this exec to the stand-in.
    #[must_use]
    pub fn handles(command: &[String]) -> bool {
        command.first().is_some_and(|c| c == IMAGE_BINARY)
    }

    /// Runs `command` (`/nfslab-io ...`) as it would run in `container` of `pod`, with the
    /// cluster's objects as the engine applied them (and the test reported them).
    ///
    /// # Errors
    /// A description when the pod or its volumes cannot be resolved or the binary cannot
    /// be run (a broken test set-up, not a helper failure).
    pub fn exec(
        &self,
        objects: &BTreeMap<ObjectRef, Value>,
        pod: &ObjectRef,
        container: Option<&str>,
        command: &[String],
    ) -> Result<ExecOutput, String> {
        self.run(objects, pod, container, &command[1..])
    }

    /// Runs `container` of `pod` as its image would: the `nfslab-io` entrypoint with the
    /// container's own `args`, on the stand-ins of its volumes, to the end (a pod's
    /// `layout` or `client` container, say).
    ///
    /// # Errors
    /// As [`StandIn::exec`], and when the container does not exist.
    pub fn run_container(
        &self,
        objects: &BTreeMap<ObjectRef, Value>,
        pod: &ObjectRef,
        container: &str,
    ) -> Result<ExecOutput, String> {
        let manifest = objects.get(pod).ok_or_else(|| format!("no pod {pod}"))?;
        let spec = &manifest["spec"];
        let chosen = ["initContainers", "containers"]
            .iter()
            .filter_map(|k| spec[*k].as_array())
            .flatten()
            .find(|c| c["name"].as_str() == Some(container))
            .ok_or_else(|| format!("pod {pod} has no container `{container}`"))?;
        let args: Vec<String> = chosen["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        self.run(objects, pod, Some(container), &args)
    }

    fn run(
        &self,
        objects: &BTreeMap<ObjectRef, Value>,
        pod: &ObjectRef,
        container: Option<&str>,
        given: &[String],
    ) -> Result<ExecOutput, String> {
        let command: Vec<String> = std::iter::once(IMAGE_BINARY.to_owned())
            .chain(given.iter().cloned())
            .collect();
        let mappings = self.mappings(objects, pod, container)?;
        let mut args = Vec::new();
        for arg in given {
            args.push(self.rewrite_arg(objects, arg, &mappings)?);
        }
        // Several volumes can stand on one local directory (mounts of one NFS path): the
        // kernel lines listed are those of the mounts this command names, so each mount
        // point keeps its own options.
        let touched: Vec<Mapping> = mappings
            .iter()
            .filter(|m| {
                !m.container.is_empty()
                    && given.iter().any(|a| {
                        a.strip_prefix(&m.container)
                            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
                    })
            })
            .cloned()
            .collect();
        let proc_dir = self.proc_dir(&touched)?;
        let read_only: Vec<&Path> = touched
            .iter()
            .filter(|m| m.read_only)
            .map(|m| m.local.as_path())
            .collect();
        let started = Instant::now();
        let mut child = self
            .command(&read_only)
            .args(&args)
            .env(nfslab_workload::PROC_ENV, &proc_dir)
            .current_dir(&self.inner.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run `{}`: {e}", self.inner.binary.display()))?;
        let (mut stdout, mut stderr) = (String::new(), String::new());
        // Read both pipes on threads so a chatty helper never blocks on a full pipe.
        let out_pipe = child.stdout.take();
        let err_pipe = child.stderr.take();
        let out_thread = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = out_pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        });
        let err_thread = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = err_pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        });
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() > RUN_LIMIT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "`{}` did not end within {RUN_LIMIT:?}",
                        command.join(" ")
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => return Err(format!("cannot wait for `{}`: {e}", command.join(" "))),
            }
        };
        stdout.push_str(&out_thread.join().unwrap_or_default());
        stderr.push_str(&err_thread.join().unwrap_or_default());
        let _ = std::fs::remove_dir_all(&proc_dir);
        if !read_only.is_empty()
            && (status.code() == Some(READ_ONLY_FAILED) && stderr.starts_with(READ_ONLY_TAG)
                || stderr.starts_with("unshare:"))
        {
            return Err(format!(
                "cannot run `{}` on a read-only mount: {} (hint: read-only mounts need \
                 root, `unshare` and `mount`)",
                command.join(" "),
                stderr.trim()
            ));
        }
        Ok(ExecOutput {
            stdout: unmap(&stdout, &mappings),
            stderr: unmap(&stderr, &mappings),
            exit_code: status.code().unwrap_or(-1),
        })
    }

    /// The binary, run directly, or when `read_only` names directories, in a private mount
    /// namespace where each of them is bind-mounted onto itself read-only: the kernel then
    /// answers a write with EROFS, as it does in a pod whose volume is mounted `ro`.
    fn command(&self, read_only: &[&Path]) -> Command {
        if read_only.is_empty() {
            return Command::new(&self.inner.binary);
        }
        let mut command = Command::new("unshare");
        command
            .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
            .arg(format!(
                "for d; do [ \"$d\" = -- ] && break; \
                 mount --bind \"$d\" \"$d\" && mount -o remount,bind,ro \"$d\" \
                 || {{ echo \"{READ_ONLY_TAG} $d\" >&2; exit {READ_ONLY_FAILED}; }}; shift; \
                 done; shift; exec \"$@\""
            ))
            .arg("sh")
            .args(read_only)
            .arg("--")
            .arg(&self.inner.binary);
        command
    }

    fn pod_dir(&self, pod: &ObjectRef) -> PathBuf {
        self.inner
            .root
            .join("pods")
            .join(pod.namespace.as_deref().unwrap_or("_"))
            .join(&pod.name)
    }

    /// The container's mounts, longest container path first: explicit ones, its
    /// `volumeMounts`, and last the pod's own file system for whatever no volume covers.
    fn mappings(
        &self,
        objects: &BTreeMap<ObjectRef, Value>,
        pod: &ObjectRef,
        container: Option<&str>,
    ) -> Result<Vec<Mapping>, String> {
        let mut mappings = self.volume_mappings(objects, pod, container)?;
        mappings.push(Mapping {
            container: String::new(),
            local: self.pod_dir(pod).join("rootfs"),
            nfs_source: None,
            pv: None,
            read_only: false,
        });
        mappings.sort_by_key(|m| std::cmp::Reverse(m.container.len()));
        Ok(mappings)
    }

    /// Explicit mappings of `pod`, then the `volumeMounts` of its container.
    fn volume_mappings(
        &self,
        objects: &BTreeMap<ObjectRef, Value>,
        pod: &ObjectRef,
        container: Option<&str>,
    ) -> Result<Vec<Mapping>, String> {
        let mut mappings: Vec<Mapping> = lock(&self.inner.explicit)
            .iter()
            .filter(|(p, _)| p == pod)
            .map(|(_, m)| m.clone())
            .collect();
        let explicit = !mappings.is_empty();
        let Some(manifest) = objects.get(pod) else {
            return Ok(mappings);
        };
        let containers: Vec<Value> = ["/spec/containers", "/spec/initContainers"]
            .iter()
            .filter_map(|p| manifest.pointer(p).and_then(Value::as_array))
            .flatten()
            .cloned()
            .collect();
        // Without a name, exec picks the first (regular) container, as kubectl does.
        let chosen = match container {
            Some(name) => containers.iter().find(|c| c["name"].as_str() == Some(name)),
            None => containers.first(),
        };
        let Some(chosen) = chosen else {
            // A pod the test mapped by hand (the NFS server's) needs no manifest container.
            return if explicit {
                Ok(mappings)
            } else {
                Err(format!(
                    "pod {pod} has no container {}",
                    container.map_or("at all".to_owned(), |c| format!("`{c}`"))
                ))
            };
        };
        let volumes = manifest
            .pointer("/spec/volumes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for mount in chosen["volumeMounts"].as_array().into_iter().flatten() {
            let (Some(name), Some(path)) = (mount["name"].as_str(), mount["mountPath"].as_str())
            else {
                continue;
            };
            let Some(volume) = volumes.iter().find(|v| v["name"].as_str() == Some(name)) else {
                return Err(format!(
                    "pod {pod} mounts volume `{name}`, which it does not declare"
                ));
            };
            let (mut local, nfs_source, pv) = self.volume_dir(objects, pod, manifest, volume)?;
            if let Some(sub) = mount["subPath"].as_str().filter(|s| !s.is_empty()) {
                local = local.join(sub);
            }
            std::fs::create_dir_all(&local)
                .map_err(|e| format!("cannot create `{}`: {e}", local.display()))?;
            let read_only = [
                mount.get("readOnly"),
                volume.pointer("/persistentVolumeClaim/readOnly"),
                volume.pointer("/nfs/readOnly"),
            ]
            .iter()
            .any(|flag| flag.and_then(Value::as_bool) == Some(true));
            mappings.push(Mapping {
                container: path.trim_end_matches('/').to_owned(),
                local,
                nfs_source,
                pv,
                read_only,
            });
        }
        Ok(mappings)
    }

    /// Where one volume's content lives locally, its NFS source when it is NFS, and the PV
    /// behind it when it is a claim.
    fn volume_dir(
        &self,
        objects: &BTreeMap<ObjectRef, Value>,
        pod: &ObjectRef,
        manifest: &Value,
        volume: &Value,
    ) -> Result<(PathBuf, Option<String>, Option<String>), String> {
        let name = volume["name"].as_str().unwrap_or_default();
        if let Some(nfs) = volume.get("nfs") {
            let (local, source) = self.nfs_volume(nfs);
            return Ok((local, Some(source), None));
        }
        if let Some(host) = volume.get("hostPath") {
            return Ok((self.host_dir(manifest, host), None, None));
        }
        if let Some(claim) = volume
            .pointer("/persistentVolumeClaim/claimName")
            .and_then(Value::as_str)
        {
            let pvc = ObjectRef::pvc(pod.namespace.as_deref().unwrap_or_default(), claim);
            let pv_name = objects
                .get(&pvc)
                .and_then(|c| c.pointer("/spec/volumeName"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    format!(
                        "claim {pvc} of pod {pod} is not bound (the test reports no volumeName)"
                    )
                })?;
            let pv = objects
                .get(&ObjectRef::cluster("v1", "PersistentVolume", pv_name))
                .ok_or_else(|| format!("PV `{pv_name}` bound to {pvc} does not exist"))?;
            let spec = &pv["spec"];
            if let Some(nfs) = spec.get("nfs") {
                let (local, source) = self.nfs_volume(nfs);
                return Ok((local, Some(source), Some(pv_name.to_owned())));
            }
            if let Some(host) = spec.get("hostPath") {
                return Ok((
                    self.host_dir(manifest, host),
                    None,
                    Some(pv_name.to_owned()),
                ));
            }
            return Err(format!("PV `{pv_name}` is neither NFS nor hostPath"));
        }
        let local = self.pod_dir(pod).join("volumes").join(name);
        // A ConfigMap volume holds the ConfigMap's data as the engine applied it.
        if let Some(map) = volume.pointer("/configMap/name").and_then(Value::as_str) {
            let namespace = pod.namespace.as_deref().unwrap_or_default();
            let object = ObjectRef::namespaced("v1", "ConfigMap", namespace, map);
            let data = objects
                .get(&object)
                .and_then(|c| c.get("data"))
                .and_then(Value::as_object)
                .ok_or_else(|| format!("ConfigMap {object} of pod {pod} does not exist"))?;
            std::fs::create_dir_all(&local)
                .map_err(|e| format!("cannot create `{}`: {e}", local.display()))?;
            for (key, value) in data {
                std::fs::write(local.join(key), value.as_str().unwrap_or_default())
                    .map_err(|e| format!("cannot write ConfigMap key `{key}`: {e}"))?;
            }
        }
        // emptyDir and the rest: private to the pod.
        Ok((local, None, None))
    }

    fn nfs_volume(&self, nfs: &Value) -> (PathBuf, String) {
        let path = nfs["path"].as_str().unwrap_or("/");
        let server = nfs["server"].as_str().unwrap_or_default();
        (self.nfs_dir(path), format!("{server}:{path}"))
    }

    fn host_dir(&self, manifest: &Value, host: &Value) -> PathBuf {
        let node = manifest
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("node");
        let path = host["path"].as_str().unwrap_or("/");
        self.inner
            .root
            .join("nodes")
            .join(node)
            .join(path.trim_start_matches('/'))
    }

    fn rewrite_arg(
        &self,
        objects: &BTreeMap<ObjectRef, Value>,
        arg: &str,
        mappings: &[Mapping],
    ) -> Result<String, String> {
        if let Some(rest) = arg.strip_prefix("http://") {
            return self.rewrite_url(objects, rest);
        }
        if !arg.starts_with('/') {
            return Ok(arg.to_owned());
        }
        Ok(map_path(arg, mappings).map_or_else(|| arg.to_owned(), |p| p.display().to_string()))
    }

    /// `http://host[:port]/path` to a routed host becomes `http://127.0.0.1:<port>/path` of a
    /// real `serve` run for the pod that answers.
    fn rewrite_url(
        &self,
        objects: &BTreeMap<ObjectRef, Value>,
        rest: &str,
    ) -> Result<String, String> {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        let route = lock(&self.inner.routes)
            .iter()
            .find(|r| r.host == host)
            .cloned();
        let Some(route) = route else {
            // Nobody answers: the real client gets a connection error, as it would.
            return Ok(format!("http://127.0.0.1:9/{path}"));
        };
        let pod = objects
            .iter()
            .filter(|(r, _)| {
                r.kind == "Pod" && r.namespace.as_deref() == Some(route.namespace.as_str())
            })
            .find(|(_, v)| selector_matches(v, &route.selector))
            .map(|(r, _)| r.clone());
        let Some(pod) = pod else {
            return Ok(format!("http://127.0.0.1:9/{path}"));
        };
        let port = self.serve(objects, &pod)?;
        Ok(format!("http://127.0.0.1:{port}/{path}"))
    }

    /// Starts (once per pod instance) the pod's `serve` helper on a free local port.
    fn serve(&self, objects: &BTreeMap<ObjectRef, Value>, pod: &ObjectRef) -> Result<u16, String> {
        let manifest = objects.get(pod).ok_or_else(|| format!("no pod {pod}"))?;
        let uid = manifest
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let key = format!("{pod}@{uid}");
        if let Some(s) = lock(&self.inner.served).get(&key) {
            return Ok(s.port);
        }
        let containers = manifest
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let serving = containers
            .iter()
            .find(|c| c["args"].get(0).and_then(Value::as_str) == Some("serve"))
            .ok_or_else(|| format!("no container of pod {pod} runs the `serve` helper"))?;
        let name = serving["name"].as_str().map(str::to_owned);
        let mappings = self.mappings(objects, pod, name.as_deref())?;
        let port = free_port()?;
        let mut args: Vec<String> = Vec::new();
        let mut given = serving["args"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter();
        while let Some(arg) = given.next() {
            let arg = arg.as_str().unwrap_or_default().to_owned();
            match arg.as_str() {
                "--port" => {
                    given.next();
                    args.extend(["--port".to_owned(), port.to_string()]);
                }
                "--bind" => {
                    given.next();
                }
                _ if arg.starts_with('/') => args.push(
                    map_path(&arg, &mappings).map_or(arg.clone(), |p| p.display().to_string()),
                ),
                _ => args.push(arg),
            }
        }
        if !args.iter().any(|a| a == "--port") {
            args.extend(["--port".to_owned(), port.to_string()]);
        }
        let mut child = Command::new(&self.inner.binary)
            .args(&args)
            .args(["--bind", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start `serve` for pod {pod}: {e}"))?;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut why = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut why);
                }
                return Err(format!(
                    "`serve` for pod {pod} exited ({status}): {}",
                    unmap(why.trim(), &mappings)
                ));
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`serve` for pod {pod} did not listen on {port}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        lock(&self.inner.served).insert(key, Served { child, port });
        Ok(port)
    }

    /// A private proc directory whose `self/mountinfo` is this process's own plus the
    /// scripted NFS lines for `mappings` that are NFS mounts.
    fn proc_dir(&self, mappings: &[Mapping]) -> Result<PathBuf, String> {
        let n = self.inner.runs.fetch_add(1, Ordering::Relaxed);
        let dir = self.inner.root.join("proc").join(n.to_string());
        let self_dir = dir.join("self");
        std::fs::create_dir_all(&self_dir)
            .map_err(|e| format!("cannot create `{}`: {e}", self_dir.display()))?;
        let mut mountinfo = std::fs::read_to_string(nfslab_workload::MOUNTINFO_PATH)
            .map_err(|e| format!("cannot read this host's mountinfo: {e}"))?;
        let mountstats =
            std::fs::read_to_string(nfslab_workload::MOUNTSTATS_PATH).unwrap_or_default();
        let kernel = lock(&self.inner.kernel).clone();
        for (i, m) in mappings.iter().enumerate() {
            let Some(source) = &m.nfs_source else {
                continue;
            };
            // A claim's mount is keyed by its PV; an inline volume's by its source.
            let key = m.pv.as_deref().unwrap_or(source.as_str());
            let Some(k) = kernel.iter().rev().find(|k| k.key == key) else {
                continue;
            };
            let point = m.local.canonicalize().unwrap_or_else(|_| m.local.clone());
            mountinfo.push_str(&format!(
                "{id} 1 0:{id} / {point} {access},relatime shared:{id} - {fstype} {source} {options}\n",
                id = 90_000 + i,
                access = if m.read_only { "ro" } else { "rw" },
                point = escape(&point.display().to_string()),
                fstype = k.fstype,
                source = escape(source),
                options = k.super_options,
            ));
        }
        std::fs::write(self_dir.join("mountinfo"), mountinfo)
            .and_then(|()| std::fs::write(self_dir.join("mountstats"), mountstats))
            .map_err(|e| format!("cannot write `{}`: {e}", self_dir.display()))?;
        Ok(dir)
    }
}

/// The local path for container path `path` under the longest matching mapping.
fn map_path(path: &str, mappings: &[Mapping]) -> Option<PathBuf> {
    mappings.iter().find_map(|m| {
        if m.container.is_empty() {
            return Some(m.local.join(path.trim_start_matches('/')));
        }
        let rest = path.strip_prefix(&m.container)?;
        if rest.is_empty() {
            Some(m.local.clone())
        } else {
            rest.strip_prefix('/').map(|r| m.local.join(r))
        }
    })
}

/// Puts container paths back where the binary printed local ones.
fn unmap(text: &str, mappings: &[Mapping]) -> String {
    let mut text = text.to_owned();
    for m in mappings {
        let local = m.local.display().to_string();
        let canonical = m
            .local
            .canonicalize()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| local.clone());
        let container = if m.container.is_empty() {
            ""
        } else {
            m.container.as_str()
        };
        for from in [canonical, local] {
            if !from.is_empty() {
                text = text.replace(&from, container);
            }
        }
    }
    text
}

/// mountinfo's octal escapes for the characters that would split a field.
fn escape(field: &str) -> String {
    field
        .replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('\t', "\\011")
        .replace('\n', "\\012")
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free local port: {e}"))
}

fn selector_matches(object: &Value, selector: &str) -> bool {
    let labels = object.pointer("/metadata/labels");
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (key, value) = term.split_once('=').unwrap_or((term, ""));
        labels
            .and_then(|l| l.get(key.trim()))
            .and_then(Value::as_str)
            == Some(value.trim())
    })
}

/// The `nfslab-io` binary of this build for tests: `$NFSLAB_IO`, else the one next to the
/// running test binary (`target/<profile>/`). Cargo is asked to build it once per process
/// (it rebuilds only when the engine's sources changed), so a test never talks to a stale
/// engine left by an older build.
///
/// # Errors
/// A description when it cannot be built.
pub fn test_binary() -> Result<PathBuf, String> {
    static BINARY: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    BINARY.get_or_init(build_test_binary).clone()
}

fn build_test_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("NFSLAB_IO").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // <target>/<profile>/deps/<test>-HASH
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("unexpected test binary location")?;
    let binary = profile_dir.join("nfslab-io");
    let target_dir = profile_dir.parent().ok_or("unexpected build directory")?;
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build
        .args([
            "build",
            "-p",
            "nfslab-workload",
            "--bin",
            "nfslab-io",
            "--target-dir",
        ])
        .arg(target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build
        .status()
        .map_err(|e| format!("cannot run cargo to build nfslab-io: {e}"))?;
    if !status.success() || !binary.is_file() {
        return Err(format!("building nfslab-io failed ({status})"));
    }
    Ok(binary)
}
