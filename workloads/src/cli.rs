//! Argument structs of `nfslab-io` (clap) and their dispatch to the library. Options only
//! parse here; [`JobArgs::apply`] turns flags into the library's [`Job`].

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::Backend;
use crate::backend::nfs::target::is_nfs_url;
use crate::backend::nfs::{InputError, NfsBackend};
use crate::backend::posix::PosixBackend;
use crate::engine::{RunOptions, StartError, run};
use crate::exit::{ExitCode, error_chain};
use crate::fio::load_fio_file;
use crate::job::{
    DirectMode, FsyncPolicy, IoEngine, Job, JobFileError, Pattern, SyncCall, load_job_file,
    locate_field,
};
use crate::mount::mount_section;
use crate::summary::summary;
use crate::tools::{files, http, signals};
use crate::units::{Size, Span};
use clap::{Args, Parser, Subcommand};

const RUN_EXAMPLES: &str = "\
Examples:
  # 4 threads of 4 KiB random reads on 1 GiB files for 30 s, O_DIRECT
  nfslab-io run --dir /data --pattern randread --bs 4k --size 1g --threads 4 --runtime 30s --direct

  # write 256 MiB sequentially in 1 MiB blocks, fsync at the end, then verify every block
  nfslab-io run --dir /data --pattern write --bs 1m --size 256m --verify

  # a job file (same fields as benchmark plans), with one flag overriding it
  nfslab-io run --dir /data --job randrw.yaml --runtime 10s

  # a fio job file, or fio's option names (libaio runs as io_uring, same depth)
  nfslab-io run --dir /data --fio randread.fio
  nfslab-io run --dir /data --rw randread --blocksize 4k --numjobs 4 --iodepth 32 \
    --ioengine libaio --direct=1 --runtime 30s

  # the same job against an NFSv3 server from user space (no mount, no root)
  nfslab-io run --target nfs://10.0.0.5/export/bench --pattern randread --bs 4k --iodepth 16 \
    --nfs-options rsize=1048576,nconnect=4,hard,timeo=600

  # explicit ports instead of the portmapper, soft retries with ETIMEDOUT
  nfslab-io run --target 'nfs://127.0.0.1/srv/export?nfsport=2049&mountport=20048' \
    --pattern write --bs 1m --size 1g --verify --nfs-options softerr,timeo=50,retrans=2

  # lay files out once, start the measured phase when /data/go appears (several clients)
  nfslab-io run --dir /data --pattern read --bs 1m --size 4g --layout-only
  nfslab-io run --dir /data --pattern read --bs 1m --size 4g --start-barrier /data/go

  # say when IO is under way (/run/go/progress appears once every thread completed a
  # write) and write until /run/go/stop appears, 10 minutes at most
  nfslab-io run --dir /data --pattern write --bs 64k --size 256m --runtime 10m \
    --progress-file /run/go/progress --stop-file /run/go/stop

Job file (YAML):
  pattern: randrw        # read write randread randwrite randrw metadata fsync-latency
  bs: 4k
  size: 1g               # per file
  nrfiles: 1             # per thread
  threads: 4
  rwmixread: 70
  runtime: 30s           # or io_size: 4g (per thread), or neither: one pass
  ramp_time: 2s
  direct: on             # off | on (fallback with a note) | required
  fsync: end             # none | end | N (every N writes)
  verify: true

The JSON result goes to stdout (and --output FILE); a summary goes to stderr.
Exit codes: 0 ok, 2 bad input (nothing done), 3 IO error (partial result printed,
created files removed unless --keep), 4 verification failed.";

const TOP_EXAMPLES: &str = "\
Examples:
  nfslab-io run --dir /data --pattern randread --bs 4k --size 1g --threads 4 --runtime 30s
  nfslab-io run --help                         # the job flags, job files, exit codes
  nfslab-io file write /data/index.html --content 'hello' --parents
  nfslab-io check-empty /data                  # exit 1 and a listing if anything is there
  nfslab-io serve --dir /data --port 8080      # static HTTP until SIGTERM
  nfslab-io get http://web:8080/               # body on stdout, non-2xx exits 1
  nfslab-io wait-file /data/go --timeout 5m    # start barrier for parallel clients
  nfslab-io mountinfo /data                    # effective mount options as JSON
  nfslab-io sleep                              # keep a pod alive until SIGTERM

