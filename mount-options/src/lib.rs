//! NFS mount options (`mount -o`, nfs(5)): a typed model, strict parsing of what users
//! request, lenient parsing of what the kernel reports, validation, and the
//! requested-vs-effective diff reports show.
//!
//! One vocabulary for everything in nfslab that reads mount options: the harness (PV
//! `spec.mountOptions`, benchmark profiles, what `/proc/self/mountinfo` reports) and the
//! user-space NFSv3 client of `nfslab-io` (`--nfs-options`, the `nfs://` URL query), which
//! parses every kernel option with this crate and decides, in one table next to its
//! parameters, which it honours, which it ignores and which it refuses. It is a crate of its
//! own because both sides need it and the harness depends on the workload crate, not the
//! other way round; being one makes the layer a compile-time fact: it depends on nothing of
//! nfslab (only serde, thiserror and strsim) and builds before both.
//!
//! Two sources feed the same model ([`MountOptions`]):
//! - a PV's `spec.mountOptions` (or a benchmark profile): each list item may itself hold
//!   several comma-separated options, as the kubelet joins them with commas. Parsed strictly
//!   by [`MountOptions::parse_requested`]: unknown keys, malformed values (`rsize=1M`),
//!   out-of-range numbers and conflicting pairs (`hard` + `soft`, two versions) are errors
//!   ([`OptionError`]); legal but doubtful choices (`nolock` with NFSv4, `soft`) are
//!   [`OptionWarning`]s.
//! - `/proc/self/mountinfo` inside a client pod (per-mount and super options): parsed
//!   leniently by [`MountOptions::parse_effective`], keeping keys it does not know.
//!
//! [`diff`] compares the two: what the kernel changed (`rsize=1048576` became `262144`,
//! `vers=4` became `4.2`), what it added as defaults (`hard`, `timeo=600`), and what it does
//! not report (`nolock` on NFSv4). Options the kernel never prints at their default value
//! (`ac`, `cto`, `lock`, `async`, `nconnect=1`...) count as kept when absent.
//!
//! Option names and semantics follow `nfs(5)` and the kernel's `fs/nfs/fs_context.c` and
//! `super.c` (`nfs_show_mount_options`).
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | `option` | one option, typed ([`MountOption`], [`NfsVersion`], [`Transport`], [`Switch`], [`Number`]...), its strict and lenient parse, suggestions for unknown names |
//! | `error` | [`OptionError`], [`ItemError`], [`OptionWarning`] |
//! | `list` | [`MountOptions`]: a list in order, the checks across options and the warnings |
//! | `diff` | [`diff`], [`OptionDiff`], [`DiffKind`] |

mod diff;
mod error;
mod list;
mod option;

pub use crate::diff::{DiffKind, OptionDiff, diff};
pub use crate::error::{ItemError, OptionError, OptionWarning};
pub use crate::list::{Entry, MountOptions};
pub use crate::option::{
    LocalLock, LookupCache, MountOption, NfsVersion, Number, Recovery, SecFlavor, Switch, Transport,
};
