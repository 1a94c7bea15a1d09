//! Process exit codes, one per kind of outcome.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | everything ran and passed |
//! | 1 | a scenario failed, or `compare` found a regression |
//! | 2 | bad input: flags, scenario, plan or config file |
//! | 3 | the environment is not ready: preflight, Docker, kind, cluster, NFS server |
//! | 130 | interrupted (Ctrl-C), after cleanup |
//!
//! The `nfslab` command maps each failure it reports to one of these in a single `match`
//! (`CliError::outcome` in its `cli::errors` module); library errors that know their class
//! say it with their own `outcome()` methods, which that `match` calls.

/// How a command ended, mapped to a documented exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything ran and passed.
    Success,
    /// A scenario failed or a regression was found.
    Failed,
    /// The user's input was invalid.
    BadInput,
    /// The environment is missing something or broke.
    Environment,
    /// Interrupted by the user; cleanup ran.
    Interrupted,
}

impl Outcome {
    /// The process exit code.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failed => 1,
            Self::BadInput => 2,
            Self::Environment => 3,
            Self::Interrupted => 130,
        }
    }
}

impl From<Outcome> for std::process::ExitCode {
    fn from(outcome: Outcome) -> Self {
        std::process::ExitCode::from(outcome.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_documented() {
        let all = [
            Outcome::Success,
            Outcome::Failed,
            Outcome::BadInput,
            Outcome::Environment,
            Outcome::Interrupted,
        ];
        let codes: Vec<u8> = all.iter().map(|o| o.code()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 130]);
    }
}
