//! The backend seam with a second backend: an in-memory one written against the public
//! traits only, which can inject a failure at a chosen operation. Proves that the engine,
//! driver, verification and result assembly need nothing POSIX-specific, and covers the
//! EIO-mid-run path that a real filesystem cannot be made to produce on demand.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use nfslab_workload::{
    Backend, BackendInfo, ExitCode, IoFault, Job, MismatchKind, MountSection, MountStats, Pattern,
    PrepareError, Prepared, ResolvedJob, RunOptions, Size, Status, WorkerIo, run,
};
use nix::errno::Errno;

type Files = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;

/// Files in memory; the `fail_at`-th data operation (counted over all workers) fails.
struct MemBackend {
    files: Files,
    job: Option<ResolvedJob>,
    ops: Arc<AtomicU64>,
    fail_at: Option<(u64, Fault)>,
}

/// What happens at the chosen operation.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The call fails.
    Errno(Errno),
    /// A write is acknowledged but not stored (a lost write).
    DropWrite,
}

struct MemWorker {
    files: Files,
    names: Vec<String>,
    created: Vec<String>,
    ops: Arc<AtomicU64>,
    fail_at: Option<(u64, Fault)>,
}

impl MemWorker {
    /// Counts a data operation; `Ok(false)` means "drop this write".
    fn tick(&self) -> Result<bool, Errno> {
        let n = self.ops.fetch_add(1, Ordering::Relaxed) + 1;
        match self.fail_at {
            Some((at, Fault::Errno(errno))) if n == at => Err(errno),
            Some((at, Fault::DropWrite)) if n == at => Ok(false),
            _ => Ok(true),
        }
    }
    fn name(&self, file: u32) -> &str {
        &self.names[file as usize]
    }
}

impl Backend for MemBackend {
    type Worker = MemWorker;
    type Counters = ();

    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "memory".to_owned(),
            target: "mem:".to_owned(),
        }
    }

    fn prepare(&mut self, job: &ResolvedJob) -> Result<Prepared, PrepareError> {
        self.job = Some(job.clone());
        Ok(Prepared {
            direct: true,
            direct_note: None,
            iodepth: 1,
            mechanism: nfslab_workload::Mechanism {
                name: "sync",
                reason: "the in-memory test backend answers one call at a time".to_owned(),
            },
            notes: vec![],
        })
    }

    fn open_worker(&self, worker: u32) -> Result<MemWorker, IoFault> {
        let nrfiles = self.job.as_ref().map_or(0, |j| j.nrfiles);
        let mut w = MemWorker {
            files: self.files.clone(),
            names: vec![],
            created: vec![],
            ops: self.ops.clone(),
            fail_at: self.fail_at,
        };
        let mut files = self.files.lock().unwrap();
        for f in 0..nrfiles {
            let name = format!("mem:t{worker}.f{f}");
            if !files.contains_key(&name) {
                files.insert(name.clone(), Vec::new());
                w.created.push(name.clone());
            }
            w.names.push(name);
        }
        Ok(w)
    }

    fn mount_section(&self) -> Option<MountSection> {
        None
    }

    fn mount_stats(&self) -> Option<MountStats> {
        None
    }
}

impl WorkerIo for MemWorker {
    fn file_name(&self, file: u32) -> &str {
        self.name(file)
    }
    fn file_len(&mut self, file: u32) -> Result<u64, Errno> {
        Ok(self.files.lock().unwrap()[self.name(file)].len() as u64)
    }
    fn read_at(&mut self, file: u32, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        self.tick()?;
        let files = self.files.lock().unwrap();
        let data = &files[self.name(file)];
        let start = (offset as usize).min(data.len());
        let end = (start + buf.len()).min(data.len());
        buf[..end - start].copy_from_slice(&data[start..end]);
        Ok(end - start)
    }
    fn write_at(&mut self, file: u32, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        if !self.tick()? {
            return Ok(buf.len());
        }
        let mut files = self.files.lock().unwrap();
        let data = files.get_mut(self.name(file)).ok_or(Errno::ENOENT)?;
        let end = offset as usize + buf.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[offset as usize..end].copy_from_slice(buf);
        Ok(buf.len())
    }
    fn sync(&mut self, _file: u32) -> Result<(), Errno> {
        Ok(())
    }
    fn mkdir(&mut self, _: &str) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }
    fn create(&mut self, _: &str, _: &[u8]) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }
    fn stat(&mut self, _: &str) -> Result<u64, Errno> {
        Err(Errno::ENOSYS)
    }
    fn readdir(&mut self, _: &str) -> Result<u64, Errno> {
        Err(Errno::ENOSYS)
    }
    fn rename(&mut self, _: &str, _: &str) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }
    fn unlink(&mut self, _: &str) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }
    fn rmdir(&mut self, _: &str) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }
    fn created_files(&self) -> u64 {
        self.created.len() as u64
    }
    fn cleanup(&mut self) -> Result<(), IoFault> {
        let mut files = self.files.lock().unwrap();
        for name in self.created.drain(..) {
            files.remove(&name);
        }
        Ok(())
    }
}

