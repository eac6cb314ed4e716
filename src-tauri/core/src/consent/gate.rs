//! [`CloudGate`]: the only handle on a cloud-tier client. It does not implement `LlmClient`; its
//! one send method consumes an [`Approval`], which only [`CloudEscalationGuard::authorize`] makes.
//! [`GovernedClient::new`] is how the registry hands clients out: a cloud-tier client comes back
//! only inside a gate.
//!
//! Guarantee: just before the call the gate checks again that the mode is not LOCKED, that the
//! request goes to the approved provider and model, that the provider still stands where it did
//! when the plan was made (same destination origin, effective tier and record revision: an edit of
//! its base URL, tier, kind, headers or key between approval and send is `destination_changed`),
//! and that SHA-256 of the prompt bytes actually being sent equals the plan's `payload_sha256`;
//! any mismatch hard-blocks and is recorded (FR-EVT-CLOUD-003). It then moves the plan from
//! approved to executed in one conditional
//! update, so a plan that something else blocked meanwhile (or a second send) is refused, and
//! commits FR-EVT-CLOUD-004 durably before the call is made. The call itself runs with a
//! [`GatePass`] in scope: adapters refuse any cloud-tier completion without one
//! ([`crate::llm::cloud_pass`]), and refuse one whose prompt no longer hashes to the approved
//! value or whose base URL is not on the approved origin.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::guard::{Approval, CloudEscalationGuard};
use super::mode::GovernanceMode;
use super::projection::payload_hash;
use super::schema::EscalationStatus;
use super::ConsentError;
use crate::llm::cloud_pass::{GatePass, CHANGED_REASON, DESTINATION_REASON};
use crate::llm::{
    CompletionRequest, CompletionResponse, CompletionStream, LlmClient, LlmError, ModelProfile,
};
use crate::recorder::{CallOutcome, CloudExecuted, DenyReason, FlightEvent, Ident};
use crate::vocab::{Destination, ProviderTier};

/// A client as the registry hands it out: local-tier clients directly, cloud-tier ones only
/// behind a [`CloudGate`].
pub enum GovernedClient {
    Local(Arc<dyn LlmClient>),
    Cloud(CloudGate),
}

impl GovernedClient {
    /// Wraps `client`, which sends to `destination` (as the registry has it now), according to
    /// the tier of the model it serves.
    pub fn new(
        client: Arc<dyn LlmClient>,
        guard: &CloudEscalationGuard,
        destination: Destination,
    ) -> Self {
        match client.profile().tier {
            ProviderTier::Local => Self::Local(client),
            ProviderTier::Cloud => Self::Cloud(CloudGate::new(client, guard.clone(), destination)),
        }
    }

    /// Whether a call through this client is a cloud escalation.
    pub fn is_cloud(&self) -> bool {
        matches!(self, Self::Cloud(_))
    }
}

/// What a send keeps of its approval to record a refusal that happens after the gate.
struct Sent {
    plan_id: String,
    receipt_id: String,
    payload_sha256: crate::recorder::Sha256Hex,
    binding: super::schema::PlanBinding,
}

impl Sent {
    fn of(approval: &Approval) -> Self {
        Self {
            plan_id: approval.plan_id.clone(),
            receipt_id: approval.receipt_id.clone(),
            payload_sha256: approval.payload_sha256.clone(),
            binding: approval.binding.clone(),
        }
    }
}

/// A cloud-tier client that can only be called with an [`Approval`].
pub struct CloudGate {
    inner: Arc<dyn LlmClient>,
    guard: CloudEscalationGuard,
    /// Where `inner` sends, as the registry has the provider now.
    destination: Destination,
}

impl std::fmt::Debug for CloudGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudGate")
            .field("model_id", &self.inner.profile().model_id)
            .finish_non_exhaustive()
    }
}

impl CloudGate {
    /// Puts `inner`, which sends to `destination`, behind the gate. Any tier is accepted:
    /// wrapping a local client only adds checks.
    pub fn new(
        inner: Arc<dyn LlmClient>,
        guard: CloudEscalationGuard,
        destination: Destination,
    ) -> Self {
        Self {
            inner,
            guard,
            destination,
        }
    }

    /// The model the gated client serves.
    pub fn profile(&self) -> &ModelProfile {
        self.inner.profile()
    }

    /// Sends `request` under `approval` (consumed: one approval, one call).
    pub async fn send(
        &self,
        approval: Approval,
        request: CompletionRequest,
    ) -> Result<CompletionResponse, ConsentError> {
        let sent = Sent::of(&approval);
        let pass = self.clear_for_takeoff(approval, &request).await?;
        let result = pass.scope(self.inner.completion(request)).await;
        self.after_call(sent, result).await
    }

    /// Starts a streaming completion of `request` under `approval`, after the same checks as
    /// [`CloudGate::send`].
    pub async fn send_stream(
        &self,
        approval: Approval,
        request: CompletionRequest,
    ) -> Result<CompletionStream, ConsentError> {
        let sent = Sent::of(&approval);
        let pass = self.clear_for_takeoff(approval, &request).await?;
        let result = pass.scope(self.inner.completion_stream(request)).await;
        self.after_call(sent, result).await
    }

    /// A refusal by the adapter's own check (the payload changed after the gate) is a recorded
    /// hash mismatch (FR-EVT-CLOUD-003); any other failure is the provider's.
    async fn after_call<T>(
        &self,
        sent: Sent,
        result: Result<T, LlmError>,
    ) -> Result<T, ConsentError> {
        match result {
            Err(LlmError::ConsentRequired { reason })
                if reason == CHANGED_REASON || reason == DESTINATION_REASON =>
            {
                let why = if reason == CHANGED_REASON {
                    DenyReason::HashMismatch
                } else {
                    DenyReason::DestinationChanged
                };
                let plan = Some((sent.plan_id.as_str(), sent.payload_sha256, &sent.binding));
                Err(self
                    .guard
                    .deny_with(why, plan, Some(&sent.receipt_id), None, false)
                    .await)
            }
            other => other.map_err(ConsentError::Llm),
        }
    }

