//! Checks before `nfslab cluster up` changes anything.
//!
//! Every missing piece becomes one line saying what is missing, why nfslab needs it and how
//! to fix it, so a user sees everything at once instead of one failure per attempt. The
//! checks are quick (a few process starts and file reads, run concurrently) and create
//! nothing.
//!
//! kind nodes are containers sharing the Docker daemon's kernel: the kubelet's NFS mounts and
//! the kernel NFS server both use it, so its NFS client (and, for the kernel server flavor,
//! `nfsd`) must be built in or loadable. That kernel is not this machine's with Docker
//! Desktop, colima or a remote `DOCKER_HOST`: `cluster up` reads it from a container of the
//! `nfslab-io` image on the daemon ([`daemon_kernel`]); `doctor` reads this machine's when the
//! image is not built yet, and says so. Rootless Docker cannot mount NFS in kind nodes (kind's
//! documentation, "Rootless": Restrictions) and is refused before anything is created.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::kind::parse_kind_version;
use super::tools::{CommandSpec, ToolError, Tools};
use crate::nfs::ServerFlavor;

/// How long one probe command may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// One missing piece: what, why it matters, how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The thing checked: `docker`, `kind`, `host kernel`, `port 6443`...
    pub subject: String,
    /// What is wrong.
    pub what: String,
    /// Why nfslab needs it.
    pub why: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}; needed because {}; fix: {}",
            self.subject, self.what, self.why, self.fix
        )
    }
}

/// What preflight found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// Everything missing.
    pub problems: Vec<Problem>,
    /// Facts found along the way (`docker 27.1.1`, `kind v0.29.0`).
    pub found: Vec<String>,
}

impl Report {
    /// Whether nothing is missing.
    #[must_use]
    pub(crate) fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What `cluster up` is about to do, as far as preflight cares.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    /// The kind cluster name.
    pub cluster_name: String,
    /// The oldest usable kind release.
    pub min_kind_version: String,
    /// The node image (named in messages).
    pub node_image: String,
    /// API server port, 0 when kind picks.
    pub api_server_port: u16,
    /// The NFS server flavor that will run in the cluster.
    pub flavor: ServerFlavor,
    /// Whether nfslab created a cluster of that name before (so it may exist already);
    /// otherwise an existing kind cluster of that name is a problem.
    pub name_is_ours: bool,
    /// Check the kernel too (`cluster up` checks it later, from the daemon, once the
    /// `nfslab-io` image exists; it checks this machine's now only when the daemon runs on
    /// this very kernel).
    pub check_kernel: bool,
    /// Missing kind will be installed (so say so instead of asking for it).
    pub install_kind: bool,
}

/// Where kernel facts come from: files under a root (`/` on a real host; a temporary tree
/// in tests), or what `nfslab-io kernel` reported from a container of the Docker daemon.
#[derive(Clone, Debug)]
pub struct KernelProbe {
    source: KernelSource,
}

#[derive(Clone, Debug)]
enum KernelSource {
    Files(PathBuf),
    Daemon(nfslab_workload::KernelFacts),
}

impl Default for KernelProbe {
    fn default() -> Self {
        Self::at(Path::new("/"))
    }
}

/// Whether a kernel feature is usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    /// Registered in `/proc/filesystems` (built in or loaded).
    Active,
    /// Not loaded, but a module for it exists and mount/nfsd start loads it.
    Loadable,
    /// Neither.
    Missing,
}

impl KernelProbe {
    /// Reads `<root>/proc/...` and `<root>/lib/modules/...`.
    #[must_use]
    pub fn at(root: &Path) -> Self {
        Self {
            source: KernelSource::Files(root.to_owned()),
        }
    }

    /// The facts `nfslab-io kernel` reported from a container of the Docker daemon.
    #[must_use]
    pub fn from_daemon(facts: nfslab_workload::KernelFacts) -> Self {
        Self {
            source: KernelSource::Daemon(facts),
        }
    }

