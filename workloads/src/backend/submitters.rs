//! Submitter threads as a [`SubmitQueue`]: the fallback where io_uring is unavailable
//! (kernels before 5.1, seccomp profiles that block it, as the default profiles of Docker
//! and containerd do, `kernel.io_uring_disabled`). One thread per slot makes one blocking
//! `pread`/`pwrite`/`fsync` at a time, so `iodepth` calls are in the kernel at once per
//! worker, the same depth io_uring keeps.
//!
//! A slot's buffer travels with its request to the slot's thread and comes back with the
//! completion, so no memory is shared while a call runs. The threads are scoped to the
//! measured phase ([`std::thread::scope`]); dropping the queue closes their channels and
//! they end. [`Submitters::peak`] is the most calls that were inside the kernel at once,
//! counted around the calls themselves.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::Scope;

use nix::errno::Errno;
use nix::sys::uio::{pread, pwrite};
use nix::unistd::{fdatasync, fsync};

use crate::io::AlignedBuf;
use crate::job::SyncCall;
use crate::ops::OpKind;
use crate::queue::{Completion, Request, SubmitQueue};

/// A request and the buffer it uses, on its way to a slot's thread.
type Work = (Request, AlignedBuf);
/// A completion and the buffer, on its way back.
type Back = (usize, Result<u64, Errno>, AlignedBuf);

/// Calls inside the kernel now and at most, shared with the threads.
#[derive(Debug, Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// One worker's submitter threads.
pub(crate) struct Submitters {
    senders: Vec<Sender<Work>>,
    back: Receiver<Back>,
    bufs: Vec<Option<AlignedBuf>>,
    gauge: Arc<Gauge>,
}

impl Submitters {
    /// Starts `slots` threads in `scope` for the worker's files `files`, each slot with a
    /// `bs`-byte buffer aligned for direct IO.
    pub(crate) fn start<'scope>(
        scope: &'scope Scope<'scope, '_>,
        slots: usize,
        bs: usize,
        files: &'scope [OwnedFd],
        sync_call: SyncCall,
    ) -> Submitters {
        let slots = slots.max(1);
        let gauge = Arc::new(Gauge::default());
        let (back_tx, back) = mpsc::channel::<Back>();
        let senders = (0..slots)
            .map(|slot| {
                let (tx, rx) = mpsc::channel::<Work>();
                let back_tx = back_tx.clone();
                let gauge = Arc::clone(&gauge);
                scope.spawn(move || {
                    for (request, mut buf) in rx {
                        let inside = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
                        gauge.peak.fetch_max(inside, Ordering::SeqCst);
                        let result = call(files, request, &mut buf, sync_call);
                        gauge.now.fetch_sub(1, Ordering::SeqCst);
                        if back_tx.send((slot, result, buf)).is_err() {
                            break;
                        }
                    }
                });
                tx
            })
            .collect();
        Submitters {
            senders,
            back,
            bufs: (0..slots).map(|_| Some(AlignedBuf::new(bs))).collect(),
            gauge,
        }
    }

    /// The most calls that were inside the kernel at once so far.
    #[must_use]
    pub(crate) fn peak(&self) -> usize {
        self.gauge.peak.load(Ordering::SeqCst)
    }
}

fn call(
    files: &[OwnedFd],
    request: Request,
    buf: &mut AlignedBuf,
    sync_call: SyncCall,
) -> Result<u64, Errno> {
    let fd = files
        .get(request.file as usize)
        .ok_or(Errno::EBADF)?
        .as_fd();
    let offset = i64::try_from(request.offset).map_err(|_| Errno::EOVERFLOW)?;
    let len = usize::try_from(request.len).map_err(|_| Errno::EINVAL)?;
    let data = buf.as_mut_slice().get_mut(..len).ok_or(Errno::EINVAL)?;
    match request.kind {
        OpKind::Read => pread(fd, data, offset).map(|n| n as u64),
        OpKind::Write => pwrite(fd, data, offset).map(|n| n as u64),
        OpKind::Fsync => match sync_call {
            SyncCall::Fsync => fsync(fd),
            SyncCall::Fdatasync => fdatasync(fd),
        }
        .map(|()| 0),
        _ => Err(Errno::EINVAL),
    }
}

impl SubmitQueue for Submitters {
    fn slots(&self) -> usize {
        self.senders.len()
    }

    fn buffer(&mut self, slot: usize) -> Option<&mut [u8]> {
        self.bufs
            .get_mut(slot)?
            .as_mut()
            .map(AlignedBuf::as_mut_slice)
    }

    fn submit(&mut self, slot: usize, request: Request) -> Result<(), Errno> {
        let buf = self
            .bufs
            .get_mut(slot)
            .and_then(Option::take)
            .ok_or(Errno::EBUSY)?;
        let sender = self.senders.get(slot).ok_or(Errno::EINVAL)?;
        sender
            .send((request, buf))
            .map_err(|mpsc::SendError((_, buf))| {
                self.bufs[slot] = Some(buf);
                // The slot's thread is gone (it cannot end otherwise while the queue lives).
                Errno::EIO
            })
    }

    fn wait(&mut self, out: &mut Vec<Completion>) -> Result<(), Errno> {
        let first = self.back.recv().map_err(|_| Errno::EIO)?;
        let mut settle = |(slot, result, buf): Back| {
            if let Some(place) = self.bufs.get_mut(slot) {
                *place = Some(buf);
            }
            out.push(Completion { slot, result });
        };
        settle(first);
        while let Ok(more) = self.back.try_recv() {
            settle(more);
        }
        Ok(())
    }

    fn poll(&mut self, out: &mut Vec<Completion>) {
        while let Ok((slot, result, buf)) = self.back.try_recv() {
            if let Some(place) = self.bufs.get_mut(slot) {
                *place = Some(buf);
            }
            out.push(Completion { slot, result });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::OwnedFd;

    #[test]
    fn each_slot_runs_its_call_on_its_own_thread() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(dir.path().join("f"))
            .unwrap();
        let files = [OwnedFd::from(file)];
        std::thread::scope(|scope| {
            let mut q = Submitters::start(scope, 3, 512, &files, SyncCall::Fsync);
            for slot in 0..3 {
                q.buffer(slot).unwrap().fill(b'x' + slot as u8);
                let write = Request {
                    kind: OpKind::Write,
                    file: 0,
                    offset: slot as u64 * 512,
                    len: 512,
                };
                q.submit(slot, write).unwrap();
            }
            let mut done = Vec::new();
            while done.len() < 3 {
                q.wait(&mut done).unwrap();
            }
            assert!(done.iter().all(|c| c.result == Ok(512)), "{done:?}");
            assert!((1..=3).contains(&q.peak()));
            let read = Request {
                kind: OpKind::Read,
                file: 0,
                offset: 512,
                len: 512,
            };
            q.submit(2, read).unwrap();
            assert!(q.buffer(2).is_none(), "the buffer travels with the request");
            assert_eq!(q.submit(2, read), Err(Errno::EBUSY));
            done.clear();
            q.wait(&mut done).unwrap();
            assert!(q.buffer(2).unwrap().iter().all(|b| *b == b'y'));
            let missing = Request {
                kind: OpKind::Fsync,
                file: 3,
                offset: 0,
                len: 0,
            };
            q.submit(0, missing).unwrap();
            done.clear();
            q.wait(&mut done).unwrap();
            assert_eq!(
                done,
                [Completion {
                    slot: 0,
                    result: Err(Errno::EBADF)
                }]
            );
        });
    }
}