Exit codes: 0 ok, 1 check failed, 2 bad input, 3 IO error, 4 verification failed.";

/// The nfslab IO engine (fio-style jobs on a directory) and the helpers scenarios use
/// inside pods.
#[derive(Debug, Parser)]
#[command(name = "nfslab-io", version, long_about = None, propagate_version = true, after_help = TOP_EXAMPLES)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a workload on a directory or an nfs:// target and print its JSON result.
    #[command(after_long_help = RUN_EXAMPLES)]
    Run(Box<RunArgs>),
    /// Write, append to or print a file.
    #[command(subcommand)]
    File(FileCommand),
    /// List a directory, dotfiles included.
    Ls {
        /// The directory.
        dir: PathBuf,
        /// One line per entry with type, mode, uid, gid and size.
        #[arg(short, long, conflicts_with = "json")]
        long: bool,
        /// One JSON array of entries (name, kind, size, mode, uid, gid): what nfslab reads.
        #[arg(long)]
        json: bool,
    },
    /// Exit 0 if a directory is empty (dotfiles count); otherwise list it and exit 1.
    CheckEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// Create a directory with a mode and owner.
    Mkdir {
        /// The directory.
        path: PathBuf,
        /// Octal permission bits.
        #[arg(long, default_value = "755", value_parser = parse_mode)]
        mode: u32,
        /// Numeric owner `UID:GID`.
        #[arg(long, value_parser = parse_owner)]
        owner: Option<(u32, u32)>,
        /// Create missing parents.
        #[arg(short, long)]
        parents: bool,
    },
    /// Remove a file or empty directory (`-r`: anything).
    Rm {
        /// The path.
        path: PathBuf,
        /// Remove directories and their content.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Rename a file or directory.
    Rename {
        /// Current path.
        from: PathBuf,
        /// New path.
        to: PathBuf,
    },
    /// Serve a directory over HTTP (GET and HEAD; `index.html` for directories) until
    /// SIGTERM.
    Serve {
        /// Directory to serve.
        #[arg(long)]
        dir: PathBuf,
        /// TCP port (1 to 65535).
        #[arg(long, default_value_t = 8080, value_parser = clap::value_parser!(u16).range(1..))]
        port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "0.0.0.0")]
        bind: String,
    },
    /// HTTP GET a URL and print the body; a non-2xx status exits 1.
    Get {
        /// `http://host[:port]/path`.
        url: String,
        /// Bound on connecting and on each read.
        #[arg(long, default_value = "10s", allow_hyphen_values = true)]
        timeout: Span,
    },
    /// Wait until a path exists; exit 1 on timeout.
    WaitFile {
        /// The path.
        path: PathBuf,
        /// Longest wait.
        #[arg(long, default_value = "5m", allow_hyphen_values = true)]
        timeout: Span,
    },
    /// Print the JSON mount section (mountinfo entry, NFS options) for a path.
    Mountinfo {
        /// The path.
        path: PathBuf,
    },
    /// Stay alive until SIGTERM or SIGINT, then exit 0.
    Sleep,
    /// Print what the running kernel offers NFS as JSON: release, registered file systems,
    /// NFS modules of /lib/modules/<release> (run in a container to see the daemon's kernel).
    Kernel,
}

/// `file` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum FileCommand {
    /// Write CONTENT to PATH (replacing it) and flush it.
    Write(FileWriteArgs),
    /// Append CONTENT to PATH (creating it) and flush it.
    Append(FileWriteArgs),
    /// Print PATH's content.
    Cat {
        /// The file.
        path: PathBuf,
    },
}