    /// Whose kernel this is, for messages.
    #[must_use]
    pub fn whose(&self) -> &'static str {
        match self.source {
            KernelSource::Files(_) => "this machine's kernel",
            KernelSource::Daemon(_) => "the Docker daemon's kernel (the nodes' kernel)",
        }
    }

    /// The running kernel's release (`6.18.0-1-amd64`).
    #[must_use]
    pub fn release(&self) -> Option<String> {
        match &self.source {
            KernelSource::Files(root) => {
                std::fs::read_to_string(root.join("proc/sys/kernel/osrelease"))
                    .ok()
                    .map(|s| s.trim().to_owned())
            }
            KernelSource::Daemon(facts) => Some(facts.release.clone()),
        }
        .filter(|s| !s.is_empty())
    }

    /// Whether the filesystem `fs` (`nfs`, `nfsd`) can be used, given the module path
    /// (`kernel/fs/nfs/nfs.ko`) that provides it.
    #[must_use]
    pub fn filesystem(&self, fs: &str, module: &str) -> Availability {
        let root = match &self.source {
            KernelSource::Files(root) => root,
            KernelSource::Daemon(facts) => {
                return if facts.filesystems.iter().any(|f| f == fs) {
                    Availability::Active
                } else if facts
                    .nfs_modules
                    .iter()
                    .any(|p| p == module || p.starts_with(&format!("{module}.")))
                {
                    Availability::Loadable
                } else {
                    Availability::Missing
                };
            }
        };
        let registered = std::fs::read_to_string(root.join("proc/filesystems"))
            .map(|text| {
                text.lines()
                    .any(|l| l.split_whitespace().last() == Some(fs))
            })
            .unwrap_or(false);
        if registered {
            return Availability::Active;
        }
        let Some(release) = self.release() else {
            return Availability::Missing;
        };
        let modules = root.join("lib/modules").join(release);
        let listed = |file: &str| {
            std::fs::read_to_string(modules.join(file))
                .map(|text| {
                    text.lines().any(|l| {
                        let path = l.split(':').next().unwrap_or_default();
                        path == module || path.starts_with(&format!("{module}."))
                    })
                })
                .unwrap_or(false)
        };
        if listed("modules.builtin") || listed("modules.dep") {
            Availability::Loadable
        } else {
            Availability::Missing
        }
    }
}

/// Runs every check for creating a kind cluster and reports all problems at once.
pub(crate) async fn check_kind_host(
    tools: &dyn Tools,
    kernel: &KernelProbe,
    request: &Request,
) -> Report {
    let mut report = Report::default();
    let (docker, kind) = tokio::join!(check_docker(tools), check_kind(tools, request));
    let both_work = docker.is_ok() && kind.is_ok();
    let docker_works = docker.is_ok();
    merge(&mut report, docker);
    merge(&mut report, kind);
    if docker_works && let Some(p) = check_rootless(tools).await {
        report.problems.push(p);
    }
    if both_work && !request.name_is_ours {
        match super::kind::clusters(tools).await {
            Ok(names) if names.contains(&request.cluster_name) => {
                report.problems.push(foreign_cluster(&request.cluster_name));
            }
            Ok(_) => {}
            Err(e) => report.problems.push(Problem {
                subject: "kind".to_owned(),
                what: format!("existing clusters could not be listed ({e})"),
                why: "nfslab must not reuse or replace a cluster it did not create".to_owned(),
                fix: "check that `kind get clusters` works in this shell".to_owned(),
            }),
        }
    }
    // This machine's kernel is the nodes' only when the daemon runs on it: then check it now
    // (quickly); otherwise `cluster up` reads the daemon's from a container later.
    let same_kernel = docker_works
        && !docker_is_remote()
        && daemon_release(tools)
            .await
            .is_some_and(|r| Some(r) == kernel.release());
    if request.check_kernel || same_kernel {
        if docker_is_remote() {
            report.found.push(
                "DOCKER_HOST names another machine: its kernel is checked from a container \
                 once the nfslab-io image is built"
                    .to_owned(),
            );
        } else {
            report.problems.extend(check_kernel(kernel, request.flavor));
        }
    }
    if let Some(p) = check_port(request.api_server_port) {
        report.problems.push(p);
    }
    report
}

fn merge(report: &mut Report, part: Result<String, Problem>) {
    match part {
        Ok(found) => report.found.push(found),
        Err(problem) => report.problems.push(problem),
    }
}

