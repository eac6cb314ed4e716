//! The value types an event field may hold, each unable to carry prose or a secret:
//! [`Sha256Hex`] (only a hashing constructor makes one), [`PayloadRef`] (a UUID of a locally
//! stored payload), [`Ident`] (a short identifier without whitespace) and [`ErrorKind`] (only
//! made from an [`LlmError`]).

use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::llm::LlmError;

/// The longest [`Ident`] accepted.
pub const MAX_IDENT_LEN: usize = 256;

/// A lowercase hex SHA-256 digest. Only [`Sha256Hex::digest`] and [`Sha256Hex::from_hasher`]
/// make one, so a value of this type is always a hash of something, never the thing. The 64
/// characters are held inline (no allocation: one is made on every completion's call path).
#[derive(Clone, PartialEq, Eq, Hash, ts_rs::TS)]
pub struct Sha256Hex(#[ts(type = "string")] [u8; 64]);

impl Sha256Hex {
    /// Hashes `bytes`.
    pub fn digest(bytes: impl AsRef<[u8]>) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    /// Finishes an incremental hash (for payloads hashed while streamed).
    pub fn from_hasher(hasher: Sha256) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 64];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(hasher.finalize()) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0x0f)];
        }
        Self(hex)
    }

    /// The 64 lowercase hex characters.
    pub fn as_str(&self) -> &str {
        // Always ASCII: only `from_hasher` fills the buffer, from the table above.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Serialize for Sha256Hex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Debug for Sha256Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sha256Hex").field(&self.as_str()).finish()
    }
}

impl std::fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference to a payload kept locally (never its content): the payload's UUID in local storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, ts_rs::TS)]
#[serde(transparent)]
pub struct PayloadRef(#[ts(type = "string")] Uuid);

impl PayloadRef {
    /// The reference to the locally stored payload `id`.
    pub fn new(id: Uuid) -> Self {
        Self(id)
    }

    /// The payload's id.
    pub fn id(&self) -> Uuid {
        self.0
    }
}

/// Why a string was refused as an [`Ident`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidIdent {
    #[error("an identifier may not be empty")]
    Empty,
    #[error("an identifier may be at most {MAX_IDENT_LEN} bytes, this one has {len}")]
    TooLong { len: usize },
    #[error("an identifier may not contain whitespace or control characters")]
    Whitespace,
}

/// An identifier (profile, job, provider, model, plan, receipt ids; rule keys): 1 to 256 bytes,
/// no whitespace or control characters. That keeps prose (a prompt, a response) out of id fields.
/// Shared, not copied: a recording client clones its provider and model ids into every event.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, ts_rs::TS)]
#[serde(transparent)]
pub struct Ident(#[ts(type = "string")] Arc<str>);

impl Ident {
    /// Checks and wraps `value`.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidIdent> {
        let value = value.into();
        if value.is_empty() {
            return Err(InvalidIdent::Empty);
        }
        if value.len() > MAX_IDENT_LEN {
            return Err(InvalidIdent::TooLong { len: value.len() });
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidIdent::Whitespace);
        }
        Ok(Self(value.into()))
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For ids that come from our own configuration (a client's profile): whitespace and control
    /// characters become `_`, overlong ids are cut, an empty one becomes `unknown`.
    pub(crate) fn sanitized(value: &str) -> Self {
        let mut s: String = value
            .chars()
            .map(|c| {
                if c.is_whitespace() || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        if s.len() > MAX_IDENT_LEN {
            let mut cut = MAX_IDENT_LEN;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        if s.is_empty() {
            s.push_str("unknown");
        }
        Self(s.into())
    }
}

impl std::fmt::Display for Ident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The stable name of an error (`LlmError::kind()`), never its message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(transparent)]
pub struct ErrorKind(String);

impl ErrorKind {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&LlmError> for ErrorKind {
    fn from(error: &LlmError) -> Self {
        Self(error.kind().to_owned())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_only_a_hash() {
        let h = Sha256Hex::digest(b"abc");
        assert_eq!(
            h.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut hasher = Sha256::new();
        hasher.update(b"a");
        hasher.update(b"bc");
        assert_eq!(Sha256Hex::from_hasher(hasher), h);
    }

    #[test]
    fn idents_refuse_prose_and_oversize() {
        assert!(Ident::new("oll/gemma3:270m").is_ok());
        assert!(Ident::new("lan/hf.co/org/model:Q4_K_M").is_ok());
        assert_eq!(Ident::new(""), Err(InvalidIdent::Empty));
        assert_eq!(
            Ident::new("summarise this secret doc"),
            Err(InvalidIdent::Whitespace)
        );
        assert_eq!(Ident::new("a\nb"), Err(InvalidIdent::Whitespace));
        assert_eq!(
            Ident::new("x".repeat(257)),
            Err(InvalidIdent::TooLong { len: 257 })
        );
    }
}
