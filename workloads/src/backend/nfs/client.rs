//! NFSv3 procedures (RFC 1813) over the multiplexed RPC client, with `nfs3_types` XDR.
//!
//! [`Nfs`] wraps an [`RpcClient`] of program 100003 version 3 and gives typed calls. NFS
//! status codes become [`NfsError::Status`], mapped to errno as the Linux client maps them
//! ([`status_errno`]); RPC failures become [`NfsError::Call`] with the errno the mount's
//! retry mode gives (`soft`: EIO, `softerr`: ETIMEDOUT). NFS3ERR_JUKEBOX replies are
//! repeated after a growing delay, as the kernel does. READ replies are decoded without
//! copying the data ([`ReadReply`]).

use std::io::Cursor;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use nfs3_types::nfs3::{
    ACCESS3args, ACCESS3resfail, ACCESS3resok, COMMIT3args, COMMIT3resfail, COMMIT3resok,
    CREATE3args, CREATE3resfail, CREATE3resok, FSINFO3args, FSINFO3resfail, FSINFO3resok,
    GETATTR3args, GETATTR3resok, LOOKUP3args, LOOKUP3resfail, LOOKUP3resok, MKDIR3args,
    MKDIR3resfail, MKDIR3resok, NFS_PROGRAM, Nfs3Option, Nfs3Result, READ3args, READDIR3args,
    READDIR3resfail, READDIR3resok, READDIRPLUS3args, READDIRPLUS3resfail, READDIRPLUS3resok,
    REMOVE3args, REMOVE3resfail, REMOVE3resok, RENAME3args, RENAME3resfail, RENAME3resok,
    RMDIR3args, RMDIR3resfail, RMDIR3resok, WRITE3args, WRITE3resfail, WRITE3resok, cookieverf3,
    createhow3, diropargs3, fattr3, filename3, ftype3, nfs_fh3, nfsstat3, post_op_attr, sattr3,
    stable_how, writeverf3,
};
use nfs3_types::xdr_codec::{Opaque, Pack, Unpack, Void};
use nix::errno::Errno;

use super::rpc::{CallError, Reply, Request, RetryPolicy, RpcClient, decode};
use super::stats::Event;
use crate::io::SharedBuf;

/// An NFS call that failed.
#[derive(Debug, thiserror::Error)]
pub enum NfsError {
    /// The server answered with an error status.
    #[error("{proc} failed with {status}")]
    Status {
        /// Procedure name.
        proc: &'static str,
        /// The status.
        status: nfsstat3,
    },
    /// The call got no usable answer.
    #[error("{proc} failed")]
    Call {
        /// Procedure name.
        proc: &'static str,
        /// errno the failure maps to.
        errno: Errno,
        /// What went wrong.
        #[source]
        source: CallError,
    },
}

impl NfsError {
    /// The errno a kernel client would return.
    #[must_use]
    pub fn errno(&self) -> Errno {
        match self {
            NfsError::Status { status, .. } => status_errno(*status),
            NfsError::Call { errno, .. } => *errno,
        }
    }

    /// The NFS status, when the server answered with one.
    #[must_use]
    pub const fn status(&self) -> Option<nfsstat3> {
        match self {
            NfsError::Status { status, .. } => Some(*status),
            NfsError::Call { .. } => None,
        }
    }
}

