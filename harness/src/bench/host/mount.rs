//! Kernel NFS mounts on the host for the mount cells of `nfslab bench --host`.
//!
//! - [`probe`] gathers what mounting needs ([`HostFacts`]: root, a kernel NFS client, the
//!   `mount.nfs` helper) and [`decide`] turns it into [`MountSupport`]: available, or
//!   unavailable with one line saying why. When `nfs` is missing from `/proc/filesystems`
//!   and the process is root, `modprobe nfs` is tried once.
//! - [`mount_command`] and [`unmount_command`] build the commands (`mount -t nfs -o
//!   OPTIONS host:/export DIR`, `umount DIR`, `umount -l DIR` as the fallback).
//! - [`HostMount`] is one mount on a directory of its own under the system's temporary
//!   directory. [`HostMount::unmount`] unmounts (lazily when a plain unmount fails) and
//!   removes the empty mount point; dropping an unmounted [`HostMount`] does the same, so
//!   errors and interruptions never leave a mount behind. Every active mount is also listed
//!   process-wide, so [`unmount_all`] can release them when the process must exit at once
//!   (a second Ctrl-C).
//!
//! Mount points are never removed recursively: only an empty directory (after the
//! unmount) is removed, so a mount that could not be released keeps the server's files
//! safe from deletion.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// What the host offers for mounting NFS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// Effective uid, when known.
    pub euid: Option<u32>,
    /// `/proc/filesystems` lists `nfs` (after `modprobe nfs`, when it was tried).
    pub kernel_nfs: bool,
    /// What `modprobe nfs` said when it was tried and failed.
    pub modprobe_error: Option<String>,
    /// Where `mount.nfs` is, if installed.
    pub mount_helper: Option<PathBuf>,
    /// Whether `mount` and `umount` are installed.
    pub mount_tools: bool,
}

/// Whether mount cells can run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountSupport {
    /// The host can mount NFS.
    Available,
    /// It cannot; the reason, on one line.
    Unavailable(String),
}

impl MountSupport {
    /// Whether mounts can be made.
    #[must_use]
    pub fn is_available(&self) -> bool {
        matches!(self, Self::Available)
    }
}

/// Decides from the facts whether mount cells can run, naming every missing piece.
#[must_use]
pub fn decide(facts: &HostFacts) -> MountSupport {
    let mut missing = Vec::new();
    match facts.euid {
        Some(0) => {}
        Some(uid) => missing.push(format!("mounting needs root (running as uid {uid})")),
        None => missing.push("mounting needs root (the user id is unknown)".to_owned()),
    }
    if !facts.kernel_nfs {
        missing.push(match &facts.modprobe_error {
            Some(e) => format!(
                "the kernel has no NFS client (`nfs` is not in /proc/filesystems and `modprobe nfs` failed: {e})"
            ),
            None => "the kernel has no NFS client (`nfs` is not in /proc/filesystems)".to_owned(),
        });
    }
    if facts.mount_helper.is_none() {
        missing.push(
            "`mount.nfs` is not installed (Debian/Ubuntu: nfs-common, Fedora: nfs-utils)"
                .to_owned(),
        );
    }
    if !facts.mount_tools {
        missing.push("`mount`/`umount` are not installed".to_owned());
    }
    if missing.is_empty() {
        MountSupport::Available
    } else {
        MountSupport::Unavailable(missing.join("; "))
    }
}

/// Whether `/proc/filesystems` text lists the NFS client (a `nodev nfs` line).
#[must_use]
pub fn lists_nfs(filesystems: &str) -> bool {
    filesystems
        .lines()
        .any(|l| l.split_whitespace().last() == Some("nfs"))
}

/// The effective uid from `/proc/self/status` text (`Uid: real effective saved fs`).
#[must_use]
pub fn effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|uid| uid.parse().ok())
}