/// Arguments of `file write` and `file append`.
#[derive(Debug, Args)]
pub(crate) struct FileWriteArgs {
    /// The file.
    pub path: PathBuf,
    /// Text to write.
    #[arg(long)]
    pub content: String,
    /// Add a newline after the content.
    #[arg(long)]
    pub newline: bool,
    /// Create missing parent directories.
    #[arg(short, long)]
    pub parents: bool,
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Directory to run in (a mounted volume or a local directory).
    #[arg(long, env = "NFSLAB_DIR", help_heading = "Target")]
    pub dir: Option<PathBuf>,
    /// Where to run: a directory, or nfs://HOST/EXPORT for NFSv3 from user space without a
    /// mount (also nfs://HOST:PORT/EXPORT/DIR?OPTION&OPTION).
    #[arg(long, env = "NFSLAB_TARGET", help_heading = "Target")]
    pub target: Option<String>,
    /// NFS client options for nfs:// targets, in mount -o syntax: vers=3, rsize, wsize,
    /// nconnect, max_inflight, hard|soft|softerr, timeo (deciseconds), retrans, ac|noac,
    /// actimeo, rdirplus|nordirplus, sync|stable=unstable|data_sync|file_sync, uid, gid,
    /// nfsport, mountport, pmapport, resvport, connect_timeout, dirty_limit.
    #[arg(long, env = "NFSLAB_NFS_OPTIONS", help_heading = "Target")]
    pub nfs_options: Option<String>,
    /// File name prefix, so several clients can share a directory.
    #[arg(long, default_value = "nfslab", help_heading = "Target")]
    pub prefix: String,
    /// YAML job file; flags given as well override its fields.
    #[arg(long, help_heading = "Job")]
    pub job: Option<PathBuf>,
    /// fio job file (one job: `[global]` and one section); its common subset maps to the
    /// job, anything it cannot honour is refused with file:line; flags override it, and its
    /// `directory` is used when neither --dir nor --target is given.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "job",
        help_heading = "Job"
    )]
    pub fio: Option<PathBuf>,
    /// Job fields.
    #[command(flatten)]
    pub fields: JobArgs,
    /// Also write the JSON result to this file.
    #[arg(long, help_heading = "Output")]
    pub output: Option<PathBuf>,
    /// Print the JSON result on one line.
    #[arg(long, help_heading = "Output")]
    pub compact: bool,
    /// Keep the files the run created.
    #[arg(long, help_heading = "Phases")]
    pub keep: bool,
    /// Only lay out the files (not measured) and keep them; a later run reuses them.
    #[arg(long, help_heading = "Phases")]
    pub layout_only: bool,
    /// The files were laid out by an earlier `--layout-only` run: reuse them without a note
    /// (any that are missing or of another size are laid out as usual).
    #[arg(long, help_heading = "Phases", conflicts_with = "layout_only")]
    pub reuse_layout: bool,
    /// Wait until this file exists before the measured phase (start clients together).
    #[arg(long, help_heading = "Phases")]
    pub start_barrier: Option<PathBuf>,
    /// Longest wait for the start barrier.
    #[arg(
        long,
        default_value = "10m",
        allow_hyphen_values = true,
        help_heading = "Phases"
    )]
    pub barrier_timeout: Span,
    /// Write this file once every worker has completed an operation of the measured phase,
    /// so another process knows IO is under way (it waits with `wait-file`).
    #[arg(long, help_heading = "Phases")]
    pub progress_file: Option<PathBuf>,
    /// End the measured phase when this file appears (checked every 10 ms), as if the
    /// runtime had run out: written data is still synced and verified.
    #[arg(long, help_heading = "Phases")]
    pub stop_file: Option<PathBuf>,
}

