//! Seals on stored plans and receipts: an HMAC under the Flight Recorder's anchor key (in the OS
//! keychain) over every field that decides what is sent, to where, for whom and until when. A row
//! rewritten outside Handshake, even consistently and with the table triggers dropped, no longer
//! matches its seal; the guard refuses it as `forged` before anything is sent.
//!
//! The message is the JSON array of the fields in a fixed order (serde_json writes it the same
//! way every time), under a domain string per record kind. What changes over a record's life
//! (a plan's status, a receipt's consumption) is not sealed: the conditional updates and the
//! triggers guard those.

use super::store::PlanRow;
use super::ConsentError;
use crate::recorder::FlightRecorder;

const PLAN_DOMAIN: &str = "hsk.consent_plan_seal@1";
const RECEIPT_DOMAIN: &str = "hsk.consent_receipt_seal@1";

/// The seal of a plan row.
pub(super) fn plan_seal(recorder: &FlightRecorder, row: &PlanRow) -> Result<String, ConsentError> {
    let plan_json =
        serde_json::to_string(&row.plan).map_err(|_| ConsentError::Corrupt { what: "plan" })?;
    let b = &row.binding;
    let message = serde_json::to_vec(&(
        plan_json,
        &row.plan.payload_sha256,
        &row.payload_text,
        row.payload_bytes,
        &b.provider_id,
        &b.model_id,
        &b.job_id,
        &b.profile_id,
        b.trace_id.to_string(),
        super::schema::automation_str(b.automation_level),
        b.local_only,
        (
            &b.destination.origin,
            b.destination.tier.as_str(),
            b.destination.revision,
        ),
        row.max_tokens,
        row.temperature.to_bits(),
        &row.stop_sequences,
        row.created_at_ms,
    ))
    .map_err(|_| ConsentError::Corrupt { what: "plan" })?;
    Ok(recorder.seal(PLAN_DOMAIN, &message)?)
}

/// The seal of a receipt as stored (its JSON, issue and expiry times).
pub(super) fn receipt_seal(
    recorder: &FlightRecorder,
    receipt_json: &str,
    issued_at_ms: i64,
    expires_at_ms: i64,
) -> Result<String, ConsentError> {
    let message = serde_json::to_vec(&(receipt_json, issued_at_ms, expires_at_ms))
        .map_err(|_| ConsentError::Corrupt { what: "receipt" })?;
    Ok(recorder.seal(RECEIPT_DOMAIN, &message)?)
}

/// Compares two seals in constant time (a seal is a MAC).
pub(super) fn seals_match(expected: &str, stored: Option<&str>) -> bool {
    use subtle::ConstantTimeEq;
    stored.is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())))
}
