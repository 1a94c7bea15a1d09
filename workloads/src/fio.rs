//! fio job files: the common subset, read into a [`Job`].
//!
//! `nfslab-io run --fio FILE` and `fio:` in benchmark plans take a fio job file as users
//! already have it. One job is read: the `[global]` section and one job section (options of
//! the job section win). What has an equivalent maps to it; what does not is refused with
//! `file:line`, the option and why, never ignored silently: a job that runs differently
//! from what its file says would be a different experiment.
//!
//! | fio | nfslab-io |
//! |---|---|
//! | `rw`/`readwrite` = `read`, `write`, `randread`, `randwrite`, `randrw` | `pattern` (sequential mixes `rw`/`readwrite` and `trim*` are refused) |
//! | `rwmixread`, `rwmixwrite` | `rwmixread` |
//! | `bs`/`blocksize` (one size for reads and writes) | `bs` |
//! | `size` (per job, split over its files), `filesize` (per file) | `size` (per file) |
//! | `nrfiles`, `numjobs`, `iodepth` | `nrfiles`, `threads`, `iodepth` |
//! | `ioengine` = `libaio`, `io_uring`, `psync`, `sync`, `pvsync`, `pvsync2`, `posixaio` | `ioengine` (`io_uring`, `sync`, `threads`) |
//! | `runtime` with `time_based` | `runtime` (the files are looped over) |
//! | `runtime` without `time_based` | `runtime` and `io_size` of one pass (what ends first) |
//! | `io_size`/`io_limit`, `ramp_time` | `io_size`, `ramp_time` |
//! | `direct`, `buffered` | `direct` (`1` is `required`: fio fails where O_DIRECT is refused) |
//! | `fsync=N`, `fdatasync=N`, `end_fsync` | `fsync` N or `end`, `sync_call` |
//! | `sync=1` | `o_sync` |
//! | `randseed` | `seed` |
//! | `verify` (any method) | `verify` (nfslab-io's own self-describing blocks) |
//! | `directory` | the run's directory, unless `--dir`/`--target` gives one |
//! | `name`, `description`, `group_reporting`, `thread`, `new_group`, `stonewall`, `wait_for_previous`, `randrepeat`, `norandommap`, `percentile_list`, `clat_percentiles`, `lat_percentiles`, `unit_base`, `kb_base=1024` | nothing to do (reporting, or what nfslab-io always does) |
//!
//! Sizes take fio's suffixes (`4k`, `1m`, `1g`, `4KiB`; powers of 1024); times are
//! seconds unless suffixed (`30`, `30s`, `2m`, `500ms`). Written by hand: the format is
//! INI-like with fio's own rules (options without `=`, `;` and `#` comments, `include`), and
//! no crate reads fio job files.

use std::path::{Path, PathBuf};

use crate::job::{DirectMode, FsyncPolicy, IoEngine, Job, Pattern, SyncCall};
use crate::units::{Size, Span};

/// A fio job file read into a job.
#[derive(Debug, Clone, PartialEq)]
pub struct FioJob {
    /// The job.
    pub job: Job,
    /// fio's `directory`, when the file names one.
    pub directory: Option<PathBuf>,
    /// The job section's name.
    pub name: String,
    /// What was mapped with a change of meaning (for people; printed as notes).
    pub notes: Vec<String>,
}

/// A fio job file that cannot be run as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FioError {
    /// The file could not be read.
    #[error("cannot read fio job file `{path}`: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// An option or a section nfslab-io cannot honour, or a bad value.
    #[error("{path}:{line}: {what}: {message}")]
    At {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// The option (`option `zonemode``) or section concerned.
        what: String,
        /// Why, with a hint.
        message: String,
    },
}

impl FioError {
    /// The line the error is about, when in the file.
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        match self {
            FioError::At { line, .. } => Some(*line),
            FioError::Read { .. } => None,
        }
    }
}

