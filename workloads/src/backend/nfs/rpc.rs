//! A multiplexed ONC RPC client over TCP: many calls in flight per connection.
//!
//! `nfs3_client`'s `RpcClient` sends a call and waits for its reply before the next
//! (`&mut self`), which caps a connection at one request in flight. This transport keeps
//! the XDR of `nfs3_types` and adds what pipelining needs:
//!
//! - **Record marking** (RFC 5531 section 11): each call is one last fragment; replies may
//!   arrive in several fragments and are reassembled, up to [`MAX_RECORD`] bytes (a larger
//!   announcement means the peer does not speak RPC).
//! - **One writer task and one reader task per connection.** Callers hand encoded
//!   requests to the writer through a channel; it writes whatever is queued with one
//!   vectored write. The reader reads records and hands each reply to the caller waiting on
//!   its xid (a map from xid to a oneshot channel). A broken connection wakes every waiter.
//! - **Connections that come back** ([`Connection`]): a broken connection is re-established
//!   by the next call that needs it, with capped exponential backoff between attempts
//!   (shared by every caller of the connection), counted as reconnects.
//! - **Retry semantics of NFS mounts** ([`RetryPolicy`]): a call waits `timeo` for its
//!   reply, then retransmits with the same xid (on a new connection if the old one broke),
//!   the wait growing by `timeo` per retransmission up to 600 s; after `retrans` + 1
//!   transmissions (a major timeout) the connection is re-established. A `hard` call never
//!   gives up; a `soft` call fails with [`CallError::TimedOut`] once its budget is spent.
//!   Setup calls fail fast instead: the first connection failure ends them.
//! - **A slot table** per connection: at most `max_inflight` calls in flight on it; more
//!   wait for a slot, as in the kernel's RPC client.

use std::collections::HashMap;
use std::io::{Cursor, IoSlice};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use nfs3_types::rpc::{
    RPC_VERSION_2, accept_stat_data, auth_flavor, auth_unix, call_body, msg_body, opaque_auth,
    rejected_reply, reply_body, rpc_msg,
};
use nfs3_types::xdr_codec::{Opaque, Pack, Unpack};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::options::MAX_TIMEO;
use super::stats::{Event, RpcStats};
use crate::io::SharedBuf;

/// Largest reply record accepted (a READ of 1 MiB is about 1 MiB + 200 bytes).
pub(crate) const MAX_RECORD: usize = 64 << 20;
/// Most queued requests the writer sends with one vectored write.
const WRITE_BATCH: usize = 64;
/// Buffer of the reader (small replies are read in bulk; large ones bypass it).
const READ_BUFFER: usize = 256 << 10;

/// Why a call failed at the RPC level (no NFS status involved).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// A soft call got no reply within its budget.
    #[error("no reply within {}", crate::units::format_duration(*after))]
    TimedOut {
        /// The budget.
        after: Duration,
    },
    /// The TCP connection could not be established.
    #[error("cannot connect to `{addr}`")]
    Connect {
        /// The server address.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// No TCP connection within the connect timeout.
    #[error("no connection to `{addr}` within {}", crate::units::format_duration(*after))]
    ConnectTimeout {
        /// The server address.
        addr: SocketAddr,
        /// The timeout.
        after: Duration,
    },
    /// The connection broke and the call may not be retried (setup calls).
    #[error("the connection to `{addr}` closed before the reply")]
    Closed {
        /// The server address.
        addr: SocketAddr,
    },
    /// The peer sent bytes that are not an RPC reply record.
    #[error("`{addr}` does not answer with ONC RPC records ({detail})")]
    NotRpc {
        /// The server address.
        addr: SocketAddr,
        /// What was wrong.
        detail: String,
    },
    /// The program is not served there.
    #[error("program {prog} is not available")]
    ProgUnavail {
        /// Program number.
        prog: u32,
    },
    /// The program is served in other versions.
    #[error("program {prog} version {vers} is not served (versions {low} to {high} are)")]
    ProgMismatch {
        /// Program number.
        prog: u32,
        /// Version asked.
        vers: u32,
        /// Lowest version served.
        low: u32,
        /// Highest version served.
        high: u32,
    },
    /// The procedure is not served.
    #[error("procedure {proc} is not available")]
    ProcUnavail {
        /// Procedure number.
        proc: u32,
    },
    /// The server could not decode the arguments.
    #[error("the server could not decode the arguments")]
    GarbageArgs,
    /// The server failed internally.
    #[error("the server reported a system error")]
    SystemErr,
    /// The server refused the credentials.
    #[error("the server refused the credentials: {stat}")]
    Auth {
        /// The `auth_stat` name.
        stat: String,
    },
    /// The server speaks other RPC versions.
    #[error("the server speaks RPC versions {low} to {high}, not 2")]
    RpcMismatch {
        /// Lowest.
        low: u32,
        /// Highest.
        high: u32,
    },
    /// A reply that does not decode.
    #[error("undecodable reply: {detail}")]
    BadReply {
        /// What failed.
        detail: String,
    },
    /// A request that does not encode (too large).
    #[error("cannot encode the request: {detail}")]
    Encode {
        /// What failed.
        detail: String,
    },
}

