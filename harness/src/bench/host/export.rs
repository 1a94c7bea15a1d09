//! The export's directories, reached over the NFSv3 protocol from user space (no mount):
//! the reachability check of `nfslab bench --host`, the directories protocol cells run in,
//! and their removal afterwards.
//!
//! [`ExportTree::connect`] goes through the portmapper, MOUNT and NFS exactly as the
//! benchmark clients do ([`nfslab_workload::connect_nfs`]), every call bounded by the
//! connect timeout, so an unreachable or misconfigured server is reported in one line before
//! anything runs. Paths are relative to the export, `/`-separated.

use std::sync::Arc;
use std::time::Duration;

use nfs3_types::nfs3::{nfs_fh3, nfsstat3};
use nfslab_workload::{
    Nfs, NfsMounted, NfsOptions, NfsTarget, RetryPolicy, RpcStats, connect_nfs, unmount_nfs,
};

use crate::errors::error_chain;

/// Directories the run creates are made with this mode (other clients and users of the
/// export can clean up after an interrupted run).
const DIR_MODE: u32 = 0o777;
/// Bytes per READDIR reply when listing a directory to remove it.
const READDIR_COUNT: u32 = 64 * 1024;

/// Characters that stay as they are in the path of an `nfs://` URL.
fn url_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/-._~!$'()*+,;=:@".contains(c)
}

/// `%XX`-encodes what an `nfs://` URL path cannot hold as is.
#[must_use]
pub(super) fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if url_safe(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// The `nfs://` URL of `relative` inside `export` on `host` (IPv6 in brackets).
#[must_use]
pub(super) fn url(host: &str, export: &str, relative: &str) -> String {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let mut path = export.trim_end_matches('/').to_owned();
    for part in relative.split('/').filter(|p| !p.is_empty()) {
        path.push('/');
        path.push_str(part);
    }
    if path.is_empty() {
        path.push('/');
    }
    format!("nfs://{host}{}", encode_path(&path))
}

/// Why an export operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The export cannot be reached or used.
    #[error("cannot reach `{host}:{export}` over NFSv3: {detail}")]
    Connect {
        /// Server.
        host: String,
        /// Export.
        export: String,
        /// The setup failure, with its hint.
        detail: String,
    },
    /// An operation on a path failed.
    #[error("cannot {what} `{path}` on `{host}:{export}`: {detail}")]
    Path {
        /// What was attempted.
        what: &'static str,
        /// Server.
        host: String,
        /// Export.
        export: String,
        /// The path, relative to the export.
        path: String,
        /// Why.
        detail: String,
    },
}

/// An export, reached from user space, for directory operations.
#[derive(Debug)]
pub struct ExportTree {
    host: String,
    export: String,
    mounted: NfsMounted,
    nfs: Nfs,
    timeout: Duration,
}

impl ExportTree {
    /// Reaches `host:export` (portmapper, MOUNT, NFS), every step within `timeout`.
    ///
    /// # Errors
    /// [`ExportError::Connect`] saying which step failed and what to do.
    pub async fn connect(host: &str, export: &str, timeout: Duration) -> Result<Self, ExportError> {
        let connect_error = |detail: String| ExportError::Connect {
            host: host.to_owned(),
            export: export.to_owned(),
            detail,
        };
        let target =
            NfsTarget::parse(&url(host, export, "")).map_err(|e| connect_error(error_chain(&e)))?;
        let options = NfsOptions {
            connect_timeout: timeout,
            ..NfsOptions::default()
        };
        let stats = Arc::new(RpcStats::nfs3(1));
        let mounted = tokio::time::timeout(
            timeout.saturating_mul(4),
            connect_nfs(&target, &options, stats),
        )
        .await
        .map_err(|_| {
            connect_error(format!(
                "no answer within {}",
                nfslab_workload::format_duration(timeout.saturating_mul(4))
            ))
        })?
        .map_err(|e| connect_error(error_chain(&e)))?;
        let nfs = mounted.nfs.with_policy(RetryPolicy::setup(timeout));
        Ok(Self {
            host: host.to_owned(),
            export: export.to_owned(),
            mounted,
            nfs,
            timeout,
        })
    }