fn backend(fail_at: Option<(u64, Fault)>) -> MemBackend {
    MemBackend {
        files: Files::default(),
        job: None,
        ops: Arc::new(AtomicU64::new(0)),
        fail_at,
    }
}

fn job(pattern: Pattern) -> Job {
    let mut job = Job::new(pattern);
    job.size = Some(Size(256 * 1024));
    job.threads = 2;
    job.verify = true;
    job
}

#[test]
fn another_backend_runs_verified_jobs() {
    for pattern in [Pattern::Randwrite, Pattern::Randread, Pattern::Randrw] {
        let mut b = backend(None);
        let out = run(&job(pattern), &mut b, &RunOptions::default(), &mut |_| {}).unwrap();
        let r = &out.result;
        assert_eq!(out.exit, ExitCode::Ok, "{pattern}: {:?}", r.error);
        assert_eq!(r.backend.name, "memory");
        assert_eq!(r.totals.data_ops, 2 * 64, "{pattern}");
        let v = r.verify.as_ref().unwrap();
        assert_eq!(v.mismatches, 0, "{pattern}: {:?}", v.mismatch_list.first());
        assert!(
            v.blocks_checked >= 2 * 64,
            "{pattern}: {}",
            v.blocks_checked
        );
        assert!(
            b.files.lock().unwrap().is_empty(),
            "cleanup through the seam"
        );
    }
}

#[test]
fn eio_mid_run_stops_all_workers_and_keeps_partial_results() {
    // Layout of 2 x 64 blocks takes 2 chunked writes; the 50th data op after that fails.
    let mut b = backend(Some((2 + 50, Fault::Errno(Errno::EIO))));
    let out = run(
        &job(Pattern::Randwrite),
        &mut b,
        &RunOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let r = &out.result;
    assert_eq!(out.exit, ExitCode::IoError);
    assert_eq!(r.status, Status::IoError);
    let e = r.error.as_ref().unwrap();
    assert_eq!(
        (e.phase.as_str(), e.errno.as_deref()),
        ("measured", Some("EIO"))
    );
    assert!(e.message.contains("write of `mem:t"), "{}", e.message);
    assert_eq!(r.errors.get("EIO"), Some(&1));
    assert!(
        r.totals.data_ops >= 40 && r.totals.data_ops < 2 * 64,
        "{:?}",
        r.totals
    );
    assert!(
        b.files.lock().unwrap().is_empty(),
        "created files removed after the failure"
    );

    let mut b = backend(Some((2 + 50, Fault::Errno(Errno::EIO))));
    let keep = RunOptions {
        keep: true,
        ..RunOptions::default()
    };
    run(&job(Pattern::Randwrite), &mut b, &keep, &mut |_| {}).unwrap();
    assert_eq!(b.files.lock().unwrap().len(), 2, "--keep keeps them");
}

#[test]
fn lost_write_is_caught_as_a_stale_generation() {
    // Layout writes generation 1; the measured randwrite pass writes generation 2 over
    // every block; the backend acknowledges the 30th data operation without storing it.
    // The read-back after the measured phase must find generation 1 in that block.
    let mut b = backend(Some((2 + 30, Fault::DropWrite)));
    let mut j = job(Pattern::Randwrite);
    j.threads = 1;
    let out = run(&j, &mut b, &RunOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(out.exit, ExitCode::VerifyFailed);
    let v = out.result.verify.clone().unwrap();
    assert_eq!(v.mismatches, 1, "{:?}", v.mismatch_list);
    let m = &v.mismatch_list[0];
    assert_eq!(m.kind, MismatchKind::Generation);
    assert_eq!((m.expected.generation, m.found.generation), (2, 1));
    assert_eq!(m.file, "mem:t0.f0");
    assert_eq!(m.offset % 4096, 0);
}
