//! NFS servers for tests: a real nfs-ganesha started and stopped by the test on free ports
//! with its own exports ([`Ganesha`]; it registers with the local rpcbind and puts back the
//! registrations it replaced, [`PortmapBackup`]), and small fake RPC servers that script
//! *when* a server misbehaves for the failure cases ([`FakeRpc`], [`Fake`]). Used by the IO
//! engine's NFS tests and by `nfslab bench --host`'s end-to-end test.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nfs3_types::rpc::{
    accept_stat_data, accepted_reply, msg_body, opaque_auth, reply_body, rpc_msg,
};
use nfs3_types::xdr_codec::Pack;

/// Programs a ganesha instance registers with rpcbind: NFS and MOUNT.
const GANESHA_PROGRAMS: [u32; 2] = [100_003, 100_005];

/// Whether program `prog` version `vers` answers a NULL call on 127.0.0.1:`port`.
fn rpc_null(port: u16, prog: u32, vers: u32) -> bool {
    rpc_call(port, prog, vers, 0, &[]).is_some()
}

/// One portmapper call; returns the reply's result bytes.
fn pmap_call(proc: u32, args: &[u8]) -> Option<Vec<u8>> {
    rpc_call(111, 100_000, 2, proc, args)
}

/// One ONC RPC call over TCP to 127.0.0.1:`port` with AUTH_NULL; returns the result bytes
/// of an accepted, successful reply.
fn rpc_call(port: u16, prog: u32, vers: u32, proc: u32, args: &[u8]) -> Option<Vec<u8>> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut body = Vec::new();
    for word in [0x6e66_7300 + proc, 0, 2, prog, vers, proc, 0, 0, 0, 0] {
        body.extend_from_slice(&u32::to_be_bytes(word));
    }
    body.extend_from_slice(args);
    let mut call = (body.len() as u32 | 0x8000_0000).to_be_bytes().to_vec();
    call.extend_from_slice(&body);
    stream.write_all(&call).ok()?;
    let record = read_record(&mut stream)?;
    // xid, REPLY, MSG_ACCEPTED, verifier (flavor, empty body), SUCCESS
    (be(&record, 8) == 0 && be(&record, 20) == 0)
        .then(|| record.get(24..).unwrap_or_default().to_vec())
}

/// The rpcbind registrations of NFS and MOUNT found before the tests started their own
/// server: a ganesha replaces them while it runs and removes them when it stops, so they
/// are put back afterwards (another server on this machine, e.g. one CI started, stays
/// reachable through the portmapper).
#[derive(Debug, Default)]
pub struct PortmapBackup {
    mappings: Vec<[u32; 4]>,
}

impl PortmapBackup {
    /// Reads the current registrations of NFS and MOUNT (PMAPPROC_DUMP).
    pub fn save() -> PortmapBackup {
        let mut mappings = Vec::new();
        if let Some(list) = pmap_call(4, &[]) {
            let mut at = 0;
            while be(&list, at) == 1 && at + 20 <= list.len() {
                let m = [
                    be(&list, at + 4),
                    be(&list, at + 8),
                    be(&list, at + 12),
                    be(&list, at + 16),
                ];
                if GANESHA_PROGRAMS.contains(&m[0]) {
                    mappings.push(m);
                }
                at += 20;
            }
        }
        PortmapBackup { mappings }
    }

    /// Removes what the tests' server left and registers the saved mappings again.
    pub fn restore(&self) {
        let mut pairs: Vec<(u32, u32)> = self.mappings.iter().map(|m| (m[0], m[1])).collect();
        pairs.sort_unstable();
        pairs.dedup();
        for (prog, vers) in pairs {
            let args: Vec<u8> = [prog, vers, 0, 0]
                .iter()
                .flat_map(|w| w.to_be_bytes())
                .collect();
            let _ = pmap_call(2, &args);
        }
        for m in &self.mappings {
            let args: Vec<u8> = m.iter().flat_map(|w| w.to_be_bytes()).collect();
            let _ = pmap_call(1, &args);
        }
    }
}

/// How long ganesha may take to answer after a start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Two distinct free TCP ports (both held until both are chosen).
fn free_ports() -> Result<(u16, u16), String> {
    let bind =
        || TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port: {e}"));
    let (a, b) = (bind()?, bind()?);
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).map_err(|e| format!("{e}"));
    Ok((port(&a)?, port(&b)?))
}

/// An nfs-ganesha server on 127.0.0.1 with three VFS exports in a temporary directory:
/// `export` (read-write), `restricted` (only for client 192.0.2.1) and `readonly`. It
/// registers with the local rpcbind, listens on free ports, and is stopped on drop.
pub struct Ganesha {
    root: tempfile::TempDir,
    /// Local path of the read-write export.
    pub export: PathBuf,
    /// Local path of the export this client may not mount.
    pub restricted: PathBuf,
    /// Local path of the read-only export.
    pub readonly: PathBuf,
    /// NFS port.
    pub nfs_port: u16,
    /// MOUNT port.
    pub mount_port: u16,
    conf: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    backup: PortmapBackup,
}

