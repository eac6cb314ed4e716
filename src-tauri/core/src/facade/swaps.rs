//! Local model swaps through the facade: [`Handshake::swap_model`] moves a running job from one
//! model to another on the same local Ollama provider, driving [`ModelSwap`] step by step with an
//! [`OllamaLoader`] built from the registry's endpoint, and writes each step's Flight Recorder
//! event (FR-EVT-MODEL-001..005) durably as soon as the step's row is saved, failed steps
//! included. After a failed offload or load the job is resumed on the old model (recorded as
//! FR-EVT-MODEL-005) and the failure is returned.
//!
//! Events carry ids, the outcome and, for persist, the SHA-256 of the job state; never the state.

use std::time::Instant;

use serde::Serialize;
use uuid::Uuid;

use crate::llm::LlmError;
use crate::profiles::{
    JobError, JobStatus, ModelId, ModelLoader, ModelSwap, ModelSwapRequest, OllamaLoader,
    StepOutcome, SwapError, SwapStep, SwapStepRecord,
};
use crate::recorder::{
    Correlation, ErrorKind, FlightEvent, ModelSwapLoaded, ModelSwapOffloaded, ModelSwapPersisted,
    ModelSwapRequested, ModelSwapResumed, Sha256Hex, SwapOutcome, SwapStage,
};
use crate::registry::{ProviderKind, RegistryError};

use super::error::FacadeError;
use super::recording::ident;
use super::Handshake;

/// What to swap.
#[derive(Clone, Debug)]
pub struct SwapInput {
    pub job_id: String,
    /// Full ids `<provider_id>/<model>`, both on the same local Ollama provider.
    pub from_model_id: String,
    pub to_model_id: String,
    /// The job's state to save while models change (kept in the database, never in an event).
    pub job_state: serde_json::Value,
}

/// What a completed swap did.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct SwapReport {
    pub swap_id: String,
    pub job_id: String,
    pub provider_id: String,
    pub from_model_id: String,
    pub to_model_id: String,
    /// The model the job runs on now.
    pub active_model_id: String,
    /// Every step's record, in order.
    pub steps: Vec<SwapStepRecord>,
}

impl Handshake {
    /// Swaps the model of a running job on a local Ollama provider, recording every step.
    pub async fn swap_model(&self, input: SwapInput) -> Result<SwapReport, FacadeError> {
        let job = self.jobs().get(&input.job_id).await?;
        if job.status != JobStatus::Running {
            return Err(JobError::NotRunning {
                job_id: job.job_id,
                status: job.status,
            }
            .into());
        }
        let provider_id = same_provider(&input.from_model_id, &input.to_model_id)?;
        let catalog = self.catalog().await?;
        match catalog.provider_kind(&provider_id) {
            None => return Err(RegistryError::NotFound { id: provider_id }.into()),
            Some(ProviderKind::Ollama) => {}
            Some(kind) => {
                return Err(FacadeError::SwapRefused {
                    reason: format!(
                        "provider `{provider_id}` is {kind}; models are swapped on Ollama providers only"
                    ),
                })
            }
        }
        let loader = OllamaLoader::new(self.registry().endpoint(&provider_id).await?.wire);
        self.ready_to_record().await?;
        let request = ModelSwapRequest {
            job_id: Some(input.job_id.clone()),
            from_model_id: input.from_model_id.clone(),
            to_model_id: input.to_model_id.clone(),
        };
        let (mut swap, requested) = ModelSwap::request(self.db(), request, &catalog).await?;
        let mut steps = Vec::new();
        self.record_step(&provider_id, &requested, None, None)
            .await?;
        steps.push(requested);

        let persisted = swap.persist(&input.job_state).await?;
        let state_text = serde_json::to_string(&input.job_state).map_err(SwapError::from)?;
        let sha = Sha256Hex::digest(state_text.as_bytes());
        self.record_step(&provider_id, &persisted, None, Some(sha))
            .await?;
        steps.push(persisted);

        let offloaded = swap.offload(&loader).await;
        let offloaded = self
            .after_step(
                &provider_id,
                &mut swap,
                &loader,
                &mut steps,
                offloaded,
                None,
            )
            .await?;
        steps.push(offloaded);

        let started = Instant::now();
        let loaded = swap.load(&loader).await;
        let load_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let loaded = self
            .after_step(
                &provider_id,
                &mut swap,
                &loader,
                &mut steps,
                loaded,
                Some(load_ms),
            )
            .await?;
        steps.push(loaded);

        match swap.resume(&loader).await {
            Ok((record, _state)) => {
                self.record_step(&provider_id, &record, None, None).await?;
                steps.push(record);
            }
            Err(error) => return Err(self.record_failure(&provider_id, error).await),
        }
        Ok(SwapReport {
            swap_id: swap.swap_id().to_owned(),
            job_id: input.job_id,
            provider_id,
            from_model_id: input.from_model_id,
            to_model_id: input.to_model_id,
            active_model_id: swap.active_model_id().to_owned(),
            steps,
        })
    }

