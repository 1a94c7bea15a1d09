//! Operation streams: which operation a worker does next, backend-neutral.
//!
//! [`OpStream`] turns a [`ResolvedJob`] into the sequence of data operations one worker
//! issues: sequential or random offsets, the read/write mix, fsyncs every N writes, and the
//! io budget. Random offsets are a seeded permutation of the blocks per pass
//! ([`BlockPermutation`]): every block is touched exactly once per pass, no block twice,
//! with O(1) memory (fio's random map without the map). Files are served round robin, one
//! operation each (fio's default `file_service_type`).
//!
//! Everything here is deterministic for a given seed, so a run can be repeated exactly.

use crate::job::{FsyncPolicy, Pattern, ResolvedJob};

/// A small, fast, seedable generator (wyrand). Not for cryptography.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose output depends only on `seed`.
    #[must_use]
    pub(crate) const fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.state) * u128::from(self.state ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// A number in `0..n` (Lemire's multiply-shift; `n` must be positive).
    #[inline]
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Fills `buf` with random bytes.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next_u64().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }
}

/// Mixes several values into one well-spread 64-bit seed (splitmix64 finaliser per step).
#[must_use]
pub(crate) fn mix_seed(parts: &[u64]) -> u64 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    for &p in parts {
        h ^= p;
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
    }
    h
}

/// A seeded bijection of `0..n`: a 4-round Feistel network on the smallest even bit width
/// covering `n`, with cycle walking to stay below `n`.
#[derive(Debug, Clone)]
pub(crate) struct BlockPermutation {
    n: u64,
    half_bits: u32,
    half_mask: u64,
    keys: [u64; 4],
}

impl BlockPermutation {
    /// The permutation of `0..n` chosen by `seed`.
    #[must_use]
    pub(crate) fn new(n: u64, seed: u64) -> BlockPermutation {
        let bits = 64 - n.saturating_sub(1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        let half_mask = (1u64 << half_bits) - 1;
        let mut rng = Rng::new(seed);
        let keys = [
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64(),
        ];
        BlockPermutation {
            n,
            half_bits,
            half_mask,
            keys,
        }
    }

    #[inline]
    fn round(&self, value: u64, key: u64) -> u64 {
        let x = (value ^ key).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (x ^ (x >> 29)) & self.half_mask
    }

    #[inline]
    fn feistel(&self, x: u64) -> u64 {
        let mut left = x >> self.half_bits;
        let mut right = x & self.half_mask;
        for key in self.keys {
            let next = left ^ self.round(right, key);
            left = right;
            right = next;
        }
        (left << self.half_bits) | right
    }

    /// The element at position `index` (`index < len`).
    #[inline]
    #[must_use]
    pub(crate) fn get(&self, index: u64) -> u64 {
        if self.n <= 1 {
            return 0;
        }
        let mut x = self.feistel(index);
        while x >= self.n {
            x = self.feistel(x);
        }
        x
    }
}

/// Operation kinds, data and metadata. The names are the keys of the result's `ops` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// Data read.
    Read,
    /// Data write.
    Write,
    /// fsync or fdatasync.
    Fsync,
    /// mkdir.
    Mkdir,
    /// Create a file and write its content (open O_CREAT|O_EXCL, write, close).
    Create,
    /// stat.
    Stat,
    /// List a directory (open, read all entries, close).
    Readdir,
    /// rename.
    Rename,
    /// unlink.
    Unlink,
    /// rmdir.
    Rmdir,
}

impl OpKind {
    /// Number of kinds.
    pub const COUNT: usize = 10;
    /// Every kind, in index order.
    pub const ALL: [OpKind; OpKind::COUNT] = [
        OpKind::Read,
        OpKind::Write,
        OpKind::Fsync,
        OpKind::Mkdir,
        OpKind::Create,
        OpKind::Stat,
        OpKind::Readdir,
        OpKind::Rename,
        OpKind::Unlink,
        OpKind::Rmdir,
    ];

    /// Dense index for arrays.
    #[inline]
    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Name in results.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Write => "write",
            OpKind::Fsync => "fsync",
            OpKind::Mkdir => "mkdir",
            OpKind::Create => "create",
            OpKind::Stat => "stat",
            OpKind::Readdir => "readdir",
            OpKind::Rename => "rename",
            OpKind::Unlink => "unlink",
            OpKind::Rmdir => "rmdir",
        }
    }

    /// Whether the kind moves data (counted in bandwidth and IOPS).
    #[must_use]
    pub const fn is_data(self) -> bool {
        matches!(self, OpKind::Read | OpKind::Write)
    }

    /// Looks a kind up by its result name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One data operation of a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataOp {
    /// Read, Write or Fsync.
    pub kind: OpKind,
    /// Index of the file among the worker's files.
    pub file: u32,
    /// Block index within the file (for Fsync: the block just written).
    pub block: u64,
    /// Byte offset (`block * bs`).
    pub offset: u64,
    /// Bytes to move (0 for Fsync).
    pub len: u64,
}

