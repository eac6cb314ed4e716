//! The gate pass: the proof, carried in a task-local for the duration of one approved send, that
//! a cloud-tier completion is being made by the [`super::CloudGate`].
//!
//! Every adapter calls [`check_cloud_completion`] before it sends a completion to a cloud-tier
//! model. Without a pass in scope the call fails with `ConsentRequired` and no byte is sent, so a
//! cloud-tier client built any other way (an adapter constructed directly, a wrapper, a future
//! code path that forgets the guard) cannot reach the network: the guarantee is by construction,
//! not by convention. Only this module can make a pass, and only the gate puts one in scope.
//!
//! The pass also carries the approved `payload_sha256`; the adapter hashes the prompt it is about
//! to serialize into the request body and refuses on a mismatch. That catches a payload changed
//! between the gate's own check and the wire (by a wrapper client, say).

use std::future::Future;

use crate::llm::LlmError;
use crate::recorder::Sha256Hex;
use crate::registry::ProviderTier;

/// Why [`check_cloud_completion`] refused, as carried in `LlmError::ConsentRequired`.
pub(crate) const NO_PASS_REASON: &str =
    "a cloud-tier model can only be called through the consent gate with an approved plan";
/// The reason when the bytes at the adapter differ from the approved ones.
pub(crate) const CHANGED_REASON: &str =
    "the payload at the adapter differs from the approved payload_sha256; nothing was sent";

/// One approved send's pass.
#[derive(Clone, Debug)]
pub(super) struct GatePass {
    payload_sha256: Sha256Hex,
}

tokio::task_local! {
    static GATE_PASS: GatePass;
}

impl GatePass {
    /// A pass for a send whose approved payload hashes to `payload_sha256`.
    pub(super) fn new(payload_sha256: Sha256Hex) -> Self {
        Self { payload_sha256 }
    }

    /// Runs `call` with this pass in scope (and only `call`).
    pub(super) async fn scope<F: Future>(self, call: F) -> F::Output {
        GATE_PASS.scope(self, call).await
    }
}

/// Called by every adapter just before it sends a completion. Local tier: always allowed. Cloud
/// tier: allowed only inside the gate's scope, and only for exactly the approved prompt bytes.
pub(crate) fn check_cloud_completion(tier: ProviderTier, prompt: &str) -> Result<(), LlmError> {
    if tier == ProviderTier::Local {
        return Ok(());
    }
    let approved = GATE_PASS
        .try_with(|pass| pass.payload_sha256.clone())
        .map_err(|_| LlmError::ConsentRequired {
            reason: NO_PASS_REASON.to_owned(),
        })?;
    if Sha256Hex::digest(prompt.as_bytes()) != approved {
        return Err(LlmError::ConsentRequired {
            reason: CHANGED_REASON.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_calls_need_no_pass() {
        assert!(check_cloud_completion(ProviderTier::Local, "hello").is_ok());
    }

    #[test]
    fn cloud_calls_without_a_pass_are_refused() {
        let error = check_cloud_completion(ProviderTier::Cloud, "hello").unwrap_err();
        assert!(
            matches!(&error, LlmError::ConsentRequired { reason } if reason == NO_PASS_REASON),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_pass_admits_exactly_the_approved_bytes() {
        let pass = GatePass::new(Sha256Hex::digest(b"approved"));
        pass.clone()
            .scope(async {
                assert!(check_cloud_completion(ProviderTier::Cloud, "approved").is_ok());
                let changed = check_cloud_completion(ProviderTier::Cloud, "approved!").unwrap_err();
                assert!(
                    matches!(&changed, LlmError::ConsentRequired { reason } if reason == CHANGED_REASON)
                );
            })
            .await;
        // Out of scope again: refused.
        assert!(check_cloud_completion(ProviderTier::Cloud, "approved").is_err());
    }

    #[tokio::test]
    async fn a_pass_does_not_leak_into_spawned_tasks() {
        let pass = GatePass::new(Sha256Hex::digest(b"approved"));
        pass.scope(async {
            let spawned =
                tokio::spawn(async { check_cloud_completion(ProviderTier::Cloud, "approved") })
                    .await
                    .unwrap();
            assert!(spawned.is_err(), "a spawned task must not inherit the pass");
        })
        .await;
    }
}
