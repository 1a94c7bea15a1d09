//! Helper subcommands that scenarios run inside pods, so a cluster needs no other image:
//! small file operations ([`files`]), a static HTTP server and client ([`http`]) and
//! waiting for termination signals ([`signals`]).

pub mod files;
pub mod http;
pub mod signals;
