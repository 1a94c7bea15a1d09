//! A minimal NFSv4.1/v4.2 client for tests: one session, one slot, a file created, written,
//! read back and closed through COMPOUNDs over TCP (RFC 8881 for v4.1, RFC 7862 for v4.2's
//! minor version).
//!
//! Written by hand because no client available here speaks NFSv4.2 to nfs-ganesha 4.3:
//! libnfs 4.0 speaks only NFSv4.0, and the `nfs-rs` crate asks for
//! `EXCHGID4_FLAG_SUPP_FENCE_OPS` at minor version 2, which ganesha 4.3 refuses with
//! NFS4ERR_INVAL (the Linux client does not ask for it). It sends what the Linux client
//! sends for the same steps; every reply is parsed field by field, so a server answering
//! anything else fails the test rather than passing it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The server does not serve the COMPOUND's minor version.
pub(crate) const NFS4ERR_MINOR_VERS_MISMATCH: u32 = 10021;

const OP_CLOSE: u32 = 4;
const OP_GETFH: u32 = 10;
const OP_LOOKUP: u32 = 15;
const OP_OPEN: u32 = 18;
const OP_PUTFH: u32 = 22;
const OP_PUTROOTFH: u32 = 24;
const OP_READ: u32 = 25;
const OP_WRITE: u32 = 38;
const OP_EXCHANGE_ID: u32 = 42;
const OP_CREATE_SESSION: u32 = 43;
const OP_DESTROY_SESSION: u32 = 44;
const OP_DESTROY_CLIENTID: u32 = 57;
const OP_SEQUENCE: u32 = 53;
const OP_RECLAIM_COMPLETE: u32 = 58;

/// What went wrong: an NFS status (`Status`) or anything else (`Other`).
#[derive(Debug)]
pub(crate) enum Error {
    /// An operation failed with this NFSv4 status.
    Status {
        /// The operation.
        op: u32,
        /// The status.
        status: u32,
    },
    /// Transport, RPC or decoding trouble.
    Other(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Status { op, status } => {
                write!(f, "operation {op} failed with NFSv4 status {status}")
            }
            Error::Other(s) => f.write_str(s),
        }
    }
}

type Result<T> = std::result::Result<T, Error>;

fn other(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string())
}

#[derive(Default)]
struct Xdr(Vec<u8>);

impl Xdr {
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn fixed(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        let pad = (4 - b.len() % 4) % 4;
        self.0.extend(std::iter::repeat_n(0, pad));
        self
    }
    fn opaque(&mut self, b: &[u8]) -> &mut Self {
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.fixed(b)
    }
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.data.len());
        let end = end.ok_or_else(|| other(format!("reply ends early at byte {}", self.at)))?;
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }
    fn fixed(&mut self, n: usize) -> Result<&'a [u8]> {
        let b = self.take(n)?;
        self.take((4 - n % 4) % 4)?;
        Ok(b)
    }
    fn opaque(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.fixed(n)
    }
    fn bitmap(&mut self) -> Result<()> {
        let n = self.u32()?;
        for _ in 0..n {
            self.u32()?;
        }
        Ok(())
    }
    fn channel_attrs(&mut self) -> Result<()> {
        for _ in 0..6 {
            self.u32()?;
        }
        let ird = self.u32()?;
        for _ in 0..ird {
            self.u32()?;
        }
        Ok(())
    }
}

/// An open file: its handle and open stateid.
pub(crate) struct Open {
    fh: Vec<u8>,
    stateid: Vec<u8>,
}

/// One client with one session.
pub(crate) struct Client {
    stream: TcpStream,
    xid: u32,
    minor: u32,
    clientid: u64,
    session: [u8; 16],
    slot_seq: u32,
}

fn channel(x: &mut Xdr) {
    // headerpadsize, maxrequestsize, maxresponsesize, maxresponsesize_cached, maxoperations,
    // maxrequests, rdma_ird<1> (none): what the Linux client asks for a 1 MiB rsize/wsize.
    x.u32(0)
        .u32(1_049_620)
        .u32(1_049_480)
        .u32(3_428)
        .u32(8)
        .u32(1)
        .u32(0);
}

