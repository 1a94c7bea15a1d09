//! Helper subcommands that scenarios run inside pods, so a cluster needs no other image:
//! small file operations ([`files`]), a static HTTP server and client ([`http`]),
//! waiting for termination signals ([`signals`]), and what the running kernel offers NFS
//! ([`kernel`], for preflight from a container of the Docker daemon).

pub(crate) mod files;
pub(crate) mod http;
pub(crate) mod kernel;
pub(crate) mod signals;
