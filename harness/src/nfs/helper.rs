//! The contract between the harness and the `nfslab-io` helper commands it runs in pods:
//! the argument lists it sends and how it reads what comes back, always with the producer's
//! own types and exit codes (`nfslab_workload`), never with field names typed a second time.
//!
//! | role | command | read as |
//! |---|---|---|
//! | list a directory | `ls --json DIR` | [`Entry`] list |
//! | is a directory empty | `check-empty DIR` | exit [`ExitCode::Ok`] / [`ExitCode::CheckFailed`] |
//! | the mount a path lives on | `mountinfo PATH` | [`MountSection`] |
//! | wait for a path | `wait-file PATH --timeout T` | exit [`ExitCode::Ok`] / [`ExitCode::CheckFailed`] |
//! | HTTP GET | `get URL` | body on stdout; exit [`ExitCode::CheckFailed`] on a non-2xx |
//! | a benchmark client | `run ...` | [`nfslab_workload::RunResult`] |
//!
//! `file write|append|cat`, `mkdir`, `rm` and `rename` report through their exit code
//! (0 or [`ExitCode::BadInput`]/[`ExitCode::IoError`] with one line on stderr).

pub use nfslab_workload::{ExitCode, FileEntry as Entry, MountSection};

/// The arguments that list `dir` in the form [`decode_listing`] reads.
#[must_use]
pub fn ls_args(dir: &str) -> [&str; 3] {
    ["ls", "--json", dir]
}

/// The entries `ls --json` printed, sorted by name.
///
/// # Errors
/// A description when the output is not the producer's listing.
pub fn decode_listing(stdout: &str) -> Result<Vec<Entry>, String> {
    let mut entries: Vec<Entry> = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("`ls --json` printed something else than a listing: {e}"))?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// What `check-empty` (and `wait-file`) said through its exit code: `Some(true)` for
/// [`ExitCode::Ok`], `Some(false)` for [`ExitCode::CheckFailed`], `None` for anything else
/// (the command failed).
#[must_use]
pub fn check_verdict(exit_code: i32) -> Option<bool> {
    if exit_code == ExitCode::Ok.code() {
        Some(true)
    } else if exit_code == ExitCode::CheckFailed.code() {
        Some(false)
    } else {
        None
    }
}

/// The mount section `mountinfo` printed.
///
/// # Errors
/// A description when the output is not the producer's mount section.
pub fn decode_mount(stdout: &str) -> Result<MountSection, String> {
    serde_json::from_str(stdout.trim()).map_err(|e| format!("not a mount section: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_and_verdicts_follow_the_producer() {
        let entries = vec![
            Entry {
                name: "b".to_owned(),
                kind: "file".to_owned(),
                size: 3,
                mode: 0o644,
                uid: 0,
                gid: 0,
            },
            Entry {
                name: ".a".to_owned(),
                kind: "dir".to_owned(),
                size: 0,
                mode: 0o755,
                uid: 65534,
                gid: 65534,
            },
        ];
        let text = serde_json::to_string(&entries).expect("json");
        let read = decode_listing(&text).expect("decodes");
        assert_eq!(read[0].name, ".a");
        assert_eq!(read[1], entries[0]);
        assert!(decode_listing("b\n.a\n").is_err());
        assert_eq!(check_verdict(0), Some(true));
        assert_eq!(check_verdict(1), Some(false));
        assert_eq!(check_verdict(ExitCode::IoError.code()), None);
    }
}