impl Client {
    /// Connects to `port` on 127.0.0.1 and opens a session at minor version `minor`
    /// (EXCHANGE_ID, CREATE_SESSION, RECLAIM_COMPLETE).
    pub(crate) fn connect(port: u16, minor: u32, owner: &str) -> Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(other)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(other)?;
        let mut client = Client {
            stream,
            xid: 0x6e66_7300,
            minor,
            clientid: 0,
            session: [0; 16],
            slot_seq: 1,
        };
        let mut x = Xdr::default();
        // client_owner4: verifier, owner id; flags (the server picks); SP4_NONE; no impl id.
        x.u32(OP_EXCHANGE_ID)
            .fixed(&std::process::id().to_be_bytes().repeat(2))
            .opaque(owner.as_bytes())
            .u32(0)
            .u32(0)
            .u32(0);
        let reply = client.compound(&x.0, 1, false)?;
        let mut r = Reader {
            data: &reply,
            at: 0,
        };
        Self::expect(&mut r, OP_EXCHANGE_ID)?;
        client.clientid = r.u64()?;
        let sequence = r.u32()?;
        let _flags = r.u32()?;
        let protect = r.u32()?;
        if protect != 0 {
            return Err(other(format!("state protection {protect} is not SP4_NONE")));
        }
        let mut x = Xdr::default();
        x.u32(OP_CREATE_SESSION)
            .u64(client.clientid)
            .u32(sequence)
            .u32(0);
        channel(&mut x);
        channel(&mut x);
        // cb_program, one AUTH_NONE callback security parameter.
        x.u32(0x4000_0000).u32(1).u32(0);
        let reply = client.compound(&x.0, 1, false)?;
        let mut r = Reader {
            data: &reply,
            at: 0,
        };
        Self::expect(&mut r, OP_CREATE_SESSION)?;
        client.session.copy_from_slice(r.fixed(16)?);
        r.u32()?;
        r.u32()?;
        r.channel_attrs()?;
        r.channel_attrs()?;
        let mut x = Xdr::default();
        x.u32(OP_RECLAIM_COMPLETE).u32(0);
        let reply = client.sequenced(&x.0, 1)?;
        let mut r = Reader {
            data: &reply,
            at: 0,
        };
        Self::expect(&mut r, OP_RECLAIM_COMPLETE)?;
        Ok(client)
    }

    /// Creates (or truncates) `dir/name` for writing and reading.
    pub(crate) fn create(&mut self, dir: &str, name: &str) -> Result<Open> {
        self.open(dir, name, true)
    }

    /// Opens `dir/name` for reading.
    pub(crate) fn open_read(&mut self, dir: &str, name: &str) -> Result<Open> {
        self.open(dir, name, false)
    }

    fn open(&mut self, dir: &str, name: &str, create: bool) -> Result<Open> {
        let mut x = Xdr::default();
        x.u32(OP_PUTROOTFH);
        let mut ops = 1;
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            x.u32(OP_LOOKUP).opaque(part.as_bytes());
            ops += 1;
        }
        // OPEN: seqid, share access (both or read), deny none, owner.
        x.u32(OP_OPEN).u32(0).u32(if create { 3 } else { 1 }).u32(0);
        x.u64(self.clientid).opaque(b"nfslab-test-open-owner");
        if create {
            // OPEN4_CREATE, UNCHECKED4, a mode of 0644.
            x.u32(1).u32(0).u32(2).u32(0).u32(0x2).u32(4).u32(0o644);
        } else {
            x.u32(0);
        }
        x.u32(0).opaque(name.as_bytes());
        x.u32(OP_GETFH);
        let reply = self.sequenced(&x.0, ops + 2)?;
        let mut r = Reader {
            data: &reply,
            at: 0,
        };
        Self::expect(&mut r, OP_PUTROOTFH)?;
        for _ in 1..ops {
            Self::expect(&mut r, OP_LOOKUP)?;
        }
        Self::expect(&mut r, OP_OPEN)?;
        let stateid = r.fixed(16)?.to_vec();
        r.u32()?; // change_info: atomic
        r.u64()?;
        r.u64()?;
        r.u32()?; // rflags
        r.bitmap()?;
        match r.u32()? {
            0 => {}
            3 => {
                // OPEN_DELEGATE_NONE_EXT: why, and for two reasons a flag.
                let why = r.u32()?;
                if why == 7 || why == 8 {
                    r.u32()?;
                }
            }
            other_type => {
                return Err(other(format!(
                    "the server granted a delegation of type {other_type}, which this client \
                     does not decode"
                )));
            }
        }
        Self::expect(&mut r, OP_GETFH)?;
        let fh = r.opaque()?.to_vec();
        Ok(Open { fh, stateid })
    }

    /// Writes `data` at `offset`, stable (FILE_SYNC4); returns the bytes written.
    pub(crate) fn write(&mut self, open: &Open, offset: u64, data: &[u8]) -> Result<u32> {
        let mut x = Xdr::default();
        x.u32(OP_PUTFH).opaque(&open.fh);
        x.u32(OP_WRITE)
            .fixed(&open.stateid)
            .u64(offset)
            .u32(2)
            .opaque(data);
        let reply = self.sequenced(&x.0, 2)?;
        let mut r = Reader {
            data: &reply,
            at: 0,
        };
        Self::expect(&mut r, OP_PUTFH)?;
        Self::expect(&mut r, OP_WRITE)?;
        let count = r.u32()?;
        let committed = r.u32()?;
        if committed != 2 {
            return Err(other(format!(
                "a FILE_SYNC4 write came back as {committed}"
            )));
        }
        Ok(count)
    }

    /// Reads at most `count` bytes at `offset`.
    pub(crate) fn read(&mut self, open: &Open, offset: u64, count: u32) -> Result<Vec<u8>> {
        let mut x = Xdr::default();
        x.u32(OP_PUTFH).opaque(&open.fh);
        x.u32(OP_READ).fixed(&open.stateid).u64(offset).u32(count);
        let reply = self.sequenced(&x.0, 2)?;
        let mut r = Reader {
            data: &reply,
            at: 0,
        };
        Self::expect(&mut r, OP_PUTFH)?;
        Self::expect(&mut r, OP_READ)?;
        r.u32()?; // eof
        Ok(r.opaque()?.to_vec())
    }

    /// Closes an open file.
    pub(crate) fn close(&mut self, open: Open) -> Result<()> {
        let mut x = Xdr::default();
        x.u32(OP_PUTFH).opaque(&open.fh);
        x.u32(OP_CLOSE).u32(0).fixed(&open.stateid);
        let reply = self.sequenced(&x.0, 2)?;
        let mut r = Reader {
            data: &reply,
            at: 0,
        };
        Self::expect(&mut r, OP_PUTFH)?;
        Self::expect(&mut r, OP_CLOSE)?;
        Ok(())
    }

    /// Destroys the session and the client id.
    pub(crate) fn shutdown(mut self) -> Result<()> {
        let mut x = Xdr::default();
        x.u32(OP_DESTROY_SESSION).fixed(&self.session);
        self.compound(&x.0, 1, false)?;
        let mut x = Xdr::default();
        x.u32(OP_DESTROY_CLIENTID).u64(self.clientid);
        self.compound(&x.0, 1, false)?;
        Ok(())
    }

    /// Reads one operation's result header; an error status ends the reply.
    fn expect(r: &mut Reader<'_>, op: u32) -> Result<()> {
        let got = r.u32()?;
        if got != op {
            return Err(other(format!(
                "expected the result of operation {op}, got {got}"
            )));
        }
        match r.u32()? {
            0 => Ok(()),
            status => Err(Error::Status { op, status }),
        }
    }

    /// A COMPOUND starting with SEQUENCE on slot 0; returns the results after SEQUENCE's.
    fn sequenced(&mut self, ops: &[u8], count: u32) -> Result<Vec<u8>> {
        let mut x = Xdr::default();
        x.u32(OP_SEQUENCE)
            .fixed(&self.session)
            .u32(self.slot_seq)
            .u32(0)
            .u32(0)
            .u32(0);
        x.0.extend_from_slice(ops);
        let reply = self.compound(&x.0, count, true)?;
        let mut r = Reader {
            data: &reply,
            at: 0,
        };
        Self::expect(&mut r, OP_SEQUENCE)?;
        // The slot's sequence advances only when SEQUENCE itself succeeded.
        self.slot_seq = self.slot_seq.wrapping_add(1);
        r.fixed(16)?;
        for _ in 0..5 {
            r.u32()?;
        }
        Ok(reply[r.at..].to_vec())
    }

    /// One COMPOUND of `count` operations (`count + 1` with a SEQUENCE in front); returns
    /// the reply from the first operation's result on. A failed COMPOUND with no results is
    /// its status.
    fn compound(&mut self, ops: &[u8], count: u32, sequence: bool) -> Result<Vec<u8>> {
        self.xid = self.xid.wrapping_add(1);
        let mut x = Xdr::default();
        // RPC call: NFS program 100003 version 4, COMPOUND, AUTH_SYS root.
        x.u32(self.xid).u32(0).u32(2).u32(100_003).u32(4).u32(1);
        let mut cred = Xdr::default();
        cred.u32(0).opaque(b"nfslab-test").u32(0).u32(0).u32(0);
        x.u32(1).opaque(&cred.0).u32(0).u32(0);
        x.opaque(b"")
            .u32(self.minor)
            .u32(count + u32::from(sequence));
        x.0.extend_from_slice(ops);
        let mut record = (u32::try_from(x.0.len()).unwrap_or(0) | 0x8000_0000)
            .to_be_bytes()
            .to_vec();
        record.extend_from_slice(&x.0);
        self.stream.write_all(&record).map_err(other)?;
        let reply = self.read_record()?;
        let mut r = Reader {
            data: &reply,
            at: 0,
        };
        if r.u32()? != self.xid {
            return Err(other("a reply to another call"));
        }
        if r.u32()? != 1 || r.u32()? != 0 {
            return Err(other("the RPC call was not accepted"));
        }
        r.u32()?;
        r.opaque()?;
        let accept = r.u32()?;
        if accept != 0 {
            return Err(other(format!("the RPC call failed (accept_stat {accept})")));
        }
        let status = r.u32()?;
        r.opaque()?; // tag
        let results = r.u32()?;
        if results == 0 {
            return Err(Error::Status { op: 0, status });
        }
        Ok(reply[r.at..].to_vec())
    }

    fn read_record(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let mut head = [0u8; 4];
            self.stream.read_exact(&mut head).map_err(other)?;
            let word = u32::from_be_bytes(head);
            let mut fragment = vec![0u8; (word & 0x7fff_ffff) as usize];
            self.stream.read_exact(&mut fragment).map_err(other)?;
            out.extend_from_slice(&fragment);
            if word & 0x8000_0000 != 0 {
                return Ok(out);
            }
        }
    }
}