/// errno for an NFS status, as the Linux client's `nfs_stat_to_errno`; statuses with a
/// kernel-internal errno (no userspace name) map to the nearest userspace one.
#[must_use]
pub(crate) const fn status_errno(status: nfsstat3) -> Errno {
    match status {
        nfsstat3::NFS3_OK => Errno::UnknownErrno,
        nfsstat3::NFS3ERR_PERM => Errno::EPERM,
        nfsstat3::NFS3ERR_NOENT => Errno::ENOENT,
        nfsstat3::NFS3ERR_IO | nfsstat3::NFS3ERR_NOT_SYNC | nfsstat3::NFS3ERR_BAD_COOKIE => {
            Errno::EIO
        }
        nfsstat3::NFS3ERR_NXIO => Errno::ENXIO,
        nfsstat3::NFS3ERR_ACCES => Errno::EACCES,
        nfsstat3::NFS3ERR_EXIST => Errno::EEXIST,
        nfsstat3::NFS3ERR_XDEV => Errno::EXDEV,
        nfsstat3::NFS3ERR_NODEV => Errno::ENODEV,
        nfsstat3::NFS3ERR_NOTDIR => Errno::ENOTDIR,
        nfsstat3::NFS3ERR_ISDIR => Errno::EISDIR,
        nfsstat3::NFS3ERR_INVAL | nfsstat3::NFS3ERR_TOOSMALL | nfsstat3::NFS3ERR_BADTYPE => {
            Errno::EINVAL
        }
        nfsstat3::NFS3ERR_FBIG => Errno::EFBIG,
        nfsstat3::NFS3ERR_NOSPC => Errno::ENOSPC,
        nfsstat3::NFS3ERR_ROFS => Errno::EROFS,
        nfsstat3::NFS3ERR_MLINK => Errno::EMLINK,
        nfsstat3::NFS3ERR_NAMETOOLONG => Errno::ENAMETOOLONG,
        nfsstat3::NFS3ERR_NOTEMPTY => Errno::ENOTEMPTY,
        nfsstat3::NFS3ERR_DQUOT => Errno::EDQUOT,
        nfsstat3::NFS3ERR_STALE | nfsstat3::NFS3ERR_BADHANDLE => Errno::ESTALE,
        nfsstat3::NFS3ERR_REMOTE => Errno::EREMOTE,
        nfsstat3::NFS3ERR_NOTSUPP => Errno::EOPNOTSUPP,
        nfsstat3::NFS3ERR_SERVERFAULT => Errno::EREMOTEIO,
        nfsstat3::NFS3ERR_JUKEBOX => Errno::EAGAIN,
    }
}

/// errno for an RPC-level failure, as the Linux RPC client returns them.
#[must_use]
pub(crate) const fn call_errno(error: &CallError, timeout: Errno) -> Errno {
    match error {
        CallError::TimedOut { .. } => timeout,
        CallError::Connect { .. } => Errno::ECONNREFUSED,
        CallError::ConnectTimeout { .. } => Errno::ETIMEDOUT,
        CallError::ProgUnavail { .. } => Errno::EPFNOSUPPORT,
        CallError::ProgMismatch { .. } | CallError::RpcMismatch { .. } => Errno::EPROTONOSUPPORT,
        CallError::ProcUnavail { .. } => Errno::EOPNOTSUPP,
        CallError::Auth { .. } => Errno::EACCES,
        CallError::Closed { .. }
        | CallError::NotRpc { .. }
        | CallError::GarbageArgs
        | CallError::SystemErr
        | CallError::BadReply { .. }
        | CallError::Encode { .. } => Errno::EIO,
    }
}

/// One directory entry.
#[derive(Debug, Clone)]
pub struct DirEntry {
    /// Name.
    pub name: Vec<u8>,
    /// Handle (READDIRPLUS only).
    pub handle: Option<nfs_fh3>,
    /// Attributes (READDIRPLUS only).
    pub attrs: Option<fattr3>,
}

impl DirEntry {
    /// Whether the entry is `.` or `..`.
    #[must_use]
    pub fn is_dot(&self) -> bool {
        self.name == b"." || self.name == b".."
    }

    /// Whether the attributes say directory.
    #[must_use]
    pub fn is_dir(&self) -> Option<bool> {
        self.attrs.as_ref().map(|a| a.type_ == ftype3::NF3DIR)
    }
}

/// A READ reply: the record and where its data sits, decoded without copying.
#[derive(Debug)]
pub struct ReadReply {
    /// The reply record.
    pub record: Vec<u8>,
    /// The data within `record`.
    pub data: Range<usize>,
    /// The server says the data reaches the end of the file.
    pub eof: bool,
}

impl ReadReply {
    /// The bytes read.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.record[self.data.clone()]
    }
}

/// What a WRITE reply says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteReply {
    /// Bytes written.
    pub count: u32,
    /// How stable the server made them.
    pub committed: stable_how,
    /// The server's write verifier.
    pub verf: writeverf3,
}

/// Typed NFSv3 calls under one retry policy (cheap to clone; connections are shared).
#[derive(Debug, Clone)]
pub struct Nfs {
    rpc: Arc<RpcClient>,
    policy: RetryPolicy,
    timeout_errno: Errno,
}

