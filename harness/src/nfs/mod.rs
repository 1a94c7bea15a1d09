//! The NFS server the scenarios and benchmarks use, and how to reach its files.
//!
//! A server is described by [`NfsServer`]: the address PVs name (a Service ClusterIP or pod
//! IP for in-cluster servers, never a DNS name: the kubelet mounts from the node, which cannot
//! resolve cluster DNS), the export path (identical for NFSv3 and NFSv4.x clients), and, for
//! servers nfslab runs itself, a container from which files under the export can be read and
//! written directly ("server side"), which scenarios use to prepare and check data.
//!
//! - [`server`]: the in-cluster server (kernel nfsd or nfs-ganesha): manifests, up, down,
//!   status, and the client check that proves it serves.
//! - `files`: server-side file operations through the server's file-access container.
//! - [`helper`]: the `nfslab-io` helper commands run in pods, read with the producer's types.
//! - `provisioner`: the objects of nfs-subdir-external-provisioner.
//! - [`external`]: a server outside the cluster (`host:/export`).

mod files;
pub mod helper;
pub(crate) mod protocol;
pub(crate) mod provisioner;
pub mod server;

pub(crate) mod mount_options;

pub use files::{FilesError, ServerFiles};
pub use protocol::{NotApplicable, ProtocolOptions, map_profile};

use serde::{Deserialize, Serialize};

pub use crate::config::ServerFlavor;
use crate::k8s::ObjectRef;

/// Where a server's files can be reached directly: a container that mounts the exported
/// directory and runs the `nfslab-io` helper commands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileAccess {
    /// The pod.
    pub pod: ObjectRef,
    /// The container within the pod.
    pub container: String,
    /// Path of the export's root inside that container.
    pub root: String,
}

/// An NFS server as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NfsServer {
    /// The implementation.
    pub flavor: ServerFlavor,
    /// Address for `spec.nfs.server` in PVs and for mounts: an IP address (or, for external
    /// servers, whatever the nodes resolve).
    pub address: String,
    /// Exported path, the same for NFSv3 and NFSv4.x clients (`/exports`).
    pub export: String,
    /// Direct access to the files, for servers nfslab runs (`None` for external servers).
    pub files: Option<FileAccess>,
}

/// Why an external server description is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe_external_error(.given))]
pub struct ExternalServerError {
    /// What was given.
    pub given: String,
}

/// An unbracketed IPv6 address (`fd00::10:/export`): more than one `:` before the export.
fn unbracketed_ipv6(spec: &str) -> Option<(&str, &str)> {
    if spec.starts_with('[') {
        return None;
    }
    let (host, export) = spec.rsplit_once(":/")?;
    (host.matches(':').count() >= 2).then_some((host, export))
}

fn describe_external_error(given: &str) -> String {
    match unbracketed_ipv6(given) {
        Some((host, export)) => format!(
            "`{given}` has an IPv6 address without brackets, so nfslab cannot tell the \
             address from the export (hint: write `[{host}]:/{export}`)"
        ),
        None => format!(
            "`{given}` is not an NFS server and export (hint: write HOST:/EXPORT, e.g. \
             192.168.1.10:/volume1/k8s or [fd00::10]:/export)"
        ),
    }
}

/// A server outside the cluster, from `host:/export` (`[v6addr]:/export` for IPv6).
/// Benchmarks use these as they are; scenarios needing server-side file access cannot.
///
/// # Errors
/// [`ExternalServerError`] when the text is not `HOST:/ABSOLUTE/PATH`.
pub fn external(spec: &str) -> Result<NfsServer, ExternalServerError> {
    let error = || ExternalServerError {
        given: spec.to_owned(),
    };
    let (host, rest) = spec.split_once(":/").ok_or_else(error)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let valid_host = !host.is_empty()
        && !host.contains(char::is_whitespace)
        && !host.contains('/')
        && (host.contains(':') == spec.starts_with('['));
    if !valid_host || rest.contains(char::is_whitespace) {
        return Err(error());
    }
    let export = format!("/{}", rest.trim_end_matches('/'));
    Ok(NfsServer {
        flavor: ServerFlavor::External,
        address: host.to_owned(),
        export: if export.is_empty() {
            "/".to_owned()
        } else {
            export
        },
        files: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbracketed_ipv6_gets_the_bracketed_form_suggested() {
        let err = external("fd00::10:/export").expect_err("ambiguous");
        assert!(
            err.to_string().contains("write `[fd00::10]:/export`"),
            "{err}"
        );
        assert!(external("[fd00::10]:/export").is_ok());
    }

    #[test]
    fn external_servers_parse_host_and_export() {
        let s = external("192.168.1.10:/volume1/k8s/").expect("valid");
        assert_eq!(
            (s.address.as_str(), s.export.as_str()),
            ("192.168.1.10", "/volume1/k8s")
        );
        assert_eq!(s.flavor, ServerFlavor::External);
        assert_eq!(s.files, None);
        let v6 = external("[fd00::10]:/export").expect("v6");
        assert_eq!(v6.address, "fd00::10");
        assert_eq!(external("nas.example.com:/").expect("root").export, "/");
        for bad in ["nas", "nas:export", ":/export", "a b:/x"] {
            let err = external(bad).expect_err(bad);
            assert!(err.to_string().contains("HOST:/EXPORT"), "{err}");
        }
    }
}
