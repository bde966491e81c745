//! A Bloom filter with a stable stored form: the summary of what one search block's
//! spans contain. It answers "may contain" or "certainly not", never a false "not".
//!
//! The format is ours and fixed, because filters are stored: `m` bits as bytes ([`BITS`]
//! for a search block, sized to its terms for an archive block), bit `i` in byte `i / 8`
//! at `1 << (i % 8)`; a term sets the [`HASHES`] bits `(h1 + j * h2) mod m` for `j` in
//! `0..HASHES`, where `h1` and `h2` are the low and
//! high halves of the term's 64-bit xxh3.

/// Bits per filter: 64 KiB. A block closes before a third of them are set, which keeps
/// false positives near 1% per term.
pub const BITS: usize = 64 * 1024 * 8;

/// Bits set per term.
pub const HASHES: u64 = 5;

/// The share of set bits at which a block takes no new traces.
pub const FULL: f64 = 0.35;

/// A term's position, computed once and tested against many filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Term(u64);

impl Term {
    pub fn of(bytes: &[u8]) -> Self {
        Self(xxhash_rust::xxh3::xxh3_64(bytes))
    }

    /// The bits the term sets in a filter of `bits` bits.
    fn bits(self, bits: usize) -> impl Iterator<Item = usize> {
        let (h1, h2) = (self.0 & 0xffff_ffff, self.0 >> 32);
        let bits = bits.max(1) as u64;
        (0..HASHES).map(move |j| (h1.wrapping_add(j.wrapping_mul(h2)) % bits) as usize)
    }
}

/// One filter.
#[derive(Clone, PartialEq, Eq)]
pub struct Bloom {
    bytes: Vec<u8>,
    set: usize,
}

impl std::fmt::Debug for Bloom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bloom({:.1}% set)", self.fill() * 100.0)
    }
}

impl Default for Bloom {
    fn default() -> Self {
        Self {
            bytes: vec![0; BITS / 8],
            set: 0,
        }
    }
}

/// The largest filter [`Bloom::for_terms`] sizes: 131,072 terms at sixteen bits; a block
/// with more distinct terms gets more false positives, never a filter D1 cannot take (it
/// is bound as hex, and D1 takes statements of about 1 MB).
pub const MAX_SIZED_BYTES: usize = 256 * 1024;

impl Bloom {
    /// A stored filter; `None` when it is not one of ours.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        if bytes.len() != BITS / 8 {
            return None;
        }
        let set = bytes.iter().map(|b| b.count_ones() as usize).sum();
        Some(Self { bytes, set })
    }

    /// A stored filter read as hex (how the SQL returns it).
    pub fn from_hex(text: &str) -> Option<Self> {
        hex::decode(text).ok().and_then(Self::from_bytes)
    }

    /// An empty filter sized for `terms` distinct terms: an archive block's, sized once it
    /// is built. Sixteen bits a term (about 0.15% false positives with [`HASHES`] bits a
    /// term; ten bits gave 1%, and blocks of alike data share their false positives, so
    /// one unlucky term passed every block of a measured run), at least 4 KiB and at most
    /// [`MAX_SIZED_BYTES`].
    pub fn for_terms(terms: usize) -> Self {
        Self {
            bytes: vec![0; (terms.saturating_mul(16) / 8).clamp(4_096, MAX_SIZED_BYTES)],
            set: 0,
        }
    }

    /// A stored filter of any size (an archive block's); `None` when empty.
    pub fn from_sized_bytes(bytes: Vec<u8>) -> Option<Self> {
        if bytes.is_empty() {
            return None;
        }
        let set = bytes.iter().map(|b| b.count_ones() as usize).sum();
        Some(Self { bytes, set })
    }

    /// The stored form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn to_hex(&self) -> String {
        hex::encode(&self.bytes)
    }

    pub fn insert(&mut self, term: Term) {
        for bit in term.bits(self.bytes.len() * 8) {
            let (byte, mask) = (bit / 8, 1u8 << (bit % 8));
            if self.bytes[byte] & mask == 0 {
                self.bytes[byte] |= mask;
                self.set += 1;
            }
        }
    }

    /// `false` means the term was certainly never inserted.
    pub fn may_contain(&self, term: Term) -> bool {
        term.bits(self.bytes.len() * 8)
            .all(|bit| self.bytes[bit / 8] & (1 << (bit % 8)) != 0)
    }

    /// The share of bits set.
    pub fn fill(&self) -> f64 {
        self.set as f64 / (self.bytes.len() * 8).max(1) as f64
    }

    /// Adds every term of `other` (a filter of the same size).
    pub fn merge(&mut self, other: &Bloom) {
        for (mine, theirs) in self.bytes.iter_mut().zip(&other.bytes) {
            *mine |= theirs;
        }
        self.set = self.bytes.iter().map(|b| b.count_ones() as usize).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserted_terms_are_always_found_and_others_rarely() {
        let mut bloom = Bloom::default();
        for i in 0..40_000 {
            bloom.insert(Term::of(format!("present {i}").as_bytes()));
        }
        for i in 0..40_000 {
            assert!(bloom.may_contain(Term::of(format!("present {i}").as_bytes())));
        }
        let false_positives = (0..100_000)
            .filter(|i| bloom.may_contain(Term::of(format!("absent {i}").as_bytes())))
            .count();
        assert!(bloom.fill() < FULL, "{bloom:?}");
        assert!(false_positives < 2_000, "{false_positives} in 100,000");
    }

    #[test]
    fn the_stored_form_reads_back_the_same() {
        let mut bloom = Bloom::default();
        bloom.insert(Term::of(b"x"));
        let back = Bloom::from_hex(&bloom.to_hex()).unwrap();
        assert_eq!(back, bloom);
        assert!(back.may_contain(Term::of(b"x")));
        assert_eq!(Bloom::from_hex("00"), None);
        let mut merged = Bloom::default();
        merged.insert(Term::of(b"y"));
        merged.merge(&bloom);
        assert!(merged.may_contain(Term::of(b"x")) && merged.may_contain(Term::of(b"y")));
    }
}