/// Job fields as flags; each maps to the [`Job`] field of the same name. fio's option
/// names are accepted as aliases (`--rw`, `--blocksize`, `--filesize`, `--numjobs`,
/// `--io_size`, `--ramp_time`, `--ioengine=libaio`...), with our meanings: `--size` is per
/// file, as fio's `filesize`.
#[derive(Debug, Args, Default)]
pub(crate) struct JobArgs {
    /// read, write, randread, randwrite, randrw, metadata, fsync-latency (fio: --rw).
    #[arg(long, visible_alias = "rw", alias = "readwrite", help_heading = "Job")]
    pub pattern: Option<Pattern>,
    /// Block size (`4k`, `1m`; default 4k) (fio: --blocksize).
    #[arg(
        long,
        alias = "blocksize",
        allow_hyphen_values = true,
        help_heading = "Job"
    )]
    pub bs: Option<Size>,
    /// Size of each file (default 64m; metadata 4k) (fio: --filesize).
    #[arg(
        long,
        alias = "filesize",
        allow_hyphen_values = true,
        help_heading = "Job"
    )]
    pub size: Option<Size>,
    /// Files per thread (default 1; metadata 256).
    #[arg(long, allow_hyphen_values = true, value_parser = count_arg, help_heading = "Job")]
    pub nrfiles: Option<u32>,
    /// Worker threads, each on its own files (fio: --numjobs).
    #[arg(
        long,
        visible_alias = "numjobs",
        allow_hyphen_values = true,
        value_parser = count_arg,
        help_heading = "Job"
    )]
    pub threads: Option<u32>,
    /// Requests in flight per thread (default 1).
    #[arg(long, allow_hyphen_values = true, value_parser = count_arg, help_heading = "Job")]
    pub iodepth: Option<u32>,
    /// How directories keep iodepth requests in flight: auto (io_uring above depth 1,
    /// submitter threads where io_uring is unavailable), io_uring, threads, sync; fio's
    /// libaio, psync and posixaio map to them.
    #[arg(long, help_heading = "Job")]
    pub ioengine: Option<IoEngine>,
    /// Read percentage of randrw (0-100).
    #[arg(long, allow_hyphen_values = true, value_parser = clap::value_parser!(u8).range(0..=100), help_heading = "Job")]
    pub rwmixread: Option<u8>,
    /// Measured time (`30s`, `2m`); threads loop over their files.
    #[arg(long, allow_hyphen_values = true, help_heading = "Job")]
    pub runtime: Option<Span>,
    /// Bytes per thread in the measured phase (default one pass) (fio: --io_size).
    #[arg(long, aliases = ["io_size", "io_limit"], allow_hyphen_values = true, help_heading = "Job")]
    pub io_size: Option<Size>,
    /// IO before the measured window, excluded from statistics (fio: --ramp_time).
    #[arg(
        long,
        alias = "ramp_time",
        allow_hyphen_values = true,
        help_heading = "Job"
    )]
    pub ramp_time: Option<Span>,
    /// off, on (fallback to buffered with a note), required. `--direct` alone means on.
    #[arg(long, num_args = 0..=1, default_missing_value = "on", require_equals = false, help_heading = "Job")]
    pub direct: Option<DirectMode>,
    /// none, end, or N (every N writes).
    #[arg(long, help_heading = "Job")]
    pub fsync: Option<FsyncPolicy>,
    /// fsync or fdatasync.
    #[arg(long, help_heading = "Job")]
    pub sync_call: Option<SyncCall>,
    /// Open files with O_SYNC.
    #[arg(long, help_heading = "Job")]
    pub o_sync: bool,
    /// Write a self-checking pattern and verify every block read back.
    #[arg(long, help_heading = "Job")]
    pub verify: bool,
    /// Seed of offsets and data (fio: --randseed).
    #[arg(long, alias = "randseed", help_heading = "Job")]
    pub seed: Option<u64>,
}

impl JobArgs {
    /// Overrides `job`'s fields with the flags given; returns the fields set.
    pub(crate) fn apply(&self, job: &mut Job) -> Vec<&'static str> {
        let mut set = Vec::new();
        macro_rules! take {
            ($field:ident, $value:expr) => {
                if let Some(v) = $value {
                    job.$field = v;
                    set.push(stringify!($field));
                }
            };
        }
        take!(pattern, self.pattern);
        take!(bs, self.bs.map(Some));
        take!(size, self.size.map(Some));
        take!(nrfiles, self.nrfiles.map(Some));
        take!(threads, self.threads);
        take!(iodepth, self.iodepth);
        take!(ioengine, self.ioengine.map(Some));
        take!(rwmixread, self.rwmixread.map(Some));
        take!(runtime, self.runtime.map(Some));
        take!(io_size, self.io_size.map(Some));
        take!(ramp_time, self.ramp_time.map(Some));
        take!(direct, self.direct.map(Some));
        take!(fsync, self.fsync.map(Some));
        take!(sync_call, self.sync_call);
        take!(o_sync, self.o_sync.then_some(true));
        take!(verify, self.verify.then_some(true));
        take!(seed, self.seed);
        set
    }
}