/// The data operations of one worker, in order. Yields `None` when the io budget is spent;
/// time-based runs stop it from outside.
#[derive(Debug, Clone)]
pub struct OpStream {
    pattern: Pattern,
    bs: u64,
    files: u64,
    blocks: u64,
    rwmixread: u8,
    fsync_every: Option<u32>,
    ops_limit: Option<u64>,
    seed: u64,
    worker: u32,
    /// Data operations handed out so far.
    issued: u64,
    /// Current pass (once over every block of every file).
    pass: u64,
    permutations: Vec<BlockPermutation>,
    writes_per_file: Vec<u32>,
    pending_fsync: Option<DataOp>,
    mix: Rng,
}

impl OpStream {
    /// The stream of worker `worker` (0-based) for `job`.
    #[must_use]
    pub fn new(job: &ResolvedJob, worker: u32) -> OpStream {
        let fsync_every = match job.fsync {
            FsyncPolicy::Every(n) => Some(n),
            FsyncPolicy::None | FsyncPolicy::End => None,
        };
        let mut stream = OpStream {
            pattern: job.pattern,
            bs: job.bs,
            files: u64::from(job.nrfiles),
            blocks: job.blocks_per_file,
            rwmixread: job.rwmixread,
            fsync_every,
            ops_limit: job.ops_limit(),
            seed: job.seed,
            worker,
            issued: 0,
            pass: 0,
            permutations: Vec::new(),
            writes_per_file: vec![0; job.nrfiles as usize],
            pending_fsync: None,
            mix: Rng::new(mix_seed(&[job.seed, u64::from(worker), 0x6d6978])),
        };
        stream.start_pass(0);
        stream
    }

    fn start_pass(&mut self, pass: u64) {
        self.pass = pass;
        if self.pattern.random() {
            self.permutations = (0..self.files)
                .map(|f| {
                    BlockPermutation::new(
                        self.blocks,
                        mix_seed(&[self.seed, u64::from(self.worker), f, pass]),
                    )
                })
                .collect();
        }
    }

    /// Data operations (reads and writes) issued so far.
    #[must_use]
    pub const fn issued(&self) -> u64 {
        self.issued
    }

    /// Sets the io budget to `ops` more data operations from now (`None`: unbounded). The
    /// driver lifts the budget during the ramp and sets it when the window starts, so the
    /// measured phase of a size-bounded run moves exactly its `io_size`.
    pub fn rebase_budget(&mut self, ops: Option<u64>) {
        self.ops_limit = ops.map(|n| self.issued + n);
    }

    /// Passes completed over the worker's files.
    #[must_use]
    pub const fn pass(&self) -> u64 {
        self.pass
    }

