//! Projection: from a prompt to exactly the bytes a cloud model will receive.
//!
//! The payload of a completion is its prompt after redaction; the UTF-8 bytes of that text are
//! what the plan hashes (`payload_sha256`), what the person approves, what becomes
//! `CompletionRequest.prompt` on resume, and what the gate hashes again just before sending.
//! Guarantee: the projection is deterministic and refuses (typed) a payload over `max_bytes`
//! instead of cutting it, so nothing the person did not see is ever sent.

use crate::recorder::Sha256Hex;

use super::redact::redact;
use super::ConsentError;

/// The default `max_bytes` of a plan (64 KiB).
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024;

/// A projected payload: the bytes to send, their hash and the redactions applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Projection {
    /// The redacted prompt: exactly the text that will be sent.
    pub payload: String,
    pub payload_sha256: Sha256Hex,
    pub payload_bytes: u64,
    pub redactions_applied: Vec<String>,
    pub max_bytes: u64,
}

/// Redacts `prompt` and checks the result against `max_bytes`.
pub fn project(prompt: &str, max_bytes: u64) -> Result<Projection, ConsentError> {
    let redacted = redact(prompt);
    let bytes = redacted.text.len() as u64;
    if bytes > max_bytes {
        return Err(ConsentError::PayloadTooLarge { bytes, max_bytes });
    }
    Ok(Projection {
        payload_sha256: payload_hash(&redacted.text),
        payload_bytes: bytes,
        payload: redacted.text,
        redactions_applied: redacted.applied,
        max_bytes,
    })
}

/// The hash the plan binds and the gate checks: SHA-256 of the prompt's UTF-8 bytes.
pub fn payload_hash(prompt: &str) -> Sha256Hex {
    Sha256Hex::digest(prompt.as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_of_exactly_the_redacted_bytes() {
        let p = project("write to carol@example.org please", 1024).unwrap();
        assert_eq!(p.payload, "write to [REDACTED:email] please");
        assert_eq!(p.payload_bytes, p.payload.len() as u64);
        assert_eq!(p.payload_sha256, Sha256Hex::digest(p.payload.as_bytes()));
        assert_eq!(p.redactions_applied, vec!["email"]);
        assert_eq!(
            project("write to carol@example.org please", 1024).unwrap(),
            p
        );
    }

    #[test]
    fn over_max_bytes_is_refused_not_cut() {
        let err = project(&"x".repeat(11), 10).unwrap_err();
        assert!(matches!(
            err,
            ConsentError::PayloadTooLarge {
                bytes: 11,
                max_bytes: 10
            }
        ));
        assert_eq!(err.code(), "payload_too_large");
        assert!(project(&"x".repeat(10), 10).is_ok());
        // The limit applies after redaction (what is sent), not before.
        let key = "sk-abcdefghijklmnopqrstuvwxyz0123456789";
        assert!(project(key, 20).is_ok());
    }
}