/// The whole command line of the engine: parses `args` (the first is the program name, as
/// in [`std::env::args_os`]), runs the command and returns its exit code. `bin_name` is how
/// usage lines name the program: `nfslab-io`, or `nfslab io` when the harness runs the
/// engine built into it. Bad flags print clap's first line (naming the flag and the value)
/// and exit 2; `--help` and `--version` print and exit 0.
pub fn main_with<I, T>(args: I, bin_name: &str) -> std::process::ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory as _, FromArgMatches as _};
    let command = Cli::command().bin_name(bin_name.to_owned());
    let parsed = command
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            // Bad flags: one line naming the flag and the value (clap's first line).
            let rendered = e.render().to_string();
            eprintln!(
                "{}",
                rendered
                    .lines()
                    .next()
                    .unwrap_or("error: invalid arguments")
            );
            return ExitCode::BadInput.into();
        }
    };
    dispatch(cli).into()
}

/// A count flag (`--threads`, `--iodepth`, `--nrfiles`): a whole number; zero and the upper
/// limits are checked with the job, which names the field's range.
fn count_arg(text: &str) -> Result<u32, String> {
    if text.trim_start().starts_with('-') {
        return Err(format!("`{text}` is negative (give a whole number from 1)"));
    }
    text.trim()
        .parse::<u32>()
        .map_err(|_| format!("`{text}` is not a whole number from 0 to {}", u32::MAX))
}

fn parse_mode(text: &str) -> Result<u32, String> {
    files::parse_mode(text).map_err(|e| e.to_string())
}

fn parse_owner(text: &str) -> Result<(u32, u32), String> {
    files::parse_owner(text).map_err(|e| e.to_string())
}

fn flag(field: &str) -> String {
    format!("--{}", field.replace('_', "-"))
}

fn error_line(text: &str) {
    eprintln!("error: {text}");
}

/// Runs a parsed command; returns the exit code.
pub(crate) fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => run_command(&args),
        Command::File(FileCommand::Write(a)) => file_write(&a, false),
        Command::File(FileCommand::Append(a)) => file_write(&a, true),
        Command::File(FileCommand::Cat { path }) => match files::read_file(&path) {
            Ok(bytes) => {
                let mut out = std::io::stdout().lock();
                if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
                    return ExitCode::IoError;
                }
                ExitCode::Ok
            }
            Err(e) => report_file_error(&e),
        },
        Command::Ls { dir, long, json } => match files::list_dir(&dir) {
            Ok(entries) if json => match serde_json::to_string(&entries) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::Ok
                }
                Err(e) => {
                    eprintln!(
                        "error: cannot encode the listing of `{}`: {e}",
                        dir.display()
                    );
                    ExitCode::IoError
                }
            },
            Ok(entries) => {
                for e in entries {
                    println!("{}", if long { e.long_line() } else { e.name });
                }
                ExitCode::Ok
            }
            Err(e) => report_file_error(&e),
        },
        Command::CheckEmpty { dir } => match files::list_dir(&dir) {
            Ok(entries) if entries.is_empty() => ExitCode::Ok,
            Ok(entries) => {
                eprintln!(
                    "`{}` is not empty: {} entries",
                    dir.display(),
                    entries.len()
                );
                for e in entries {
                    println!("{}", e.long_line());
                }
                ExitCode::CheckFailed
            }
            Err(e) => report_file_error(&e),
        },
        Command::Mkdir {
            path,
            mode,
            owner,
            parents,
        } => done(files::make_dir(&path, mode, owner, parents)),
        Command::Rm { path, recursive } => done(files::remove(&path, recursive)),
        Command::Rename { from, to } => done(files::rename(&from, &to)),
        Command::Serve { dir, port, bind } => serve(&dir, &bind, port),
        Command::Get { url, timeout } => get(&url, timeout.duration()),
        Command::WaitFile { path, timeout } => {
            match crate::driver::wait_for_file(&path, timeout.duration()) {
                Some(_) => ExitCode::Ok,
                None => {
                    error_line(&format!(
                        "`{}` did not appear within {}",
                        path.display(),
                        timeout
                    ));
                    ExitCode::CheckFailed
                }
            }
        }
        Command::Mountinfo { path } => match mount_section(&path) {
            Ok(section) => print_json(&section, false),
            Err(e) => {
                error_line(&error_chain(&e));
                ExitCode::IoError
            }
        },
        Command::Sleep => sleep(),
        Command::Kernel => print_json(&crate::tools::kernel::collect(Path::new("/")), false),
    }
}

