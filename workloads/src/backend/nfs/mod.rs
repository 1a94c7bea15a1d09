//! The NFSv3 protocol backend: the engine's jobs against `nfs://host[:port]/export/path`
//! from user space, without mounting (no root, no kernel NFS client).
//!
//! It measures what a server can do independent of the kernel client, so a report can put
//! mount-level and protocol-level figures side by side ("mount efficiency"), and it is how
//! machines without kernel NFS exercise a real server.
//!
//! # Layout
//!
//! | module | what lives there |
//! |---|---|
//! | [`target`] | `nfs://` URL parsing |
//! | [`options`] | client parameters in `mount -o` syntax (rsize, nconnect, hard/soft, ac...) |
//! | [`rpc`] | the multiplexed ONC RPC transport: record marking, xid routing, reconnects, retry semantics |
//! | [`client`] | typed NFSv3 procedures over it (`nfs3_types` XDR), status -> errno |
//! | [`commit`] | unstable writes kept until COMMIT confirms their verifier, redone in order when it changed |
//! | [`setup`] | portmapper and MOUNT (`nfs3_client`), NFS program check, target directory |
//! | [`worker`] | a worker's files: pipelined READ/WRITE, COMMIT with verifier checks, metadata with attribute caching |
//! | [`stats`] | per-procedure RPC counters (the protocol's own view, in place of mountstats) |
//! | [`report`] | the result's `nfs` section |
//! | [`error`] | setup failures, each with a hint and an exit-code class |
//!
//! # Behaviour
//!
//! Data patterns run through [`crate::pipeline`] with `iodepth` requests in flight per
//! worker, spread round robin over `nconnect` connections shared by all workers; layout and
//! read-back verification go through the synchronous [`crate::backend::WorkerIo`] calls
//! (each call still sends its `rsize`/`wsize` pieces together). There is no client cache:
//! every read reaches the server, so results are labelled `direct`. Metadata runs
//! through the engine's metadata loop, one operation at a time per worker.
//!
//! [`crate::engine::run_nfs`] runs a job against a target from a program.

pub(crate) mod client;
pub(crate) mod commit;
pub(crate) mod error;
pub(crate) mod options;
pub(crate) mod report;
pub(crate) mod rpc;
pub(crate) mod setup;
pub(crate) mod stats;
pub(crate) mod support;
pub(crate) mod target;
pub(crate) mod worker;

use std::sync::Arc;

use nfs3_types::nfs3::{nfsstat3, stable_how};

use self::error::SetupError;
use self::options::{NfsOptions, OptionError, effective_io_size};
use self::report::differences;
use self::setup::{Mounted, check_writable, connect, unmount};
use self::stats::{RpcSnapshot, RpcStats};
use self::target::{NfsTarget, TargetError};
use self::worker::{NfsWorker, Session};
use crate::backend::{Backend, PrepareError, Prepared};
use crate::io::IoFault;
use crate::job::{DirectMode, Pattern, ResolvedJob};
use crate::mount::{MountSection, MountStats};
use crate::pipeline::CpuWindow;
use crate::result::nfs::{EffectiveOptions, FsInfo, NfsSection, Stability};
use crate::result::{BackendInfo, ProtocolSection};

/// Bad `nfs://` input: the URL or the client options.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The URL is malformed or its query holds a bad option.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// `--nfs-options` holds a bad option.
    #[error(transparent)]
    Options(#[from] OptionError),
}

/// What the backend holds once connected.
#[derive(Debug)]
struct Connected {
    runtime: tokio::runtime::Runtime,
    session: Arc<Session>,
    mounted: Mounted,
    stats: Arc<RpcStats>,
    section: NfsSection,
}

/// The protocol backend for one `nfs://` target.
#[derive(Debug)]
pub(crate) struct NfsBackend {
    target: NfsTarget,
    options: NfsOptions,
    prefix: String,
    connected: Option<Connected>,
}

impl NfsBackend {
    /// A backend for `url` with extra client options `mount_options` (override the URL's
    /// query). Nothing is contacted before [`Backend::prepare`].
    pub(crate) fn new(
        url: &str,
        mount_options: &str,
        prefix: &str,
    ) -> Result<NfsBackend, InputError> {
        let target = NfsTarget::parse(url)?;
        let mut options = target.options(NfsOptions::default())?;
        options.apply_mount_options(mount_options)?;
        Ok(NfsBackend {
            target,
            options,
            prefix: prefix.to_owned(),
            connected: None,
        })
    }

    fn refuse(&self, e: SetupError) -> PrepareError {
        PrepareError::Target {
            target: self.target.to_string(),
            bad_input: e.is_bad_input(),
            source: Box::new(e),
        }
    }

    /// Whether every data file exists at the job's size (a read job then writes nothing).
    async fn all_files_present(mounted: &Mounted, job: &ResolvedJob, prefix: &str) -> bool {
        for w in 0..job.threads {
            for f in 0..job.nrfiles {
                let leaf = format!("{prefix}.t{w}.f{f}");
                match mounted.nfs.lookup(&mounted.dir, leaf.as_bytes()).await {
                    Ok((_, Some(a))) if a.size == job.size => {}
                    _ => return false,
                }
            }
        }
        true
    }

