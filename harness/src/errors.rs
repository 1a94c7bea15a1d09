//! Small facts every layer shares: how an error and its causes read on one line, and the
//! wall-clock time as recorded in results and state files.
//!
//! This module sits at the bottom of the crate (it imports nothing of it), so the cluster,
//! the environment, scenarios and benchmarks can all use it without depending on each other.

/// An error and its causes on one line, joined by `: ` (what the CLI prints). A cause whose
/// text the line already holds is not repeated.
#[must_use]
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// The current time as RFC 3339 (seconds, UTC), as results and state files record it.
#[must_use]
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Repeating(#[source] Inner);

    #[test]
    fn causes_join_with_colons() {
        assert_eq!(error_chain(&Outer(Inner)), "outer: inner");
    }

    #[test]
    fn a_cause_already_in_the_text_is_not_repeated() {
        assert_eq!(error_chain(&Repeating(Inner)), "outer: inner");
    }

    #[test]
    fn the_time_is_rfc3339_in_utc() {
        let now = now_rfc3339();
        assert!(humantime::parse_rfc3339(&now).is_ok(), "{now}");
        assert!(now.ends_with('Z'), "{now}");
    }
}
