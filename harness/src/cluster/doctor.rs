//! `nfslab doctor`: the preflight checks on their own, plus what else a run uses, each with
//! what was found, what is missing and why it matters.
//!
//! The required part is exactly what `nfslab run` checks before it creates anything
//! (`super::preflight::check_kind_host`), so `doctor` and a failing `run` say the same
//! lines. The rest is advice: the `nfslab-io` image (built on first use, which needs cargo
//! and the musl target), kubectl (not needed, handy), the state directory and the clusters
//! nfslab knows.

use std::fmt::Write as _;
use std::time::Duration;

use super::images::Freshness;
use super::preflight::{self, KernelProbe, Problem};
use super::state::StateStore;
use super::tools::{CommandSpec, Tools};
use crate::config::Config;
use crate::nfs::ServerFlavor;

const PROBE: Duration = Duration::from_secs(10);

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Present and usable.
    Ok,
    /// Missing: `nfslab run` with a kind cluster stops at preflight.
    Missing,
    /// Not needed, but worth knowing.
    Advice,
}

/// One line of the doctor's report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Ok, missing or advice.
    pub status: Status,
    /// What was checked and what was found.
    pub what: String,
    /// Why it matters (missing and advice only).
    pub why: Option<String>,
    /// How to fix it (missing and advice only).
    pub fix: Option<String>,
}

impl Check {
    fn ok(what: impl Into<String>) -> Self {
        Self {
            status: Status::Ok,
            what: what.into(),
            why: None,
            fix: None,
        }
    }

    fn advice(what: impl Into<String>, why: &str, fix: &str) -> Self {
        Self {
            status: Status::Advice,
            what: what.into(),
            why: Some(why.to_owned()),
            fix: Some(fix.to_owned()),
        }
    }

    fn missing(p: Problem) -> Self {
        Self {
            status: Status::Missing,
            what: format!("{}: {}", p.subject, p.what),
            why: Some(p.why),
            fix: Some(p.fix),
        }
    }
}

/// Runs every check for a kind cluster with the `flavor` server.
pub async fn examine(
    tools: &dyn Tools,
    kernel: &KernelProbe,
    store: Option<&StateStore>,
    config: &Config,
    flavor: ServerFlavor,
) -> Vec<Check> {
    let known = store
        .and_then(|s| s.load(&config.cluster.name).ok())
        .flatten()
        .is_some();
    // The nodes' kernel is the Docker daemon's: read it from a container of the nfslab-io
    // image when there is one; this machine's otherwise.
    let daemon = if super::images::present(tools, &config.images.nfslab_io())
        .await
        .unwrap_or(false)
    {
        preflight::daemon_kernel(tools, &config.images.nfslab_io())
            .await
            .ok()
    } else {
        None
    };
    let kernel = daemon.as_ref().unwrap_or(kernel);
    let report = preflight::check_kind_host(
        tools,
        kernel,
        &preflight::Request {
            cluster_name: config.cluster.name.clone(),
            min_kind_version: config.cluster.min_kind_version.clone(),
            node_image: config.cluster.node_image.clone(),
            api_server_port: config.cluster.api_server_port,
            flavor,
            name_is_ours: known,
            check_kernel: true,
            install_kind: true,
        },
    )
    .await;
    let mut checks: Vec<Check> = report.found.iter().map(Check::ok).collect();
    let kernel_problem = report.problems.iter().any(|p| p.subject == "host kernel");
    if !kernel_problem {
        checks.push(Check::ok(kernel_line(kernel, flavor)));
    }
    checks.extend(report.problems.into_iter().map(Check::missing));
    checks.push(image_check(tools, config).await);
    checks.push(flavor_check(tools, config, flavor).await);
    checks.push(kubectl_check(tools).await);
    checks.push(match store {
        Some(s) => match s.names() {
            Ok(names) if names.is_empty() => Check::ok(format!(
                "state directory {} (no clusters yet)",
                s.root().display()
            )),
            Ok(names) => Check::ok(format!(
                "state directory {}; clusters nfslab knows: {}",
                s.root().display(),
                names.join(", ")
            )),
            Err(e) => Check::missing(Problem {
                subject: "state directory".to_owned(),
                what: e.to_string(),
                why: "nfslab keeps each cluster's kubeconfig there".to_owned(),
                fix: "set NFSLAB_STATE_DIR to a writable directory".to_owned(),
            }),
        },
        None => Check::missing(Problem {
            subject: "state directory".to_owned(),
            what: "none could be determined".to_owned(),
            why: "nfslab keeps each cluster's kubeconfig there".to_owned(),
            fix: "set NFSLAB_STATE_DIR (or HOME) to a writable directory".to_owned(),
        }),
    });
    checks
}

