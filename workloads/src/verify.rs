//! Verification pattern: deterministic, self-describing block content.
//!
//! Every block written in verify mode starts with a 48-byte header, little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `NFSLABv1` |
//! | 8..16 | file id (`thread * nrfiles + file`) |
//! | 16..24 | block index |
//! | 24..32 | byte offset of the block |
//! | 32..40 | generation (1 for the layout, +1 per overwrite) |
//! | 40..48 | checksum of the header fields and the payload |
//!
//! The payload is pseudo-random bytes derived from (seed, file id, block, generation), so a
//! reader can regenerate what it expects. [`check_block`] reports the first difference:
//! wrong header field, bad checksum (torn or corrupted block) or payload mismatch, with the
//! absolute offset of the first differing byte.

use serde::{Deserialize, Serialize};

use crate::ops::{Rng, mix_seed};

/// Magic at the start of every verified block.
pub(crate) const MAGIC: [u8; 8] = *b"NFSLABv1";
/// Header length in bytes.
pub(crate) const HEADER_LEN: usize = 48;
const CHECKSUM_AT: usize = 40;

/// Where a block sits and which version of it is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockId {
    /// Global file id.
    pub file_id: u64,
    /// Block index in the file.
    pub block: u64,
    /// Byte offset in the file.
    pub offset: u64,
    /// Generation; 0 when unknown (files reused from an earlier run), then any generation
    /// the block declares is accepted if the block is otherwise intact.
    pub generation: u64,
}

/// Header fields as read from (or expected in) a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderFields {
    /// Magic bytes as text (lossy).
    pub magic: String8,
    /// File id.
    pub file_id: u64,
    /// Block index.
    pub block: u64,
    /// Byte offset.
    pub offset: u64,
    /// Generation.
    pub generation: u64,
    /// Checksum.
    pub checksum: u64,
}

/// Eight bytes shown as text in results (`NFSLABv1`, or escaped bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct String8(pub [u8; 8]);

impl Serialize for String8 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.escape_ascii().to_string())
    }
}

impl<'de> Deserialize<'de> for String8 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let mut bytes = [0u8; 8];
        for (slot, b) in bytes.iter_mut().zip(text.bytes()) {
            *slot = b;
        }
        Ok(String8(bytes))
    }
}

fn read_u64(buf: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// Reads the header fields of a block (`buf.len() >= HEADER_LEN`).
#[must_use]
pub(crate) fn read_header(buf: &[u8]) -> HeaderFields {
    let mut magic = [0u8; 8];
    magic.copy_from_slice(&buf[..8]);
    HeaderFields {
        magic: String8(magic),
        file_id: read_u64(buf, 8),
        block: read_u64(buf, 16),
        offset: read_u64(buf, 24),
        generation: read_u64(buf, 32),
        checksum: read_u64(buf, CHECKSUM_AT),
    }
}

/// Checksum of a block: every 8-byte word except the checksum field, mixed in order.
#[must_use]
pub(crate) fn checksum(buf: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut words = buf.chunks_exact(8);
    for (i, word) in (&mut words).enumerate() {
        if i * 8 == CHECKSUM_AT {
            continue;
        }
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        h = (h ^ u64::from_le_bytes(bytes))
            .wrapping_mul(0x0000_0100_0000_01b3)
            .rotate_left(29);
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 32)
}

/// Fills `buf` (one block) with the content expected for `id` under `seed`.
pub fn fill_block(buf: &mut [u8], seed: u64, id: BlockId) {
    buf[..8].copy_from_slice(&MAGIC);
    buf[8..16].copy_from_slice(&id.file_id.to_le_bytes());
    buf[16..24].copy_from_slice(&id.block.to_le_bytes());
    buf[24..32].copy_from_slice(&id.offset.to_le_bytes());
    buf[32..40].copy_from_slice(&id.generation.to_le_bytes());
    Rng::new(mix_seed(&[seed, id.file_id, id.block, id.generation])).fill(&mut buf[HEADER_LEN..]);
    let sum = checksum(buf);
    buf[CHECKSUM_AT..HEADER_LEN].copy_from_slice(&sum.to_le_bytes());
}

/// What is wrong with a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// The block does not start with the magic (never written in verify mode, or overwritten).
    Magic,
    /// The header names another file.
    FileId,
    /// The header names another block.
    Block,
    /// The header names another offset.
    Offset,
    /// The header carries another generation (stale data: a lost write).
    Generation,
    /// The stored checksum does not match the content (torn or corrupted block).
    Checksum,
    /// The header is intact but the payload differs from what it implies.
    Payload,
    /// Fewer bytes than a block came back.
    ShortRead,
}