impl CallError {
    /// Whether the failure is about reaching the server (connect, timeouts) rather than
    /// what it answered.
    #[must_use]
    pub const fn is_unreachable(&self) -> bool {
        matches!(
            self,
            CallError::TimedOut { .. }
                | CallError::Connect { .. }
                | CallError::ConnectTimeout { .. }
                | CallError::Closed { .. }
        )
    }
}

/// How long calls wait and whether they give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait for a reply before the first retransmission.
    pub timeo: Duration,
    /// Retransmissions before a major timeout (a reconnect).
    pub retrans: u32,
    /// Total time a call may take; `None`: retry forever (hard).
    pub budget: Option<Duration>,
    /// A connection failure or loss ends the call (setup calls).
    pub fail_fast: bool,
    /// First wait between reconnect attempts.
    pub backoff_min: Duration,
    /// Longest wait between reconnect attempts.
    pub backoff_max: Duration,
}

impl RetryPolicy {
    /// Default wait between reconnect attempts: first.
    pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
    /// Default wait between reconnect attempts: cap.
    pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

    /// One attempt bounded by `timeout`: for setup calls (portmapper, MOUNT, FSINFO...).
    #[must_use]
    pub const fn setup(timeout: Duration) -> RetryPolicy {
        RetryPolicy {
            timeo: timeout,
            retrans: 0,
            budget: Some(timeout),
            fail_fast: true,
            backoff_min: RetryPolicy::BACKOFF_MIN,
            backoff_max: RetryPolicy::BACKOFF_MAX,
        }
    }
}

/// The bytes of an encoded request: the record mark and XDR header, then data sent as
/// it is (a WRITE's payload, shared with the caller, never copied) and its XDR padding.
#[derive(Debug, Default)]
pub struct Wire {
    head: Vec<u8>,
    payload: Option<SharedBuf>,
}

/// Zero bytes for XDR padding.
const PAD: [u8; 3] = [0; 3];

impl Wire {
    /// Bytes on the wire.
    #[must_use]
    pub fn len(&self) -> usize {
        self.head.len() + self.payload.as_ref().map_or(0, |p| p.len() + pad(p.len()))
    }

    /// Whether nothing is sent (never true for an encoded request).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload sent after the header, if any.
    #[must_use]
    pub const fn payload(&self) -> Option<&SharedBuf> {
        self.payload.as_ref()
    }

    /// The pieces to write, in order.
    fn slices(&self) -> [&[u8]; 3] {
        match &self.payload {
            Some(p) => [&self.head, p.as_slice(), &PAD[..pad(p.len())]],
            None => [&self.head, &[], &[]],
        }
    }
}

/// XDR padding after `len` opaque bytes.
const fn pad(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// An encoded call, ready to be sent (and resent).
#[derive(Debug, Clone)]
pub struct Request {
    /// Transaction id.
    pub xid: u32,
    /// Procedure number (for statistics).
    pub proc: u32,
    /// Record mark, call header and arguments.
    pub wire: Arc<Wire>,
}

/// A successful reply: the record and where the procedure's result starts.
#[derive(Debug)]
pub struct Reply {
    record: Vec<u8>,
    body: usize,
}

impl Reply {
    /// The procedure's result (XDR).
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.record[self.body..]
    }

    /// The whole record and the offset of the result, for zero-copy decoding.
    #[must_use]
    pub fn into_parts(self) -> (Vec<u8>, usize) {
        (self.record, self.body)
    }
}

/// AUTH_SYS credentials as sent with every call.
pub(crate) fn auth_sys(
    uid: u32,
    gid: u32,
    machine: &str,
) -> Result<opaque_auth<'static>, CallError> {
    let body = auth_unix {
        stamp: std::process::id(),
        machinename: Opaque::owned(machine.as_bytes().iter().copied().take(255).collect()),
        uid,
        gid,
        gids: vec![gid],
    };
    let mut bytes = Vec::with_capacity(body.packed_size());
    body.pack(&mut bytes).map_err(|e| CallError::Encode {
        detail: e.to_string(),
    })?;
    Ok(opaque_auth {
        flavor: auth_flavor::AUTH_UNIX,
        body: Opaque::owned(bytes),
    })
}

type Waiter = oneshot::Sender<(Vec<u8>, Instant)>;

#[derive(Debug, Default)]
struct Pending {
    waiters: HashMap<u32, Waiter>,
    broken: Option<String>,
}