fn kernel_line(kernel: &KernelProbe, flavor: ServerFlavor) -> String {
    use preflight::Availability::{Active, Loadable, Missing};
    let word = |a| match a {
        Active => "loaded",
        Loadable => "loadable",
        Missing => "missing",
    };
    let release = kernel.release().unwrap_or_else(|| "unknown".to_owned());
    let client = word(kernel.filesystem("nfs", "kernel/fs/nfs/nfs.ko"));
    let server = word(kernel.filesystem("nfsd", "kernel/fs/nfsd/nfsd.ko"));
    let needed = if flavor == ServerFlavor::Kernel {
        "needed by the kernel server flavor"
    } else {
        "only the kernel server flavor needs it"
    };
    format!(
        "{} {release}: NFS client {client}, nfsd {server} ({needed})",
        kernel.whose()
    )
}

async fn image_check(tools: &dyn Tools, config: &Config) -> Check {
    let image = config.images.nfslab_io();
    let freshness = super::images::freshness(tools, &super::images::source_dir(), &image).await;
    match freshness {
        Ok(Freshness::Current) => {
            return Check::ok(format!(
                "image {image} is in the local Docker, built from this tree"
            ));
        }
        Ok(Freshness::Unchecked) => {
            return Check::ok(format!("image {image} is in the local Docker"));
        }
        Ok(state @ Freshness::Stale { .. }) => {
            let said = state.describe(&image).unwrap_or_default();
            return Check::ok(format!("{said}; it is rebuilt on first use"));
        }
        Ok(state @ Freshness::Unlabelled) => {
            return Check::advice(
                state.describe(&image).unwrap_or_default(),
                "an image not built from this tree may run another engine than the one in it",
                "`nfslab images build`",
            );
        }
        Ok(Freshness::Missing) | Err(_) => {}
    }
    let musl = CommandSpec::new("rustup", &["target", "list", "--installed"], PROBE);
    let has_musl = tools
        .run(&musl)
        .await
        .is_ok_and(|o| o.success() && o.stdout.contains("x86_64-unknown-linux-musl"));
    let has_cargo = tools.find("cargo").is_some();
    if has_cargo && has_musl {
        Check::ok(format!(
            "image {image} not built yet; cargo and the musl target are there to build it on \
             first use"
        ))
    } else if has_cargo && tools.find("rustup").is_some() {
        Check::ok(format!(
            "image {image} not built yet; it is built on first use (rustup adds the musl \
             target then)"
        ))
    } else {
        Check::advice(
            format!("image {image} is not in the local Docker and cannot be built here"),
            "every pod nfslab starts runs nfslab-io, a static binary built from this repository",
            "install Rust (https://rustup.rs) and `rustup target add x86_64-unknown-linux-musl`, \
             or load a saved image: `nfslab images load FILE`",
        )
    }
}

/// Which server flavor runs and why, and for ganesha, how its image stands.
async fn flavor_check(tools: &dyn Tools, config: &Config, flavor: ServerFlavor) -> Check {
    let default = if flavor == config.nfs.flavor {
        "the configured flavor"
    } else {
        "asked for"
    };
    if flavor != ServerFlavor::Ganesha {
        return Check::ok(format!(
            "NFS server flavor kernel ({default}): the host kernel's nfsd in a privileged pod,              as Kubernetes' own e2e tests run it; needs the nfsd module (above) and sets the              host's lockd ports and grace period while it runs (restored when it stops). The              default, ganesha, needs neither"
        ));
    }
    let image = config.images.ganesha_nfs_server();
    let what = format!(
        "NFS server flavor ganesha ({default}; the default): nfs-ganesha in user space in the          image {image}, needing no kernel module on the host, so it runs wherever kind does          (Docker Desktop, CI runners)"
    );
    let server = super::images::Image {
        role: super::images::Role::GaneshaNfsServer,
        reference: image.clone(),
    };
    let Some(recipe) = server.recipe() else {
        return Check::ok(format!("{what}; the nodes pull it"));
    };
    match super::images::freshness_of(tools, &super::images::source_dir(), recipe, &image).await {
        Ok(Freshness::Current | Freshness::Unchecked) => {
            Check::ok(format!("{what}; built from this tree"))
        }
        Ok(Freshness::Stale { .. }) => Check::ok(format!("{what}; stale, rebuilt on first use")),
        Ok(Freshness::Unlabelled) => Check::advice(
            format!("{what}; it has no source label"),
            "an image not built from this tree may hold other packages than its recipe",
            "`nfslab images build`",
        ),
        Ok(Freshness::Missing) | Err(_) => {
            let root = tools
                .run(&CommandSpec::new("id", &["-u"], PROBE))
                .await
                .is_ok_and(|o| o.stdout.trim() == "0");
            let how = if root && tools.find("debootstrap").is_some() {
                "debootstrap from a Debian mirror (no registry needed)"
            } else {
                "docker build FROM debian:bookworm-slim (needs registry access; as root with \
                 debootstrap installed no registry is needed)"
            };
            Check::ok(format!(
                "{what}; not built yet, built on first use by {how}"
            ))
        }
    }
}

