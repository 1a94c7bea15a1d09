//! Reaching an export without mounting it: name resolution, portmapper (unless both ports
//! are given), MOUNT v3, the NFS program check, FSINFO and the target directory.
//!
//! The portmapper and MOUNT exchanges are one call at a time and use `nfs3_client`'s
//! `PortmapperClient` and `MountClient` over a tokio TCP stream; NFS calls use the
//! multiplexed [`super::rpc`] client. Every step is bounded by `connect_timeout`, so a bad
//! target fails within it with one [`SetupError`].
//!
//! Ganesha answers MNT3ERR_ACCES for paths it does not export, other servers
//! MNT3ERR_NOENT; either way the export list (MOUNTPROC3_EXPORT) decides between "export
//! not found" and "permission denied". A path below an export that cannot be mounted
//! itself is reached by mounting the export and looking up the rest, as libnfs does.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use nfs3_client::nfs3_types::mount::{dirpath, mountstat3};
use nfs3_client::tokio::TokioIo;
use nfs3_client::{MountClient, MountError, PortmapError, PortmapperClient, RpcError};
use nfs3_types::nfs3::{
    ACCESS3_EXTEND, ACCESS3_LOOKUP, ACCESS3_MODIFY, FSINFO3resok, ftype3, nfs_fh3,
};
use nfs3_types::rpc::opaque_auth;
use nfs3_types::xdr_codec::Opaque;
use nix::errno::Errno;

use super::client::{Nfs, NfsError};
use super::error::SetupError;
use super::options::NfsOptions;
use super::rpc::{CallError, ClientConfig, RetryPolicy, RpcClient, auth_sys, connect_tcp};
use super::stats::RpcStats;
use super::target::NfsTarget;
use crate::result::nfs::{PortSource, RetryMode};

const PORTMAP_HINT: &str =
    "start rpcbind on the server, or give both ports: ?nfsport=N&mountport=N";
const MOUNT_HINT: &str = "check that the server runs and exports over NFSv3, or give mountport=N";
const NFS_HINT: &str = "check that the server runs and serves NFSv3 over TCP, or give nfsport=N";

/// A reachable export and the NFS client for it.
#[derive(Debug)]
pub struct Mounted {
    /// Server address of the NFS service.
    pub nfs_addr: SocketAddr,
    /// MOUNT port.
    pub mount_port: u16,
    /// Where the ports came from.
    pub ports: PortSource,
    /// The export mounted.
    pub export: String,
    /// Handle of the target directory.
    pub dir: nfs_fh3,
    /// The server's FSINFO.
    pub fsinfo: FSINFO3resok,
    /// Calls under the run's retry policy.
    pub nfs: Nfs,
    /// AUTH_SYS uid and gid sent.
    pub creds: (u32, u32),
    /// AUTH_SYS credentials (for UMNT).
    pub cred: opaque_auth<'static>,
}

async fn bounded<T>(
    after: Duration,
    fut: impl Future<Output = Result<T, CallError>>,
) -> Result<T, CallError> {
    tokio::time::timeout(after, fut)
        .await
        .unwrap_or(Err(CallError::TimedOut { after }))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "nfslab".to_owned())
}

/// A failure of `nfs3_client` as a [`SetupError`] for `service` at `addr`.
fn rpc_failure(
    service: &'static str,
    addr: SocketAddr,
    hint: &'static str,
    vers: u32,
    e: RpcError,
) -> SetupError {
    match e {
        RpcError::Io(source) => SetupError::Unreachable {
            service,
            addr,
            hint,
            source: CallError::Connect { addr, source },
        },
        RpcError::ProgMismatch { low, high } => SetupError::VersionMismatch {
            service,
            addr,
            vers,
            low,
            high,
        },
        other => SetupError::NotService {
            service,
            addr,
            hint,
            source: Box::new(other),
        },
    }
}

