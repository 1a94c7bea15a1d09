//! `nfslab-io kernel`: what the kernel this process runs on offers NFS, as JSON.
//!
//! kind nodes are containers of the Docker daemon and share its kernel, which is not the
//! kernel of the machine running nfslab with Docker Desktop, colima or a remote
//! `DOCKER_HOST`. Run in a container of the daemon (with the daemon host's `/lib/modules`
//! mounted read-only), this command reports that kernel: its release, the file systems it has
//! registered (`/proc/filesystems`: `nfs`, `nfsd` when built in or loaded), and the NFS module
//! entries of `modules.dep` and `modules.builtin` (what `mount` or `rpc.nfsd` can load on
//! demand). nfslab's preflight reads it with this same type.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// What the running kernel offers NFS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelFacts {
    /// `uname -r` (`/proc/sys/kernel/osrelease`).
    pub release: String,
    /// File systems registered in `/proc/filesystems` (last column).
    pub filesystems: Vec<String>,
    /// Module paths under `/lib/modules/<release>` (from `modules.dep` and
    /// `modules.builtin`) below `kernel/fs/nfs` and `kernel/fs/nfsd`.
    pub nfs_modules: Vec<String>,
    /// Whether `/lib/modules/<release>` could be read at all (it is not in a container
    /// unless mounted).
    pub modules_readable: bool,
}

/// Reads the facts under `root` (`/` normally).
#[must_use]
pub(crate) fn collect(root: &Path) -> KernelFacts {
    let read = |p: &Path| std::fs::read_to_string(root.join(p)).unwrap_or_default();
    let release = read(Path::new("proc/sys/kernel/osrelease"))
        .trim()
        .to_owned();
    let filesystems = read(Path::new("proc/filesystems"))
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_owned))
        .collect();
    let modules = root.join("lib/modules").join(&release);
    let mut nfs_modules = Vec::new();
    let mut modules_readable = false;
    for file in ["modules.dep", "modules.builtin"] {
        if let Ok(text) = std::fs::read_to_string(modules.join(file)) {
            modules_readable = true;
            nfs_modules.extend(
                text.lines()
                    .filter_map(|l| l.split(':').next())
                    .filter(|p| p.starts_with("kernel/fs/nfs/") || p.starts_with("kernel/fs/nfsd/"))
                    .map(str::to_owned),
            );
        }
    }
    nfs_modules.sort();
    nfs_modules.dedup();
    KernelFacts {
        release,
        filesystems,
        nfs_modules,
        modules_readable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_release_filesystems_and_nfs_modules() {
        let dir = tempfile::tempdir().expect("temp");
        let root = dir.path();
        std::fs::create_dir_all(root.join("proc/sys/kernel")).expect("proc");
        std::fs::write(root.join("proc/sys/kernel/osrelease"), "6.1.0-28-amd64\n").expect("rel");
        std::fs::write(
            root.join("proc/filesystems"),
            "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\tnfs\n",
        )
        .expect("fs");
        let modules = root.join("lib/modules/6.1.0-28-amd64");
        std::fs::create_dir_all(&modules).expect("modules");
        std::fs::write(
            modules.join("modules.dep"),
            "kernel/fs/nfsd/nfsd.ko.xz: kernel/fs/nfs_common/grace.ko.xz\n\
             kernel/fs/ext4/ext4.ko.xz:\nkernel/fs/nfs/nfsv4.ko.xz: kernel/fs/nfs/nfs.ko.xz\n",
        )
        .expect("dep");
        let facts = collect(root);
        assert_eq!(facts.release, "6.1.0-28-amd64");
        assert!(facts.filesystems.contains(&"nfs".to_owned()));
        assert!(facts.filesystems.contains(&"ext4".to_owned()));
        assert_eq!(
            facts.nfs_modules,
            ["kernel/fs/nfs/nfsv4.ko.xz", "kernel/fs/nfsd/nfsd.ko.xz"]
        );
        assert!(facts.modules_readable);
        let bare = tempfile::tempdir().expect("temp");
        assert!(!collect(bare.path()).modules_readable);
    }
}
