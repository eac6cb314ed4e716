//! The gate pass: the proof, carried in a task-local for the duration of one approved send, that
//! a cloud-tier completion is being made by the consent gate (`consent::CloudGate`).
//!
//! Every adapter calls [`check_cloud_completion`] before it sends a completion. A cloud-tier
//! model without a pass in scope fails with `ConsentRequired` and no byte is sent, so a cloud-tier
//! client built any other way (an adapter constructed directly, a wrapper, a future code path
//! that forgets the guard) cannot reach the network: the guarantee is by construction, not by
//! convention.
//!
//! This module owns the check and the pass type; only the consent gate mints a pass
//! ([`GatePass::mint`] is crate-visible, and `tests/architecture.rs` fails if any file but
//! `consent/gate.rs` calls it). The pass carries the approved `payload_sha256` and the approved
//! destination origin: the adapter hashes the prompt it is about to serialize and compares its
//! own base URL's origin, and refuses on either mismatch. That catches a payload changed between
//! the gate's check and the wire (by a wrapper client, say) and a client for another destination
//! than the one approved.

use std::future::Future;

use sha2::{Digest, Sha256};

use super::LlmError;
use url::Url;

use crate::vocab::{origin_of, ProviderTier};

/// Why [`check_cloud_completion`] refused, as carried in `LlmError::ConsentRequired`.
pub(crate) const NO_PASS_REASON: &str =
    "a cloud-tier model can only be called through the consent gate with an approved plan";
/// The reason when the bytes at the adapter differ from the approved ones.
pub(crate) const CHANGED_REASON: &str =
    "the payload at the adapter differs from the approved payload_sha256; nothing was sent";
/// The reason when the adapter would send to another origin than the approved one.
pub(crate) const DESTINATION_REASON: &str =
    "the adapter's destination differs from the approved destination; nothing was sent";

/// One approved send's pass.
#[derive(Clone, Debug)]
pub(crate) struct GatePass {
    payload_sha256: [u8; 32],
    origin: String,
}

tokio::task_local! {
    static GATE_PASS: GatePass;
}

impl GatePass {
    /// A pass for a send of the payload hashing to `payload_sha256` to `origin`. Called only by
    /// the consent gate, after every check of the approval.
    pub(crate) fn mint(payload_sha256: [u8; 32], origin: String) -> Self {
        Self {
            payload_sha256,
            origin,
        }
    }

    /// Runs `call` with this pass in scope (and only `call`).
    pub(crate) async fn scope<F: Future>(self, call: F) -> F::Output {
        GATE_PASS.scope(self, call).await
    }
}

/// Called by every adapter just before it sends a completion. Local tier: always allowed. Cloud
/// tier: allowed only inside the gate's scope, only to the approved origin, and only for exactly
/// the approved prompt bytes.
pub(crate) fn check_cloud_completion(
    tier: ProviderTier,
    base_url: &Url,
    prompt: &str,
) -> Result<(), LlmError> {
    if tier == ProviderTier::Local {
        return Ok(());
    }
    let refuse = |reason: &str| LlmError::ConsentRequired {
        reason: reason.to_owned(),
    };
    let pass = GATE_PASS
        .try_with(GatePass::clone)
        .map_err(|_| refuse(NO_PASS_REASON))?;
    if pass.origin != origin_of(base_url) {
        return Err(refuse(DESTINATION_REASON));
    }
    if Sha256::digest(prompt.as_bytes()).as_slice() != pass.payload_sha256 {
        return Err(refuse(CHANGED_REASON));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ORIGIN: &str = "https://api.example.com:443";

    fn url(u: &str) -> Url {
        Url::parse(u).unwrap()
    }

    fn pass_for(payload: &str) -> GatePass {
        GatePass::mint(Sha256::digest(payload.as_bytes()).into(), ORIGIN.to_owned())
    }

    fn reason(result: Result<(), LlmError>) -> String {
        match result {
            Err(LlmError::ConsentRequired { reason }) => reason,
            other => panic!("expected ConsentRequired, got {other:?}"),
        }
    }

    #[test]
    fn local_calls_need_no_pass() {
        assert!(
            check_cloud_completion(ProviderTier::Local, &url("http://127.0.0.1:1"), "hello")
                .is_ok()
        );
    }

    #[test]
    fn cloud_calls_without_a_pass_are_refused() {
        let refused = check_cloud_completion(
            ProviderTier::Cloud,
            &url("https://api.example.com/v1"),
            "hello",
        );
        assert_eq!(reason(refused), NO_PASS_REASON);
    }

    #[tokio::test]
    async fn a_pass_admits_exactly_the_approved_bytes_to_the_approved_origin() {
        pass_for("approved")
            .scope(async {
                assert!(check_cloud_completion(
                    ProviderTier::Cloud,
                    &url("https://api.example.com/v1"),
                    "approved"
                )
                .is_ok());
                let changed = check_cloud_completion(
                    ProviderTier::Cloud,
                    &url("https://api.example.com/v1"),
                    "approved!",
                );
                assert_eq!(reason(changed), CHANGED_REASON);
                let elsewhere = check_cloud_completion(
                    ProviderTier::Cloud,
                    &url("https://evil.example/v1"),
                    "approved",
                );
                assert_eq!(reason(elsewhere), DESTINATION_REASON);
            })
            .await;
        // Out of scope again: refused.
        assert!(check_cloud_completion(
            ProviderTier::Cloud,
            &url("https://api.example.com/v1"),
            "approved"
        )
        .is_err());
    }

    #[tokio::test]
    async fn a_pass_does_not_leak_into_spawned_tasks() {
        pass_for("approved")
            .scope(async {
                let spawned = tokio::spawn(async {
                    check_cloud_completion(
                        ProviderTier::Cloud,
                        &url("https://api.example.com/v1"),
                        "approved",
                    )
                })
                .await
                .unwrap();
                assert!(spawned.is_err(), "a spawned task must not inherit the pass");
            })
            .await;
    }
}