    /// The `nfs://` URL of `relative` inside the export.
    #[must_use]
    pub fn url(&self, relative: &str) -> String {
        url(&self.host, &self.export, relative)
    }

    fn path_error(&self, what: &'static str, path: &str, detail: String) -> ExportError {
        ExportError::Path {
            what,
            host: self.host.clone(),
            export: self.export.clone(),
            path: path.to_owned(),
            detail,
        }
    }

    /// Creates `relative` and its missing parents.
    ///
    /// # Errors
    /// [`ExportError::Path`] naming the component that could not be created.
    pub async fn create_dirs(&self, relative: &str) -> Result<(), ExportError> {
        let mut dir = self.mounted.dir.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            dir = match self.nfs.lookup(&dir, part.as_bytes()).await {
                Ok((fh, _)) => fh,
                Err(e) if e.status() == Some(nfsstat3::NFS3ERR_NOENT) => {
                    match self.nfs.mkdir(&dir, part.as_bytes(), DIR_MODE).await {
                        Ok((Some(fh), _)) => fh,
                        Ok((None, _)) => {
                            self.nfs
                                .lookup(&dir, part.as_bytes())
                                .await
                                .map_err(|e| self.path_error("look up", relative, error_chain(&e)))?
                                .0
                        }
                        // Another client made it meanwhile.
                        Err(e) if e.status() == Some(nfsstat3::NFS3ERR_EXIST) => {
                            self.nfs
                                .lookup(&dir, part.as_bytes())
                                .await
                                .map_err(|e| self.path_error("look up", relative, error_chain(&e)))?
                                .0
                        }
                        Err(e) => {
                            return Err(self.path_error("create", relative, error_chain(&e)));
                        }
                    }
                }
                Err(e) => return Err(self.path_error("look up", relative, error_chain(&e))),
            };
        }
        Ok(())
    }

    /// The handle of `relative`, `None` when it does not exist.
    async fn find(
        &self,
        relative: &str,
    ) -> Result<Option<(nfs_fh3, nfs_fh3, String)>, ExportError> {
        let parts: Vec<&str> = relative.split('/').filter(|p| !p.is_empty()).collect();
        let Some((leaf, parents)) = parts.split_last() else {
            return Ok(None);
        };
        let mut dir = self.mounted.dir.clone();
        for part in parents {
            match self.nfs.lookup(&dir, part.as_bytes()).await {
                Ok((fh, _)) => dir = fh,
                Err(e) if e.status() == Some(nfsstat3::NFS3ERR_NOENT) => return Ok(None),
                Err(e) => return Err(self.path_error("look up", relative, error_chain(&e))),
            }
        }
        match self.nfs.lookup(&dir, leaf.as_bytes()).await {
            Ok((fh, _)) => Ok(Some((dir, fh, (*leaf).to_owned()))),
            Err(e) if e.status() == Some(nfsstat3::NFS3ERR_NOENT) => Ok(None),
            Err(e) => Err(self.path_error("look up", relative, error_chain(&e))),
        }
    }

    /// Removes `relative` and everything below it; nothing to do when it is absent.
    ///
    /// # Errors
    /// [`ExportError::Path`] with the first entry that could not be removed.
    pub async fn remove_tree(&self, relative: &str) -> Result<(), ExportError> {
        let Some((parent, fh, leaf)) = self.find(relative).await? else {
            return Ok(());
        };
        // Depth-first without recursion: (parent handle, name, handle, listed).
        let mut stack = vec![(parent, leaf.into_bytes(), fh, false)];
        while let Some((parent, name, fh, listed)) = stack.pop() {
            let shown = || format!("{relative} ({})", String::from_utf8_lossy(&name));
            if listed {
                self.nfs
                    .rmdir(&parent, &name)
                    .await
                    .or_else(|e| ignore_missing(e.status(), e))
                    .map_err(|e| self.path_error("remove", &shown(), error_chain(&e)))?;
                continue;
            }
            let entries = match self.nfs.readdir(&fh, true, READDIR_COUNT).await {
                Ok(entries) => entries,
                Err(e) if e.status() == Some(nfsstat3::NFS3ERR_NOTDIR) => {
                    self.nfs
                        .remove(&parent, &name)
                        .await
                        .or_else(|e| ignore_missing(e.status(), e))
                        .map_err(|e| self.path_error("remove", &shown(), error_chain(&e)))?;
                    continue;
                }
                Err(e) => return Err(self.path_error("list", &shown(), error_chain(&e))),
            };
            stack.push((parent, name.clone(), fh.clone(), true));
            for entry in entries.into_iter().filter(|e| !e.is_dot()) {
                match (entry.is_dir(), entry.handle) {
                    (Some(false), _) => {
                        self.nfs
                            .remove(&fh, &entry.name)
                            .await
                            .or_else(|e| ignore_missing(e.status(), e))
                            .map_err(|e| self.path_error("remove", &shown(), error_chain(&e)))?;
                    }
                    (Some(true), Some(child)) => stack.push((fh.clone(), entry.name, child, false)),
                    _ => {
                        let (child, attrs) =
                            self.nfs.lookup(&fh, &entry.name).await.map_err(|e| {
                                self.path_error("look up", &shown(), error_chain(&e))
                            })?;
                        if attrs.is_some_and(|a| a.type_ == nfs3_types::nfs3::ftype3::NF3DIR) {
                            stack.push((fh.clone(), entry.name, child, false));
                        } else {
                            self.nfs
                                .remove(&fh, &entry.name)
                                .await
                                .or_else(|e| ignore_missing(e.status(), e))
                                .map_err(|e| {
                                    self.path_error("remove", &shown(), error_chain(&e))
                                })?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Removes the directory `relative` when it is empty (keeps it otherwise).
    ///
    /// # Errors
    /// [`ExportError::Path`] for failures other than "not empty" or "absent".
    pub async fn remove_if_empty(&self, relative: &str) -> Result<(), ExportError> {
        let Some((parent, _, leaf)) = self.find(relative).await? else {
            return Ok(());
        };
        match self.nfs.rmdir(&parent, leaf.as_bytes()).await {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    e.status(),
                    Some(
                        nfsstat3::NFS3ERR_NOTEMPTY
                            | nfsstat3::NFS3ERR_EXIST
                            | nfsstat3::NFS3ERR_NOENT
                    )
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(self.path_error("remove", relative, error_chain(&e))),
        }
    }

    /// Tells the server the export is no longer used (UMNT), best effort.
    pub async fn close(self) {
        let addr = std::net::SocketAddr::new(self.mounted.nfs_addr.ip(), self.mounted.mount_port);
        unmount_nfs(addr, &self.mounted.export, &self.mounted.cred, self.timeout).await;
    }
}

fn ignore_missing<E>(status: Option<nfsstat3>, e: E) -> Result<(), E> {
    if status == Some(nfsstat3::NFS3ERR_NOENT) {
        Ok(())
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_export_and_the_directory() {
        assert_eq!(
            url("10.0.0.5", "/export/", "nfslab-bench/r1/c00-r1/client-0"),
            "nfs://10.0.0.5/export/nfslab-bench/r1/c00-r1/client-0"
        );
        assert_eq!(url("fd00::5", "/vol", ""), "nfs://[fd00::5]/vol");
        assert_eq!(url("nas", "/", "a"), "nfs://nas/a");
        assert_eq!(url("nas", "/", ""), "nfs://nas/");
        assert_eq!(url("nas", "/my vol?x", "b"), "nfs://nas/my%20vol%3Fx/b");
        // The protocol backend reads them back as they were meant.
        let t = NfsTarget::parse(&url("nas", "/my vol?x", "b")).unwrap();
        assert_eq!(t.path, "/my vol?x/b");
        assert_eq!(t.query, None);
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_within_the_timeout() {
        // TEST-NET-1: nothing answers (or there is no route at all).
        let started = std::time::Instant::now();
        let err = ExportTree::connect("192.0.2.1", "/export", Duration::from_secs(1))
            .await
            .map(|_| ())
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{err}");
        assert!(
            err.to_string()
                .starts_with("cannot reach `192.0.2.1:/export` over NFSv3: "),
            "{err}"
        );
    }
}
