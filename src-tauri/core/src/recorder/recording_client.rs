//! [`RecordingClient`]: an [`LlmClient`] that wraps any other and records FR-EVT-LLM-INFERENCE for
//! every completion attempt, local or cloud, success, error or cancellation.
//!
//! The registry wraps every client it hands out, so no call path can skip the record. One event
//! per attempt: a completion is recorded when it returns (or when its future is dropped); a
//! stream when it finishes, fails, ends without `Finished`, or is dropped. Only sizes, token
//! counts, hashes, ids and timings are recorded: never the prompt or the text.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_trait::async_trait;
use futures::Stream;

use super::events::{Correlation, ErrorKind, Ident, InferenceOutcome, LlmInference, Sha256Hex};
use super::FlightRecorder;
use crate::llm::{
    CompletionRequest, CompletionResponse, CompletionStream, FinishReason, LlmClient, LlmError,
    ModelProfile, StreamEvent, TokenUsage,
};
use crate::vocab::ProviderTier;

/// Records every completion of the wrapped client.
pub struct RecordingClient {
    inner: Arc<dyn LlmClient>,
    recorder: FlightRecorder,
    /// The profile's provider and model as event fields, made once (the provider never changes;
    /// a request for another model of the client gets its own).
    provider_id: Ident,
    model: (String, Ident),
}

impl RecordingClient {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn LlmClient>, recorder: FlightRecorder) -> Self {
        let profile = inner.profile();
        let provider_id = Ident::sanitized(&profile.provider_id);
        let model = (
            profile.model_id.clone(),
            Ident::sanitized(&profile.model_id),
        );
        Self {
            inner,
            recorder,
            provider_id,
            model,
        }
    }

    fn start(&self, req: &CompletionRequest, streamed: bool) -> Attempt {
        let model_id = if req.model_id == self.model.0 {
            self.model.1.clone()
        } else {
            Ident::sanitized(&req.model_id)
        };
        Attempt::start(
            &self.recorder,
            self.provider_id.clone(),
            model_id,
            self.inner.profile().tier,
            req,
            streamed,
        )
    }

    /// Wraps `inner` and hands it out as the registry does.
    pub fn wrap(inner: Arc<dyn LlmClient>, recorder: FlightRecorder) -> Arc<dyn LlmClient> {
        Arc::new(Self::new(inner, recorder))
    }
}

#[async_trait]
impl LlmClient for RecordingClient {
    async fn completion(&self, req: CompletionRequest) -> Result<CompletionResponse, LlmError> {
        let mut attempt = self.start(&req, false);
        let result = self.inner.completion(req).await;
        match &result {
            Ok(resp) => {
                attempt.usage = resp.usage;
                attempt.response_bytes = resp.text.len() as u64;
                attempt.first_token_ms = resp.time_to_first_token_ms;
                attempt.finish_reason = Some(resp.finish_reason);
                attempt.prompt_truncated = resp.prompt_truncated;
                attempt.finish(InferenceOutcome::Success);
            }
            Err(e) => attempt.finish(InferenceOutcome::Error {
                kind: ErrorKind::from(e),
            }),
        }
        result
    }

    async fn completion_stream(
        &self,
        req: CompletionRequest,
    ) -> Result<CompletionStream, LlmError> {
        let mut attempt = self.start(&req, true);
        match self.inner.completion_stream(req).await {
            Ok(inner) => Ok(Box::pin(RecordedStream { inner, attempt })),
            Err(e) => {
                attempt.finish(InferenceOutcome::Error {
                    kind: ErrorKind::from(&e),
                });
                Err(e)
            }
        }
    }

    fn profile(&self) -> &ModelProfile {
        self.inner.profile()
    }
}

/// One completion attempt being measured; records itself once, at the latest when dropped.
struct Attempt {
    recorder: FlightRecorder,
    /// The event's fields known at the start; taken when the attempt is recorded (`None` after).
    base: Option<LlmInference>,
    started: Instant,
    usage: TokenUsage,
    response_bytes: u64,
    first_token_ms: Option<u64>,
    finish_reason: Option<FinishReason>,
    prompt_truncated: bool,
}

impl Attempt {
    fn start(
        recorder: &FlightRecorder,
        provider_id: Ident,
        model_id: Ident,
        tier: ProviderTier,
        req: &CompletionRequest,
        streamed: bool,
    ) -> Self {
        let base = LlmInference {
            trace_id: req.trace_id,
            provider_id,
            model_id,
            tier,
            streamed,
            prompt_bytes: req.prompt.len() as u64,
            prompt_sha256: Sha256Hex::digest(req.prompt.as_bytes()),
            max_tokens: req.max_tokens,
            response_bytes: None,
            prompt_tokens: None,
            completion_tokens: None,
            finish_reason: None,
            prompt_truncated: false,
            latency_ms: 0,
            time_to_first_token_ms: None,
            outcome: InferenceOutcome::Incomplete,
            dropped_before: None,
        };
        Self {
            recorder: recorder.clone(),
            base: Some(base),
            started: Instant::now(),
            usage: TokenUsage::default(),
            response_bytes: 0,
            first_token_ms: None,
            finish_reason: None,
            prompt_truncated: false,
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn observe(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::Started { .. } => {}
            StreamEvent::Text { delta } => {
                if self.first_token_ms.is_none() && !delta.is_empty() {
                    self.first_token_ms = Some(self.elapsed_ms());
                }
                self.response_bytes += delta.len() as u64;
            }
            StreamEvent::Usage { usage } => self.usage = *usage,
            StreamEvent::Finished {
                finish_reason,
                prompt_truncated,
            } => {
                self.finish_reason = Some(*finish_reason);
                self.prompt_truncated = *prompt_truncated;
                self.finish(InferenceOutcome::Success);
            }
        }
    }

    fn finish(&mut self, outcome: InferenceOutcome) {
        let Some(base) = self.base.take() else {
            return;
        };
        let produced = matches!(outcome, InferenceOutcome::Success) || self.response_bytes > 0;
        let event = LlmInference {
            response_bytes: produced.then_some(self.response_bytes),
            prompt_tokens: self.usage.prompt_tokens,
            completion_tokens: self.usage.completion_tokens,
            finish_reason: self.finish_reason,
            prompt_truncated: self.prompt_truncated,
            latency_ms: self.elapsed_ms(),
            time_to_first_token_ms: self.first_token_ms,
            outcome,
            ..base
        };
        // The trace, provider and model columns are filled from the event by the writer, off
        // the call path.
        self.recorder.record_inference(event, Correlation::none());
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.finish(InferenceOutcome::Cancelled);
    }
}

/// The wrapped stream: passes every item through unchanged and records the attempt at its end.
struct RecordedStream {
    inner: CompletionStream,
    attempt: Attempt,
}

impl Stream for RecordedStream {
    type Item = Result<StreamEvent, LlmError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = this.inner.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(event))) => this.attempt.observe(event),
            Poll::Ready(Some(Err(e))) => this.attempt.finish(InferenceOutcome::Error {
                kind: ErrorKind::from(e),
            }),
            Poll::Ready(None) => this.attempt.finish(InferenceOutcome::Incomplete),
            Poll::Pending => {}
        }
        polled
    }
}