    fn connect(&self, job: &ResolvedJob) -> Result<Connected, SetupError> {
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, 8);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("nfslab-nfs")
            .enable_all()
            .build()
            .map_err(|source| SetupError::Runtime { source })?;
        let stats = Arc::new(RpcStats::nfs3(self.options.nconnect as usize));
        let mounted = runtime.block_on(connect(&self.target, &self.options, Arc::clone(&stats)))?;
        let setup_nfs = mounted
            .nfs
            .with_policy(rpc::RetryPolicy::setup(self.options.connect_timeout));
        let writes = job.pattern.writes() || job.pattern == Pattern::Metadata;
        let writes = writes
            || (job.pattern.needs_layout()
                && !runtime.block_on(NfsBackend::all_files_present(&mounted, job, &self.prefix)));
        if writes {
            runtime.block_on(check_writable(&self.target, &mounted, &setup_nfs))?;
        }
        let fs = &mounted.fsinfo;
        let fsinfo = FsInfo {
            rtmax: fs.rtmax,
            rtpref: fs.rtpref,
            wtmax: fs.wtmax,
            wtpref: fs.wtpref,
            dtpref: fs.dtpref,
            maxfilesize: fs.maxfilesize,
        };
        let rsize = effective_io_size(self.options.rsize, fs.rtmax);
        let wsize = effective_io_size(self.options.wsize, fs.wtmax);
        let effective = EffectiveOptions::new(&self.options, rsize, wsize, mounted.creds);
        let session = Arc::new(Session {
            rt: runtime.handle().clone(),
            nfs: mounted.nfs.clone(),
            dir: mounted.dir.clone(),
            dir_path: self.target.path.clone(),
            rsize,
            wsize,
            dtpref: fs.dtpref,
            stable: match self.options.stable {
                _ if job.o_sync => stable_how::FILE_SYNC,
                Stability::Unstable => stable_how::UNSTABLE,
                Stability::DataSync => stable_how::DATA_SYNC,
                Stability::FileSync => stable_how::FILE_SYNC,
            },
            attr_cache: self.options.attr_cache,
            acregmin: self.options.acregmin,
            acdirmin: self.options.acdirmin,
            rdirplus: self.options.rdirplus,
            dirty_limit: self.options.dirty_limit,
            prefix: self.prefix.clone(),
            job: job.clone(),
            cpu: Arc::new(CpuWindow::new(job.threads)),
        });
        let section = NfsSection {
            server: self.target.host.clone(),
            address: mounted.nfs_addr.to_string(),
            mount_port: mounted.mount_port,
            ports: mounted.ports,
            export: mounted.export.clone(),
            path: self.target.path.clone(),
            options_requested: self.options.requested.join(","),
            options_effective: effective.to_mount_options(),
            differences: differences(&self.options, &effective, &fsinfo),
            ignored: self.options.ignored.clone(),
            effective,
            fsinfo,
            rpc: None,
        };
        Ok(Connected {
            runtime,
            session,
            mounted,
            stats,
            section,
        })
    }
}

impl Drop for NfsBackend {
    fn drop(&mut self) {
        if let Some(c) = self.connected.take() {
            let addr = std::net::SocketAddr::new(c.mounted.nfs_addr.ip(), c.mounted.mount_port);
            let timeout = self
                .options
                .connect_timeout
                .min(std::time::Duration::from_secs(2));
            c.runtime
                .block_on(unmount(addr, &c.mounted.export, &c.mounted.cred, timeout));
            c.runtime
                .shutdown_timeout(std::time::Duration::from_millis(100));
        }
    }
}

impl Backend for NfsBackend {
    type Worker = NfsWorker;
    type Counters = RpcSnapshot;

    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "nfs3".to_owned(),
            target: self.target.to_string(),
        }
    }

    fn prepare(&mut self, job: &ResolvedJob) -> Result<Prepared, PrepareError> {
        let connected = self.connect(job).map_err(|e| self.refuse(e))?;
        let mut notes = Vec::new();
        if job.direct == DirectMode::Off {
            notes.push(
                "the protocol backend has no client cache: every read and write reaches the server (reported as direct)"
                    .to_owned(),
            );
        }
        notes.extend(connected.section.differences.iter().cloned());
        if !self.options.ignored.is_empty() {
            notes.push(format!(
                "NFS options without effect at protocol level: {}",
                self.options.ignored.join(",")
            ));
        }
        let iodepth = if job.pattern == Pattern::Metadata {
            if job.iodepth > 1 {
                notes.push(format!(
                    "metadata operations run one at a time per thread: iodepth {} runs as 1 (hint: raise threads)",
                    job.iodepth
                ));
            }
            1
        } else {
            job.iodepth
        };
        self.connected = Some(connected);
        if job.ioengine != crate::job::IoEngine::Auto {
            notes.push(format!(
                "ioengine `{}` applies to directories; the protocol backend keeps its RPCs in flight itself",
                job.ioengine
            ));
        }
        Ok(Prepared {
            direct: true,
            direct_note: None,
            iodepth,
            mechanism: super::Mechanism {
                name: "rpc-pipeline",
                reason: format!(
                    "the user-space NFSv3 client keeps {iodepth} RPC(s) in flight per thread over its connections"
                ),
            },
            notes,
        })
    }

    fn open_worker(&self, worker: u32) -> Result<NfsWorker, IoFault> {
        let c = self.connected.as_ref().ok_or_else(|| {
            IoFault::errno(
                "open",
                &self.target.to_string(),
                None,
                client::status_errno(nfsstat3::NFS3ERR_SERVERFAULT),
            )
        })?;
        NfsWorker::open(&c.session, worker)
    }

    fn mount_section(&self) -> Option<MountSection> {
        None
    }

    fn mount_stats(&self) -> Option<MountStats> {
        None
    }

    fn protocol_counters(&self) -> Option<RpcSnapshot> {
        self.connected.as_ref().map(|c| c.stats.snapshot())
    }

    fn protocol_section(&self, before: Option<&RpcSnapshot>) -> Option<ProtocolSection> {
        let c = self.connected.as_ref()?;
        let mut section = c.section.clone();
        section.rpc = before.map(|b| c.stats.snapshot().since(b));
        Some(ProtocolSection::Nfs(section))
    }
}