    /// The next operation.
    #[inline]
    pub fn next_op(&mut self) -> Option<DataOp> {
        if let Some(op) = self.pending_fsync.take() {
            return Some(op);
        }
        if self.ops_limit.is_some_and(|limit| self.issued >= limit) {
            return None;
        }
        let per_pass = self.files * self.blocks;
        let in_pass = self.issued % per_pass;
        let pass = self.issued / per_pass;
        if pass != self.pass {
            self.start_pass(pass);
        }
        let file = in_pass % self.files;
        let index = in_pass / self.files;
        let block = if self.pattern.random() {
            self.permutations[file as usize].get(index)
        } else {
            index
        };
        let kind = match self.rwmixread {
            100 => OpKind::Read,
            0 => OpKind::Write,
            pct => {
                if self.mix.below(100) < u64::from(pct) {
                    OpKind::Read
                } else {
                    OpKind::Write
                }
            }
        };
        self.issued += 1;
        let op = DataOp {
            kind,
            file: file as u32,
            block,
            offset: block * self.bs,
            len: self.bs,
        };
        if kind == OpKind::Write
            && let Some(every) = self.fsync_every
        {
            let count = &mut self.writes_per_file[file as usize];
            *count += 1;
            if *count >= every {
                *count = 0;
                self.pending_fsync = Some(DataOp {
                    kind: OpKind::Fsync,
                    len: 0,
                    ..op
                });
            }
        }
        Some(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Job;
    use crate::units::Size;

    #[test]
    fn permutations_cover_every_block_once() {
        for n in [1u64, 2, 3, 7, 8, 100, 1000, 4097, 65_536] {
            let perm = BlockPermutation::new(n, 42);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let x = perm.get(i);
                assert!(x < n);
                assert!(!seen[x as usize], "n={n} repeated {x}");
                seen[x as usize] = true;
            }
        }
    }

    #[test]
    fn permutations_look_random_and_depend_on_seed() {
        let a = BlockPermutation::new(10_000, 1);
        let b = BlockPermutation::new(10_000, 2);
        let first_a: Vec<u64> = (0..32).map(|i| a.get(i)).collect();
        let first_b: Vec<u64> = (0..32).map(|i| b.get(i)).collect();
        assert_ne!(first_a, first_b);
        // Not the identity, and adjacent positions are rarely adjacent blocks.
        let adjacent = (0..9_999).filter(|&i| a.get(i + 1) == a.get(i) + 1).count();
        assert!(adjacent < 50, "{adjacent}");
    }

    #[test]
    fn rng_below_is_in_range_and_roughly_uniform() {
        let mut rng = Rng::new(9);
        let mut buckets = [0u32; 10];
        for _ in 0..100_000 {
            buckets[rng.below(10) as usize] += 1;
        }
        for b in buckets {
            assert!((9_000..11_000).contains(&b), "{buckets:?}");
        }
    }

    fn resolved(pattern: Pattern, edit: impl FnOnce(&mut Job)) -> ResolvedJob {
        let mut job = Job::new(pattern);
        job.bs = Some(Size(4096));
        job.size = Some(Size(4096 * 16));
        edit(&mut job);
        job.resolve().unwrap()
    }

    #[test]
    fn sequential_round_robin_over_files() {
        let job = resolved(Pattern::Read, |j| j.nrfiles = Some(2));
        let mut s = OpStream::new(&job, 0);
        let ops: Vec<DataOp> = std::iter::from_fn(|| s.next_op()).collect();
        assert_eq!(ops.len(), 32);
        assert_eq!((ops[0].file, ops[0].offset), (0, 0));
        assert_eq!((ops[1].file, ops[1].offset), (1, 0));
        assert_eq!((ops[2].file, ops[2].offset), (0, 4096));
        assert!(ops.iter().all(|o| o.kind == OpKind::Read && o.len == 4096));
    }

    #[test]
    fn random_pass_covers_each_block_and_later_passes_differ() {
        let job = resolved(Pattern::Randwrite, |j| {
            j.io_size = Some(Size(4096 * 32));
            j.fsync = Some(FsyncPolicy::None);
        });
        let mut s = OpStream::new(&job, 3);
        let ops: Vec<DataOp> = std::iter::from_fn(|| s.next_op()).collect();
        assert_eq!(ops.len(), 32);
        let mut first: Vec<u64> = ops[..16].iter().map(|o| o.block).collect();
        let mut second: Vec<u64> = ops[16..].iter().map(|o| o.block).collect();
        assert_ne!(first, second);
        first.sort_unstable();
        second.sort_unstable();
        assert_eq!(first, (0..16).collect::<Vec<_>>());
        assert_eq!(second, (0..16).collect::<Vec<_>>());
    }

    #[test]
    fn fsync_every_n_writes_per_file() {
        let job = resolved(Pattern::Write, |j| j.fsync = Some(FsyncPolicy::Every(4)));
        let mut s = OpStream::new(&job, 0);
        let ops: Vec<DataOp> = std::iter::from_fn(|| s.next_op()).collect();
        let writes = ops.iter().filter(|o| o.kind == OpKind::Write).count();
        let fsyncs: Vec<&DataOp> = ops.iter().filter(|o| o.kind == OpKind::Fsync).collect();
        assert_eq!(writes, 16);
        assert_eq!(fsyncs.len(), 4);
        assert_eq!(ops[4].kind, OpKind::Fsync);
        assert_eq!(ops[4].file, ops[3].file);
    }

    #[test]
    fn randrw_mix_follows_the_percentage() {
        let job = resolved(Pattern::Randrw, |j| {
            j.rwmixread = Some(70);
            j.size = Some(Size(4096 * 10_000));
            j.fsync = Some(FsyncPolicy::None);
        });
        let mut s = OpStream::new(&job, 0);
        let reads = std::iter::from_fn(|| s.next_op())
            .filter(|o| o.kind == OpKind::Read)
            .count();
        assert!((6_700..7_300).contains(&reads), "{reads}");
    }

    #[test]
    fn streams_are_deterministic_per_worker() {
        let job = resolved(Pattern::Randread, |_| {});
        let a: Vec<DataOp> = {
            let mut s = OpStream::new(&job, 1);
            std::iter::from_fn(|| s.next_op()).collect()
        };
        let b: Vec<DataOp> = {
            let mut s = OpStream::new(&job, 1);
            std::iter::from_fn(|| s.next_op()).collect()
        };
        let c: Vec<DataOp> = {
            let mut s = OpStream::new(&job, 2);
            std::iter::from_fn(|| s.next_op()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