    /// Records a step that succeeded; on a failed offload or load, records the failure, resumes
    /// the job on the old model (recorded too) and returns the failure.
    async fn after_step(
        &self,
        provider_id: &str,
        swap: &mut ModelSwap,
        loader: &dyn ModelLoader,
        steps: &mut Vec<SwapStepRecord>,
        result: Result<SwapStepRecord, SwapError>,
        load_ms: Option<u64>,
    ) -> Result<SwapStepRecord, FacadeError> {
        let error = match result {
            Ok(record) => {
                self.record_step(provider_id, &record, load_ms, None)
                    .await?;
                return Ok(record);
            }
            Err(error) => error,
        };
        let failure = self.record_failure(provider_id, error).await;
        let FacadeError::Swap(SwapError::StepFailed { record, .. }) = &failure else {
            return Err(failure);
        };
        steps.push((**record).clone());
        let old_model_id = record.from_model_id.clone();
        let resumed_on_old_model = match swap.resume(loader).await {
            Ok((resumed, _state)) => {
                self.record_step(provider_id, &resumed, None, None).await?;
                true
            }
            Err(error) => {
                // The old model could not be reloaded either: that is recorded; the first
                // failure is the one to report.
                let _recorded = self.record_failure(provider_id, error).await;
                false
            }
        };
        match failure {
            FacadeError::Swap(source) => Err(FacadeError::SwapStepFailed {
                source,
                old_model_id,
                resumed_on_old_model,
            }),
            other => Err(other),
        }
    }

    /// Records the event of a failed step (when the error carries one) and returns the error.
    async fn record_failure(&self, provider_id: &str, error: SwapError) -> FacadeError {
        if let SwapError::StepFailed { record, source, .. } = &error {
            if let Err(not_recorded) = self.record_failed_step(provider_id, record, source).await {
                return not_recorded;
            }
        }
        error.into()
    }

    async fn record_failed_step(
        &self,
        provider_id: &str,
        record: &SwapStepRecord,
        source: &LlmError,
    ) -> Result<(), FacadeError> {
        let outcome = SwapOutcome::Failed {
            stopped_at: stage(record.step),
            error_kind: Some(ErrorKind::from(source)),
        };
        let event = step_event(record, outcome, None, None);
        self.record(event, correlation(provider_id, record), || {
            format!(
                "model swap `{}` failed at step {}",
                record.swap_id, record.step
            )
        })
        .await?;
        Ok(())
    }

    async fn record_step(
        &self,
        provider_id: &str,
        record: &SwapStepRecord,
        load_ms: Option<u64>,
        state_sha256: Option<Sha256Hex>,
    ) -> Result<(), FacadeError> {
        let outcome = match record.outcome {
            StepOutcome::Ok => SwapOutcome::Success,
            StepOutcome::Failed => SwapOutcome::Failed {
                stopped_at: stage(record.step),
                error_kind: None,
            },
        };
        let event = step_event(record, outcome, load_ms, state_sha256);
        self.record(event, correlation(provider_id, record), || {
            format!("model swap `{}` did step {}", record.swap_id, record.step)
        })
        .await?;
        Ok(())
    }
}

