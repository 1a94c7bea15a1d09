//! Why an `nfs://` target cannot be used: one variant per failure of the setup (name
//! resolution, portmapper, MOUNT, NFS program check, the target directory), each saying
//! what to do. [`SetupError::is_bad_input`] separates what the user fixes in the command
//! (export path, directory, credentials: exit code 2) from the environment (server down or
//! not speaking NFSv3: exit code 3).

use std::net::SocketAddr;

use super::client::NfsError;
use super::rpc::CallError;

/// A failure before any IO on an `nfs://` target.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The host name does not resolve.
    #[error("cannot resolve host `{host}` (hint: check the name, or give an IP address)")]
    Resolve {
        /// The host.
        host: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// The host did not resolve in time.
    #[error("cannot resolve host `{host}` within {} (hint: check the name, or give an IP address)", crate::units::format_duration(*after))]
    ResolveTimeout {
        /// The host.
        host: String,
        /// The bound.
        after: std::time::Duration,
    },
    /// A service did not answer (refused, timed out, closed).
    #[error("no answer from the {service} service at `{addr}` (hint: {hint})")]
    Unreachable {
        /// `portmapper`, `MOUNT` or `NFS`.
        service: &'static str,
        /// Where.
        addr: SocketAddr,
        /// What to do.
        hint: &'static str,
        /// The failure.
        #[source]
        source: CallError,
    },
    /// The portmapper does not know the program.
    #[error(
        "`{host}` does not offer {service} version {vers} over TCP: its portmapper has no program {prog} version {vers} (hint: {hint})"
    )]
    NotRegistered {
        /// The host.
        host: String,
        /// `MOUNT` or `NFS`.
        service: &'static str,
        /// Program number.
        prog: u32,
        /// Version.
        vers: u32,
        /// What to do.
        hint: &'static str,
    },
    /// The service is there in other versions.
    #[error(
        "the {service} service at `{addr}` does not speak version {vers}: it speaks versions {low} to {high} (hint: the protocol backend needs NFSv3 with MOUNT v3)"
    )]
    VersionMismatch {
        /// `MOUNT` or `NFS`.
        service: &'static str,
        /// Where.
        addr: SocketAddr,
        /// Version asked.
        vers: u32,
        /// Lowest served.
        low: u32,
        /// Highest served.
        high: u32,
    },
    /// Something answers but not the RPC program expected.
    #[error(
        "`{addr}` does not answer as the {service} service (hint: is it the right port? {hint})"
    )]
    NotService {
        /// `portmapper`, `MOUNT` or `NFS`.
        service: &'static str,
        /// Where.
        addr: SocketAddr,
        /// What to do.
        hint: &'static str,
        /// What was wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The path is not under any export.
    #[error(
        "export `{path}` not found on `{host}` (MOUNT answered {status}) (hint: the server exports {exports})"
    )]
    ExportNotFound {
        /// The host.
        host: String,
        /// The path asked.
        path: String,
        /// The MOUNT status.
        status: String,
        /// The server's export list, or why it is unknown.
        exports: String,
    },
    /// MOUNT refused the path (MNT3ERR_ACCES, MNT3ERR_PERM).
    #[error(
        "permission denied mounting `{path}` from `{host}` (MOUNT answered {status}{}) (hint: check the export's client list and access type, or the credentials uid={uid},gid={gid}; this client may mount {exports})",
        if *listed { "" } else { ": the path is not exported to this client, or does not exist" }
    )]
    MountDenied {
        /// The host.
        host: String,
        /// The path asked.
        path: String,
        /// The MOUNT status.
        status: String,
        /// Whether the export list shows the path to this client.
        listed: bool,
        /// The export list as this client sees it.
        exports: String,
        /// AUTH_SYS uid sent.
        uid: u32,
        /// AUTH_SYS gid sent.
        gid: u32,
    },
    /// MOUNT failed on the server's side (MNT3ERR_IO, MNT3ERR_SERVERFAULT...).
    #[error(
        "the MOUNT service of `{host}` failed for `{path}` (MOUNT answered {status}) (hint: check the server's logs)"
    )]
    MountFailed {
        /// The host.
        host: String,
        /// The path asked.
        path: String,
        /// The MOUNT status.
        status: String,
    },
    /// The server only accepts security flavours this client lacks.
    #[error(
        "export `{path}` on `{host}` requires security flavours {flavors:?}; only AUTH_SYS (1) is supported (hint: export it with sec=sys)"
    )]
    Flavor {
        /// The host.
        host: String,
        /// The export.
        path: String,
        /// Flavours the server listed.
        flavors: Vec<u32>,
    },
    /// A step on the target directory failed (LOOKUP, GETATTR, FSINFO, ACCESS).
    #[error("{step} of `{path}` on `{host}` failed (hint: {hint})")]
    Path {
        /// The host.
        host: String,
        /// The path concerned.
        path: String,
        /// The step.
        step: &'static str,
        /// What to do.
        hint: String,
        /// The failure.
        #[source]
        source: Box<NfsError>,
    },
    /// The target is not a directory.
    #[error(
        "`{path}` on `{host}` is not a directory (hint: the target names a directory to run in)"
    )]
    NotDirectory {
        /// The host.
        host: String,
        /// The path.
        path: String,
    },
    /// The job writes but the directory refuses it.
    #[error(
        "permission denied: directory `{path}` on `{host}` is not writable for uid={uid},gid={gid} (hint: the run creates its files there; use a writable directory or other uid=/gid=)"
    )]
    NotWritable {
        /// The host.
        host: String,
        /// The path.
        path: String,
        /// AUTH_SYS uid sent.
        uid: u32,
        /// AUTH_SYS gid sent.
        gid: u32,
    },
    /// The client's runtime could not start.
    #[error("cannot start the NFS client's runtime")]
    Runtime {
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl SetupError {
    /// Whether the user fixes this in the command (exit code 2) rather than in the
    /// environment (exit code 3).
    #[must_use]
    pub fn is_bad_input(&self) -> bool {
        use nfs3_types::nfs3::nfsstat3;
        match self {
            SetupError::ExportNotFound { .. }
            | SetupError::MountDenied { .. }
            | SetupError::NotDirectory { .. }
            | SetupError::NotWritable { .. } => true,
            SetupError::Path { source, .. } => matches!(
                source.status(),
                Some(
                    nfsstat3::NFS3ERR_NOENT
                        | nfsstat3::NFS3ERR_NOTDIR
                        | nfsstat3::NFS3ERR_ACCES
                        | nfsstat3::NFS3ERR_PERM
                )
            ),
            _ => false,
        }
    }
}