/// An error and its sources on one line.
fn report_file_error(e: &files::FileError) -> ExitCode {
    error_line(&error_chain(e));
    match e.source.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidInput => ExitCode::BadInput,
        _ => ExitCode::IoError,
    }
}

fn done(result: Result<(), files::FileError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::Ok,
        Err(e) => report_file_error(&e),
    }
}

fn file_write(args: &FileWriteArgs, append: bool) -> ExitCode {
    let mut content = args.content.clone().into_bytes();
    if args.newline {
        content.push(b'\n');
    }
    done(if append {
        files::append_file(&args.path, &content, args.parents)
    } else {
        files::write_file(&args.path, &content, args.parents)
    })
}

fn print_json<T: serde::Serialize>(value: &T, compact: bool) -> ExitCode {
    let text = if compact {
        serde_json::to_string(value)
    } else {
        serde_json::to_string_pretty(value)
    };
    match text {
        Ok(t) => {
            println!("{t}");
            ExitCode::Ok
        }
        Err(e) => {
            error_line(&format!("cannot encode the result as JSON: {e}"));
            ExitCode::IoError
        }
    }
}

/// A job read from flags, a job file or a fio job file.
struct Loaded {
    job: Job,
    /// Fields set by flags.
    set: Vec<&'static str>,
    /// The YAML job file's text (to point errors into it).
    text: Option<String>,
    /// The fio job file's `directory`.
    fio_dir: Option<PathBuf>,
    /// What the fio file mapped with a change of meaning.
    notes: Vec<String>,
}

fn load_job(args: &RunArgs) -> Result<Loaded, String> {
    let (mut job, text, fio_dir, notes) = match (&args.job, &args.fio) {
        (Some(path), _) => match load_job_file_keep_invalid(path) {
            Ok((job, text)) => (job, Some(text), None, Vec::new()),
            Err(e) => return Err(error_chain(&e)),
        },
        (None, Some(path)) => match load_fio_file(path) {
            Ok(f) => (f.job, None, f.directory, f.notes),
            Err(e) => return Err(e.to_string()),
        },
        (None, None) => {
            let pattern = args.fields.pattern.ok_or_else(|| {
                "missing --pattern (hint: give --pattern, --job FILE or --fio FILE)".to_owned()
            })?;
            (Job::new(pattern), None, None, Vec::new())
        }
    };
    let set = args.fields.apply(&mut job);
    Ok(Loaded {
        job,
        set,
        text,
        fio_dir,
        notes,
    })
}

/// Reads a job file; field checks are left to the run (so flags can fix a bad field).
fn load_job_file_keep_invalid(path: &Path) -> Result<(Job, String), JobFileError> {
    match load_job_file(path) {
        Ok(job) => Ok((job, std::fs::read_to_string(path).unwrap_or_default())),
        Err(JobFileError::Invalid { .. }) => {
            let text = std::fs::read_to_string(path).map_err(|source| JobFileError::Read {
                path: path.display().to_string(),
                source,
            })?;
            let job = crate::job::job_from_yaml(&text, &path.display().to_string())?;
            Ok((job, text))
        }
        Err(e) => Err(e),
    }
}