/// Looks `name` up in `PATH` and the system binary directories.
#[must_use]
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Gathers the facts on this host; as root without the NFS client, tries `modprobe nfs`.
#[must_use]
pub fn probe() -> HostFacts {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let euid = effective_uid(&read("/proc/self/status"));
    let mut kernel_nfs = lists_nfs(&read("/proc/filesystems"));
    let mut modprobe_error = None;
    if !kernel_nfs && euid == Some(0) {
        match find_tool("modprobe") {
            None => modprobe_error = Some("modprobe is not installed".to_owned()),
            Some(modprobe) => match Command::new(modprobe)
                .args(["-q", "nfs"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
            {
                Ok(out) if out.status.success() => {
                    kernel_nfs = lists_nfs(&read("/proc/filesystems"));
                }
                Ok(out) => {
                    let text = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                    modprobe_error = Some(if text.is_empty() {
                        format!("exit status {}", out.status.code().unwrap_or(-1))
                    } else {
                        text.lines().next().unwrap_or_default().to_owned()
                    });
                }
                Err(e) => modprobe_error = Some(e.to_string()),
            },
        }
    }
    HostFacts {
        euid,
        kernel_nfs,
        modprobe_error,
        mount_helper: find_tool("mount.nfs"),
        mount_tools: find_tool("mount").is_some() && find_tool("umount").is_some(),
    }
}

/// `host:/export` as mount(8) takes it (IPv6 addresses in brackets).
#[must_use]
pub fn mount_source(host: &str, export: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{export}")
    } else {
        format!("{host}:{export}")
    }
}

/// `mount -t nfs [-o OPTIONS] host:/export DIR`; the profile's items are joined by `,`
/// (an item may itself hold several options, as in PV `mountOptions`).
#[must_use]
pub fn mount_command(host: &str, export: &str, options: &[String], dir: &Path) -> Vec<String> {
    let mut argv = vec!["mount".to_owned(), "-t".to_owned(), "nfs".to_owned()];
    let joined: Vec<&str> = options
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .collect();
    if !joined.is_empty() {
        argv.push("-o".to_owned());
        argv.push(joined.join(","));
    }
    argv.push(mount_source(host, export));
    argv.push(dir.display().to_string());
    argv
}

/// `umount DIR`, or `umount -l DIR` (lazy: detach now, release when no longer busy).
#[must_use]
pub fn unmount_command(dir: &Path, lazy: bool) -> Vec<String> {
    let mut argv = vec!["umount".to_owned()];
    if lazy {
        argv.push("-l".to_owned());
    }
    argv.push(dir.display().to_string());
    argv
}

/// Mount points currently mounted by this process.
static ACTIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn register(dir: &Path) {
    if let Ok(mut a) = ACTIVE.lock() {
        a.push(dir.to_path_buf());
    }
}

fn unregister(dir: &Path) {
    if let Ok(mut a) = ACTIVE.lock() {
        a.retain(|d| d != dir);
    }
}

/// Runs a command to completion; `Err` holds its first stderr line (or the spawn error).
fn run(argv: &[String]) -> Result<(), String> {
    let (program, args) = argv.split_first().ok_or("empty command")?;
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "`{}` exited with {}: {}",
            argv.join(" "),
            out.status.code().unwrap_or(-1),
            text.trim().lines().next().unwrap_or("no message")
        ))
    }
}

/// Unmounts `dir` (lazily when a plain unmount fails) and removes it when empty.
fn release(dir: &Path) -> Result<(), String> {
    let plain = run(&unmount_command(dir, false));
    let result = match plain {
        Ok(()) => Ok(()),
        Err(first) => run(&unmount_command(dir, true))
            .map_err(|lazy| format!("{first}; lazy unmount: {lazy}")),
    };
    if result.is_ok() {
        unregister(dir);
        // Only an empty directory: never delete through a mount that is still there.
        let _ = std::fs::remove_dir(dir);
    }
    result
}

/// Releases every mount this process still holds (lazily if need be); for an exit that
/// cannot wait for the normal cleanup. Returns what could not be released.
pub fn unmount_all() -> Vec<String> {
    let dirs: Vec<PathBuf> = ACTIVE.lock().map(|a| a.clone()).unwrap_or_default();
    dirs.iter()
        .filter_map(|d| release(d).err().map(|e| format!("{}: {e}", d.display())))
        .collect()
}

