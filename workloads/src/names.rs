//! Names given by users that become file names: the grammar, checked before any path is
//! built from them.
//!
//! A name that ends up as a path component (`nfslab-io --prefix`, output names, the
//! harness's cluster names and run ids) must never be able to leave its base directory or
//! truncate a path: so no `/`, no NUL, no `.` or `..`, nothing empty, no leading `-` (it
//! would read as a flag to the tools the name is handed to) and no leading `.` (hidden, and
//! the start of `..`). [`check_component`] is that grammar; [`join_under`] builds the path
//! only from a name that passed it. The harness adds Kubernetes' and kind's stricter rules
//! on top (its `names` module).
//!
//! Written by hand: the grammar is a handful of character checks, and the messages must say
//! which rule a name broke.

use std::path::{Path, PathBuf};

/// Longest file-name component accepted (POSIX `NAME_MAX` is 255; files get suffixes).
pub(crate) const MAX_COMPONENT_LEN: usize = 200;

/// Why a name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{shown}` is not a valid {what}: {rule}")]
pub struct NameError {
    /// What the name names (`file name prefix`, `cluster name`...).
    pub what: &'static str,
    /// The name as given, with control characters escaped so it prints on one line.
    pub shown: String,
    /// The rule it breaks and what to write instead.
    pub rule: String,
}

impl NameError {
    /// An error about `value`, a `what`, breaking `rule`.
    #[must_use]
    pub fn new(what: &'static str, value: &str, rule: impl Into<String>) -> Self {
        Self {
            what,
            shown: printable(value),
            rule: rule.into(),
        }
    }
}

/// `value` with control characters (NUL, newlines) escaped, for one-line messages.
#[must_use]
pub fn printable(value: &str) -> String {
    value.chars().flat_map(char::escape_debug).collect()
}

/// Checks that `name` is one safe path component: 1 to `MAX_COMPONENT_LEN` (200) bytes of
/// letters, digits, `-`, `_` and `.`, not starting with `.` or `-`.
///
/// # Errors
/// [`NameError`] naming the first rule broken.
pub fn check_component(what: &'static str, name: &str) -> Result<(), NameError> {
    let rule = |r: &str| Err(NameError::new(what, name, r));
    if name.is_empty() {
        return rule("it is empty (hint: e.g. `nfslab`)");
    }
    if name.contains('\0') {
        return rule("it contains a NUL character");
    }
    if name.contains('/') || name.contains('\\') {
        return rule("it contains a path separator; a name is one file name, not a path");
    }
    if name == "." || name == ".." || name.starts_with('.') {
        return rule("it starts with `.` (hint: start with a letter or digit)");
    }
    if name.starts_with('-') {
        return rule("it starts with `-` (hint: start with a letter or digit)");
    }
    if name.len() > MAX_COMPONENT_LEN {
        return rule(&format!("it is longer than {MAX_COMPONENT_LEN} bytes"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return rule(&format!(
            "`{}` is not allowed (hint: letters, digits, `-`, `_` and `.`)",
            printable(&bad.to_string())
        ));
    }
    Ok(())
}

/// `base/name`, after checking `name` with [`check_component`]: the result is always
/// directly inside `base`.
///
/// # Errors
/// [`NameError`] when `name` is not one safe component.
pub fn join_under(base: &Path, what: &'static str, name: &str) -> Result<PathBuf, NameError> {
    check_component(what, name)?;
    Ok(base.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_components_pass() {
        for ok in ["nfslab", "c0", "run-1.json", "A_b.9", "x"] {
            assert_eq!(check_component("name", ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn anything_that_could_leave_the_directory_is_refused() {
        for bad in [
            "", ".", "..", "../x", "a/b", "/abs", "a\0b", ".hidden", "-rf", "a\\b", "a b", "é",
        ] {
            let err = check_component("file name prefix", bad).expect_err(bad);
            assert!(
                err.to_string().starts_with("`"),
                "{bad:?} gives a one-line message: {err}"
            );
            assert!(!err.to_string().contains('\0') && !err.to_string().contains('\n'));
        }
        let long = "a".repeat(MAX_COMPONENT_LEN + 1);
        assert!(check_component("name", &long).is_err());
        assert_eq!(
            join_under(Path::new("/base"), "name", "f").expect("joins"),
            Path::new("/base/f")
        );
        assert!(join_under(Path::new("/base"), "name", "../f").is_err());
    }

    #[test]
    fn nul_is_shown_escaped() {
        let err = check_component("file name prefix", "a\0b").expect_err("nul");
        assert_eq!(
            err.to_string(),
            "`a\\0b` is not a valid file name prefix: it contains a NUL character"
        );
    }
}