fn docker_is_remote() -> bool {
    std::env::var("DOCKER_HOST")
        .map(|h| !h.is_empty() && !h.starts_with("unix://"))
        .unwrap_or(false)
}

const DOCKER_WHY: &str = "kind runs every cluster node as a Docker container";

async fn check_docker(tools: &dyn Tools) -> Result<String, Problem> {
    let problem = |what: String, fix: &str| Problem {
        subject: "docker".to_owned(),
        what,
        why: DOCKER_WHY.to_owned(),
        fix: fix.to_owned(),
    };
    let command = CommandSpec::new(
        "docker",
        &["version", "--format", "{{.Server.Version}}"],
        PROBE_TIMEOUT,
    );
    match tools.run(&command).await {
        Ok(out) if out.success() && !out.stdout.trim().is_empty() => {
            Ok(format!("docker {}", out.stdout.trim()))
        }
        Ok(out) => Err(problem(
            format!("the daemon does not answer ({})", out.last_line()),
            "start it (`systemctl start docker`, or `dockerd &` without systemd), check your \
             user may use it (`docker info`), or point DOCKER_HOST at a running daemon",
        )),
        Err(ToolError::NotFound { .. }) => Err(problem(
            "not found on PATH".to_owned(),
            "install Docker (Debian/Ubuntu: `apt-get install docker.io`) and start it, or use \
             an existing cluster: add `--kubeconfig FILE` to `nfslab run` or `nfslab cluster \
             up`",
        )),
        Err(e) => Err(problem(
            format!("could not be queried ({e})"),
            "check that `docker version` works in this shell",
        )),
    }
}

async fn check_kind(tools: &dyn Tools, request: &Request) -> Result<String, Problem> {
    let min = request.min_kind_version.trim_start_matches('v');
    let by_hand = format!(
        "install kind v{min} or newer (https://kind.sigs.k8s.io/docs/user/quick-start/\
         #installation), or use an existing cluster: add `--kubeconfig FILE [--context NAME]` \
         to `nfslab run` or `nfslab cluster up`"
    );
    let install = if request.install_kind {
        format!(
            "nfslab installs kind {} into its cache itself once nothing else is missing \
             (--no-install refuses); or {by_hand}",
            super::install::KIND_VERSION
        )
    } else {
        format!(
            "{by_hand}; or drop --no-install and nfslab installs kind {} itself",
            super::install::KIND_VERSION
        )
    };
    let problem = |what: String, fix: String| Problem {
        subject: "kind".to_owned(),
        what,
        why: "nfslab creates its cluster with the kind CLI".to_owned(),
        fix,
    };
    let command = CommandSpec::new("kind", &["version"], PROBE_TIMEOUT);
    let output = match tools.run(&command).await {
        Ok(out) => out,
        Err(ToolError::NotFound { .. }) => {
            return Err(problem("not found on PATH".to_owned(), install));
        }
        Err(e) => return Err(problem(format!("could not be run ({e})"), install)),
    };
    let text = output.stdout.trim().to_owned();
    let Some(version) = parse_kind_version(&text).filter(|_| output.success()) else {
        return Err(problem(
            format!("`kind version` printed no version ({})", output.last_line()),
            install,
        ));
    };
    let Some(required) = super::kind::parse_version(min) else {
        return Err(Problem {
            subject: "configuration".to_owned(),
            what: format!("cluster.min-kind-version `{min}` is not a version"),
            why: "nfslab compares it with the installed kind".to_owned(),
            fix: "write it as MAJOR.MINOR.PATCH, e.g. 0.29.0".to_owned(),
        });
    };
    if version < required {
        let (a, b, c) = version;
        return Err(Problem {
            subject: "kind".to_owned(),
            what: format!("v{a}.{b}.{c} is older than v{min}"),
            why: format!(
                "the node image `{}` is built for kind v{min} or newer",
                request.node_image
            ),
            fix: format!(
                "upgrade kind, or set cluster.node-image to an image your kind release lists \
                 in its release notes (and cluster.min-kind-version to v{a}.{b}.{c})"
            ),
        });
    }
    let (a, b, c) = version;
    Ok(format!("kind v{a}.{b}.{c}"))
}