/// State shared by a connection's tasks and its callers.
#[derive(Debug, Default)]
struct Shared {
    pending: Mutex<Pending>,
    broken: AtomicBool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the connection broken and wakes every waiter (their channels close).
    fn fail(&self, why: String) {
        let mut p = self.lock();
        if p.broken.is_none() {
            p.broken = Some(why);
        }
        self.broken.store(true, Ordering::Release);
        p.waiters.clear();
    }

    fn deliver(&self, record: Vec<u8>, at: Instant, stats: &RpcStats) {
        let Some(head) = record.get(..8) else {
            return;
        };
        let xid = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        if kind != 1 {
            return;
        }
        let waiter = self.lock().waiters.remove(&xid);
        match waiter {
            Some(w) => {
                let _ = w.send((record, at));
            }
            None => stats.event(Event::LateReply),
        }
    }
}

/// One live TCP connection with its reader and writer tasks.
#[derive(Debug)]
struct Transport {
    addr: SocketAddr,
    outgoing: mpsc::UnboundedSender<Arc<Wire>>,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Transport {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Reads one record (all its fragments).
async fn read_record(reader: &mut BufReader<OwnedReadHalf>) -> Result<Vec<u8>, String> {
    let mut record = Vec::new();
    loop {
        let mut mark = [0u8; 4];
        reader
            .read_exact(&mut mark)
            .await
            .map_err(|e| format!("reading a record mark: {e}"))?;
        let mark = u32::from_be_bytes(mark);
        let len = (mark & 0x7fff_ffff) as usize;
        if record.len() + len > MAX_RECORD {
            return Err(format!(
                "a record of {} bytes announced (more than {MAX_RECORD})",
                record.len() + len
            ));
        }
        record.reserve_exact(len);
        let got = (&mut *reader)
            .take(len as u64)
            .read_to_end(&mut record)
            .await
            .map_err(|e| format!("reading a record: {e}"))?;
        if got < len {
            return Err("the connection closed inside a record".to_owned());
        }
        if mark & 0x8000_0000 != 0 {
            return Ok(record);
        }
    }
}

async fn write_batch(writer: &mut OwnedWriteHalf, batch: &[Arc<Wire>]) -> std::io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = batch
        .iter()
        .flat_map(|m| m.slices())
        .filter(|s| !s.is_empty())
        .map(IoSlice::new)
        .collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        let n = writer.write_vectored(slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, n);
    }
    Ok(())
}

impl Transport {
    fn start(stream: TcpStream, addr: SocketAddr, stats: Arc<RpcStats>) -> Transport {
        let (read, mut write) = stream.into_split();
        let shared = Arc::new(Shared::default());
        let (outgoing, mut queue) = mpsc::unbounded_channel::<Arc<Wire>>();
        let reader_shared = Arc::clone(&shared);
        let reader = tokio::spawn(async move {
            let mut reader = BufReader::with_capacity(READ_BUFFER, read);
            loop {
                match read_record(&mut reader).await {
                    Ok(record) => reader_shared.deliver(record, Instant::now(), &stats),
                    Err(why) => {
                        reader_shared.fail(why);
                        break;
                    }
                }
            }
        });
        let writer_shared = Arc::clone(&shared);
        let writer = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(WRITE_BATCH);
            while let Some(first) = queue.recv().await {
                batch.push(first);
                while batch.len() < WRITE_BATCH {
                    match queue.try_recv() {
                        Ok(m) => batch.push(m),
                        Err(_) => break,
                    }
                }
                if let Err(e) = write_batch(&mut write, &batch).await {
                    writer_shared.fail(format!("writing: {e}"));
                    break;
                }
                batch.clear();
            }
            let _ = write.shutdown().await;
        });
        Transport {
            addr,
            outgoing,
            shared,
            tasks: vec![reader, writer],
        }
    }

    fn is_broken(&self) -> bool {
        self.shared.broken.load(Ordering::Acquire)
    }

    /// Registers a waiter for `xid`; `None` when the connection is already broken.
    fn register(&self, xid: u32) -> Option<oneshot::Receiver<(Vec<u8>, Instant)>> {
        let mut p = self.shared.lock();
        if p.broken.is_some() {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        p.waiters.insert(xid, tx);
        Some(rx)
    }

    fn unregister(&self, xid: u32) {
        self.shared.lock().waiters.remove(&xid);
    }

    fn send(&self, wire: Arc<Wire>) -> bool {
        self.outgoing.send(wire).is_ok()
    }

    fn why_broken(&self) -> String {
        self.shared
            .lock()
            .broken
            .clone()
            .unwrap_or_else(|| "closed".to_owned())
    }
}