/// Why a mount failed.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The mount point could not be created.
    #[error("cannot create the mount point `{path}`")]
    MountPoint {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `mount` failed or did not finish in time.
    #[error("cannot mount `{source_spec}` with options `{options}`: {detail}")]
    Mount {
        /// `host:/export`.
        source_spec: String,
        /// The options.
        options: String,
        /// What mount said.
        detail: String,
    },
}

/// An NFS export mounted on a directory of its own.
#[derive(Debug)]
pub struct HostMount {
    dir: PathBuf,
    mounted: bool,
}

impl HostMount {
    /// Mounts `host:/export` with `options` on a new directory `name` under `parent`,
    /// within `timeout` (`mount` is killed after it, and the mount point removed).
    ///
    /// # Errors
    /// [`MountError`] with what `mount` said.
    pub async fn mount(
        host: &str,
        export: &str,
        options: &[String],
        parent: &Path,
        name: &str,
        timeout: Duration,
    ) -> Result<Self, MountError> {
        let dir = parent.join(name);
        std::fs::create_dir_all(&dir).map_err(|source| MountError::MountPoint {
            path: dir.display().to_string(),
            source,
        })?;
        let argv = mount_command(host, export, options, &dir);
        let failed = |detail: String| MountError::Mount {
            source_spec: mount_source(host, export),
            options: options.join(","),
            detail,
        };
        // Registered before the attempt: an interrupted mount is released too.
        register(&dir);
        let mut guard = Self { dir, mounted: true };
        let mut child = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                guard.mounted = false;
                unregister(&guard.dir);
                let _ = std::fs::remove_dir(&guard.dir);
                failed(format!("cannot run `mount`: {e}"))
            })?;
        let stderr = child.stderr.take();
        let read_err = async move {
            let mut text = String::new();
            if let Some(mut s) = stderr {
                let _ = tokio::io::AsyncReadExt::read_to_string(&mut s, &mut text).await;
            }
            text
        };
        let outcome = tokio::time::timeout(timeout, async {
            let (status, text) = tokio::join!(child.wait(), read_err);
            (status, text)
        })
        .await;
        let message = match outcome {
            Ok((Ok(status), _)) if status.success() => return Ok(guard),
            Ok((Ok(status), text)) => format!(
                "`{}` exited with {}: {}",
                argv.join(" "),
                status.code().unwrap_or(-1),
                text.trim().lines().next().unwrap_or("no message")
            ),
            Ok((Err(e), _)) => format!("waiting for `mount` failed: {e}"),
            Err(_) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                format!(
                    "`mount` did not finish within {}",
                    nfslab_workload::format_duration(timeout)
                )
            }
        };
        // Nothing is mounted, or a late mount is released by the guard's drop.
        let is_mounted = is_mount_point(&guard.dir);
        guard.mounted = is_mounted;
        if !is_mounted {
            unregister(&guard.dir);
            let _ = std::fs::remove_dir(&guard.dir);
        }
        Err(failed(message))
    }

    /// The mount point.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Unmounts (lazily when a plain unmount fails) and removes the empty mount point.
    ///
    /// # Errors
    /// What `umount` said, when even the lazy unmount failed.
    pub fn unmount(mut self) -> Result<(), String> {
        self.mounted = false;
        release(&self.dir)
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        if self.mounted {
            let _ = release(&self.dir);
        }
    }
}

/// Whether `dir` is a mount point (listed in `/proc/self/mountinfo`).
#[must_use]
pub fn is_mount_point(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let wanted = dir.display().to_string();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| unescape_mountinfo(m) == wanted)
}