fn where_is(field: &str, set_by_flag: &[&str], job_file: Option<(&Path, &str)>) -> String {
    if set_by_flag.contains(&field) || field == "dir" || field == "target" {
        return flag(field);
    }
    match job_file {
        Some((path, text)) => match locate_field(text, field) {
            Some((line, column)) => format!("{}:{line}:{column}: field `{field}`", path.display()),
            None => format!("{}: field `{field}`", path.display()),
        },
        None => flag(field),
    }
}

/// `--output`: a file that can be written once the run ends, checked before it starts so a
/// long run never ends in a result that cannot be saved.
fn check_output(path: &Path) -> Result<(), String> {
    let shown = path.display();
    if path.is_dir() {
        return Err(format!(
            "--output: `{shown}` is a directory (hint: name the file to write, e.g. `{}`)",
            path.join("result.json").display()
        ));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(format!(
            "--output: the directory `{}` does not exist (hint: create it first, or write \
             the result elsewhere)",
            parent.display()
        ));
    }
    Ok(())
}

fn run_command(args: &RunArgs) -> ExitCode {
    if let Err(e) = crate::names::check_component("file name prefix", &args.prefix) {
        error_line(&format!("--prefix: {e}"));
        return ExitCode::BadInput;
    }
    if let Some(output) = &args.output
        && let Err(message) = check_output(output)
    {
        error_line(&message);
        return ExitCode::BadInput;
    }
    let Loaded {
        job,
        set,
        text,
        fio_dir,
        notes,
    } = match load_job(args) {
        Ok(v) => v,
        Err(message) => {
            error_line(&message);
            return ExitCode::BadInput;
        }
    };
    for n in &notes {
        eprintln!("note: {n}");
    }
    let job_file = args.job.as_deref().zip(text.as_deref());
    let target = match (&args.target, &args.dir, fio_dir) {
        (Some(_), Some(_), _) => {
            error_line("--target and --dir both name where to run (hint: give one of them)");
            return ExitCode::BadInput;
        }
        (None, None, None) => {
            error_line("missing --target or --dir (hint: a directory, or nfs://HOST/EXPORT)");
            return ExitCode::BadInput;
        }
        (Some(t), None, _) => t.clone(),
        (None, Some(d), _) => d.display().to_string(),
        (None, None, Some(d)) => d.display().to_string(),
    };
    if !is_nfs_url(&target) {
        if target.contains("://") {
            error_line(&format!(
                "--target: `{target}` uses an unknown scheme (hint: a directory path, or nfs://HOST/EXPORT)"
            ));
            return ExitCode::BadInput;
        }
        if let Some(o) = &args.nfs_options {
            error_line(&format!(
                "--nfs-options: `{o}` applies to nfs:// targets only, and `{target}` is a directory"
            ));
            return ExitCode::BadInput;
        }
        let mut backend = PosixBackend::new(Path::new(&target), &args.prefix);
        return run_with(args, &job, &set, job_file, &mut backend);
    }
    match NfsBackend::new(
        &target,
        args.nfs_options.as_deref().unwrap_or_default(),
        &args.prefix,
    ) {
        Ok(mut backend) => run_with(args, &job, &set, job_file, &mut backend),
        Err(InputError::Target(e)) => {
            error_line(&format!("--target: {}", error_chain(&e)));
            ExitCode::BadInput
        }
        Err(InputError::Options(e)) => {
            error_line(&format!("--nfs-options: {}", error_chain(&e)));
            ExitCode::BadInput
        }
    }
}