async fn kubectl_check(tools: &dyn Tools) -> Check {
    let command = CommandSpec::new("kubectl", &["version", "--client"], PROBE);
    match tools.run(&command).await {
        Ok(out) if out.success() => Check::ok(format!(
            "kubectl: {}",
            out.stdout.lines().next().unwrap_or("present").trim()
        )),
        _ => Check::advice(
            "kubectl: not found",
            "nfslab talks to the API server itself; kubectl is only handy to look around \
             (`nfslab cluster kubeconfig` prints the path to use)",
            "install kubectl if you want it",
        ),
    }
}

/// The report as text, and whether nothing required is missing.
#[must_use]
pub fn render(checks: &[Check]) -> (String, bool) {
    let mut out = String::new();
    let missing = checks
        .iter()
        .filter(|c| c.status == Status::Missing)
        .count();
    for c in checks {
        let tag = match c.status {
            Status::Ok => "ok     ",
            Status::Missing => "MISSING",
            Status::Advice => "note   ",
        };
        let _ = writeln!(out, "  {tag}  {}", c.what);
        if let Some(why) = &c.why {
            let _ = writeln!(out, "           why: {why}");
        }
        if let Some(fix) = &c.fix {
            let _ = writeln!(out, "           fix: {fix}");
        }
    }
    out.push('\n');
    if missing == 0 {
        out.push_str("Ready: `nfslab run` can create its kind cluster here.\n");
    } else {
        let _ = writeln!(
            out,
            "{missing} missing: `nfslab run` would stop at preflight (exit 3) and create \
             nothing."
        );
    }
    (out, missing == 0)
}

#[cfg(test)]
mod tests {
    use super::super::tools::CommandOutput;
    use super::super::tools::scripted::ScriptedTools;
    use super::*;

    fn kernel(filesystems: &str) -> (tempfile::TempDir, KernelProbe) {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        std::fs::create_dir_all(root.join("proc/sys/kernel")).expect("dirs");
        std::fs::write(root.join("proc/sys/kernel/osrelease"), "6.18.0-test\n").expect("w");
        std::fs::write(root.join("proc/filesystems"), filesystems).expect("w");
        let probe = KernelProbe::at(root);
        (dir, probe)
    }

    #[tokio::test]
    async fn a_bare_host_lists_what_is_missing_with_why_and_fix() {
        let (_d, k) = kernel("nodev\tsysfs\n");
        let tools = ScriptedTools::with(&[]);
        let state = tempfile::tempdir().expect("tmp");
        let store = StateStore::at(state.path());
        let checks = examine(
            &tools,
            &k,
            Some(&store),
            &Config::default(),
            ServerFlavor::Kernel,
        )
        .await;
        let (text, ready) = render(&checks);
        assert!(!ready);
        for needle in [
            "MISSING  docker: not found on PATH",
            "MISSING  kind: not found on PATH",
            "MISSING  host kernel: no NFS client",
            "MISSING  host kernel: no NFS server",
            "note     image nfslab-io:",
            "note     kubectl: not found",
            "4 missing: `nfslab run` would stop at preflight (exit 3)",
        ] {
            assert!(text.contains(needle), "`{needle}` not in:\n{text}");
        }
        assert!(text.contains("why: kind runs every cluster node as a Docker container"));
    }

    #[tokio::test]
    async fn a_ready_host_says_so() {
        let (_d, k) = kernel("nodev\tnfs\n");
        let tools = ScriptedTools::with(&["docker", "kind", "cargo", "kubectl", "rustup"]);
        tools.reply(&["docker", "version"], CommandOutput::ok("28.2.2\n"));
        tools.reply(
            &["kind", "version"],
            CommandOutput::ok("kind v0.30.0 go1.24.6 linux/amd64\n"),
        );
        tools.reply(&["kind", "get", "clusters"], CommandOutput::ok(""));
        tools.reply(
            &["docker", "image", "inspect"],
            CommandOutput::failed(1, "No such image"),
        );
        tools.reply(
            &["rustup", "target", "list"],
            CommandOutput::ok("x86_64-unknown-linux-gnu\nx86_64-unknown-linux-musl\n"),
        );
        tools.reply(
            &["kubectl", "version"],
            CommandOutput::ok("Client Version: v1.33.4\n"),
        );
        let state = tempfile::tempdir().expect("tmp");
        let store = StateStore::at(state.path());
        let checks = examine(
            &tools,
            &k,
            Some(&store),
            &Config::default(),
            ServerFlavor::Ganesha,
        )
        .await;
        let (text, ready) = render(&checks);
        assert!(ready, "{text}");
        assert!(text.contains("ok       docker 28.2.2"), "{text}");
        assert!(text.contains("ok       kind v0.30.0"), "{text}");
        assert!(
            text.contains(
                "NFS client loaded, nfsd missing (only the kernel server flavor needs it)"
            ),
            "{text}"
        );
        assert!(
            text.contains("cargo and the musl target are there"),
            "{text}"
        );
        assert!(text.contains("kubectl: Client Version: v1.33.4"), "{text}");
        assert!(text.contains("Ready: `nfslab run` can create its kind cluster here."));
    }
}