/// Options that change nothing in nfslab-io (reporting, or what it always does).
const NEUTRAL: &[&str] = &[
    "name",
    "description",
    "group_reporting",
    "thread",
    "new_group",
    "stonewall",
    "wait_for_previous",
    "randrepeat",
    "norandommap",
    "percentile_list",
    "clat_percentiles",
    "lat_percentiles",
    "unit_base",
    "kb_base",
];

/// One `option[=value]` line.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    value: Option<String>,
    line: usize,
}

/// Reads a fio job file.
pub(crate) fn load_fio_file(path: &Path) -> Result<FioJob, FioError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| FioError::Read {
        path: name.clone(),
        message: e.to_string(),
    })?;
    job_from_fio(&text, &name)
}

/// Reads fio job text; `path` names it in errors.
pub fn job_from_fio(text: &str, path: &str) -> Result<FioJob, FioError> {
    let at = |line: usize, what: String, message: String| FioError::At {
        path: path.to_owned(),
        line,
        what,
        message,
    };
    let mut global: Vec<Entry> = Vec::new();
    let mut job: Option<(String, usize, Vec<Entry>)> = None;
    let mut in_global = false;
    let mut seen_section = false;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(section) = rest.strip_suffix(']') else {
                return Err(at(
                    line,
                    format!("section `{trimmed}`"),
                    "a section header is `[name]`".to_owned(),
                ));
            };
            let section = section.trim().to_owned();
            seen_section = true;
            if section == "global" {
                in_global = true;
                continue;
            }
            in_global = false;
            if let Some((first, first_line, _)) = &job {
                return Err(at(
                    line,
                    format!("job `[{section}]`"),
                    format!(
                        "a second job (the first is `[{first}]` at line {first_line}); nfslab-io runs one job at a time (hint: one file per job, numjobs for parallel copies)"
                    ),
                ));
            }
            job = Some((section, line, Vec::new()));
            continue;
        }
        if !seen_section {
            return Err(at(
                line,
                format!("`{trimmed}`"),
                "an option before any section (hint: start with `[global]` or `[jobname]`)"
                    .to_owned(),
            ));
        }
        if trimmed.starts_with("include ") {
            return Err(at(
                line,
                "include".to_owned(),
                "included files are not read (hint: paste the included options into this file)"
                    .to_owned(),
            ));
        }
        let (key, value) = match trimmed.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().to_owned())),
            None => (trimmed, None),
        };
        let entry = Entry {
            key: key.to_ascii_lowercase(),
            value,
            line,
        };
        match (&mut job, in_global) {
            (Some((_, _, entries)), false) => entries.push(entry),
            _ => global.push(entry),
        }
    }
    let Some((name, _, entries)) = job else {
        return Err(at(
            text.lines().count().max(1),
            "job".to_owned(),
            "the file defines no job section (hint: add `[myjob]` after `[global]`)".to_owned(),
        ));
    };
    // The job section's options win over the global ones.
    let mut options: Vec<Entry> = Vec::new();
    for e in global.into_iter().chain(entries) {
        options.retain(|o| o.key != e.key);
        options.push(e);
    }
    build(&options, name, &at)
}

fn flag_value(e: &Entry) -> Option<bool> {
    match e.value.as_deref().map(str::trim) {
        None => Some(true),
        Some("1" | "true" | "yes" | "on") => Some(true),
        Some("0" | "false" | "no" | "off") => Some(false),
        Some(_) => None,
    }
}

/// Reads option values, reporting failures at the option's line.
struct Values<'a> {
    at: &'a dyn Fn(usize, String, String) -> FioError,
}