/// What the NFS server `flavor` and NFS mounts need from `kernel`, as problems.
#[must_use]
pub(crate) fn check_kernel(kernel: &KernelProbe, flavor: ServerFlavor) -> Vec<Problem> {
    let release = kernel
        .release()
        .unwrap_or_else(|| "the running kernel".to_owned());
    let mut problems = Vec::new();
    if kernel.filesystem("nfs", "kernel/fs/nfs/nfs.ko") == Availability::Missing {
        problems.push(Problem {
            subject: "host kernel".to_owned(),
            what: format!(
                "no NFS client in {} (`nfs` is neither in /proc/filesystems nor a module of \
                 {release})",
                kernel.whose()
            ),
            why: "kind nodes share the Docker daemon's kernel and the kubelet mounts NFS \
                  volumes with it"
                .to_owned(),
            fix: "load it with `modprobe nfs` (install your distribution's kernel modules if it \
                  is absent), or use an existing cluster whose nodes can mount NFS: add \
                  `--kubeconfig FILE` to `nfslab run` or `nfslab cluster up`"
                .to_owned(),
        });
    }
    if flavor == ServerFlavor::Kernel
        && kernel.filesystem("nfsd", "kernel/fs/nfsd/nfsd.ko") == Availability::Missing
    {
        problems.push(Problem {
            subject: "host kernel".to_owned(),
            what: format!(
                "no NFS server in {} (`nfsd` is neither in /proc/filesystems nor a module of \
                 {release})",
                kernel.whose()
            ),
            why: "the kernel NFS server flavor runs the host kernel's nfsd inside a kind node"
                .to_owned(),
            fix: "load it with `modprobe nfsd`, or use the userspace server: `--nfs-flavor \
                  ganesha` (or `nfs: {flavor: ganesha}` in the configuration file)"
                .to_owned(),
        });
    }
    problems
}