/// A call failure of the multiplexed client as a [`SetupError`].
fn call_failure(
    service: &'static str,
    addr: SocketAddr,
    hint: &'static str,
    e: CallError,
) -> SetupError {
    match e {
        CallError::ProgMismatch {
            vers, low, high, ..
        } => SetupError::VersionMismatch {
            service,
            addr,
            vers,
            low,
            high,
        },
        e if e.is_unreachable() => SetupError::Unreachable {
            service,
            addr,
            hint,
            source: e,
        },
        other => SetupError::NotService {
            service,
            addr,
            hint,
            source: Box::new(other),
        },
    }
}

async fn resolve(host: &str, timeout: Duration) -> Result<std::net::IpAddr, SetupError> {
    if let Ok(ip) = host.parse() {
        return Ok(ip);
    }
    match tokio::time::timeout(timeout, tokio::net::lookup_host((host, 0))).await {
        Err(_) => Err(SetupError::ResolveTimeout {
            host: host.to_owned(),
            after: timeout,
        }),
        Ok(Err(source)) => Err(SetupError::Resolve {
            host: host.to_owned(),
            source,
        }),
        Ok(Ok(mut addrs)) => addrs
            .next()
            .map(|a| a.ip())
            .ok_or_else(|| SetupError::Resolve {
                host: host.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
            }),
    }
}

/// Asks the portmapper at `addr` for the TCP port of `prog` version `vers`.
async fn getport(
    addr: SocketAddr,
    host: &str,
    service: &'static str,
    prog: u32,
    vers: u32,
    timeout: Duration,
) -> Result<u16, SetupError> {
    let hint = PORTMAP_HINT;
    let stream = connect_tcp(addr, false, timeout)
        .await
        .map_err(|e| SetupError::Unreachable {
            service: "portmapper",
            addr,
            hint,
            source: e,
        })?;
    let mut client = PortmapperClient::new(TokioIo::new(stream));
    let ask = client.getport(prog, vers, nfs3_types::portmap::IPPROTO_TCP);
    match tokio::time::timeout(timeout, ask).await {
        Err(_) => Err(SetupError::Unreachable {
            service: "portmapper",
            addr,
            hint,
            source: CallError::TimedOut { after: timeout },
        }),
        Ok(Ok(port)) => Ok(port),
        Ok(Err(PortmapError::ProgramUnavailable)) => Err(SetupError::NotRegistered {
            host: host.to_owned(),
            service,
            prog,
            vers,
            hint: if service == "NFS" {
                "the server does not speak NFSv3, or give nfsport=N if it does on a known port"
            } else {
                "start the server's MOUNT service, or give mountport=N"
            },
        }),
        Ok(Err(PortmapError::Rpc(e))) => Err(rpc_failure("portmapper", addr, hint, 2, e)),
        Ok(Err(other)) => Err(SetupError::NotService {
            service: "portmapper",
            addr,
            hint,
            source: Box::new(other),
        }),
    }
}

/// The export list as text for a hint.
async fn export_list(client: &mut MountConn, timeout: Duration) -> Option<Vec<String>> {
    let list = tokio::time::timeout(timeout, client.export())
        .await
        .ok()?
        .ok()?;
    Some(
        list.into_inner()
            .into_iter()
            .map(|e| String::from_utf8_lossy(&e.ex_dir.0).into_owned())
            .collect(),
    )
}

fn is_under(path: &str, export: &str) -> bool {
    let export = export.trim_end_matches('/');
    export.is_empty()
        || path == export
        || path
            .strip_prefix(export)
            .is_some_and(|rest| rest.starts_with('/'))
}

type MountConn = MountClient<TokioIo<tokio::net::TcpStream>>;

/// One MNT call bounded by `timeout`.
async fn attempt(
    client: &mut MountConn,
    path: String,
    timeout: Duration,
) -> Result<Result<nfs3_types::mount::mountres3_ok<'static>, MountError>, tokio::time::error::Elapsed>
{
    tokio::time::timeout(
        timeout,
        client.mnt(dirpath(Opaque::owned(path.into_bytes()))),
    )
    .await
}