#[derive(Debug)]
struct ConnState {
    live: Option<Arc<Transport>>,
    connected_once: bool,
    backoff: Duration,
    retry_at: Option<tokio::time::Instant>,
}

/// One of a client's connections: re-established when it breaks.
#[derive(Debug)]
pub(crate) struct Connection {
    index: usize,
    addr: SocketAddr,
    resvport: bool,
    connect_timeout: Duration,
    state: tokio::sync::Mutex<ConnState>,
    slots: Semaphore,
}

/// Connects from a privileged source port (as the kernel's `resvport`), trying ports from
/// 1023 down to 512.
async fn connect_reserved(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::from(std::io::ErrorKind::AddrInUse);
    for port in (512..1024u16).rev() {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        let local = SocketAddr::new(
            if addr.is_ipv4() {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            },
            port,
        );
        match socket.bind(local) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                last = e;
                continue;
            }
            Err(e) => return Err(e),
        }
        match socket.connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Opens a TCP connection to `addr` within `timeout`.
pub(crate) async fn connect_tcp(
    addr: SocketAddr,
    resvport: bool,
    timeout: Duration,
) -> Result<TcpStream, CallError> {
    let attempt = async {
        if resvport {
            connect_reserved(addr).await
        } else {
            TcpStream::connect(addr).await
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => Err(CallError::ConnectTimeout {
            addr,
            after: timeout,
        }),
        Ok(Err(source)) => Err(CallError::Connect { addr, source }),
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
    }
}

impl Connection {
    fn new(
        index: usize,
        addr: SocketAddr,
        resvport: bool,
        connect_timeout: Duration,
        slots: u32,
    ) -> Connection {
        Connection {
            index,
            addr,
            resvport,
            connect_timeout,
            state: tokio::sync::Mutex::new(ConnState {
                live: None,
                connected_once: false,
                backoff: RetryPolicy::BACKOFF_MIN,
                retry_at: None,
            }),
            slots: Semaphore::new(slots as usize),
        }
    }

    /// The live transport, connecting (and, unless `fail_fast`, retrying with backoff)
    /// as needed.
    async fn transport(
        &self,
        policy: &RetryPolicy,
        stats: &Arc<RpcStats>,
    ) -> Result<Arc<Transport>, CallError> {
        let mut st = self.state.lock().await;
        loop {
            if let Some(t) = &st.live {
                if !t.is_broken() {
                    return Ok(Arc::clone(t));
                }
                st.live = None;
            }
            if let Some(at) = st.retry_at
                && !policy.fail_fast
            {
                tokio::time::sleep_until(at).await;
            }
            match connect_tcp(self.addr, self.resvport, self.connect_timeout).await {
                Ok(stream) => {
                    if st.connected_once {
                        stats.event(Event::Reconnect);
                    }
                    st.connected_once = true;
                    st.backoff = policy.backoff_min;
                    st.retry_at = None;
                    st.live = Some(Arc::new(Transport::start(
                        stream,
                        self.addr,
                        Arc::clone(stats),
                    )));
                }
                Err(e) => {
                    stats.event(Event::ConnectFailure);
                    if policy.fail_fast {
                        return Err(e);
                    }
                    st.retry_at = Some(tokio::time::Instant::now() + st.backoff);
                    st.backoff = (st.backoff * 2).min(policy.backoff_max);
                }
            }
        }
    }

    /// Drops `broken` if it is still the live transport (forces a reconnect).
    async fn forget(&self, broken: &Arc<Transport>) {
        let mut st = self.state.lock().await;
        if st.live.as_ref().is_some_and(|t| Arc::ptr_eq(t, broken)) {
            st.live = None;
        }
    }
}

/// Calls of one RPC program over `nconnect` connections to one server.
#[derive(Debug)]
pub struct RpcClient {
    prog: u32,
    vers: u32,
    cred: opaque_auth<'static>,
    conns: Vec<Connection>,
    next: AtomicUsize,
    xid: AtomicU32,
    stats: Arc<RpcStats>,
    policy: RetryPolicy,
}

/// Where a client connects and how.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Program number.
    pub prog: u32,
    /// Version.
    pub vers: u32,
    /// Server address.
    pub addr: SocketAddr,
    /// Connections.
    pub nconnect: u32,
    /// Calls in flight per connection.
    pub max_inflight: u32,
    /// Connect from a privileged port.
    pub resvport: bool,
    /// Bound on each connect.
    pub connect_timeout: Duration,
    /// Default retry semantics.
    pub policy: RetryPolicy,
}