impl Ganesha {
    /// Writes a configuration and starts the server; `Err` says why it cannot run here.
    pub fn start() -> Result<Ganesha, String> {
        for (tool, arg) in [("ganesha.nfsd", "-v"), ("rpcinfo", "-p")] {
            let probe = Command::new(tool)
                .arg(arg)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if probe.is_err() {
                return Err(format!(
                    "`{tool}` is not installed (Debian: nfs-ganesha nfs-ganesha-vfs rpcbind)"
                ));
            }
        }
        TcpStream::connect_timeout(
            &"127.0.0.1:111".parse().map_err(|e| format!("{e}"))?,
            Duration::from_secs(2),
        )
        .map_err(|e| {
            format!("rpcbind does not answer on 127.0.0.1:111 ({e}); start it with `rpcbind -w`")
        })?;
        let root = tempfile::Builder::new()
            .prefix("nfslab-ganesha")
            .tempdir_in("/var/tmp")
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let export = root.path().join("export");
        let restricted = root.path().join("restricted");
        let readonly = root.path().join("readonly");
        for d in [&export, &restricted, &readonly] {
            std::fs::create_dir(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        let (nfs_port, mount_port) = free_ports()?;
        let conf = root.path().join("ganesha.conf");
        let text = format!(
            "NFS_CORE_PARAM {{ Protocols = 3; NFS_Port = {nfs_port}; MNT_Port = {mount_port}; Bind_addr = 127.0.0.1; Enable_NLM = false; Enable_RQUOTA = false; }}\n\
             NFSV4 {{ Graceless = true; }}\n\
             EXPORT {{ Export_Id = 1; Path = {e}; Pseudo = /export; Access_Type = RW; Squash = No_Root_Squash; SecType = sys; Protocols = 3; Transports = TCP; FSAL {{ Name = VFS; }} }}\n\
             EXPORT {{ Export_Id = 2; Path = {r}; Pseudo = /restricted; Access_Type = None; Squash = No_Root_Squash; SecType = sys; Protocols = 3; Transports = TCP; CLIENT {{ Clients = 192.0.2.1; Access_Type = RW; }} FSAL {{ Name = VFS; }} }}\n\
             EXPORT {{ Export_Id = 3; Path = {o}; Pseudo = /readonly; Access_Type = RO; Squash = No_Root_Squash; SecType = sys; Protocols = 3; Transports = TCP; FSAL {{ Name = VFS; }} }}\n\
             LOG {{ Default_Log_Level = WARN; }}\n",
            e = export.display(),
            r = restricted.display(),
            o = readonly.display(),
        );
        std::fs::write(&conf, text).map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
        let log = root.path().join("ganesha.log");
        let backup = PortmapBackup::save();
        let mut g = Ganesha {
            root,
            export,
            restricted,
            readonly,
            nfs_port,
            mount_port,
            conf,
            log,
            child: None,
            backup,
        };
        g.launch()?;
        Ok(g)
    }

    fn launch(&mut self) -> Result<(), String> {
        let child = Command::new("ganesha.nfsd")
            .arg("-F")
            .arg("-f")
            .arg(&self.conf)
            .arg("-L")
            .arg(&self.log)
            .arg("-p")
            .arg(self.root.path().join("ganesha.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start ganesha.nfsd: {e}"))?;
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!(
                    "ganesha.nfsd exited with {status} at start; log:\n{}",
                    self.log_tail()
                ));
            }
            if self.answers() {
                return Ok(());
            }
            if start.elapsed() > START_TIMEOUT {
                self.kill();
                return Err(format!(
                    "ganesha.nfsd did not answer within {START_TIMEOUT:?}; log:\n{}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether NFS v3 and MOUNT v3 answer a NULL call on their ports.
    pub fn answers(&self) -> bool {
        rpc_null(self.nfs_port, 100_003, 3) && rpc_null(self.mount_port, 100_005, 3)
    }

    /// Stops the server abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same ports and exports.
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        self.launch()
    }

    /// Makes sure the server runs (after a test that stopped it).
    pub fn ensure_running(&mut self) -> Result<(), String> {
        if self.child.is_some() && self.answers() {
            return Ok(());
        }
        self.restart()
    }

    /// `nfs://127.0.0.1/<local path>?nfsport=..&mountport=..` plus `extra` query options.
    pub fn url(&self, path: &Path, extra: &str) -> String {
        let mut url = format!(
            "nfs://127.0.0.1{}?nfsport={}&mountport={}",
            path.display(),
            self.nfs_port,
            self.mount_port
        );
        if !extra.is_empty() {
            url.push('&');
            url.push_str(extra);
        }
        url
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// A fresh directory in the read-write export.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let dir = self.export.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("subdirectory in the export");
        dir
    }
}

impl Drop for Ganesha {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX)),
                nix::sys::signal::Signal::SIGTERM,
            );
            let start = Instant::now();
            let mut stopped = false;
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    stopped = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !stopped {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        self.backup.restore();
    }
}

