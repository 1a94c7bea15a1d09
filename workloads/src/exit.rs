//! Exit codes of `nfslab-io`, one per kind of outcome, and how a failure reads on one line
//! ([`error_chain`], which `nfslab` prints its errors with too).

/// What the process reports to its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitCode {
    /// Success.
    Ok = 0,
    /// A helper's check failed: `check-empty` found entries, `get` got a non-2xx status,
    /// `wait-file` timed out.
    CheckFailed = 1,
    /// Bad input (flags, job file, target): nothing was done.
    BadInput = 2,
    /// An IO error stopped the run (partial results printed, created files removed).
    IoError = 3,
    /// Verification found bad blocks.
    VerifyFailed = 4,
}

impl ExitCode {
    /// The numeric code.
    #[must_use]
    pub const fn code(self) -> i32 {
        self as i32
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

/// An error and its causes on one line, joined by `: `, as both programs print a failure. A
/// cause whose text the line already holds is not repeated.
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
}
