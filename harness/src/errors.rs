//! Small facts every layer shares: how an error and its causes read on one line (the
//! workload crate's formatter, which both programs print with), and the
//! wall-clock time as recorded in results and state files.
//!
//! This module sits at the bottom of the crate (it imports nothing of it), so the cluster,
//! the environment, scenarios and benchmarks can all use it without depending on each other.

/// An error and its causes on one line, joined by `: ` (what the CLI prints); the one
/// formatter of the workspace, shared with `nfslab-io`. A cause whose text the line
/// already holds is not repeated.
pub use nfslab_workload::error_chain;

/// The current time as RFC 3339 (seconds, UTC), as results and state files record it.
#[must_use]
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_is_rfc3339_in_utc() {
        let now = now_rfc3339();
        assert!(humantime::parse_rfc3339(&now).is_ok(), "{now}");
        assert!(now.ends_with('Z'), "{now}");
    }
}