/// The Docker daemon's kernel as a container of `image` (`nfslab-io`) sees it, with the
/// daemon host's `/lib/modules` mounted read-only: the kernel kind nodes will mount NFS with.
///
/// # Errors
/// A description when the container cannot run or prints something else than the facts.
pub async fn daemon_kernel(tools: &dyn Tools, image: &str) -> Result<KernelProbe, String> {
    let run = |mount: bool| {
        let mut args = vec!["run", "--rm", "--pull", "never", "--network", "none"];
        if mount {
            args.extend(["--volume", "/lib/modules:/lib/modules:ro"]);
        }
        args.extend([image, "kernel"]);
        CommandSpec::new("docker", &args, PROBE_TIMEOUT * 4)
    };
    // The daemon host may have no /lib/modules (some VMs): then /proc alone tells.
    let mut last = String::new();
    for mount in [true, false] {
        match tools.run(&run(mount)).await {
            Ok(out) if out.success() => {
                return serde_json::from_str::<nfslab_workload::KernelFacts>(out.stdout.trim())
                    .map(KernelProbe::from_daemon)
                    .map_err(|e| format!("`nfslab-io kernel` printed something else: {e}"));
            }
            Ok(out) => last = out.last_line(),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// The kernel release the Docker daemon reports (`docker info`'s KernelVersion).
async fn daemon_release(tools: &dyn Tools) -> Option<String> {
    let command = CommandSpec::new(
        "docker",
        &["info", "--format", "{{.KernelVersion}}"],
        PROBE_TIMEOUT,
    );
    let out = tools.run(&command).await.ok().filter(|o| o.success())?;
    Some(out.stdout.trim().to_owned()).filter(|r| !r.is_empty())
}

/// Rootless Docker (`name=rootless` among `docker info`'s security options): kind documents
/// that its nodes cannot mount NFS there.
async fn check_rootless(tools: &dyn Tools) -> Option<Problem> {
    let command = CommandSpec::new(
        "docker",
        &["info", "--format", "{{json .SecurityOptions}}"],
        PROBE_TIMEOUT,
    );
    let out = tools.run(&command).await.ok().filter(|o| o.success())?;
    let options: Vec<String> = serde_json::from_str(out.stdout.trim()).ok()?;
    options
        .iter()
        .any(|o| o.split(',').any(|part| part == "name=rootless"))
        .then(|| Problem {
            subject: "docker".to_owned(),
            what: "the daemon runs rootless".to_owned(),
            why: "kind nodes of a rootless daemon cannot mount NFS (kind's documentation, \
                  Rootless: Restrictions), so no scenario or benchmark could mount a volume"
                .to_owned(),
            fix: "use a rootful Docker daemon (`docker context use default`), or an existing \
                  cluster whose nodes mount NFS: add `--existing` or `--kubeconfig FILE`"
                .to_owned(),
        })
}

fn check_port(port: u16) -> Option<Problem> {
    if port == 0 {
        return None;
    }
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => None,
        Err(e) => Some(Problem {
            subject: format!("port {port}"),
            what: format!("127.0.0.1:{port} cannot be used ({e})"),
            why: "the kind API server is configured to listen there (cluster.api-server-port)"
                .to_owned(),
            fix: "stop what listens there (`ss -ltnp`), or set cluster.api-server-port to 0 so \
                  kind picks a free port"
                .to_owned(),
        }),
    }
}

/// The problem of a kind cluster with nfslab's cluster name that nfslab did not create.
#[must_use]
pub(crate) fn foreign_cluster(name: &str) -> Problem {
    Problem {
        subject: format!("kind cluster `{name}`"),
        what: "already exists and was not created by nfslab".to_owned(),
        why: "nfslab never adopts or deletes a cluster it did not create".to_owned(),
        fix: format!(
            "pick another name (`--name` or cluster.name), or use it as an existing cluster: \
             `kind get kubeconfig --name {name} > {name}.kubeconfig` then `nfslab cluster up \
             --kubeconfig {name}.kubeconfig`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tools::CommandOutput;
    use super::super::tools::scripted::ScriptedTools;
    use super::*;

    fn request(flavor: ServerFlavor) -> Request {
        Request {
            cluster_name: "nfslab".to_owned(),
            min_kind_version: "0.29.0".to_owned(),
            node_image: "kindest/node:v1.33.1".to_owned(),
            api_server_port: 0,
            flavor,
            name_is_ours: false,
            check_kernel: true,
            install_kind: false,
        }
    }

    /// A fake host tree: `/proc/filesystems`, the kernel release and module lists.
    fn kernel(filesystems: &str, modules_dep: &str) -> (tempfile::TempDir, KernelProbe) {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        std::fs::create_dir_all(root.join("proc/sys/kernel")).expect("dirs");
        std::fs::write(root.join("proc/sys/kernel/osrelease"), "6.18.0-test\n").expect("w");
        std::fs::write(root.join("proc/filesystems"), filesystems).expect("w");
        let modules = root.join("lib/modules/6.18.0-test");
        std::fs::create_dir_all(&modules).expect("dirs");
        std::fs::write(modules.join("modules.dep"), modules_dep).expect("w");
        let probe = KernelProbe::at(root);
        (dir, probe)
    }

    fn working_tools() -> ScriptedTools {
        let tools = ScriptedTools::with(&["docker", "kind"]);
        tools.reply(&["kind", "get", "clusters"], CommandOutput::ok("other\n"));
        tools.reply(&["docker", "version"], CommandOutput::ok("27.1.1\n"));
        tools.reply(
            &["kind", "version"],
            CommandOutput::ok("kind v0.29.0 go1.24.2 linux/amd64\n"),
        );
        tools
    }

    #[test]
    fn kernel_features_are_active_loadable_or_missing() {
        let (_d, k) = kernel("nodev\tsysfs\nnodev\tnfs\n", "");
        assert_eq!(
            k.filesystem("nfs", "kernel/fs/nfs/nfs.ko"),
            Availability::Active
        );
        let (_d, k) = kernel(
            "nodev\tsysfs\n",
            "kernel/fs/nfsd/nfsd.ko.xz: kernel/fs/lockd/lockd.ko.xz\n",
        );
        assert_eq!(
            k.filesystem("nfsd", "kernel/fs/nfsd/nfsd.ko"),
            Availability::Loadable
        );
        assert_eq!(
            k.filesystem("nfs", "kernel/fs/nfs/nfs.ko"),
            Availability::Missing
        );
    }

    #[tokio::test]
    async fn a_ready_host_passes() {
        let (_d, k) = kernel(
            "nodev\tnfs\nnodev\tnfs4\n",
            "kernel/fs/nfsd/nfsd.ko: kernel/fs/lockd/lockd.ko\n",
        );
        let report = check_kind_host(&working_tools(), &k, &request(ServerFlavor::Kernel)).await;
        assert!(report.passed(), "{:?}", report.problems);
        assert_eq!(report.found, ["docker 27.1.1", "kind v0.29.0"]);
    }

    #[tokio::test]
    async fn a_bare_host_gets_one_actionable_line_per_missing_piece() {
        let (_d, k) = kernel("nodev\tsysfs\n", "");
        let tools = ScriptedTools::with(&["docker"]);
        tools.reply(
            &["docker", "version"],
            CommandOutput::failed(
                1,
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the \
                 docker daemon running?",
            ),
        );
        let report = check_kind_host(&tools, &k, &request(ServerFlavor::Kernel)).await;
        let lines: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(lines.join("\n"));
        assert_eq!(lines.len(), 4);
        assert!(lines.iter().all(|l| !l.contains('\n')));
    }

    #[tokio::test]
    async fn the_ganesha_flavor_does_not_need_nfsd() {
        let (_d, k) = kernel("nodev\tnfs\n", "");
        let report = check_kind_host(&working_tools(), &k, &request(ServerFlavor::Ganesha)).await;
        assert!(report.passed(), "{:?}", report.problems);
        let report = check_kind_host(&working_tools(), &k, &request(ServerFlavor::Kernel)).await;
        assert_eq!(report.problems.len(), 1);
        assert!(report.problems[0].fix.contains("--nfs-flavor ganesha"));
    }

    #[tokio::test]
    async fn old_kind_releases_are_refused_with_the_image_they_cannot_run() {
        let (_d, k) = kernel("nodev\tnfs\nnodev\tnfsd\n", "");
        let tools = ScriptedTools::with(&["docker", "kind"]);
        tools.reply(&["docker", "version"], CommandOutput::ok("27.1.1\n"));
        tools.reply(
            &["kind", "version"],
            CommandOutput::ok("kind v0.20.0 go1.20.4 linux/amd64\n"),
        );
        tools.reply(&["kind", "get", "clusters"], CommandOutput::ok(""));
        let report = check_kind_host(&tools, &k, &request(ServerFlavor::Kernel)).await;
        assert_eq!(
            report.problems[0].to_string(),
            "kind: v0.20.0 is older than v0.29.0; needed because the node image \
             `kindest/node:v1.33.1` is built for kind v0.29.0 or newer; fix: upgrade kind, or \
             set cluster.node-image to an image your kind release lists in its release notes \
             (and cluster.min-kind-version to v0.20.0)"
        );
    }

    #[tokio::test]
    async fn a_kind_cluster_nfslab_did_not_create_is_refused() {
        let (_d, k) = kernel("nodev\tnfs\nnodev\tnfsd\n", "");
        let tools = ScriptedTools::with(&["docker", "kind"]);
        tools.reply(&["kind", "get", "clusters"], CommandOutput::ok("nfslab\n"));
        tools.reply(&["docker", "version"], CommandOutput::ok("27.1.1\n"));
        tools.reply(
            &["kind", "version"],
            CommandOutput::ok("kind v0.29.0 go1.24.2 linux/amd64\n"),
        );
        let report = check_kind_host(&tools, &k, &request(ServerFlavor::Kernel)).await;
        assert_eq!(report.problems, [foreign_cluster("nfslab")]);
        let mut ours = request(ServerFlavor::Kernel);
        ours.name_is_ours = true;
        assert!(check_kind_host(&tools, &k, &ours).await.passed());
    }

    #[tokio::test]
    async fn a_busy_api_port_is_reported() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (_d, k) = kernel("nodev\tnfs\nnodev\tnfsd\n", "");
        let mut req = request(ServerFlavor::Kernel);
        req.api_server_port = port;
        let report = check_kind_host(&working_tools(), &k, &req).await;
        assert_eq!(report.problems.len(), 1);
        assert_eq!(report.problems[0].subject, format!("port {port}"));
    }
}
