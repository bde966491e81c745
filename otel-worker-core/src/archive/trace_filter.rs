//! Which blocks may hold a trace: per block, a Bloom filter of its trace ids split into
//! shards by a hash of the id, so a lookup over a month reads one small shard of every
//! block instead of every block's whole filter (docs/architecture.md, "What the metadata
//! costs, and where it lives"). Ids are hashed before use: some SDKs and tests make ids
//! that are anything but random.
//!
//! A shard's stored form is ours and fixed: one byte, the number of bits a trace id sets,
//! then the bits (bit `i` in byte `1 + i / 8` at `1 << (i % 8)`); an id sets the bits
//! `(h1 + j * h2) mod bits` for `j` in `0..k`, with `h1` and `h2` the low and high halves of
//! the xxh3 of its 16 bytes rotated by 17 (the unrotated hash picks the shard). An empty
//! shard is empty: no id.

/// Bits per trace id: about 1% false positives with [`HASHES`] bits set per id.
pub const BITS_PER_ID: usize = 10;

/// Bits an id sets.
pub const HASHES: u8 = 7;

/// The shard of a trace id (its 16 bytes) among `shards`.
pub fn shard_of(trace_id: &[u8; 16], shards: u16) -> u16 {
    (hash(trace_id) % u64::from(shards.max(1))) as u16
}

/// The filters of `trace_ids`, one per shard (`shards` of them, at least one); duplicate
/// ids count once.
pub fn build(trace_ids: &[[u8; 16]], shards: u16) -> Vec<Vec<u8>> {
    let shards = shards.max(1);
    let mut by_shard: Vec<Vec<&[u8; 16]>> = vec![Vec::new(); usize::from(shards)];
    for id in trace_ids {
        by_shard[usize::from(shard_of(id, shards))].push(id);
    }
    by_shard
        .into_iter()
        .map(|mut ids| {
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                return Vec::new();
            }
            let bits = (ids.len() * BITS_PER_ID).next_multiple_of(8).max(64);
            let mut filter = vec![0u8; 1 + bits / 8];
            filter[0] = HASHES;
            for id in ids {
                for bit in positions(id, HASHES, bits) {
                    filter[1 + bit / 8] |= 1 << (bit % 8);
                }
            }
            filter
        })
        .collect()
}

/// Whether the shard `filter` (as [`build`] made it, for this id's shard) may hold
/// `trace_id`: never a false "no".
pub fn may_contain(filter: &[u8], trace_id: &[u8; 16]) -> bool {
    let Some((&hashes, bits)) = filter.split_first() else {
        return false;
    };
    let len = bits.len() * 8;
    len > 0 && positions(trace_id, hashes, len).all(|bit| bits[bit / 8] & (1 << (bit % 8)) != 0)
}

fn hash(trace_id: &[u8; 16]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(trace_id)
}

fn positions(trace_id: &[u8; 16], hashes: u8, bits: usize) -> impl Iterator<Item = usize> {
    let h = hash(trace_id).rotate_left(17);
    let (h1, h2) = (h & 0xffff_ffff, h >> 32);
    (0..u64::from(hashes))
        .map(move |j| (h1.wrapping_add(j.wrapping_mul(h2)) % bits as u64) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic, well spread ids.
    fn ids(from: u64, n: u64) -> Vec<[u8; 16]> {
        (from..from + n)
            .map(|i| {
                let h = xxhash_rust::xxh3::xxh3_128(&i.to_le_bytes());
                h.to_le_bytes()
            })
            .collect()
    }

    #[test]
    fn every_id_of_a_block_is_found_and_about_one_in_a_hundred_others_is_let_through() {
        let members = ids(0, 100_000);
        let filters = build(&members, 256);
        assert_eq!(filters.len(), 256);
        let find = |id: &[u8; 16]| may_contain(&filters[usize::from(shard_of(id, 256))], id);
        assert!(members.iter().all(find));
        let strangers = ids(1_000_000, 100_000);
        let passed = strangers.iter().filter(|id| find(id)).count();
        assert!(passed < 1_500, "{passed} false positives in 100,000");
        let bytes: usize = filters.iter().map(Vec::len).sum();
        assert!(bytes < 100_000 * 13 / 10, "{bytes} bytes for 100,000 ids");
    }

    #[test]
    fn ids_that_differ_only_at_the_end_spread_over_every_shard() {
        // 0000...0001, 0000...0002, ...: what counters and tests make.
        let sequential: Vec<[u8; 16]> = (1..=16_000u128).map(u128::to_be_bytes).collect();
        let filters = build(&sequential, 16);
        let sizes: Vec<usize> = filters.iter().map(Vec::len).collect();
        assert!(
            sizes.iter().all(|s| (1_000..1_500).contains(s)),
            "{sizes:?}"
        );
        assert!(
            sequential
                .iter()
                .all(|id| may_contain(&filters[usize::from(shard_of(id, 16))], id))
        );
    }

    #[test]
    fn an_empty_shard_holds_nothing_and_damaged_ones_do_not_panic() {
        let filters = build(&ids(0, 3), 64);
        assert!(filters.iter().filter(|f| f.is_empty()).count() >= 61);
        let id = ids(0, 1)[0];
        assert!(!may_contain(&[], &id));
        assert!(!may_contain(&[7], &id));
        for hashes in [0u8, 1, 255] {
            let _ = may_contain(&[hashes, 0xff, 0x00], &id);
        }
    }
}