/// MOUNT v3 of `path`; falls back to the longest export above it. Returns the export
/// mounted, its handle, and the rest of the path to look up.
async fn mount(
    addr: SocketAddr,
    target: &NfsTarget,
    cred: &opaque_auth<'static>,
    creds: (u32, u32),
    timeout: Duration,
) -> Result<(String, nfs_fh3, Vec<String>), SetupError> {
    let stream = connect_tcp(addr, false, timeout)
        .await
        .map_err(|e| SetupError::Unreachable {
            service: "MOUNT",
            addr,
            hint: MOUNT_HINT,
            source: e,
        })?;
    let mut client =
        MountClient::new_with_auth(TokioIo::new(stream), cred.clone(), opaque_auth::default());
    let status = match attempt(&mut client, target.path.clone(), timeout).await {
        Err(_) => {
            return Err(SetupError::Unreachable {
                service: "MOUNT",
                addr,
                hint: MOUNT_HINT,
                source: CallError::TimedOut { after: timeout },
            });
        }
        Ok(Ok(ok)) => {
            check_flavors(target, &target.path, &ok.auth_flavors)?;
            return Ok((
                target.path.clone(),
                nfs_fh3 { data: ok.fhandle.0 },
                Vec::new(),
            ));
        }
        Ok(Err(MountError::Rpc(e))) => return Err(rpc_failure("MOUNT", addr, MOUNT_HINT, 3, e)),
        Ok(Err(MountError::Denied(status))) => status,
    };
    let exports = export_list(&mut client, timeout).await;
    let covering = exports.as_ref().and_then(|list| {
        list.iter()
            .filter(|e| is_under(&target.path, e))
            .max_by_key(|e| e.len())
            .cloned()
    });
    let listing = match &exports {
        Some(list) if list.is_empty() => "nothing".to_owned(),
        Some(list) => list
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", "),
        None => "an unknown list (EXPORT failed)".to_owned(),
    };
    let refused = |path: &str, status: mountstat3, listed: bool| match status {
        mountstat3::MNT3ERR_ACCES | mountstat3::MNT3ERR_PERM => SetupError::MountDenied {
            host: target.host.clone(),
            path: path.to_owned(),
            status: status.to_string(),
            listed,
            exports: listing.clone(),
            uid: creds.0,
            gid: creds.1,
        },
        mountstat3::MNT3ERR_NOENT
        | mountstat3::MNT3ERR_NOTDIR
        | mountstat3::MNT3ERR_INVAL
        | mountstat3::MNT3ERR_NAMETOOLONG => SetupError::ExportNotFound {
            host: target.host.clone(),
            path: path.to_owned(),
            status: status.to_string(),
            exports: listing.clone(),
        },
        _ => SetupError::MountFailed {
            host: target.host.clone(),
            path: path.to_owned(),
            status: status.to_string(),
        },
    };
    match covering {
        Some(export) if export.trim_end_matches('/') != target.path => {
            match attempt(&mut client, export.clone(), timeout).await {
                Ok(Ok(ok)) => {
                    check_flavors(target, &export, &ok.auth_flavors)?;
                    let rest = target.path[export.trim_end_matches('/').len()..]
                        .split('/')
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect();
                    Ok((export, nfs_fh3 { data: ok.fhandle.0 }, rest))
                }
                Ok(Err(MountError::Denied(status))) => Err(refused(&export, status, true)),
                Ok(Err(MountError::Rpc(e))) => Err(rpc_failure("MOUNT", addr, MOUNT_HINT, 3, e)),
                Err(_) => Err(SetupError::Unreachable {
                    service: "MOUNT",
                    addr,
                    hint: MOUNT_HINT,
                    source: CallError::TimedOut { after: timeout },
                }),
            }
        }
        Some(_) => Err(refused(&target.path, status, true)),
        None => Err(refused(&target.path, status, false)),
    }
}