const JUKEBOX_DELAY_MIN: Duration = Duration::from_millis(100);
const JUKEBOX_DELAY_MAX: Duration = Duration::from_secs(5);

fn name(text: &[u8]) -> filename3<'_> {
    filename3(Opaque::borrowed(text))
}

fn dirop<'a>(dir: &nfs_fh3, file: &'a [u8]) -> diropargs3<'a> {
    diropargs3 {
        dir: dir.clone(),
        name: name(file),
    }
}

impl Nfs {
    /// Calls over `rpc` under its default policy; `timeout_errno` is what a soft timeout
    /// becomes.
    #[must_use]
    pub fn new(rpc: Arc<RpcClient>, timeout_errno: Errno) -> Nfs {
        let policy = *rpc.policy();
        Nfs {
            rpc,
            policy,
            timeout_errno,
        }
    }

    /// The same calls under another policy (setup calls fail fast).
    #[must_use]
    pub fn with_policy(&self, policy: RetryPolicy) -> Nfs {
        Nfs {
            policy,
            ..self.clone()
        }
    }

    /// The RPC client underneath.
    #[must_use]
    pub fn rpc(&self) -> &Arc<RpcClient> {
        &self.rpc
    }

    fn call_error(&self, proc: u32, source: CallError) -> NfsError {
        NfsError::Call {
            proc: proc_name(proc),
            errno: call_errno(&source, self.timeout_errno),
            source,
        }
    }

    /// Encodes a call.
    pub fn encode<A: Pack>(&self, proc: NFS_PROGRAM, args: &A) -> Result<Request, NfsError> {
        self.rpc
            .encode(proc as u32, args)
            .map_err(|e| self.call_error(proc as u32, e))
    }

    /// Sends an encoded call; repeats it while the server answers NFS3ERR_JUKEBOX.
    pub async fn send(&self, request: &Request) -> Result<Reply, NfsError> {
        let mut request = request.clone();
        let mut delay = JUKEBOX_DELAY_MIN;
        loop {
            let reply = self
                .rpc
                .call_with(&request, &self.policy)
                .await
                .map_err(|e| self.call_error(request.proc, e))?;
            if reply.body().get(..4) != Some(&(nfsstat3::NFS3ERR_JUKEBOX as u32).to_be_bytes()[..])
            {
                return Ok(reply);
            }
            self.rpc.stats().event(Event::JukeboxRetry);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(JUKEBOX_DELAY_MAX);
            request = self.rpc.renew(&request);
        }
    }

    async fn call<A: Pack, T: Unpack, E: Unpack>(
        &self,
        proc: NFS_PROGRAM,
        args: &A,
    ) -> Result<T, NfsError> {
        let request = self.encode(proc, args)?;
        let reply = self.send(&request).await?;
        self.result::<T, E>(proc as u32, reply.body())
    }

    fn result<T: Unpack, E: Unpack>(&self, proc: u32, body: &[u8]) -> Result<T, NfsError> {
        let (result, _) = decode::<Nfs3Result<T, E>>(body).map_err(|e| self.call_error(proc, e))?;
        match result {
            Nfs3Result::Ok(value) => Ok(value),
            Nfs3Result::Err((status, _)) => {
                self.rpc.stats().status_error(proc);
                Err(NfsError::Status {
                    proc: proc_name(proc),
                    status,
                })
            }
        }
    }

    /// A call whose successful result carries nothing the client needs.
    async fn unit<A: Pack, T: Unpack, E: Unpack>(
        &self,
        proc: NFS_PROGRAM,
        args: &A,
    ) -> Result<(), NfsError> {
        self.call::<A, T, E>(proc, args).await.map(|_| ())
    }

    /// NULL: is the program there, in version 3?
    pub async fn null(&self) -> Result<(), NfsError> {
        let request = self.encode(NFS_PROGRAM::NFSPROC3_NULL, &Void)?;
        self.send(&request).await.map(|_| ())
    }