    /// The last checks before the wire (LOCKED, destination, hash of the bytes about to be
    /// sent), then FR-EVT-CLOUD-004 committed durably and the plan marked executed.
    async fn clear_for_takeoff(
        &self,
        approval: Approval,
        request: &CompletionRequest,
    ) -> Result<GatePass, ConsentError> {
        let plan = || {
            Some((
                approval.plan_id.as_str(),
                approval.payload_sha256.clone(),
                &approval.binding,
            ))
        };
        let receipt = Some(approval.receipt_id.as_str());
        if self.guard.settings.mode().await? == GovernanceMode::Locked {
            return Err(self
                .guard
                .deny_with(DenyReason::Locked, plan(), receipt, None, true)
                .await);
        }
        if request.model_id != approval.binding.model_id
            || self.inner.profile().provider_id != approval.binding.provider_id
        {
            return Err(self
                .guard
                .deny_with(DenyReason::PlanMismatch, plan(), receipt, None, true)
                .await);
        }
        if approval.binding.destination != self.destination {
            return Err(self
                .guard
                .deny_with(DenyReason::DestinationChanged, plan(), receipt, None, true)
                .await);
        }
        let observed = payload_hash(&request.prompt);
        if observed != approval.payload_sha256 {
            return Err(self
                .guard
                .deny_with(
                    DenyReason::HashMismatch,
                    plan(),
                    receipt,
                    Some(observed),
                    true,
                )
                .await);
        }
        // Approved -> executed, or nothing: a plan blocked meanwhile (LOCKED switched on, a cap
        // reached, a concurrent send) is not sent.
        let claimed = self
            .guard
            .store
            .transition(
                &approval.plan_id,
                &[EscalationStatus::Approved],
                EscalationStatus::Executed,
                None,
            )
            .await?;
        if !claimed {
            let row = self.guard.plan(&approval.plan_id).await?;
            let reason = match row.status {
                EscalationStatus::Blocked => row.blocked_reason.unwrap_or(DenyReason::Replay),
                _ => DenyReason::Replay,
            };
            return Err(self
                .guard
                .deny_with(reason, plan(), receipt, None, false)
                .await);
        }
        let event = FlightEvent::CloudExecuted(CloudExecuted {
            projection_plan_id: Ident::sanitized(&approval.plan_id),
            consent_receipt_id: Ident::sanitized(&approval.receipt_id),
            payload_sha256: observed.clone(),
            sent_bytes: request.prompt.len() as u64,
            outcome: CallOutcome::Dispatched,
        });
        let correlation = CloudEscalationGuard::correlation(&approval.binding);
        if let Err(error) = self.guard.recorder.append_durable(event, correlation).await {
            // Nothing was sent: the plan must not look executed. Blocked, so it is never sent
            // without a new escalation either (its receipt is already consumed).
            let _ = self
                .guard
                .store
                .transition(
                    &approval.plan_id,
                    &[EscalationStatus::Executed],
                    EscalationStatus::Blocked,
                    None,
                )
                .await;
            return Err(error.into());
        }
        let approved: [u8; 32] = Sha256::digest(request.prompt.as_bytes()).into();
        Ok(GatePass::mint(
            approved,
            approval.binding.destination.origin.clone(),
        ))
    }
}

impl CloudEscalationGuard {
    /// Sends exactly the approved bytes of `escalation_id` through `gate` (for `hsk job resume`
    /// and the desktop modal): authorizes with the plan's receipt, rebuilds the request from the
    /// stored projection, and sends. A pending escalation is denied `no_receipt`, a denied one
    /// `person`, an executed one `replay`; each denial is recorded.
    pub async fn execute_approved(
        &self,
        escalation_id: &str,
        gate: &CloudGate,
    ) -> Result<CompletionResponse, ConsentError> {
        let (approval, request) = self.approved_call(escalation_id).await?;
        gate.send(approval, request).await
    }

    /// [`CloudEscalationGuard::execute_approved`], streaming: the same checks, then the approved
    /// bytes sent as a streaming completion (for the desktop's Run view).
    pub async fn execute_approved_stream(
        &self,
        escalation_id: &str,
        gate: &CloudGate,
    ) -> Result<CompletionStream, ConsentError> {
        let (approval, request) = self.approved_call(escalation_id).await?;
        gate.send_stream(approval, request).await
    }

    /// Authorizes the plan's receipt and rebuilds the approved request from the stored projection.
    async fn approved_call(
        &self,
        escalation_id: &str,
    ) -> Result<(Approval, CompletionRequest), ConsentError> {
        // The request is read (and its plan's seal checked) before `authorize` spends the
        // receipt: nothing that can fail comes after the approval is spent.
        let request = self.approved_request(escalation_id).await?;
        let receipt = self.receipt_for(escalation_id).await?;
        let approval = match receipt {
            Some(receipt) => {
                self.authorize(escalation_id, &receipt.consent_receipt_id)
                    .await?
            }
            None => {
                let row = self.plan(escalation_id).await?;
                let hash = crate::recorder::Sha256Hex::digest(row.payload_text.as_bytes());
                let plan = Some((escalation_id, hash, &row.binding));
                return Err(self
                    .deny_with(DenyReason::NoReceipt, plan, None, None, false)
                    .await);
            }
        };
        Ok((approval, request))
    }
}
