//! What a user can do on this machine when the path they took is closed.
//!
//! When preflight refuses a kind run (no Docker, no kind, no NFS client in the nodes'
//! kernel), the run stops before creating anything. Other paths to an answer may still be
//! open here: a cluster the user already has (`--existing`), or a benchmark of an NFS server
//! from this machine without Kubernetes (`bench --host`). [`instead_of_kind`] says so in one
//! line, the last one the CLI prints after such a refusal; `nfslab doctor` and `nfslab
//! --help` list the same paths.

use crate::cluster::ClusterSetupError;
use crate::environment::EnvironmentError;

/// A path to an answer that needs no kind cluster.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Alternative {
    /// The command, ready to edit and run.
    pub command: String,
    /// What it gives, and what it needs.
    pub what: String,
}

/// The paths that need no kind cluster. `servers` are the NFS servers the user named
/// (`host:/export` or `NAME=host:/export`), used in the `bench --host` command when given.
#[must_use]
pub fn without_kind(servers: &[String]) -> Vec<Alternative> {
    let host_servers = if servers.is_empty() {
        "--server HOST:/EXPORT".to_owned()
    } else {
        servers
            .iter()
            .map(|s| format!("--server {s}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    vec![
        Alternative {
            command: format!("nfslab bench --host {host_servers}"),
            what: "benchmark an NFS server from this machine, without Kubernetes (the \
                   user-space NFSv3 client; a kernel mount too when this machine can mount)"
                .to_owned(),
        },
        Alternative {
            command: "nfslab run --context NAME [--kubeconfig FILE] [--image-registry REGISTRY]"
                .to_owned(),
            what: "scenarios and benchmark on a cluster you already have, whose nodes mount NFS"
                .to_owned(),
        },
    ]
}

/// The alternatives in one line: `instead, on this machine: `cmd` (what); `cmd` (what)`.
#[must_use]
pub fn instead_line(servers: &[String]) -> String {
    let paths: Vec<String> = without_kind(servers)
        .iter()
        .map(|a| format!("`{}` ({})", a.command, a.what))
        .collect();
    format!("instead, on this machine: {}", paths.join("; or "))
}

/// Whether `error` is preflight refusing a kind cluster (nothing was created).
#[must_use]
pub fn is_preflight_refusal(error: &EnvironmentError) -> bool {
    matches!(error, EnvironmentError::Cluster(e) if is_setup_refusal(e))
}

/// Whether `error` (of `nfslab cluster up`) is preflight refusing a kind cluster.
#[must_use]
pub fn is_setup_refusal(error: &ClusterSetupError) -> bool {
    matches!(error, ClusterSetupError::Preflight { .. })
}

/// The line to print last after `error`, when preflight refused a kind run.
#[must_use]
pub fn instead_of_kind(error: &EnvironmentError, servers: &[String]) -> Option<String> {
    is_preflight_refusal(error).then(|| instead_line(servers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::preflight::Problem;

    fn refusal() -> EnvironmentError {
        EnvironmentError::Cluster(ClusterSetupError::Preflight {
            problems: vec![Problem {
                subject: "kind".to_owned(),
                what: "not found on PATH".to_owned(),
                why: "nfslab creates its cluster with kind".to_owned(),
                fix: "install kind".to_owned(),
            }],
        })
    }

    #[test]
    fn a_refused_kind_run_names_both_paths_open_here() {
        let line = instead_of_kind(&refusal(), &[]).expect("preflight refusal");
        assert!(line.starts_with("instead, on this machine: "), "{line}");
        assert!(
            line.contains("`nfslab bench --host --server HOST:/EXPORT`"),
            "{line}"
        );
        assert!(line.contains("`nfslab run --context NAME"), "{line}");
    }

    #[test]
    fn the_servers_the_user_named_go_into_the_host_command() {
        let line = instead_line(&["nas=10.0.0.7:/vol1".to_owned()]);
        assert!(
            line.contains("`nfslab bench --host --server nas=10.0.0.7:/vol1`"),
            "{line}"
        );
    }

    #[test]
    fn other_environment_errors_get_no_alternatives() {
        let interrupted = EnvironmentError::Interrupted { left: Vec::new() };
        assert_eq!(instead_of_kind(&interrupted, &[]), None);
    }
}