/// One bad block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// File path (as the backend names it).
    pub file: String,
    /// Offset of the block in the file.
    pub offset: u64,
    /// Absolute file offset of the first byte that differs from the expected content.
    pub bad_byte_offset: Option<u64>,
    /// What is wrong.
    pub kind: MismatchKind,
    /// Header fields expected.
    pub expected: HeaderFields,
    /// Header fields found.
    pub found: HeaderFields,
}

/// Checks one block read back against `id`. `scratch` must be a block-sized buffer the
/// function may overwrite (it receives the expected content). Returns the problem, if any.
pub(crate) fn check_block(
    buf: &[u8],
    scratch: &mut [u8],
    seed: u64,
    id: BlockId,
    file: &str,
) -> Option<Mismatch> {
    let found = read_header(buf);
    let generation = if id.generation == 0 {
        found.generation
    } else {
        id.generation
    };
    let expected_id = BlockId { generation, ..id };
    fill_block(scratch, seed, expected_id);
    if buf == scratch {
        return None;
    }
    let expected = read_header(scratch);
    let kind = if found.magic.0 != MAGIC {
        MismatchKind::Magic
    } else if found.file_id != id.file_id {
        MismatchKind::FileId
    } else if found.block != id.block {
        MismatchKind::Block
    } else if found.offset != id.offset {
        MismatchKind::Offset
    } else if found.generation != generation {
        MismatchKind::Generation
    } else if found.checksum != checksum(buf) {
        MismatchKind::Checksum
    } else {
        MismatchKind::Payload
    };
    let first_diff = buf.iter().zip(scratch.iter()).position(|(a, b)| a != b);
    Some(Mismatch {
        file: file.to_owned(),
        offset: id.offset,
        bad_byte_offset: first_diff.map(|d| id.offset + d as u64),
        kind,
        expected,
        found,
    })
}

/// A mismatch for a block that came back short.
#[must_use]
pub(crate) fn short_read(file: &str, id: BlockId, got: usize) -> Mismatch {
    let zero = HeaderFields {
        magic: String8([0; 8]),
        file_id: 0,
        block: 0,
        offset: 0,
        generation: 0,
        checksum: 0,
    };
    Mismatch {
        file: file.to_owned(),
        offset: id.offset,
        bad_byte_offset: Some(id.offset + got as u64),
        kind: MismatchKind::ShortRead,
        expected: HeaderFields {
            magic: String8(MAGIC),
            file_id: id.file_id,
            block: id.block,
            offset: id.offset,
            generation: id.generation,
            checksum: 0,
        },
        found: zero,
    }
}

/// Per-file generations of the blocks written during a run (for the read-back check).
#[derive(Debug, Clone, Default)]
pub struct Generations {
    gens: Vec<u32>,
}

impl Generations {
    /// All blocks unknown (0).
    #[must_use]
    pub fn unknown(blocks: u64) -> Generations {
        Generations {
            gens: vec![0; blocks as usize],
        }
    }

    /// All blocks at `generation` (after a layout).
    #[must_use]
    pub fn all(blocks: u64, generation: u32) -> Generations {
        Generations {
            gens: vec![generation; blocks as usize],
        }
    }

    /// Expected generation of `block` (0: unknown or never written).
    #[must_use]
    pub fn get(&self, block: u64) -> u64 {
        self.gens.get(block as usize).copied().map_or(0, u64::from)
    }

    /// Bumps `block` for a new write and returns the generation to write.
    pub fn bump(&mut self, block: u64) -> u64 {
        match self.gens.get_mut(block as usize) {
            Some(g) => {
                *g = g.wrapping_add(1).max(1);
                u64::from(*g)
            }
            None => 1,
        }
    }

    /// Blocks with a known generation, as `(block, generation)`.
    pub fn known(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.gens
            .iter()
            .enumerate()
            .filter(|(_, g)| **g > 0)
            .map(|(b, g)| (b as u64, u64::from(*g)))
    }
}

/// Totals of a verification (in the measured reads and the read-back after writes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyTally {
    /// Blocks checked.
    pub blocks_checked: u64,
    /// Bad blocks found (may exceed the list's length).
    pub mismatches: u64,
    /// The first bad blocks, up to 100 per run (`MAX_REPORTED_MISMATCHES`).
    pub list: Vec<Mismatch>,
}