/// What a fake RPC server answers.
#[derive(Debug, Clone)]
pub enum Fake {
    /// A portmapper that knows MOUNT v3 (at `mount_port`) but not NFS v3.
    PortmapWithoutNfs {
        /// Port answered for program 100005.
        mount_port: u16,
    },
    /// PROG_MISMATCH with the versions `low..=high` for every call.
    ProgMismatch {
        /// Lowest version.
        low: u32,
        /// Highest version.
        high: u32,
    },
    /// A MOUNT service that answers MNT3ERR_NOENT and exports `exports`.
    MountNoent {
        /// The export list.
        exports: Vec<String>,
    },
    /// A MOUNT service that mounts anything (a made-up handle, AUTH_SYS).
    MountOk,
    /// Accepts connections and never answers.
    Silent,
    /// Answers every call with bytes that are not RPC.
    Garbage,
}

/// A fake RPC server on 127.0.0.1 (a thread per connection), stopped on drop.
pub struct FakeRpc {
    /// Its port.
    pub port: u16,
    stop: Arc<AtomicBool>,
}

fn read_record(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut record = Vec::new();
    loop {
        let mut mark = [0u8; 4];
        stream.read_exact(&mut mark).ok()?;
        let mark = u32::from_be_bytes(mark);
        let start = record.len();
        record.resize(start + (mark & 0x7fff_ffff) as usize, 0);
        stream.read_exact(&mut record[start..]).ok()?;
        if mark & 0x8000_0000 != 0 {
            return Some(record);
        }
    }
}

fn be(record: &[u8], at: usize) -> u32 {
    record
        .get(at..at + 4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn reply(xid: u32, data: accept_stat_data, body: &[u8]) -> Vec<u8> {
    let msg = rpc_msg {
        xid,
        body: msg_body::REPLY(reply_body::MSG_ACCEPTED(accepted_reply {
            verf: opaque_auth::default(),
            reply_data: data,
        })),
    };
    let mut out = vec![0u8; 4];
    msg.pack(&mut out).expect("reply header packs");
    out.extend_from_slice(body);
    let len = (out.len() - 4) as u32 | 0x8000_0000;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out
}

fn xdr_string(text: &str) -> Vec<u8> {
    let mut out = (text.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out
}

fn answer(kind: &Fake, record: &[u8]) -> Option<Vec<u8>> {
    let (xid, prog, proc) = (be(record, 0), be(record, 12), be(record, 20));
    // Arguments follow the two opaque_auth fields (flavor, length, body) after the header.
    let cred_len = be(record, 28) as usize;
    let verf_at = 32 + cred_len.div_ceil(4) * 4;
    let args_at = verf_at + 8 + (be(record, verf_at + 4) as usize).div_ceil(4) * 4;
    match kind {
        Fake::PortmapWithoutNfs { mount_port } => {
            let asked = be(record, args_at);
            let port = if prog == 100_000 && proc == 3 && asked == 100_005 {
                u32::from(*mount_port)
            } else {
                0
            };
            Some(reply(xid, accept_stat_data::SUCCESS, &port.to_be_bytes()))
        }
        Fake::ProgMismatch { low, high } => Some(reply(
            xid,
            accept_stat_data::PROG_MISMATCH {
                low: *low,
                high: *high,
            },
            &[],
        )),
        Fake::MountNoent { exports } => {
            let body = match proc {
                1 => 2u32.to_be_bytes().to_vec(),
                5 => {
                    let mut b = Vec::new();
                    for e in exports {
                        b.extend_from_slice(&1u32.to_be_bytes());
                        b.extend_from_slice(&xdr_string(e));
                        b.extend_from_slice(&0u32.to_be_bytes());
                    }
                    b.extend_from_slice(&0u32.to_be_bytes());
                    b
                }
                _ => Vec::new(),
            };
            Some(reply(xid, accept_stat_data::SUCCESS, &body))
        }
        Fake::MountOk => {
            let mut body = 0u32.to_be_bytes().to_vec();
            body.extend_from_slice(&8u32.to_be_bytes());
            body.extend_from_slice(b"fakefh00");
            body.extend_from_slice(&1u32.to_be_bytes());
            body.extend_from_slice(&1u32.to_be_bytes());
            Some(reply(
                xid,
                accept_stat_data::SUCCESS,
                if proc == 1 { &body } else { &[] },
            ))
        }
        Fake::Silent => None,
        Fake::Garbage => Some(b"\xff\xff\xff\xffnot an rpc reply at all".to_vec()),
    }
}

impl FakeRpc {
    /// Starts a fake server of `kind`.
    pub fn start(kind: Fake) -> FakeRpc {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake server binds");
        let port = listener.local_addr().expect("address").port();
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let kind = kind.clone();
                        let _ = stream.set_nonblocking(false);
                        std::thread::spawn(move || {
                            while let Some(record) = read_record(&mut stream) {
                                if let Some(out) = answer(&kind, &record)
                                    && stream.write_all(&out).is_err()
                                {
                                    break;
                                }
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeRpc { port, stop }
    }
}

impl Drop for FakeRpc {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
