//! Share links: a signed, expiring grant to read one trace without the bearer token.
//!
//! A grant names the trace, the second it expires and a random share id, and carries an
//! HMAC-SHA256 of those (cut to 16 bytes) under a key derived from the server's token.
//! Verifying one reads nothing from the store; only a revocation (by share id) does. The
//! key lives nowhere but in the token, so the Worker needs no binding for it, and a new
//! token revokes every link at once.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long a link lasts when the request does not say: 7 days.
pub const DEFAULT_EXPIRY_SECONDS: u64 = 7 * 24 * 3600;

/// The longest a link may last: 90 days.
pub const MAX_EXPIRY_SECONDS: u64 = 90 * 24 * 3600;

/// What the key is derived for; a new version of the format gets a new label.
const KEY_LABEL: &[u8] = b"otel-worker share links v1";

/// The format version, the first byte of a grant.
const VERSION: u8 = 1;

/// Version, trace id, expiry (big-endian seconds), share id.
const SIGNED_BYTES: usize = 1 + 16 + 8 + 8;

/// The signature's length: 128 bits of HMAC-SHA256.
const TAG_BYTES: usize = 16;

/// The key that signs and checks links.
#[derive(Clone)]
pub struct ShareKey([u8; 32]);

/// What a link lets its holder read, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// 32 lower-case hex characters.
    pub trace_id: String,
    /// Unix seconds after which the link no longer opens.
    pub expires_s: u64,
    /// 16 lower-case hex characters: what a revocation names.
    pub share_id: String,
}

/// Why a link was refused before the store was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// Not a link this server could have made: the wrong length, encoding, version or
    /// signature. Which of these is not said.
    #[error("no such share link")]
    Invalid,
}

impl ShareKey {
    /// The key of a server whose token is `secret`.
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(KEY_LABEL);
        Self(mac.finalize().into_bytes().into())
    }

    /// The link text of `grant` (URL-safe base64, 66 characters).
    pub fn sign(&self, grant: &Grant) -> Result<String, ShareError> {
        let mut bytes = Vec::with_capacity(SIGNED_BYTES + TAG_BYTES);
        bytes.push(VERSION);
        bytes.extend(hex::decode(&grant.trace_id).map_err(|_| ShareError::Invalid)?);
        bytes.extend(grant.expires_s.to_be_bytes());
        bytes.extend(hex::decode(&grant.share_id).map_err(|_| ShareError::Invalid)?);
        if bytes.len() != SIGNED_BYTES {
            return Err(ShareError::Invalid);
        }
        let tag = self.tag(&bytes);
        bytes.extend_from_slice(&tag[..TAG_BYTES]);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The grant `text` carries, if this key signed it (checked in constant time).
    /// Expiry and revocation are the caller's to check.
    pub fn verify(&self, text: &str) -> Result<Grant, ShareError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| ShareError::Invalid)?;
        if bytes.len() != SIGNED_BYTES + TAG_BYTES || bytes[0] != VERSION {
            return Err(ShareError::Invalid);
        }
        let (signed, tag) = bytes.split_at(SIGNED_BYTES);
        let mut mac = self.mac();
        mac.update(signed);
        mac.verify_truncated_left(tag)
            .map_err(|_| ShareError::Invalid)?;
        let mut expires = [0; 8];
        expires.copy_from_slice(&signed[17..25]);
        Ok(Grant {
            trace_id: hex::encode(&signed[1..17]),
            expires_s: u64::from_be_bytes(expires),
            share_id: hex::encode(&signed[25..33]),
        })
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length")
    }

    fn tag(&self, signed: &[u8]) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(signed);
        mac.finalize().into_bytes().into()
    }
}

/// A new random share id (16 hex characters).
pub fn new_share_id() -> Result<String, getrandom::Error> {
    let mut id = [0u8; 8];
    getrandom::fill(&mut id)?;
    Ok(hex::encode(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            expires_s: 1_800_000_000,
            share_id: "00f067aa0ba902b7".into(),
        }
    }

    #[test]
    fn a_signed_grant_verifies_to_itself() {
        let key = ShareKey::derive(b"s3cret");
        let text = key.sign(&grant()).unwrap();
        assert_eq!(text.len(), 66);
        assert_eq!(key.verify(&text), Ok(grant()));
    }

    #[test]
    fn another_tokens_key_refuses_the_link() {
        let text = ShareKey::derive(b"s3cret").sign(&grant()).unwrap();
        assert_eq!(
            ShareKey::derive(b"s3cret2").verify(&text),
            Err(ShareError::Invalid)
        );
    }

    #[test]
    fn changing_any_byte_of_a_link_breaks_it() {
        let key = ShareKey::derive(b"s3cret");
        let bytes = URL_SAFE_NO_PAD.decode(key.sign(&grant()).unwrap()).unwrap();
        for at in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[at] ^= 1;
            assert_eq!(
                key.verify(&URL_SAFE_NO_PAD.encode(&changed)),
                Err(ShareError::Invalid),
                "byte {at}"
            );
        }
        for bad in ["", "abc", "!!!!", &"A".repeat(66)] {
            assert_eq!(key.verify(bad), Err(ShareError::Invalid), "{bad:?}");
        }
    }
}