/// How many mismatches are listed in full.
pub(crate) const MAX_REPORTED_MISMATCHES: usize = 100;

impl VerifyTally {
    /// Counts a checked block and its problem, if any.
    pub fn add(&mut self, result: Option<Mismatch>) {
        self.blocks_checked += 1;
        if let Some(m) = result {
            self.mismatches += 1;
            if self.list.len() < MAX_REPORTED_MISMATCHES {
                self.list.push(m);
            }
        }
    }

    /// Adds another tally.
    pub fn merge(&mut self, other: VerifyTally) {
        self.blocks_checked += other.blocks_checked;
        self.mismatches += other.mismatches;
        let room = MAX_REPORTED_MISMATCHES.saturating_sub(self.list.len());
        self.list.extend(other.list.into_iter().take(room));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(generation: u64) -> BlockId {
        BlockId {
            file_id: 3,
            block: 5,
            offset: 5 * 4096,
            generation,
        }
    }

    #[test]
    fn intact_block_passes_and_is_deterministic() {
        let mut a = vec![0u8; 4096];
        let mut b = vec![0u8; 4096];
        fill_block(&mut a, 1, id(2));
        fill_block(&mut b, 1, id(2));
        assert_eq!(a, b);
        assert_eq!(&a[..8], b"NFSLABv1");
        let mut scratch = vec![0u8; 4096];
        assert_eq!(check_block(&a, &mut scratch, 1, id(2), "f"), None);
        // Unknown generation accepts the block's own.
        assert_eq!(check_block(&a, &mut scratch, 1, id(0), "f"), None);
        fill_block(&mut b, 1, id(3));
        assert_ne!(a, b);
    }

    #[test]
    fn each_kind_of_damage_is_named() {
        let mut good = vec![0u8; 512];
        fill_block(&mut good, 9, id(1));
        let mut scratch = vec![0u8; 512];
        let check = |buf: &[u8], scratch: &mut [u8], want: BlockId| {
            check_block(buf, scratch, 9, want, "data/f").unwrap()
        };

        let mut flipped = good.clone();
        flipped[300] ^= 0x40;
        let m = check(&flipped, &mut scratch, id(1));
        assert_eq!(m.kind, MismatchKind::Checksum);
        assert_eq!(m.bad_byte_offset, Some(5 * 4096 + 300));
        assert_eq!(m.file, "data/f");

        let m = check(&good, &mut scratch, id(2));
        assert_eq!(m.kind, MismatchKind::Generation);
        assert_eq!((m.expected.generation, m.found.generation), (2, 1));

        let other_block = BlockId {
            block: 6,
            offset: 6 * 4096,
            ..id(1)
        };
        let m = check(&good, &mut scratch, other_block);
        assert_eq!(m.kind, MismatchKind::Block);

        let zeros = vec![0u8; 512];
        assert_eq!(check(&zeros, &mut scratch, id(1)).kind, MismatchKind::Magic);

        // A payload rewritten consistently (checksum fixed) is still caught.
        let mut forged = good.clone();
        forged[100] ^= 1;
        let sum = checksum(&forged);
        forged[40..48].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(
            check(&forged, &mut scratch, id(1)).kind,
            MismatchKind::Payload
        );
    }

    #[test]
    fn generations_track_writes() {
        let mut g = Generations::unknown(4);
        assert_eq!(g.known().count(), 0);
        assert_eq!(g.bump(2), 1);
        assert_eq!(g.bump(2), 2);
        assert_eq!(g.known().collect::<Vec<_>>(), vec![(2, 2)]);
        let laid = Generations::all(3, 1);
        assert_eq!(laid.get(1), 1);
    }

    #[test]
    fn tally_caps_the_list_not_the_count() {
        let mut t = VerifyTally::default();
        let m = short_read("f", id(1), 10);
        for _ in 0..(MAX_REPORTED_MISMATCHES + 5) {
            t.add(Some(m.clone()));
        }
        t.add(None);
        assert_eq!(t.blocks_checked, MAX_REPORTED_MISMATCHES as u64 + 6);
        assert_eq!(t.mismatches, MAX_REPORTED_MISMATCHES as u64 + 5);
        assert_eq!(t.list.len(), MAX_REPORTED_MISMATCHES);
    }
}
