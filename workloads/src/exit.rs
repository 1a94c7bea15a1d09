//! Exit codes of `nfslab-io`, one per kind of outcome.

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
