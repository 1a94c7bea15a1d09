//! NFS mount options: the typed model, strict parsing of what users request, lenient parsing
//! of what the kernel reports, validation, and the requested-vs-effective diff reports show.
//!
//! They live in the crate `nfslab-mount-options` (`mount-options/`), which the harness and the
//! user-space NFSv3 client of `nfslab-io` share, so both read `mount -o` with one vocabulary;
//! this module names them where the harness has always found them.

pub(crate) use nfslab_mount_options::{
    DiffKind, MountOption, MountOptions, Number, OptionDiff, OptionError, diff,
};