impl Values<'_> {
    fn bad(&self, e: &Entry, why: String) -> FioError {
        (self.at)(e.line, format!("option `{}`", e.key), why)
    }

    fn need(&self, e: &Entry) -> Result<String, FioError> {
        e.value
            .clone()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| self.bad(e, "needs a value (`option=value`)".to_owned()))
    }

    fn size(&self, e: &Entry) -> Result<Size, FioError> {
        let v = self.need(e)?;
        v.parse::<Size>().map_err(|m| self.bad(e, m.to_string()))
    }

    fn count(&self, e: &Entry) -> Result<u32, FioError> {
        let v = self.need(e)?;
        v.parse::<u32>()
            .map_err(|_| self.bad(e, format!("`{v}` is not a whole number")))
    }

    /// fio reads a bare number of `runtime` or `ramp_time` as seconds (its time options
    /// default to seconds); nfslab's own grammar always wants the unit.
    fn time(&self, e: &Entry) -> Result<Span, FioError> {
        let v = self.need(e)?;
        let with_unit = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            format!("{v}s")
        } else {
            v.to_owned()
        };
        with_unit
            .parse::<Span>()
            .map_err(|m| self.bad(e, m.to_string()))
    }

    fn boolean(&self, e: &Entry) -> Result<bool, FioError> {
        flag_value(e).ok_or_else(|| {
            self.bad(
                e,
                format!("`{}` is not 0 or 1", e.value.clone().unwrap_or_default()),
            )
        })
    }

    fn percent(&self, e: &Entry) -> Result<u8, FioError> {
        let n = self.count(e)?;
        u8::try_from(n)
            .ok()
            .filter(|n| *n <= 100)
            .ok_or_else(|| self.bad(e, format!("`{n}` is not a percentage")))
    }

    /// `rw`: the pattern (without fio's `:N` offset modifier).
    fn pattern(&self, e: &Entry) -> Result<Pattern, FioError> {
        let v = self.need(e)?;
        let (kind, modifier) = v.split_once(':').unwrap_or((&v, ""));
        if !modifier.is_empty() {
            return Err(self.bad(
                e,
                format!("`{v}`: the `:N` offset modifier has no equivalent"),
            ));
        }
        Ok(match kind {
            "read" => Pattern::Read,
            "write" => Pattern::Write,
            "randread" => Pattern::Randread,
            "randwrite" => Pattern::Randwrite,
            "randrw" => Pattern::Randrw,
            other => {
                return Err(self.bad(
                    e,
                    format!(
                        "`{other}` has no equivalent (hint: read, write, randread, randwrite or randrw; sequential mixes and trims are not run)"
                    ),
                ));
            }
        })
    }

    /// `ioengine`, with a note where fio's engine runs as another one.
    fn ioengine(&self, e: &Entry, notes: &mut Vec<String>) -> Result<IoEngine, FioError> {
        let v = self.need(e)?;
        let engine = IoEngine::from_fio(&v.to_ascii_lowercase()).ok_or_else(|| {
            self.bad(
                e,
                format!(
                    "`{v}` has no equivalent (hint: libaio or io_uring for queue depth, psync for one request at a time)"
                ),
            )
        })?;
        if v == "libaio" {
            notes.push(
                "fio's libaio engine runs as io_uring (or submitter threads where io_uring is refused), with the same depth".to_owned(),
            );
        }
        Ok(engine)
    }

    /// `sync`: whether files open with O_SYNC.
    fn o_sync(&self, e: &Entry) -> Result<bool, FioError> {
        let v = e.value.clone().unwrap_or_else(|| "1".to_owned());
        match v.as_str() {
            "1" | "sync" => Ok(true),
            "0" | "none" => Ok(false),
            other => Err(self.bad(
                e,
                format!("`{other}` has no equivalent (hint: sync=1 opens with O_SYNC)"),
            )),
        }
    }
}

