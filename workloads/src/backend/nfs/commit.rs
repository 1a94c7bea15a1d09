//! Unstable writes kept until a COMMIT confirms them, as a client's dirty pages.
//!
//! Each kept write carries the order it was issued in (`seq`) and the write verifier the
//! server answered. A newer write that covers an older one replaces it, so a file's kept
//! data never exceeds its size and holds only the latest content per range. When a COMMIT
//! returns another verifier (the server restarted and may have lost them), the stale
//! writes are sent again in [`waves`]: in issue order, writes that overlap never in the
//! same wave, so an older write can never land after a newer one.

use std::collections::BTreeMap;

use nfs3_types::nfs3::writeverf3;

use super::rpc::Request;

/// A write the server has not committed yet.
#[derive(Debug, Clone)]
pub(crate) struct Kept {
    /// Byte offset.
    pub offset: u64,
    /// Issue order within the file.
    pub seq: u64,
    /// Bytes.
    pub len: u64,
    /// The encoded WRITE, resent as it is (under a new xid).
    pub request: Request,
    /// The verifier the server answered.
    pub verf: writeverf3,
}

impl Kept {
    fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// A file's kept writes.
#[derive(Debug, Default)]
pub(crate) struct Retained {
    writes: BTreeMap<(u64, u64), Kept>,
    bytes: u64,
}

impl Retained {
    /// Bytes kept.
    #[must_use]
    pub(crate) const fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether nothing is kept.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Keeps `write`, dropping older writes it covers; returns the change of kept bytes.
    pub(crate) fn keep(&mut self, write: Kept) -> i64 {
        let before = self.bytes;
        let covered: Vec<(u64, u64)> = self
            .writes
            .range((write.offset, 0)..(write.end(), 0))
            .filter(|(_, w)| w.end() <= write.end() && w.seq < write.seq)
            .map(|(k, _)| *k)
            .collect();
        for key in covered {
            if let Some(old) = self.writes.remove(&key) {
                self.bytes -= old.len;
            }
        }
        self.bytes += write.len;
        if let Some(replaced) = self.writes.insert((write.offset, write.seq), write) {
            self.bytes -= replaced.len;
        }
        i64::try_from(self.bytes).unwrap_or(i64::MAX) - i64::try_from(before).unwrap_or(i64::MAX)
    }

    /// Takes every kept write (for a COMMIT).
    pub(crate) fn take(&mut self) -> Vec<Kept> {
        self.bytes = 0;
        std::mem::take(&mut self.writes).into_values().collect()
    }

    /// Puts writes back (a COMMIT failed); returns the bytes added.
    pub(crate) fn restore(&mut self, writes: Vec<Kept>) -> u64 {
        let mut added = 0;
        for w in writes {
            let before = self.bytes;
            self.keep(w);
            added += self.bytes.saturating_sub(before);
        }
        added
    }
}

/// Splits `stale` writes into groups to resend one after the other: issue order, and no
/// two overlapping writes in one group (writes within a group may go out together).
#[must_use]
pub(crate) fn waves(mut stale: Vec<Kept>) -> Vec<Vec<Kept>> {
    stale.sort_by_key(|w| w.seq);
    let mut out: Vec<Vec<Kept>> = Vec::new();
    let mut current: Vec<Kept> = Vec::new();
    let mut spans: BTreeMap<u64, u64> = BTreeMap::new();
    for w in stale {
        let before = spans
            .range(..=w.offset)
            .next_back()
            .is_some_and(|(_, end)| *end > w.offset);
        let after = spans.range(w.offset..w.end()).next().is_some();
        if before || after {
            out.push(std::mem::take(&mut current));
            spans.clear();
        }
        spans.insert(w.offset, w.end());
        current.push(w);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn kept(offset: u64, len: u64, seq: u64) -> Kept {
        Kept {
            offset,
            seq,
            len,
            request: Request {
                xid: 0,
                proc: 7,
                wire: Arc::new(super::super::rpc::Wire::default()),
            },
            verf: writeverf3([seq as u8; 8]),
        }
    }

    #[test]
    fn newer_writes_replace_what_they_cover() {
        let mut r = Retained::default();
        assert_eq!(r.keep(kept(0, 4096, 1)), 4096);
        assert_eq!(r.keep(kept(4096, 4096, 2)), 4096);
        // The same block again (another pass): replaces, no growth.
        assert_eq!(r.keep(kept(0, 4096, 3)), 0);
        assert_eq!(r.bytes(), 8192);
        // A large newer write covering both.
        assert_eq!(r.keep(kept(0, 65_536, 4)), 65_536 - 8192);
        // A small newer write inside it keeps the large one (partial overlap).
        assert_eq!(r.keep(kept(4096, 4096, 5)), 4096);
        let all = r.take();
        assert_eq!(all.iter().map(|w| w.seq).collect::<Vec<_>>(), vec![4, 5]);
        assert!(r.is_empty() && r.bytes() == 0);
        assert_eq!(r.restore(all), 65_536 + 4096);
    }

    #[test]
    fn stale_writes_go_out_in_order_without_overlaps_in_a_wave() {
        let stale = vec![
            kept(8192, 4096, 7),
            kept(0, 65_536, 2),
            kept(4096, 4096, 5),
            kept(131_072, 4096, 3),
        ];
        let w = waves(stale);
        let seqs: Vec<Vec<u64>> = w
            .iter()
            .map(|wave| wave.iter().map(|k| k.seq).collect())
            .collect();
        assert_eq!(seqs, vec![vec![2, 3], vec![5, 7]]);
        assert!(waves(Vec::new()).is_empty());
        let disjoint: Vec<Kept> = (0..100).map(|i| kept(i * 4096, 4096, 100 - i)).collect();
        assert_eq!(waves(disjoint).len(), 1);
    }
}
