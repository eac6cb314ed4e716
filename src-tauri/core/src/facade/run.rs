//! Running work for a job: resolve the role's model under the job's pinned profile, record the
//! resolution (FR-EVT-PROFILE-003), then either call the local model through the recording client
//! or, for a cloud-tier model, open a cloud escalation that waits for consent. A retryable
//! failure moves to the next candidate the profile allows; reaching a cloud model that way is
//! again an escalation, never a silent cloud call.
//!
//! Resuming sends exactly the approved bytes through the [`CloudGate`], the only door to a
//! cloud-tier client.
//!
//! Both stream: [`Handshake::run_job_stream`] and [`Handshake::resume_job_stream`] hand every
//! [`RunEvent`] (the resolution first, then text deltas, usage and the finish) to a sink as it
//! arrives; [`Handshake::run_job`] and [`Handshake::resume_job`] are the same path with a sink
//! that ignores them. Models are always called through the recording client, which records
//! streamed calls too, and the adapters cut a stream that passes `max_tokens`. A retryable
//! failure falls back to the next candidate only while nothing has been streamed yet.

use std::time::Instant;

use serde::Serialize;
use uuid::Uuid;

use crate::consent::{
    Approver, CloudEscalationGuard, CloudGate, ConsentReceipt, EscalationRequest, EscalationStatus,
    GuardConfig, PendingEscalation, ReceiptLedger,
};
use crate::llm::{CompletionRequest, CompletionResponse};

use super::run_events::{consume, RunEvent};
use crate::profiles::{
    next_after_failure, resolve_for_job, Availability, CandidateSlot, ModelHealth,
    PassOverReason as ResolvePassOver, Resolution, ResolveRequest, Role,
};
use crate::recorder::{
    Correlation, FlightEvent, ModelResolved, ModelRole, PassOverReason, PassedOver, ResolutionRule,
};

use super::clients::{parse_model_id, ClientError};
use super::error::FacadeError;
use super::recording::ident;
use super::Handshake;
use crate::registry::RegistryError;
use crate::vocab::ModelId;

/// What `hsk job run` and the Run view ask for.
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub job_id: String,
    pub role: Role,
    pub file_type: Option<String>,
    pub task_type: Option<String>,
    pub prompt: String,
    pub max_tokens: Option<u32>,
    pub temperature: f32,
    pub stop_sequences: Vec<String>,
}

/// How a run ended: answered by a local model, or waiting for consent to reach a cloud one.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunOutcome {
    Completed {
        resolution: Resolution,
        #[serde(serialize_with = "serialize_uuid")]
        trace_id: Uuid,
        response: CompletionResponse,
    },
    NeedsConsent {
        resolution: Resolution,
        escalation_id: String,
        escalation: Box<PendingEscalation>,
    },
}

fn serialize_uuid<S: serde::Serializer>(id: &Uuid, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_string())
}

/// Health as far as it is known without a probe: every model is assumed available, and a call
/// that fails with a retryable error moves resolution to the next candidate.
struct AssumeAvailable;

impl ModelHealth for AssumeAvailable {
    fn availability(&self, _model_id: &str) -> Availability {
        Availability::Available
    }
}

impl Handshake {
    /// The cloud escalation guard, on this workspace's database and Flight Recorder.
    pub async fn guard(&self) -> Result<CloudEscalationGuard, FacadeError> {
        let recorder = self.recorder().await?.clone();
        Ok(CloudEscalationGuard::new(
            self.db(),
            recorder,
            GuardConfig::default(),
            ReceiptLedger::new(self.keychain().clone()),
        ))
    }

    /// Runs `req` for its job (see the module docs).
    pub async fn run_job(&self, req: RunRequest) -> Result<RunOutcome, FacadeError> {
        self.run_job_stream(req, &mut |_| {}).await
    }