/// Runs `job` on `backend` and prints the result.
fn run_with<B: Backend>(
    args: &RunArgs,
    job: &Job,
    set: &[&'static str],
    job_file: Option<(&Path, &str)>,
    backend: &mut B,
) -> ExitCode {
    let options = RunOptions {
        keep: args.keep,
        start_barrier: args.start_barrier.clone(),
        barrier_timeout: args.barrier_timeout.duration(),
        progress_file: args.progress_file.clone(),
        stop_file: args.stop_file.clone(),
        layout_only: args.layout_only,
        reuse_expected: args.reuse_layout,
    };
    let mut note = |text: &str| eprintln!("note: {text}");
    let outcome = match run(job, backend, &options, &mut note) {
        Ok(o) => o,
        Err(e) => {
            // The target's problems name the flag the user gave it with.
            let target_flag = if args.target.is_some() {
                "target"
            } else {
                "dir"
            };
            let location = e.field().map(|f| match f {
                "dir" | "target" => flag(target_flag),
                other => where_is(other, set, job_file),
            });
            let message = match (&e, location) {
                (StartError::Prepare(p), Some(loc)) if p.field() == Some("dir") => {
                    format!("{loc}: {}", error_chain(&e))
                }
                (_, Some(loc)) => format!("{loc}: {}", error_chain(&e)),
                (_, None) => error_chain(&e),
            };
            error_line(&message);
            return e.exit_code();
        }
    };
    eprintln!("{}", summary(&outcome.result));
    let json = if args.compact {
        serde_json::to_string(&outcome.result)
    } else {
        serde_json::to_string_pretty(&outcome.result)
    };
    let json = match json {
        Ok(j) => j,
        Err(e) => {
            error_line(&format!("cannot encode the result as JSON: {e}"));
            return ExitCode::IoError;
        }
    };
    println!("{json}");
    if let Some(path) = &args.output
        && let Err(e) = files::write_file(path, format!("{json}\n").as_bytes(), false)
    {
        error_line(&error_chain(&e));
        return outcome.exit.max(ExitCode::IoError);
    }
    outcome.exit
}

fn serve(dir: &Path, bind: &str, port: u16) -> ExitCode {
    if !dir.is_dir() {
        error_line(&format!("--dir: `{}` is not a directory", dir.display()));
        return ExitCode::BadInput;
    }
    let signals = match signals::block_termination_signals() {
        Ok(s) => s,
        Err(e) => {
            error_line(&format!("cannot block termination signals: {e}"));
            return ExitCode::IoError;
        }
    };
    let listener = match TcpListener::bind((bind, port)) {
        Ok(l) => l,
        Err(e) => {
            error_line(&format!(
                "cannot listen on `{bind}:{port}`: {e} (hint: pick a free --port)"
            ));
            return ExitCode::BadInput;
        }
    };
    eprintln!("serving `{}` on http://{bind}:{port}/", dir.display());
    let root = dir.to_path_buf();
    std::thread::spawn(move || http::serve(&listener, &root, &|line| eprintln!("{line}")));
    match signals::wait_for_termination(&signals) {
        Ok(sig) => {
            eprintln!("{sig:?}: stopping");
            ExitCode::Ok
        }
        Err(e) => {
            error_line(&format!("waiting for signals failed: {e}"));
            ExitCode::IoError
        }
    }
}

fn get(url: &str, timeout: Duration) -> ExitCode {
    match http::get(url, timeout) {
        Ok(response) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&response.body).and_then(|()| out.flush());
            if (200..300).contains(&response.status) {
                ExitCode::Ok
            } else {
                error_line(&format!("`{url}` answered HTTP {}", response.status));
                ExitCode::CheckFailed
            }
        }
        Err(e @ http::GetError::Url { .. }) => {
            error_line(&error_chain(&e));
            ExitCode::BadInput
        }
        Err(e) => {
            error_line(&error_chain(&e));
            ExitCode::IoError
        }
    }
}

fn sleep() -> ExitCode {
    let set = match signals::block_termination_signals() {
        Ok(s) => s,
        Err(e) => {
            error_line(&format!("cannot block termination signals: {e}"));
            return ExitCode::IoError;
        }
    };
    match signals::wait_for_termination(&set) {
        Ok(_) => ExitCode::Ok,
        Err(e) => {
            error_line(&format!("waiting for signals failed: {e}"));
            ExitCode::IoError
        }
    }
}
