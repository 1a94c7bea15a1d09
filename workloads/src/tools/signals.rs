//! Waiting for SIGTERM/SIGINT: pods need a process that stays up and exits cleanly when
//! Kubernetes stops it.

use nix::sys::signal::{SigSet, Signal};

/// Blocks SIGTERM and SIGINT in the calling thread (and threads it spawns afterwards) so
/// they can be taken with [`wait_for_termination`]. Call before spawning threads.
pub(crate) fn block_termination_signals() -> Result<SigSet, nix::errno::Errno> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.thread_block()?;
    Ok(set)
}

/// Waits until SIGTERM or SIGINT arrives; returns it.
pub(crate) fn wait_for_termination(set: &SigSet) -> Result<Signal, nix::errno::Errno> {
    set.wait()
}