    /// FSINFO of the export's root.
    pub async fn fsinfo(&self, root: &nfs_fh3) -> Result<FSINFO3resok, NfsError> {
        let args = FSINFO3args {
            fsroot: root.clone(),
        };
        self.call::<_, FSINFO3resok, FSINFO3resfail>(NFS_PROGRAM::NFSPROC3_FSINFO, &args)
            .await
    }

    /// GETATTR.
    pub async fn getattr(&self, fh: &nfs_fh3) -> Result<fattr3, NfsError> {
        let args = GETATTR3args { object: fh.clone() };
        self.call::<_, GETATTR3resok, Void>(NFS_PROGRAM::NFSPROC3_GETATTR, &args)
            .await
            .map(|ok| ok.obj_attributes)
    }

    /// LOOKUP of `file` in `dir`: its handle and attributes.
    pub async fn lookup(
        &self,
        dir: &nfs_fh3,
        file: &[u8],
    ) -> Result<(nfs_fh3, Option<fattr3>), NfsError> {
        let args = LOOKUP3args {
            what: dirop(dir, file),
        };
        let ok = self
            .call::<_, LOOKUP3resok, LOOKUP3resfail>(NFS_PROGRAM::NFSPROC3_LOOKUP, &args)
            .await?;
        Ok((ok.object, option(ok.obj_attributes)))
    }

    /// ACCESS: which of `bits` the credentials are granted on `fh`.
    pub async fn access(&self, fh: &nfs_fh3, bits: u32) -> Result<u32, NfsError> {
        let args = ACCESS3args {
            object: fh.clone(),
            access: bits,
        };
        self.call::<_, ACCESS3resok, ACCESS3resfail>(NFS_PROGRAM::NFSPROC3_ACCESS, &args)
            .await
            .map(|ok| ok.access)
    }

    /// CREATE of `file` in `dir` with `mode`; `guarded` fails if it exists.
    pub async fn create(
        &self,
        dir: &nfs_fh3,
        file: &[u8],
        mode: u32,
        guarded: bool,
    ) -> Result<(Option<nfs_fh3>, Option<fattr3>), NfsError> {
        let attrs = sattr3 {
            mode: Nfs3Option::Some(mode),
            ..sattr3::default()
        };
        let args = CREATE3args {
            where_: dirop(dir, file),
            how: if guarded {
                createhow3::GUARDED(attrs)
            } else {
                createhow3::UNCHECKED(attrs)
            },
        };
        let ok = self
            .call::<_, CREATE3resok, CREATE3resfail>(NFS_PROGRAM::NFSPROC3_CREATE, &args)
            .await?;
        Ok((option(ok.obj), option(ok.obj_attributes)))
    }

    /// MKDIR of `file` in `dir` with `mode`.
    pub async fn mkdir(
        &self,
        dir: &nfs_fh3,
        file: &[u8],
        mode: u32,
    ) -> Result<(Option<nfs_fh3>, Option<fattr3>), NfsError> {
        let args = MKDIR3args {
            where_: dirop(dir, file),
            attributes: sattr3 {
                mode: Nfs3Option::Some(mode),
                ..sattr3::default()
            },
        };
        let ok = self
            .call::<_, MKDIR3resok, MKDIR3resfail>(NFS_PROGRAM::NFSPROC3_MKDIR, &args)
            .await?;
        Ok((option(ok.obj), option(ok.obj_attributes)))
    }

    /// REMOVE of `file` in `dir`.
    pub async fn remove(&self, dir: &nfs_fh3, file: &[u8]) -> Result<(), NfsError> {
        let args = REMOVE3args {
            object: dirop(dir, file),
        };
        self.unit::<_, REMOVE3resok, REMOVE3resfail>(NFS_PROGRAM::NFSPROC3_REMOVE, &args)
            .await
    }

    /// RMDIR of `file` in `dir`.
    pub async fn rmdir(&self, dir: &nfs_fh3, file: &[u8]) -> Result<(), NfsError> {
        let args = RMDIR3args {
            object: dirop(dir, file),
        };
        self.unit::<_, RMDIR3resok, RMDIR3resfail>(NFS_PROGRAM::NFSPROC3_RMDIR, &args)
            .await
    }

