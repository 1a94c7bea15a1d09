//! What can be wrong with requested options: an [`OptionError`] for one option, the
//! [`ItemError`] that says which list item held it, and the [`OptionWarning`] for a legal but
//! doubtful choice.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A requested option that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// The key is not an NFS or VFS mount option.
    #[error(
        "unknown mount option `{option}`{}",
        match suggestion { Some(s) => format!(" (hint: did you mean `{s}`?)"), None => " (hint: see `man 5 nfs`)".to_owned() }
    )]
    Unknown {
        /// The option as written.
        option: String,
        /// A known option with a similar name.
        suggestion: Option<String>,
    },
    /// The value does not have the expected form.
    #[error(
        "malformed mount option `{option}`: expected {expected}{}",
        match hint { Some(h) => format!(" (hint: {h})"), None => String::new() }
    )]
    Malformed {
        /// The option as written.
        option: String,
        /// What the value should be.
        expected: &'static str,
        /// How to fix it.
        hint: Option<String>,
    },
    /// A `key=value` option written without a value.
    #[error("mount option `{option}` needs a value (hint: e.g. `{example}`)")]
    MissingValue {
        /// The option as written.
        option: String,
        /// An example.
        example: String,
    },
    /// A flag written with a value.
    #[error("mount option `{option}` takes no value (hint: write `{key}`)")]
    UnexpectedValue {
        /// The option as written.
        option: String,
        /// The flag.
        key: String,
    },
    /// A number outside the accepted range.
    #[error("mount option `{option}` is out of range: must be between {min} and {max}")]
    OutOfRange {
        /// The option as written.
        option: String,
        /// Smallest value.
        min: u64,
        /// Largest value.
        max: u64,
    },
    /// Two options that cannot both hold.
    #[error("mount option `{option}` conflicts with `{other}` (hint: keep one of them)")]
    Conflict {
        /// The later option.
        option: String,
        /// The earlier one.
        other: String,
    },
    /// An option the Linux client refuses in this combination.
    #[error("mount option `{option}` cannot be used: {reason}")]
    Unsupported {
        /// The option as written.
        option: String,
        /// Why.
        reason: String,
    },
}

impl OptionError {
    /// The option text the error is about.
    #[must_use]
    pub fn option(&self) -> &str {
        match self {
            Self::Unknown { option, .. }
            | Self::Malformed { option, .. }
            | Self::MissingValue { option, .. }
            | Self::UnexpectedValue { option, .. }
            | Self::OutOfRange { option, .. }
            | Self::Conflict { option, .. }
            | Self::Unsupported { option, .. } => option,
        }
    }
}

/// A requested option that is legal but probably not what the user wants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionWarning {
    /// Position of the list item holding the option (in the requested list).
    pub item: usize,
    /// The option as written.
    pub option: String,
    /// What to know, in one line.
    pub message: String,
}

impl fmt::Display for OptionWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mount option `{}`: {}", self.option, self.message)
    }
}

/// An [`OptionError`] with the position of the list item it came from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct ItemError {
    /// Position of the list item (0-based) in the requested list.
    pub item: usize,
    /// The problem.
    #[source]
    pub error: OptionError,
}