fn build(
    options: &[Entry],
    name: String,
    at: &dyn Fn(usize, String, String) -> FioError,
) -> Result<FioJob, FioError> {
    let values = Values { at };
    let need = |e: &Entry| values.need(e);
    let bad = |e: &Entry, why: String| values.bad(e, why);
    let size_of = |e: &Entry| values.size(e);
    let count = |e: &Entry| values.count(e);
    let time = |e: &Entry| values.time(e);
    let boolean = |e: &Entry| values.boolean(e);

    let mut pattern: Option<Pattern> = None;
    let mut job = Job::new(Pattern::Read);
    let mut directory = None;
    let mut notes = Vec::new();
    let (mut total_size, mut file_size) = (None, None);
    let mut time_based = false;
    let mut end_fsync = false;
    let mut rwmixwrite: Option<(u8, usize)> = None;
    for e in options {
        match e.key.as_str() {
            "rw" | "readwrite" => pattern = Some(values.pattern(e)?),
            "rwmixread" => job.rwmixread = Some(values.percent(e)?),
            "rwmixwrite" => rwmixwrite = Some((values.percent(e)?, e.line)),
            "bs" | "blocksize" => {
                let v = need(e)?;
                if v.contains([',', ':']) || v.contains('-') {
                    return Err(bad(
                        e,
                        format!(
                            "`{v}`: one block size for reads and writes (hint: ranges and per-direction sizes are not run)"
                        ),
                    ));
                }
                job.bs = Some(size_of(e)?);
            }
            "size" => total_size = Some((size_of(e)?, e)),
            "filesize" => {
                let v = need(e)?;
                if v.contains('-') {
                    return Err(bad(e, format!("`{v}`: one file size (hint: no ranges)")));
                }
                file_size = Some(size_of(e)?);
            }
            "nrfiles" => job.nrfiles = Some(count(e)?),
            "numjobs" => job.threads = count(e)?,
            "iodepth" => job.iodepth = count(e)?,
            "ioengine" => job.ioengine = Some(values.ioengine(e, &mut notes)?),
            "runtime" | "timeout" => job.runtime = Some(time(e)?),
            "time_based" => time_based = boolean(e)?,
            "io_size" | "io_limit" => job.io_size = Some(size_of(e)?),
            "ramp_time" => job.ramp_time = Some(time(e)?),
            "direct" => {
                job.direct = Some(if boolean(e)? {
                    DirectMode::Required
                } else {
                    DirectMode::Off
                });
            }
            "buffered" => {
                job.direct = Some(if boolean(e)? {
                    DirectMode::Off
                } else {
                    DirectMode::Required
                });
            }
            "fsync" | "fdatasync" => {
                let n = count(e)?;
                if n > 0 {
                    job.fsync = Some(FsyncPolicy::Every(n));
                    if e.key == "fdatasync" {
                        job.sync_call = SyncCall::Fdatasync;
                    }
                }
            }
            "end_fsync" => end_fsync = boolean(e)?,
            "sync" => job.o_sync = values.o_sync(e)?,
            "randseed" => {
                let v = need(e)?;
                job.seed = v
                    .parse()
                    .map_err(|_| bad(e, format!("`{v}` is not a number")))?;
            }
            "verify" => {
                let v = e.value.clone().unwrap_or_default();
                if v != "0" && v != "null" {
                    job.verify = true;
                    notes.push(format!(
                        "fio's verify={v} runs as nfslab-io's own verification (self-describing blocks, every block read back is checked)"
                    ));
                }
            }
            "directory" => directory = Some(PathBuf::from(need(e)?)),
            key if NEUTRAL.contains(&key) => {}
            "filename" | "filename_format" | "opendir" => {
                return Err(bad(
                    e,
                    "nfslab-io names its own files (hint: use `directory`, or --dir)".to_owned(),
                ));
            }
            _ => {
                return Err(bad(
                    e,
                    "nfslab-io cannot honour it (hint: remove it to run the rest; the job would differ from what fio runs)".to_owned(),
                ));
            }
        }
    }
    // fio's default is a sequential read.
    job.pattern = pattern.unwrap_or(Pattern::Read);
    finish(
        job,
        name,
        directory,
        notes,
        (total_size, file_size),
        time_based,
        end_fsync,
        rwmixwrite,
        at,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    mut job: Job,
    name: String,
    directory: Option<PathBuf>,
    mut notes: Vec<String>,
    (total_size, file_size): (Option<(Size, &Entry)>, Option<Size>),
    time_based: bool,
    end_fsync: bool,
    rwmixwrite: Option<(u8, usize)>,
    at: &dyn Fn(usize, String, String) -> FioError,
) -> Result<FioJob, FioError> {
    if let Some((write_pct, line)) = rwmixwrite {
        if job.rwmixread.is_none() {
            job.rwmixread = Some(100 - write_pct);
        } else if job.rwmixread != Some(100 - write_pct) {
            return Err(at(
                line,
                "option `rwmixwrite`".to_owned(),
                "contradicts `rwmixread` (the two add up to 100)".to_owned(),
            ));
        }
    }
    if job.pattern != Pattern::Randrw
        && let Some(pct) = job.rwmixread.take()
        && pct != 100
        && pct != 0
    {
        notes.push(format!(
            "rwmixread={pct} has no effect on rw={}",
            job.pattern
        ));
    }
    // fio's size is the job's total, split over its files; filesize is per file.
    let files = u64::from(job.nrfiles.unwrap_or(1).max(1));
    job.size = match (file_size, total_size) {
        (Some(per_file), _) => Some(per_file),
        (None, Some((total, entry))) => {
            if total.bytes() % files != 0 {
                return Err(at(
                    entry.line,
                    "option `size`".to_owned(),
                    format!(
                        "`{}` does not split evenly over {files} files (hint: set filesize)",
                        entry.value.clone().unwrap_or_default()
                    ),
                ));
            }
            Some(Size(total.bytes() / files))
        }
        (None, None) => job.size,
    };
    if job.runtime.is_some() && !time_based && job.io_size.is_none() {
        // fio stops at whichever comes first: the runtime or one pass over the files.
        if let Some(per_file) = job.size {
            job.io_size = Some(Size(per_file.bytes() * files));
        }
    }
    if time_based && job.runtime.is_none() {
        notes.push("time_based without runtime: one pass over the files".to_owned());
    }
    if end_fsync && job.fsync.is_none() {
        job.fsync = Some(FsyncPolicy::End);
    }
    if job.pattern.writes() && job.fsync.is_none() {
        // fio does not flush unless told to.
        job.fsync = Some(FsyncPolicy::None);
    }
    if job.pattern.reads() && job.direct.is_none() {
        // fio reads through the page cache unless told otherwise.
        job.direct = Some(DirectMode::Off);
    }
    Ok(FioJob {
        job,
        directory,
        name,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<FioJob, FioError> {
        job_from_fio(text, "job.fio")
    }

    #[test]
    fn the_common_subset_maps_to_a_job() {
        let f = read(
            "; a typical random read job\n[global]\nioengine=libaio\ndirect=1\nbs=4k\n\
             group_reporting\ntime_based\nruntime=30\nramp_time=2s\n\n[rand-read]\n\
             rw=randread\nsize=2g\nnrfiles=2\nnumjobs=4\niodepth=32\ndirectory=/mnt/nfs\n",
        )
        .unwrap();
        let j = &f.job;
        assert_eq!(f.name, "rand-read");
        assert_eq!(j.pattern, Pattern::Randread);
        assert_eq!(j.bs, Some(Size(4096)));
        assert_eq!(
            j.size,
            Some(Size(1 << 30)),
            "fio's size is split over the files"
        );
        assert_eq!((j.nrfiles, j.threads, j.iodepth), (Some(2), 4, 32));
        assert_eq!(j.ioengine, Some(IoEngine::IoUring));
        assert_eq!(j.direct, Some(DirectMode::Required));
        assert_eq!(
            j.runtime.map(Span::duration),
            Some(std::time::Duration::from_secs(30))
        );
        assert_eq!(j.io_size, None, "time_based loops over the files");
        assert_eq!(f.directory.as_deref(), Some(Path::new("/mnt/nfs")));
        assert!(f.notes.iter().any(|n| n.contains("libaio")));
        j.validate().unwrap();
    }

    #[test]
    fn writes_mixes_and_syncs() {
        let f = read(
            "[w]\nreadwrite=randrw\nrwmixwrite=30\nbs=8k\nfilesize=64m\nfdatasync=16\n\
             ioengine=psync\nruntime=10\nbuffered=1\nrandseed=7\nverify=crc32c\n",
        )
        .unwrap();
        let j = &f.job;
        assert_eq!((j.pattern, j.rwmixread), (Pattern::Randrw, Some(70)));
        assert_eq!(j.size, Some(Size(64 << 20)));
        assert_eq!(j.fsync, Some(FsyncPolicy::Every(16)));
        assert_eq!(j.sync_call, SyncCall::Fdatasync);
        assert_eq!(j.ioengine, Some(IoEngine::Sync));
        assert_eq!(j.direct, Some(DirectMode::Off));
        assert_eq!(
            j.io_size,
            Some(Size(64 << 20)),
            "runtime without time_based: one pass at most"
        );
        assert_eq!(j.seed, 7);
        assert!(j.verify);
        let f = read("[w]\nrw=write\nend_fsync=1\n").unwrap();
        assert_eq!(f.job.fsync, Some(FsyncPolicy::End));
        let f = read("[w]\nrw=write\n").unwrap();
        assert_eq!(
            f.job.fsync,
            Some(FsyncPolicy::None),
            "fio does not flush unless asked"
        );
        let f = read("[r]\n").unwrap();
        assert_eq!(
            (f.job.pattern, f.job.direct),
            (Pattern::Read, Some(DirectMode::Off))
        );
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_with_its_line() {
        let cases = [
            (
                "[j]\nrw=randread\nzonemode=zbd\n",
                3,
                "option `zonemode`",
                "cannot honour",
            ),
            ("[j]\nrw=rw\n", 2, "option `rw`", "`rw` has no equivalent"),
            (
                "[j]\nrw=randread\nbs=4k-64k\n",
                3,
                "option `bs`",
                "one block size",
            ),
            ("[j]\nbs=4k,8k\n", 2, "option `bs`", "one block size"),
            (
                "[j]\nioengine=mmap\n",
                2,
                "option `ioengine`",
                "`mmap` has no equivalent",
            ),
            (
                "[j]\nfilename=/dev/sdb\n",
                2,
                "option `filename`",
                "names its own files",
            ),
            (
                "[a]\nrw=read\n[b]\nrw=write\n",
                3,
                "job `[b]`",
                "a second job",
            ),
            (
                "[j]\nnumjobs=four\n",
                2,
                "option `numjobs`",
                "not a whole number",
            ),
            ("[j]\nsize=1x\n", 2, "option `size`", "1x"),
            (
                "[j]\nnrfiles=3\nsize=1g\n",
                3,
                "option `size`",
                "does not split evenly",
            ),
            ("rw=read\n", 1, "`rw=read`", "before any section"),
            ("[global]\nbs=4k\n", 2, "job", "no job section"),
            ("[j]\ninclude other.fio\n", 2, "include", "not read"),
            (
                "[j]\nrwmixread=70\nrwmixwrite=20\nrw=randrw\n",
                3,
                "option `rwmixwrite`",
                "contradicts",
            ),
            ("[j]\ndirect=maybe\n", 2, "option `direct`", "not 0 or 1"),
        ];
        for (text, line, what, why) in cases {
            let err = read(text).unwrap_err();
            let shown = err.to_string();
            assert_eq!(err.line(), Some(line), "{text:?}: {shown}");
            assert!(
                shown.starts_with(&format!("job.fio:{line}: {what}: ")),
                "{shown}"
            );
            assert!(shown.contains(why), "{text:?}: {shown}");
            assert!(!shown.contains('\n'), "{shown}");
        }
    }
}