    /// Runs `req` for its job, handing every [`RunEvent`] to `sink` as it happens: each
    /// resolution (again after a fallback), then the model's output as it streams in, or the
    /// escalation that waits for consent. Dropping the returned future cancels the call and
    /// closes its connection (the recorder records the attempt as cancelled).
    pub async fn run_job_stream<S>(
        &self,
        req: RunRequest,
        sink: &mut S,
    ) -> Result<RunOutcome, FacadeError>
    where
        S: FnMut(RunEvent) + Send,
    {
        self.ready_to_record().await?;
        let catalog = self.catalog().await?;
        let profile = self.jobs().pinned_profile(&req.job_id).await?;
        let resolve_req = ResolveRequest {
            role: req.role,
            file_type: req.file_type.clone(),
            task_type: req.task_type.clone(),
        };
        let mut resolution = resolve_for_job(
            self.jobs(),
            &req.job_id,
            &resolve_req,
            &catalog,
            &AssumeAvailable,
        )
        .await?;
        loop {
            self.record_resolution(&resolution).await?;
            sink(RunEvent::Resolved {
                resolution: resolution.clone(),
            });
            if resolution.requires_escalation {
                let model_id = parse_model_id(&resolution.chosen_model_id)?;
                let destination = self.model_client(&model_id).await?.destination;
                let mut escalation = EscalationRequest::for_resolution(
                    &resolution,
                    &profile,
                    destination,
                    req.prompt.clone(),
                )?;
                escalation.max_tokens = req.max_tokens;
                escalation.temperature = req.temperature;
                escalation.stop_sequences = req.stop_sequences.clone();
                let pending = self.guard().await?.request_escalation(escalation).await?;
                sink(RunEvent::NeedsConsent {
                    escalation: Box::new(pending.clone()),
                });
                return Ok(RunOutcome::NeedsConsent {
                    resolution,
                    escalation_id: pending.escalation_id.clone(),
                    escalation: Box::new(pending),
                });
            }
            // Time-ordered ids keep the recorder's trace index writes local (docs/benchmarks.md).
            let trace_id = Uuid::now_v7();
            let request = CompletionRequest {
                trace_id,
                prompt: req.prompt.clone(),
                model_id: resolution.chosen_model_id.clone(),
                max_tokens: req.max_tokens,
                temperature: req.temperature,
                stop_sequences: req.stop_sequences.clone(),
            };
            let client = self.client_for(&resolution.chosen_model_id).await?;
            sink(RunEvent::Started {
                model_id: resolution.chosen_model_id.clone(),
                trace_id,
                cloud: false,
            });
            let started = Instant::now();
            let mut streamed = false;
            let result = match client.completion_stream(request).await {
                Ok(stream) => consume(stream, started, req.max_tokens, &mut streamed, sink).await,
                Err(error) => Err(error),
            };
            match result {
                Ok(response) => {
                    return Ok(RunOutcome::Completed {
                        resolution,
                        trace_id,
                        response,
                    })
                }
                // Falling back after output reached the sink would splice two models' answers.
                Err(error) if error.is_retryable() && !streamed => {
                    match next_after_failure(
                        &profile,
                        &resolution,
                        true,
                        &catalog,
                        &AssumeAvailable,
                    ) {
                        Ok(next) => resolution = next,
                        Err(_) => return Err(error.into()),
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Sends the job's approved escalation (exactly the approved bytes), or reports why it cannot:
    /// a denial, or nothing approved yet.
    pub async fn resume_job(
        &self,
        job_id: &str,
    ) -> Result<(PendingEscalation, CompletionResponse), FacadeError> {
        self.resume_job_stream(job_id, &mut |_| {}).await
    }

    /// [`Handshake::resume_job`], handing the answer to `sink` as it streams in.
    pub async fn resume_job_stream<S>(
        &self,
        job_id: &str,
        sink: &mut S,
    ) -> Result<(PendingEscalation, CompletionResponse), FacadeError>
    where
        S: FnMut(RunEvent) + Send,
    {
        let guard = self.guard().await?;
        let mine: Vec<PendingEscalation> = guard
            .list(None)
            .await?
            .into_iter()
            .filter(|e| e.binding.job_id == job_id)
            .collect();
        let latest = match mine.into_iter().last() {
            Some(approved) if approved.status == EscalationStatus::Approved => approved,
            other => {
                // Every path that declines to send is on record (FR-EVT-CLOUD-003) first.
                guard.record_refused_resume(job_id, other.as_ref()).await?;
                return Err(FacadeError::NothingToResume {
                    job_id: job_id.to_owned(),
                    status: other.map(|e| e.status),
                });
            }
        };
        let ready = match parse_model_id(&latest.binding.model_id) {
            Ok(id) => self.model_client(&id).await,
            Err(error) => Err(error),
        };
        let ready = match ready {
            Ok(ready) => ready,
            // The provider was removed, or the model id no longer stands: the approved
            // destination is gone. Recorded and blocked, like any other changed destination.
            Err(
                error @ (ClientError::InvalidModelId { .. }
                | ClientError::Registry(RegistryError::NotFound { .. })),
            ) => {
                let denied = guard.refuse_lost_destination(&latest).await;
                tracing::info!(error = %error, "the approved destination is gone");
                return Err(denied.into());
            }
            Err(other) => return Err(other.into()),
        };
        // Always behind the gate, whatever the provider's tier is now: a provider edited from
        // cloud to local since the approval is a changed destination, refused and recorded.
        let gate = CloudGate::new(ready.client, guard.clone(), ready.destination);
        let max_tokens = guard
            .approved_request(&latest.escalation_id)
            .await?
            .max_tokens;
        let started = Instant::now();
        let stream = guard
            .execute_approved_stream(&latest.escalation_id, &gate)
            .await?;
        sink(RunEvent::Started {
            model_id: latest.binding.model_id.clone(),
            trace_id: latest.binding.trace_id,
            cloud: true,
        });
        let mut streamed = false;
        let response = consume(stream, started, max_tokens, &mut streamed, sink).await?;
        Ok((latest, response))
    }

    /// Escalations, all or those in one state, oldest first.
    pub async fn escalations(
        &self,
        status: Option<EscalationStatus>,
    ) -> Result<Vec<PendingEscalation>, FacadeError> {
        Ok(self.guard().await?.list(status).await?)
    }

    /// One escalation: its plan, destination and exactly what would be sent.
    pub async fn escalation(&self, escalation_id: &str) -> Result<PendingEscalation, FacadeError> {
        Ok(self.guard().await?.show(escalation_id).await?)
    }

    /// A person's decision on an escalation; the receipt is minted by the guard.
    pub async fn decide_escalation(
        &self,
        escalation_id: &str,
        approve: bool,
        approver: Approver,
    ) -> Result<ConsentReceipt, FacadeError> {
        let guard = self.guard().await?;
        Ok(if approve {
            guard.approve(escalation_id, approver).await?
        } else {
            guard.deny(escalation_id, approver).await?
        })
    }

    /// FR-EVT-PROFILE-003 for a resolution, durable before the model is called.
    async fn record_resolution(&self, resolution: &Resolution) -> Result<(), FacadeError> {
        let event = FlightEvent::ModelResolved(ModelResolved {
            role: model_role(resolution.role),
            chosen_model_id: ident(&resolution.chosen_model_id),
            rule: resolution_rule(resolution),
            passed_over: resolution
                .passed_over
                .iter()
                .map(|p| PassedOver {
                    model_id: ident(&p.model_id),
                    reason: pass_over_reason(p.reason),
                })
                .collect(),
        });
        let mut correlation = Correlation::none()
            .profile(ident(&resolution.profile_id))
            .model(ident(&resolution.chosen_model_id));
        if let Some(job_id) = &resolution.job_id {
            correlation = correlation.job(ident(job_id));
        }
        if let Ok(id) = ModelId::parse(&resolution.chosen_model_id) {
            correlation = correlation.provider(ident(id.provider_id()));
        }
        self.record(event, correlation, || {
            format!(
                "`{}` was resolved for role {:?}",
                resolution.chosen_model_id, resolution.role
            )
        })
        .await?;
        Ok(())
    }
}

fn model_role(role: Role) -> ModelRole {
    match role {
        Role::Frontend => ModelRole::Frontend,
        Role::Orchestrator => ModelRole::Orchestrator,
        Role::Worker => ModelRole::Worker,
        Role::Validator => ModelRole::Validator,
    }
}

fn resolution_rule(resolution: &Resolution) -> ResolutionRule {
    if let Some(key) = resolution.rule.strip_prefix("task_type:") {
        ResolutionRule::TaskTypeOverride { key: ident(key) }
    } else if let Some(key) = resolution.rule.strip_prefix("file_type:") {
        ResolutionRule::FiletypeOverride { key: ident(key) }
    } else if resolution.chosen_slot == CandidateSlot::Fallback {
        ResolutionRule::Fallback
    } else {
        ResolutionRule::Primary
    }
}

fn pass_over_reason(reason: ResolvePassOver) -> PassOverReason {
    match reason {
        ResolvePassOver::NotAllowed => PassOverReason::NotAllowed,
        ResolvePassOver::LocalOnlyViolation => PassOverReason::LocalOnly,
        ResolvePassOver::CloudEscalationDisabled => PassOverReason::CloudEscalationDisabled,
        ResolvePassOver::UnknownProvider | ResolvePassOver::InvalidModelId => {
            PassOverReason::Unavailable
        }
        ResolvePassOver::Unhealthy => PassOverReason::Unhealthy,
        ResolvePassOver::Unavailable => PassOverReason::Unavailable,
        ResolvePassOver::FailedRetryable => PassOverReason::FailedRetryable,
    }
}
