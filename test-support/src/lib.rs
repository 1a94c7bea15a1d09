//! What nfslab's test suites share, written once.
//!
//! - [`gate`]: the rule that turns tests needing a service (Docker, nfs-ganesha, a mount,
//!   Chromium...) into trials that run, are reported ignored with the reason, or fail when
//!   `NFSLAB_REQUIRE` names the service (CI names every service it installs, so nothing it
//!   provides is ever skipped silently).
//! - [`run`]: one finished command of a test and its failure dump (command line, working
//!   directory, directory listing, status, standard output and error).
//! - [`nfs`]: NFS servers for tests: a real nfs-ganesha on free ports, and fake RPC servers
//!   for the failure cases.
//! - [`functions`]: every non-test function's length, read from the sources, so "no function
//!   over 150 lines" is a checked fact.
//! - [`layers`]: the import graph between a crate's modules, read from its sources, and the
//!   check that it has no cycle (the layering is a checked fact, not a convention).

pub mod functions;
pub mod gate;
pub mod layers;
pub mod nfs;
pub mod run;