impl RpcClient {
    /// A client; connections open on first use (or [`RpcClient::connect_all`]).
    #[must_use]
    pub fn new(
        config: &ClientConfig,
        cred: opaque_auth<'static>,
        stats: Arc<RpcStats>,
    ) -> RpcClient {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            ^ std::process::id().rotate_left(16);
        RpcClient {
            prog: config.prog,
            vers: config.vers,
            cred,
            conns: (0..config.nconnect.max(1) as usize)
                .map(|i| {
                    Connection::new(
                        i,
                        config.addr,
                        config.resvport,
                        config.connect_timeout,
                        config.max_inflight.max(1),
                    )
                })
                .collect(),
            next: AtomicUsize::new(0),
            xid: AtomicU32::new(seed),
            stats,
            policy: config.policy,
        }
    }

    /// The statistics this client updates.
    #[must_use]
    pub fn stats(&self) -> &Arc<RpcStats> {
        &self.stats
    }

    /// The default retry semantics.
    #[must_use]
    pub const fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Opens every connection now, failing on the first that cannot be opened.
    pub async fn connect_all(&self, policy: &RetryPolicy) -> Result<(), CallError> {
        for conn in &self.conns {
            conn.transport(policy, &self.stats).await?;
        }
        Ok(())
    }

    /// Encodes a call of `proc` with `args` under a fresh xid.
    pub fn encode<A: Pack>(&self, proc: u32, args: &A) -> Result<Request, CallError> {
        self.encode_with(proc, args, None)
    }

    /// Encodes a call whose arguments end with a variable-length opaque sent without
    /// copying: `args` carries that opaque empty, `payload` becomes its content (a WRITE's
    /// data).
    pub fn encode_with<A: Pack>(
        &self,
        proc: u32,
        args: &A,
        payload: Option<SharedBuf>,
    ) -> Result<Request, CallError> {
        let xid = self.xid.fetch_add(1, Ordering::Relaxed);
        let msg = rpc_msg {
            xid,
            body: msg_body::CALL(call_body {
                rpcvers: RPC_VERSION_2,
                prog: self.prog,
                vers: self.vers,
                proc,
                cred: self.cred.borrow(),
                verf: opaque_auth::default(),
            }),
        };
        let mut head = Vec::with_capacity(4 + msg.packed_size() + args.packed_size());
        head.extend_from_slice(&[0; 4]);
        let encode = |e: nfs3_types::xdr_codec::Error| CallError::Encode {
            detail: e.to_string(),
        };
        msg.pack(&mut head).map_err(encode)?;
        args.pack(&mut head).map_err(encode)?;
        if let Some(p) = &payload {
            let at = head
                .len()
                .checked_sub(4)
                .filter(|at| head[*at..] == [0; 4])
                .ok_or_else(|| CallError::Encode {
                    detail: "the arguments do not end with an empty opaque".to_owned(),
                })?;
            let len = u32::try_from(p.len()).map_err(|_| CallError::Encode {
                detail: format!("a payload of {} bytes", p.len()),
            })?;
            head[at..].copy_from_slice(&len.to_be_bytes());
        }
        let wire = Wire { head, payload };
        let len = u32::try_from(wire.len() - 4)
            .ok()
            .filter(|l| *l <= 0x7fff_ffff)
            .ok_or_else(|| CallError::Encode {
                detail: format!("{} bytes do not fit in one record", wire.len()),
            })?;
        let mut wire = wire;
        wire.head[..4].copy_from_slice(&(len | 0x8000_0000).to_be_bytes());
        Ok(Request {
            xid,
            proc,
            wire: Arc::new(wire),
        })
    }

    /// The same call under a new xid (a new request, not a retransmission).
    #[must_use]
    pub fn renew(&self, request: &Request) -> Request {
        let xid = self.xid.fetch_add(1, Ordering::Relaxed);
        let mut head = request.wire.head.clone();
        if let Some(slot) = head.get_mut(4..8) {
            slot.copy_from_slice(&xid.to_be_bytes());
        }
        Request {
            xid,
            proc: request.proc,
            wire: Arc::new(Wire {
                head,
                payload: request.wire.payload.clone(),
            }),
        }
    }

    /// Sends `request` under the client's retry semantics.
    pub async fn call(&self, request: &Request) -> Result<Reply, CallError> {
        let policy = self.policy;
        self.call_with(request, &policy).await
    }