fn check_flavors(target: &NfsTarget, path: &str, flavors: &[u32]) -> Result<(), SetupError> {
    if flavors.is_empty() || flavors.iter().any(|f| *f == 0 || *f == 1) {
        return Ok(());
    }
    Err(SetupError::Flavor {
        host: target.host.clone(),
        path: path.to_owned(),
        flavors: flavors.to_vec(),
    })
}

fn path_error(
    target: &NfsTarget,
    path: &str,
    step: &'static str,
    source: NfsError,
    creds: (u32, u32),
) -> SetupError {
    use nfs3_types::nfs3::nfsstat3;
    let hint = match source.status() {
        Some(nfsstat3::NFS3ERR_NOENT) => "create the directory, or fix the path".to_owned(),
        Some(nfsstat3::NFS3ERR_NOTDIR) => "a component of the path is not a directory".to_owned(),
        Some(nfsstat3::NFS3ERR_ACCES | nfsstat3::NFS3ERR_PERM) => {
            format!(
                "permission denied for uid={},gid={}; give other uid=/gid= or fix the permissions",
                creds.0, creds.1
            )
        }
        _ => "check the server".to_owned(),
    };
    SetupError::Path {
        host: target.host.clone(),
        path: path.to_owned(),
        step,
        hint,
        source: Box::new(source),
    }
}

/// The run's retry policy from the options.
#[must_use]
pub(crate) fn run_policy(options: &NfsOptions) -> RetryPolicy {
    RetryPolicy {
        timeo: options.timeo,
        retrans: options.retrans,
        budget: match options.retry {
            RetryMode::Hard => None,
            RetryMode::Soft | RetryMode::Softerr => Some(options.soft_budget()),
        },
        fail_fast: false,
        backoff_min: RetryPolicy::BACKOFF_MIN,
        backoff_max: RetryPolicy::BACKOFF_MAX,
    }
}