    /// RENAME of `from` in `from_dir` to `to` in `to_dir`.
    pub async fn rename(
        &self,
        from_dir: &nfs_fh3,
        from: &[u8],
        to_dir: &nfs_fh3,
        to: &[u8],
    ) -> Result<(), NfsError> {
        let args = RENAME3args {
            from: dirop(from_dir, from),
            to: dirop(to_dir, to),
        };
        self.unit::<_, RENAME3resok, RENAME3resfail>(NFS_PROGRAM::NFSPROC3_RENAME, &args)
            .await
    }

    /// Every entry of `dir`, with READDIRPLUS (`plus`) or READDIR; `count` bytes per reply.
    pub async fn readdir(
        &self,
        dir: &nfs_fh3,
        plus: bool,
        count: u32,
    ) -> Result<Vec<DirEntry>, NfsError> {
        let mut entries = Vec::new();
        let mut cookie = 0;
        let mut verifier = cookieverf3::default();
        loop {
            let eof = if plus {
                let args = READDIRPLUS3args {
                    dir: dir.clone(),
                    cookie,
                    cookieverf: verifier,
                    dircount: count,
                    maxcount: count.saturating_mul(4),
                };
                let ok = self
                    .call::<_, READDIRPLUS3resok, READDIRPLUS3resfail>(
                        NFS_PROGRAM::NFSPROC3_READDIRPLUS,
                        &args,
                    )
                    .await?;
                verifier = ok.cookieverf;
                for e in ok.reply.entries.0 {
                    cookie = e.cookie;
                    entries.push(DirEntry {
                        name: e.name.0.into_owned(),
                        handle: option(e.name_handle),
                        attrs: option(e.name_attributes),
                    });
                }
                ok.reply.eof
            } else {
                let args = READDIR3args {
                    dir: dir.clone(),
                    cookie,
                    cookieverf: verifier,
                    count,
                };
                let ok = self
                    .call::<_, READDIR3resok, READDIR3resfail>(NFS_PROGRAM::NFSPROC3_READDIR, &args)
                    .await?;
                verifier = ok.cookieverf;
                for e in ok.reply.entries.0 {
                    cookie = e.cookie;
                    entries.push(DirEntry {
                        name: e.name.0.into_owned(),
                        handle: None,
                        attrs: None,
                    });
                }
                ok.reply.eof
            };
            if eof {
                return Ok(entries);
            }
        }
    }

    /// READ of `count` bytes at `offset`.
    pub async fn read(&self, fh: &nfs_fh3, offset: u64, count: u32) -> Result<ReadReply, NfsError> {
        let proc = NFS_PROGRAM::NFSPROC3_READ as u32;
        let args = READ3args {
            file: fh.clone(),
            offset,
            count,
        };
        let request = self.encode(NFS_PROGRAM::NFSPROC3_READ, &args)?;
        let (record, body) = self.send(&request).await?.into_parts();
        let bad = |detail: String| self.call_error(proc, CallError::BadReply { detail });
        let bytes = record.get(body..).unwrap_or_default();
        let mut cursor = Cursor::new(bytes);
        let unpack_err = |e: nfs3_types::xdr_codec::Error| bad(e.to_string());
        let (status, _) = nfsstat3::unpack(&mut cursor).map_err(unpack_err)?;
        if status != nfsstat3::NFS3_OK {
            self.rpc.stats().status_error(proc);
            return Err(NfsError::Status {
                proc: proc_name(proc),
                status,
            });
        }
        post_op_attr::unpack(&mut cursor).map_err(unpack_err)?;
        let (_count, _) = u32::unpack(&mut cursor).map_err(unpack_err)?;
        let (eof, _) = bool::unpack(&mut cursor).map_err(unpack_err)?;
        let (len, _) = u32::unpack(&mut cursor).map_err(unpack_err)?;
        let start = body + usize::try_from(cursor.position()).unwrap_or(usize::MAX);
        let end = start.saturating_add(len as usize);
        if end > record.len() {
            return Err(bad(format!("READ data of {len} bytes overruns the reply")));
        }
        Ok(ReadReply {
            record,
            data: start..end,
            eof,
        })
    }