    /// Sends `request` under `policy`.
    pub async fn call_with(
        &self,
        request: &Request,
        policy: &RetryPolicy,
    ) -> Result<Reply, CallError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        let conn = &self.conns[index];
        let started = Instant::now();
        let outcome = match policy.budget {
            None => self.attempts(conn, request, policy).await,
            Some(budget) => {
                match tokio::time::timeout(budget, self.attempts(conn, request, policy)).await {
                    Ok(r) => r,
                    Err(_) => {
                        self.stats.event(Event::SoftFailure);
                        Err(CallError::TimedOut { after: budget })
                    }
                }
            }
        };
        self.stats.finished(request.proc, started.elapsed());
        let record = outcome?;
        parse_reply(record, self.prog, self.vers, request.proc, conn.addr)
    }

    async fn attempts(
        &self,
        conn: &Connection,
        request: &Request,
        policy: &RetryPolicy,
    ) -> Result<Vec<u8>, CallError> {
        let Ok(_slot) = conn.slots.acquire().await else {
            return Err(CallError::Closed { addr: conn.addr });
        };
        self.stats.enter(conn.index);
        let _leave = Leave {
            stats: &self.stats,
            conn: conn.index,
        };
        let mut transmissions: u32 = 0;
        let mut wait = policy.timeo;
        loop {
            let transport = conn.transport(policy, &self.stats).await?;
            let Some(mut waiter) = Registered::new(&transport, request.xid) else {
                if policy.fail_fast {
                    return Err(closed(&transport));
                }
                conn.forget(&transport).await;
                continue;
            };
            self.stats
                .transmitted(request.proc, request.wire.len(), transmissions > 0);
            transmissions += 1;
            let sent = Instant::now();
            if !transport.send(Arc::clone(&request.wire)) {
                drop(waiter);
                if policy.fail_fast {
                    return Err(closed(&transport));
                }
                conn.forget(&transport).await;
                continue;
            }
            match tokio::time::timeout(wait, &mut waiter.reply).await {
                Ok(Ok((record, at))) => {
                    waiter.answered = true;
                    self.stats.replied(
                        request.proc,
                        record.len() + 4,
                        at.saturating_duration_since(sent),
                    );
                    return Ok(record);
                }
                Ok(Err(_)) => {
                    // The connection broke: every waiter on it retransmits on a new one.
                    if policy.fail_fast {
                        return Err(closed(&transport));
                    }
                    conn.forget(&transport).await;
                }
                Err(_) => {
                    drop(waiter);
                    self.stats.timed_out(request.proc);
                    if policy.budget.is_none() {
                        wait = (wait + policy.timeo).min(MAX_TIMEO);
                    }
                    if transmissions.is_multiple_of(policy.retrans + 1) {
                        self.stats.event(Event::MajorTimeout);
                        conn.forget(&transport).await;
                    }
                }
            }
        }
    }
}

/// A waiter registered for an xid; unregistered when dropped unless answered (so calls
/// that time out or are cancelled leave nothing behind).
struct Registered {
    transport: Arc<Transport>,
    xid: u32,
    reply: oneshot::Receiver<(Vec<u8>, Instant)>,
    answered: bool,
}

impl Registered {
    fn new(transport: &Arc<Transport>, xid: u32) -> Option<Registered> {
        transport.register(xid).map(|reply| Registered {
            transport: Arc::clone(transport),
            xid,
            reply,
            answered: false,
        })
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if !self.answered {
            self.transport.unregister(self.xid);
        }
    }
}

/// Decrements a connection's in-flight count when a call ends (or is cancelled).
struct Leave<'a> {
    stats: &'a RpcStats,
    conn: usize,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.stats.leave(self.conn);
    }
}

fn closed(transport: &Transport) -> CallError {
    let why = transport.why_broken();
    if why.starts_with("a record of") {
        CallError::NotRpc {
            addr: transport.addr,
            detail: why,
        }
    } else {
        CallError::Closed {
            addr: transport.addr,
        }
    }
}

/// Checks the reply header; returns the reply positioned at the procedure's result.
fn parse_reply(
    record: Vec<u8>,
    prog: u32,
    vers: u32,
    proc: u32,
    addr: SocketAddr,
) -> Result<Reply, CallError> {
    let (msg, used) = {
        let mut cursor = Cursor::new(record.as_slice());
        let msg = rpc_msg::unpack(&mut cursor).map_err(|e| CallError::NotRpc {
            addr,
            detail: format!("reply header: {e}"),
        })?;
        (
            msg.0,
            usize::try_from(cursor.position()).unwrap_or(usize::MAX),
        )
    };
    match msg.body {
        msg_body::REPLY(reply_body::MSG_ACCEPTED(accepted)) => match accepted.reply_data {
            accept_stat_data::SUCCESS => Ok(Reply { record, body: used }),
            accept_stat_data::PROG_UNAVAIL => Err(CallError::ProgUnavail { prog }),
            accept_stat_data::PROG_MISMATCH { low, high } => Err(CallError::ProgMismatch {
                prog,
                vers,
                low,
                high,
            }),
            accept_stat_data::PROC_UNAVAIL => Err(CallError::ProcUnavail { proc }),
            accept_stat_data::GARBAGE_ARGS => Err(CallError::GarbageArgs),
            accept_stat_data::SYSTEM_ERR => Err(CallError::SystemErr),
        },
        msg_body::REPLY(reply_body::MSG_DENIED(rejected_reply::RPC_MISMATCH { low, high })) => {
            Err(CallError::RpcMismatch { low, high })
        }
        msg_body::REPLY(reply_body::MSG_DENIED(rejected_reply::AUTH_ERROR(stat))) => {
            Err(CallError::Auth {
                stat: stat.to_string(),
            })
        }
        msg_body::CALL(_) => Err(CallError::NotRpc {
            addr,
            detail: "a CALL where a REPLY was expected".to_owned(),
        }),
    }
}