/// Reaches the target: ports, MOUNT, NFS connections, the target directory.
pub async fn connect(
    target: &NfsTarget,
    options: &NfsOptions,
    stats: Arc<RpcStats>,
) -> Result<Mounted, SetupError> {
    let timeout = options.connect_timeout;
    let ip = resolve(&target.host, timeout).await?;
    let creds = (
        options
            .uid
            .unwrap_or_else(|| nix::unistd::geteuid().as_raw()),
        options
            .gid
            .unwrap_or_else(|| nix::unistd::getegid().as_raw()),
    );
    let cred = auth_sys(creds.0, creds.1, &hostname()).map_err(|e| SetupError::NotService {
        service: "NFS",
        addr: SocketAddr::new(ip, 0),
        hint: "unexpected",
        source: Box::new(e),
    })?;
    let pmap = SocketAddr::new(ip, options.portmapper_port);
    let mount_port = match options.mount_port {
        Some(p) => p,
        None => {
            getport(
                pmap,
                &target.host,
                "MOUNT",
                nfs3_types::mount::PROGRAM,
                3,
                timeout,
            )
            .await?
        }
    };
    let nfs_port = match options.nfs_port {
        Some(p) => p,
        None => {
            getport(
                pmap,
                &target.host,
                "NFS",
                nfs3_types::nfs3::PROGRAM,
                3,
                timeout,
            )
            .await?
        }
    };
    let ports = match (options.mount_port, options.nfs_port) {
        (Some(_), Some(_)) => PortSource::Explicit,
        (None, None) => PortSource::Portmapper,
        _ => PortSource::Mixed,
    };
    let (export, root, rest) = mount(
        SocketAddr::new(ip, mount_port),
        target,
        &cred,
        creds,
        timeout,
    )
    .await?;

    let nfs_addr = SocketAddr::new(ip, nfs_port);
    let config = ClientConfig {
        prog: nfs3_types::nfs3::PROGRAM,
        vers: nfs3_types::nfs3::VERSION,
        addr: nfs_addr,
        nconnect: options.nconnect,
        max_inflight: options.max_inflight,
        resvport: options.resvport,
        connect_timeout: timeout,
        policy: run_policy(options),
    };
    let timeout_errno = if options.retry == RetryMode::Softerr {
        Errno::ETIMEDOUT
    } else {
        Errno::EIO
    };
    let nfs = Nfs::new(
        Arc::new(RpcClient::new(&config, cred.clone(), stats)),
        timeout_errno,
    );
    let setup_policy = RetryPolicy::setup(timeout);
    let setup = nfs.with_policy(setup_policy);
    bounded(timeout, setup.rpc().connect_all(&setup_policy))
        .await
        .map_err(|e| call_failure("NFS", nfs_addr, NFS_HINT, e))?;
    setup.null().await.map_err(|e| match e {
        NfsError::Call { source, .. } => call_failure("NFS", nfs_addr, NFS_HINT, source),
        status => SetupError::NotService {
            service: "NFS",
            addr: nfs_addr,
            hint: NFS_HINT,
            source: Box::new(status),
        },
    })?;

    let mut dir = root;
    let mut path = export.trim_end_matches('/').to_owned();
    for part in &rest {
        path = format!("{path}/{part}");
        let (fh, _) = setup
            .lookup(&dir, part.as_bytes())
            .await
            .map_err(|e| path_error(target, &path, "LOOKUP", e, creds))?;
        dir = fh;
    }
    let attrs = setup
        .getattr(&dir)
        .await
        .map_err(|e| path_error(target, &target.path, "GETATTR", e, creds))?;
    if attrs.type_ != ftype3::NF3DIR {
        return Err(SetupError::NotDirectory {
            host: target.host.clone(),
            path: target.path.clone(),
        });
    }
    let fsinfo = setup
        .fsinfo(&dir)
        .await
        .map_err(|e| path_error(target, &target.path, "FSINFO", e, creds))?;
    Ok(Mounted {
        nfs_addr,
        mount_port,
        ports,
        export,
        dir,
        fsinfo,
        nfs,
        creds,
        cred,
    })
}

/// Checks that the credentials may create files in the target directory (ACCESS).
pub(crate) async fn check_writable(
    target: &NfsTarget,
    mounted: &Mounted,
    setup: &Nfs,
) -> Result<(), SetupError> {
    let want = ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_LOOKUP;
    let granted = setup
        .access(&mounted.dir, want)
        .await
        .map_err(|e| path_error(target, &target.path, "ACCESS", e, mounted.creds))?;
    if granted & (ACCESS3_MODIFY | ACCESS3_EXTEND) != ACCESS3_MODIFY | ACCESS3_EXTEND {
        return Err(SetupError::NotWritable {
            host: target.host.clone(),
            path: target.path.clone(),
            uid: mounted.creds.0,
            gid: mounted.creds.1,
        });
    }
    Ok(())
}

/// Tells the server the export is no longer in use (UMNT), best effort within `timeout`.
pub async fn unmount(
    addr: SocketAddr,
    export: &str,
    cred: &opaque_auth<'static>,
    timeout: Duration,
) {
    let Ok(stream) = connect_tcp(addr, false, timeout).await else {
        return;
    };
    let mut client =
        MountClient::new_with_auth(TokioIo::new(stream), cred.clone(), opaque_auth::default());
    let path = dirpath(Opaque::owned(export.as_bytes().to_vec()));
    let _ = tokio::time::timeout(timeout, client.umnt(path)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_prefixes_match_whole_components() {
        assert!(is_under("/srv/export/sub", "/srv/export"));
        assert!(is_under("/srv/export", "/srv/export/"));
        assert!(is_under("/anything", "/"));
        assert!(!is_under("/srv/export2", "/srv/export"));
        assert!(!is_under("/srv", "/srv/export"));
    }
}