    /// Encodes a WRITE of `data` at `offset`; the data is sent from `data`'s buffer as it
    /// is (not copied), and the request can be resent as it is.
    pub fn encode_write(
        &self,
        fh: &nfs_fh3,
        offset: u64,
        data: SharedBuf,
        stable: stable_how,
    ) -> Result<Request, NfsError> {
        let proc = NFS_PROGRAM::NFSPROC3_WRITE as u32;
        let count = u32::try_from(data.len()).map_err(|_| {
            self.call_error(
                proc,
                CallError::Encode {
                    detail: format!("a write of {} bytes", data.len()),
                },
            )
        })?;
        let args = WRITE3args {
            file: fh.clone(),
            offset,
            count,
            stable,
            data: Opaque::borrowed(&[]),
        };
        self.rpc
            .encode_with(proc, &args, Some(data))
            .map_err(|e| self.call_error(proc, e))
    }

    /// Sends an encoded WRITE.
    pub async fn write(&self, request: &Request) -> Result<WriteReply, NfsError> {
        let reply = self.send(request).await?;
        let ok = self.result::<WRITE3resok, WRITE3resfail>(request.proc, reply.body())?;
        Ok(WriteReply {
            count: ok.count,
            committed: ok.committed,
            verf: ok.verf,
        })
    }

    /// COMMIT of the whole file: the server's write verifier.
    pub async fn commit(&self, fh: &nfs_fh3) -> Result<writeverf3, NfsError> {
        let args = COMMIT3args {
            file: fh.clone(),
            offset: 0,
            count: 0,
        };
        self.call::<_, COMMIT3resok, COMMIT3resfail>(NFS_PROGRAM::NFSPROC3_COMMIT, &args)
            .await
            .map(|ok| ok.verf)
    }
}

fn option<T: Pack + Unpack>(value: Nfs3Option<T>) -> Option<T> {
    match value {
        Nfs3Option::Some(v) => Some(v),
        Nfs3Option::None => None,
    }
}

/// Name of an NFSv3 procedure.
#[must_use]
pub(crate) fn proc_name(proc: u32) -> &'static str {
    const NAMES: [&str; 22] = [
        "NULL",
        "GETATTR",
        "SETATTR",
        "LOOKUP",
        "ACCESS",
        "READLINK",
        "READ",
        "WRITE",
        "CREATE",
        "MKDIR",
        "SYMLINK",
        "MKNOD",
        "REMOVE",
        "RMDIR",
        "RENAME",
        "LINK",
        "READDIR",
        "READDIRPLUS",
        "FSSTAT",
        "FSINFO",
        "PATHCONF",
        "COMMIT",
    ];
    NAMES.get(proc as usize).copied().unwrap_or("UNKNOWN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_like_the_kernel() {
        assert_eq!(status_errno(nfsstat3::NFS3ERR_NOSPC), Errno::ENOSPC);
        assert_eq!(status_errno(nfsstat3::NFS3ERR_ACCES), Errno::EACCES);
        assert_eq!(status_errno(nfsstat3::NFS3ERR_ROFS), Errno::EROFS);
        assert_eq!(status_errno(nfsstat3::NFS3ERR_DQUOT), Errno::EDQUOT);
        assert_eq!(status_errno(nfsstat3::NFS3ERR_STALE), Errno::ESTALE);
        assert_eq!(
            status_errno(nfsstat3::NFS3ERR_SERVERFAULT),
            Errno::EREMOTEIO
        );
        assert_eq!(status_errno(nfsstat3::NFS3ERR_NOTEMPTY), Errno::ENOTEMPTY);
        assert_eq!(status_errno(nfsstat3::NFS3ERR_IO), Errno::EIO);
    }

    #[test]
    fn timeouts_follow_the_retry_mode() {
        let timed_out = CallError::TimedOut {
            after: Duration::from_secs(3),
        };
        assert_eq!(call_errno(&timed_out, Errno::EIO), Errno::EIO);
        assert_eq!(call_errno(&timed_out, Errno::ETIMEDOUT), Errno::ETIMEDOUT);
        let mismatch = CallError::ProgMismatch {
            prog: 100_003,
            vers: 3,
            low: 4,
            high: 4,
        };
        assert_eq!(call_errno(&mismatch, Errno::EIO), Errno::EPROTONOSUPPORT);
        assert_eq!(proc_name(7), "WRITE");
        assert_eq!(proc_name(21), "COMMIT");
        assert_eq!(proc_name(99), "UNKNOWN");
    }
}
