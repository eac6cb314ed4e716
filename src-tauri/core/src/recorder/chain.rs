//! The hash chain: each row's `hash` is `sha256(prev_hash || canonical(row))`.
//!
//! The canonical encoding is unambiguous by construction: a domain tag, then every field in a
//! fixed order, integers as 8 big-endian bytes and strings as a presence byte, an 8-byte
//! big-endian length and the UTF-8 bytes. Two different rows can never encode to the same bytes,
//! so a hash match means the row is exactly the one that was written.

use sha2::{Digest, Sha256};

/// `prev_hash` of the first event ever written.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const DOMAIN: &[u8] = b"hsk.flight_event@1\n";

/// The hashed content of one row, borrowed from wherever the row lives.
#[derive(Clone, Copy, Debug)]
pub struct RowContent<'a> {
    pub seq: i64,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub occurred_at_ms: i64,
    pub trace_id: Option<&'a str>,
    pub job_id: Option<&'a str>,
    pub profile_id: Option<&'a str>,
    pub provider_id: Option<&'a str>,
    pub model_id: Option<&'a str>,
    pub payload: &'a str,
}

/// The hash of `row` chained onto `prev_hash`, as lowercase hex.
pub fn row_hash(prev_hash: &str, row: &RowContent<'_>) -> String {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    put_str(&mut h, Some(prev_hash));
    h.update(row.seq.to_be_bytes());
    put_str(&mut h, Some(row.event_id));
    put_str(&mut h, Some(row.event_type));
    h.update(row.occurred_at_ms.to_be_bytes());
    put_str(&mut h, row.trace_id);
    put_str(&mut h, row.job_id);
    put_str(&mut h, row.profile_id);
    put_str(&mut h, row.provider_id);
    put_str(&mut h, row.model_id);
    put_str(&mut h, Some(row.payload));
    hex::encode(h.finalize())
}

fn put_str(h: &mut Sha256, value: Option<&str>) {
    match value {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row<'a>(payload: &'a str, job: Option<&'a str>) -> RowContent<'a> {
        RowContent {
            seq: 1,
            event_id: "e",
            event_type: "FR-EVT-PROFILE-002",
            occurred_at_ms: 1_700_000_000_000,
            trace_id: None,
            job_id: job,
            profile_id: None,
            provider_id: None,
            model_id: None,
            payload,
        }
    }

    #[test]
    fn every_field_and_the_link_change_the_hash() {
        let base = row_hash(GENESIS_HASH, &row("{}", None));
        assert_eq!(base.len(), 64);
        assert_eq!(base, row_hash(GENESIS_HASH, &row("{}", None)));
        assert_ne!(base, row_hash(&"1".repeat(64), &row("{}", None)));
        assert_ne!(base, row_hash(GENESIS_HASH, &row("{ }", None)));
        assert_ne!(
            base,
            row_hash(
                GENESIS_HASH,
                &RowContent {
                    seq: 2,
                    ..row("{}", None)
                }
            )
        );
        assert_ne!(
            base,
            row_hash(
                GENESIS_HASH,
                &RowContent {
                    occurred_at_ms: 1,
                    ..row("{}", None)
                }
            )
        );
    }

    #[test]
    fn absent_and_empty_differ_and_fields_do_not_run_together() {
        let none = row_hash(GENESIS_HASH, &row("{}", None));
        let empty = row_hash(GENESIS_HASH, &row("{}", Some("")));
        assert_ne!(none, empty);
        let a = RowContent {
            job_id: Some("ab"),
            profile_id: Some("c"),
            ..row("{}", None)
        };
        let b = RowContent {
            job_id: Some("a"),
            profile_id: Some("bc"),
            ..row("{}", None)
        };
        assert_ne!(row_hash(GENESIS_HASH, &a), row_hash(GENESIS_HASH, &b));
    }
}