/// Decodes an XDR value from the start of `bytes`; returns it and the bytes it used.
pub(crate) fn decode<T: Unpack>(bytes: &[u8]) -> Result<(T, usize), CallError> {
    let mut cursor = Cursor::new(bytes);
    let (value, _) = T::unpack(&mut cursor).map_err(|e| CallError::BadReply {
        detail: e.to_string(),
    })?;
    Ok((
        value,
        usize::try_from(cursor.position()).unwrap_or(usize::MAX),
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use nfs3_types::rpc::{accepted_reply, opaque_auth};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::super::stats::RpcSnapshot;
    use super::*;

    const PROG: u32 = 400_000;

    /// Reads one call record from a server-side stream; returns its xid and the u32
    /// argument it carries (the last word).
    async fn read_call(stream: &mut TcpStream) -> Option<(u32, u32)> {
        let mut mark = [0u8; 4];
        stream.read_exact(&mut mark).await.ok()?;
        let len = (u32::from_be_bytes(mark) & 0x7fff_ffff) as usize;
        let mut record = vec![0u8; len];
        stream.read_exact(&mut record).await.ok()?;
        let word = |at: usize| {
            u32::from_be_bytes([record[at], record[at + 1], record[at + 2], record[at + 3]])
        };
        Some((word(0), word(len - 4)))
    }

    /// A reply record to `xid` whose body is `value`, split into `fragments` fragments.
    fn reply(xid: u32, value: u32, fragments: usize) -> Vec<u8> {
        let msg = rpc_msg {
            xid,
            body: msg_body::REPLY(reply_body::MSG_ACCEPTED(accepted_reply {
                verf: opaque_auth::default(),
                reply_data: accept_stat_data::SUCCESS,
            })),
        };
        let mut payload = Vec::new();
        msg.pack(&mut payload).unwrap();
        payload.extend_from_slice(&value.to_be_bytes());
        let step = payload.len().div_ceil(fragments);
        let mut out = Vec::new();
        let chunks: Vec<&[u8]> = payload.chunks(step).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let last = if i + 1 == chunks.len() {
                0x8000_0000
            } else {
                0
            };
            out.extend_from_slice(&(chunk.len() as u32 | last).to_be_bytes());
            out.extend_from_slice(chunk);
        }
        out
    }

    fn client(addr: SocketAddr, max_inflight: u32, policy: RetryPolicy) -> RpcClient {
        let config = ClientConfig {
            prog: PROG,
            vers: 1,
            addr,
            nconnect: 1,
            max_inflight,
            resvport: false,
            connect_timeout: Duration::from_secs(5),
            policy,
        };
        RpcClient::new(
            &config,
            opaque_auth::default(),
            Arc::new(RpcStats::new(vec!["NULL".into(), "ECHO".into()], 1)),
        )
    }

    fn hard() -> RetryPolicy {
        RetryPolicy {
            timeo: Duration::from_secs(60),
            retrans: 2,
            budget: None,
            fail_fast: false,
            backoff_min: RetryPolicy::BACKOFF_MIN,
            backoff_max: RetryPolicy::BACKOFF_MAX,
        }
    }

    fn value(reply: &Reply) -> u32 {
        let (v, _) = decode::<u32>(reply.body()).unwrap();
        v
    }

    #[tokio::test]
    async fn replies_are_routed_by_xid_and_fragments_reassembled() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut calls = Vec::new();
            for _ in 0..3 {
                calls.push(read_call(&mut s).await.unwrap());
            }
            // Answer in reverse order, the first one in three fragments.
            for (i, (xid, arg)) in calls.into_iter().rev().enumerate() {
                s.write_all(&reply(xid, arg * 10, if i == 0 { 3 } else { 1 }))
                    .await
                    .unwrap();
            }
        });
        let c = client(addr, 8, hard());
        let requests: Vec<Request> = (1..=3u32).map(|n| c.encode(1, &n).unwrap()).collect();
        let replies = futures::future::join_all(requests.iter().map(|r| c.call(r))).await;
        let values: Vec<u32> = replies.iter().map(|r| value(r.as_ref().unwrap())).collect();
        assert_eq!(values, vec![10, 20, 30]);
        let report = c.stats().snapshot().since(&RpcSnapshot::default());
        assert_eq!(report.procedures["ECHO"].calls, 3);
        assert_eq!(report.max_in_flight_per_connection, vec![3]);
    }

    #[tokio::test]
    async fn a_lost_connection_is_reestablished_and_the_call_sent_again() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let first_xid = Arc::new(AtomicU32::new(0));
        let seen = Arc::clone(&first_xid);
        tokio::spawn(async move {
            // First connection: take the call, then drop the connection unanswered.
            let (mut s, _) = listener.accept().await.unwrap();
            let (xid, _) = read_call(&mut s).await.unwrap();
            seen.store(xid, Ordering::SeqCst);
            drop(s);
            // Second connection: the same call (same xid) arrives again and is answered.
            let (mut s, _) = listener.accept().await.unwrap();
            let (xid, arg) = read_call(&mut s).await.unwrap();
            assert_eq!(
                xid,
                seen.load(Ordering::SeqCst),
                "a retransmission keeps its xid"
            );
            s.write_all(&reply(xid, arg + 1, 1)).await.unwrap();
            let _ = read_call(&mut s).await;
        });
        let c = client(addr, 8, hard());
        let request = c.encode(1, &41u32).unwrap();
        let answer = c.call(&request).await.unwrap();
        assert_eq!(value(&answer), 42);
        assert_eq!(first_xid.load(Ordering::SeqCst), request.xid);
        let report = c.stats().snapshot().since(&RpcSnapshot::default());
        assert_eq!(report.events["reconnects"], 1);
        assert_eq!(report.procedures["ECHO"].transmissions, 2);
        assert_eq!(report.procedures["ECHO"].retransmissions, 1);
    }

    #[tokio::test]
    async fn the_slot_table_caps_requests_in_flight() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (mut r, w) = s.into_split();
            let w = Arc::new(tokio::sync::Mutex::new(w));
            loop {
                let mut mark = [0u8; 4];
                if r.read_exact(&mut mark).await.is_err() {
                    break;
                }
                let mut record = vec![0u8; (u32::from_be_bytes(mark) & 0x7fff_ffff) as usize];
                r.read_exact(&mut record).await.unwrap();
                let xid = u32::from_be_bytes([record[0], record[1], record[2], record[3]]);
                let w = Arc::clone(&w);
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    w.lock().await.write_all(&reply(xid, 7, 1)).await.unwrap();
                });
            }
        });
        let c = client(addr, 2, hard());
        let requests: Vec<Request> = (0..6u32).map(|n| c.encode(1, &n).unwrap()).collect();
        let replies = futures::future::join_all(requests.iter().map(|r| c.call(r))).await;
        assert!(replies.iter().all(Result::is_ok));
        let report = c.stats().snapshot().since(&RpcSnapshot::default());
        assert_eq!(report.max_in_flight_per_connection, vec![2]);
    }

    #[tokio::test]
    async fn an_oversized_record_is_not_rpc() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let _ = read_call(&mut s).await;
            s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let c = client(addr, 8, RetryPolicy::setup(Duration::from_secs(5)));
        let request = c.encode(0, &nfs3_types::xdr_codec::Void).unwrap();
        let error = c.call(&request).await.unwrap_err();
        assert!(matches!(error, CallError::NotRpc { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("does not answer with ONC RPC records"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn soft_calls_fail_after_timeo_times_retrans_plus_one() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // Accept, read everything, never answer.
            let (mut s, _) = listener.accept().await.unwrap();
            let mut sink = vec![0u8; 4096];
            while s.read(&mut sink).await.is_ok_and(|n| n > 0) {}
        });
        let policy = RetryPolicy {
            timeo: Duration::from_secs(1),
            retrans: 2,
            budget: Some(Duration::from_secs(3)),
            fail_fast: false,
            backoff_min: RetryPolicy::BACKOFF_MIN,
            backoff_max: RetryPolicy::BACKOFF_MAX,
        };
        let c = client(addr, 8, policy);
        c.connect_all(&RetryPolicy::setup(Duration::from_secs(5)))
            .await
            .unwrap();
        tokio::time::pause();
        let start = tokio::time::Instant::now();
        let request = c.encode(1, &1u32).unwrap();
        let error = c.call(&request).await.unwrap_err();
        assert!(
            matches!(error, CallError::TimedOut { after } if after == Duration::from_secs(3)),
            "{error:?}"
        );
        // The budget, to the timer wheel's millisecond.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(3) && took <= Duration::from_millis(3005),
            "{took:?}"
        );
        let report = c.stats().snapshot().since(&RpcSnapshot::default());
        let echo = &report.procedures["ECHO"];
        assert_eq!(
            (echo.transmissions, echo.retransmissions, echo.calls),
            (3, 2, 0)
        );
        assert_eq!(report.events["soft_failures"], 1);
    }
}