/// Decodes the octal escapes mountinfo uses for spaces and tabs (`\040`).
fn unescape_mountinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(char::from(c));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> HostFacts {
        HostFacts {
            euid: Some(0),
            kernel_nfs: true,
            modprobe_error: None,
            mount_helper: Some(PathBuf::from("/sbin/mount.nfs")),
            mount_tools: true,
        }
    }

    #[test]
    fn root_with_kernel_nfs_and_helper_can_mount() {
        assert_eq!(decide(&facts()), MountSupport::Available);
        assert!(decide(&facts()).is_available());
    }

    #[test]
    fn each_missing_piece_is_named_on_one_line() {
        let not_root = HostFacts {
            euid: Some(1000),
            ..facts()
        };
        let MountSupport::Unavailable(why) = decide(&not_root) else {
            panic!("a non-root user cannot mount");
        };
        assert_eq!(why, "mounting needs root (running as uid 1000)");

        let no_kernel = HostFacts {
            kernel_nfs: false,
            modprobe_error: Some("FATAL: Module nfs not found".to_owned()),
            ..facts()
        };
        let MountSupport::Unavailable(why) = decide(&no_kernel) else {
            panic!("no kernel client");
        };
        assert!(why.contains("no NFS client"), "{why}");
        assert!(why.contains("Module nfs not found"), "{why}");

        let nothing = HostFacts {
            euid: None,
            kernel_nfs: false,
            modprobe_error: None,
            mount_helper: None,
            mount_tools: false,
        };
        let MountSupport::Unavailable(why) = decide(&nothing) else {
            panic!("nothing to mount with");
        };
        assert_eq!(why.matches("; ").count(), 3, "{why}");
        assert!(why.contains("nfs-common"), "{why}");
        assert!(!why.contains('\n'));
    }

    #[test]
    fn proc_files_are_read_as_the_kernel_writes_them() {
        assert!(lists_nfs("nodev\tsysfs\nnodev\tnfs\nnodev\tnfs4\n\text4\n"));
        assert!(!lists_nfs("nodev\tsysfs\nnodev\tnfsd\n\text4\n"));
        assert!(!lists_nfs(""));
        let status = "Name:\tnfslab\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
        assert_eq!(effective_uid(status), Some(0));
        assert_eq!(effective_uid("Name: x\n"), None);
    }

    #[test]
    fn mount_commands() {
        let dir = Path::new("/tmp/nfslab-mnt-x");
        assert_eq!(
            mount_command(
                "10.0.0.5",
                "/export",
                &["vers=3,nolock".to_owned(), " rsize=65536 ".to_owned()],
                dir
            ),
            [
                "mount",
                "-t",
                "nfs",
                "-o",
                "vers=3,nolock,rsize=65536",
                "10.0.0.5:/export",
                "/tmp/nfslab-mnt-x"
            ]
        );
        assert_eq!(
            mount_command("fd00::5", "/vol", &[], dir),
            ["mount", "-t", "nfs", "[fd00::5]:/vol", "/tmp/nfslab-mnt-x"]
        );
        assert_eq!(unmount_command(dir, false), ["umount", "/tmp/nfslab-mnt-x"]);
        assert_eq!(
            unmount_command(dir, true),
            ["umount", "-l", "/tmp/nfslab-mnt-x"]
        );
    }

    #[test]
    fn mountinfo_escapes_and_mount_points() {
        assert_eq!(unescape_mountinfo("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert!(is_mount_point(Path::new("/proc")));
        let dir = std::env::temp_dir();
        assert!(!is_mount_point(&dir.join("nfslab-surely-not-mounted")));
    }

    /// A mount that fails leaves neither a mount point nor a registration behind.
    #[tokio::test]
    async fn a_failed_mount_cleans_up_after_itself() {
        let parent = tempfile::tempdir().unwrap();
        let err = HostMount::mount(
            "192.0.2.1",
            "/nothing",
            &["vers=3,soft,timeo=1,retrans=0,retry=0".to_owned()],
            parent.path(),
            "m",
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot mount `192.0.2.1:/nothing`"),
            "{err}"
        );
        assert!(!parent.path().join("m").exists());
        assert!(unmount_all().is_empty());
    }
}