/// The provider both models are on.
fn same_provider(from: &str, to: &str) -> Result<String, FacadeError> {
    let parse = |id: &str| {
        ModelId::parse(id).map_err(|problem| FacadeError::SwapRefused {
            reason: format!("model id `{id}`: {problem}"),
        })
    };
    let (from, to) = (parse(from)?, parse(to)?);
    if from.provider_id() != to.provider_id() {
        return Err(FacadeError::SwapRefused {
            reason: format!(
                "`{from}` and `{to}` are on different providers; a swap stays on one provider"
            ),
        });
    }
    Ok(from.provider_id().to_owned())
}

fn stage(step: SwapStep) -> SwapStage {
    match step {
        SwapStep::Requested => SwapStage::Request,
        SwapStep::Persist => SwapStage::Persist,
        SwapStep::Offload => SwapStage::Offload,
        SwapStep::Load => SwapStage::Load,
        SwapStep::Resume => SwapStage::Resume,
    }
}

fn swap_uuid(swap_id: &str) -> Uuid {
    // ModelSwap names swaps `swap-<uuid v7>`.
    Uuid::parse_str(swap_id.trim_start_matches("swap-")).unwrap_or_default()
}

fn correlation(provider_id: &str, record: &SwapStepRecord) -> Correlation {
    let model = match record.step {
        SwapStep::Offload => &record.from_model_id,
        SwapStep::Requested | SwapStep::Load => &record.to_model_id,
        SwapStep::Persist | SwapStep::Resume => &record.active_model_id,
    };
    let mut correlation = Correlation::none()
        .provider(ident(provider_id))
        .model(ident(model));
    if let Some(job_id) = &record.job_id {
        correlation = correlation.job(ident(job_id));
    }
    correlation
}

fn step_event(
    record: &SwapStepRecord,
    outcome: SwapOutcome,
    load_ms: Option<u64>,
    state_sha256: Option<Sha256Hex>,
) -> FlightEvent {
    let swap_id = swap_uuid(&record.swap_id);
    match record.step {
        SwapStep::Requested => FlightEvent::ModelSwapRequested(ModelSwapRequested {
            swap_id,
            from_model_id: Some(ident(&record.from_model_id)),
            to_model_id: ident(&record.to_model_id),
            outcome,
        }),
        SwapStep::Persist => FlightEvent::ModelSwapPersisted(ModelSwapPersisted {
            swap_id,
            state_ref: None,
            state_sha256,
            outcome,
        }),
        SwapStep::Offload => FlightEvent::ModelSwapOffloaded(ModelSwapOffloaded {
            swap_id,
            model_id: ident(&record.from_model_id),
            outcome,
        }),
        SwapStep::Load => FlightEvent::ModelSwapLoaded(ModelSwapLoaded {
            swap_id,
            model_id: ident(&record.to_model_id),
            load_ms,
            outcome,
        }),
        SwapStep::Resume => FlightEvent::ModelSwapResumed(ModelSwapResumed { swap_id, outcome }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_swap_stays_on_one_provider() {
        assert_eq!(
            same_provider("oll/gemma3:270m", "oll/hf.co/org/m:Q4").unwrap(),
            "oll"
        );
        let err = same_provider("oll/a", "lan/b").unwrap_err();
        assert_eq!(err.code(), "swap_refused");
        assert_eq!(
            same_provider("gemma3", "oll/b").unwrap_err().code(),
            "swap_refused"
        );
    }

    #[test]
    fn swap_ids_map_to_their_uuid() {
        let id = Uuid::now_v7();
        assert_eq!(swap_uuid(&format!("swap-{id}")), id);
    }
}
