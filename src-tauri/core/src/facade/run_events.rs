//! [`RunEvent`]: what a run tells its caller as it happens (the Run view streams these), and
//! [`consume`], which passes a model's [`CompletionStream`] on as events while assembling the
//! [`CompletionResponse`] the non-streaming callers get.
//!
//! Guarantee: every text delta reaches the sink in order, before the next is read; the response
//! holds exactly the text the sink was given. A stream that ends without a finish is an error.

use std::time::Instant;

use futures::StreamExt;
use serde::Serialize;
use uuid::Uuid;

use crate::consent::PendingEscalation;
use crate::llm::{
    CompletionResponse, CompletionStream, FinishReason, LlmError, StreamEvent, TokenUsage,
};
use crate::profiles::Resolution;

/// One step of a run, in order: `resolved` (again after each fallback), then either
/// `needs_consent`, or `started`, any number of `text`, at most one `usage` and one `finished`.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEvent {
    /// The model chosen for the role, the rule that chose it and what was passed over.
    Resolved { resolution: Resolution },
    /// The chosen model is cloud tier: nothing is sent until a person approves this escalation.
    NeedsConsent { escalation: Box<PendingEscalation> },
    /// The call to the model started (`cloud`: the approved bytes are on their way out).
    Started {
        model_id: String,
        #[ts(type = "string")]
        trace_id: Uuid,
        cloud: bool,
    },
    /// Generated text, as it arrived.
    Text { delta: String },
    /// Token counts as the provider reported them, and the run's limit.
    Usage {
        usage: TokenUsage,
        max_tokens: Option<u32>,
    },
    /// The model finished.
    Finished {
        model_id: String,
        finish_reason: FinishReason,
        #[ts(type = "number")]
        latency_ms: u64,
        #[ts(type = "number | null")]
        time_to_first_token_ms: Option<u64>,
        prompt_truncated: bool,
    },
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Reads `stream` to its end, handing each event to `sink`; `streamed` becomes true once any
/// text was handed on (after which a fallback to another model is no longer possible).
pub(crate) async fn consume<S>(
    mut stream: CompletionStream,
    started: Instant,
    max_tokens: Option<u32>,
    streamed: &mut bool,
    sink: &mut S,
) -> Result<CompletionResponse, LlmError>
where
    S: FnMut(RunEvent) + Send,
{
    let mut text = String::new();
    let mut model_id = String::new();
    let mut usage = TokenUsage::default();
    let mut first_token = None;
    let mut finished = None;
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Started { model_id: m } => model_id = m,
            StreamEvent::Text { delta } => {
                if delta.is_empty() {
                    continue;
                }
                if first_token.is_none() {
                    first_token = Some(elapsed_ms(started));
                }
                *streamed = true;
                text.push_str(&delta);
                sink(RunEvent::Text { delta });
            }
            StreamEvent::Usage { usage: u } => {
                usage = u;
                sink(RunEvent::Usage {
                    usage: u,
                    max_tokens,
                });
            }
            StreamEvent::Finished {
                finish_reason,
                prompt_truncated,
            } => finished = Some((finish_reason, prompt_truncated)),
        }
    }
    let (finish_reason, prompt_truncated) =
        finished.ok_or_else(|| LlmError::MalformedResponse {
            what: "the stream ended without a finish reason".into(),
        })?;
    let response = CompletionResponse {
        text,
        usage,
        finish_reason,
        model_id,
        latency_ms: elapsed_ms(started),
        time_to_first_token_ms: first_token,
        prompt_truncated,
    };
    sink(RunEvent::Finished {
        model_id: response.model_id.clone(),
        finish_reason,
        latency_ms: response.latency_ms,
        time_to_first_token_ms: response.time_to_first_token_ms,
        prompt_truncated,
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn stream(items: Vec<Result<StreamEvent, LlmError>>) -> CompletionStream {
        Box::pin(futures::stream::iter(items))
    }

    fn text(s: &str) -> Result<StreamEvent, LlmError> {
        Ok(StreamEvent::Text { delta: s.into() })
    }

    #[tokio::test]
    async fn passes_deltas_on_in_order_and_assembles_the_response() {
        let mut seen = Vec::new();
        let mut streamed = false;
        let response = consume(
            stream(vec![
                Ok(StreamEvent::Started {
                    model_id: "m".into(),
                }),
                text("Hel"),
                text(""),
                text("lo"),
                Ok(StreamEvent::Usage {
                    usage: TokenUsage {
                        prompt_tokens: Some(3),
                        completion_tokens: Some(2),
                    },
                }),
                Ok(StreamEvent::Finished {
                    finish_reason: FinishReason::Stop,
                    prompt_truncated: false,
                }),
            ]),
            Instant::now(),
            Some(8),
            &mut streamed,
            &mut |e| seen.push(e),
        )
        .await
        .unwrap();
        assert!(streamed);
        assert_eq!(response.text, "Hello");
        assert_eq!(response.model_id, "m");
        assert_eq!(response.usage.completion_tokens, Some(2));
        let deltas: Vec<_> = seen
            .iter()
            .filter_map(|e| match e {
                RunEvent::Text { delta } => Some(delta.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(deltas, ["Hel", "lo"], "empty deltas are not passed on");
        assert!(matches!(
            seen[2],
            RunEvent::Usage {
                max_tokens: Some(8),
                ..
            }
        ));
        assert!(matches!(seen.last(), Some(RunEvent::Finished { .. })));
    }

    #[tokio::test]
    async fn an_error_midway_ends_the_run_and_says_output_was_streamed() {
        let mut streamed = false;
        let err = consume(
            stream(vec![
                text("partial"),
                Err(LlmError::BudgetExceeded {
                    limit: 1,
                    observed: 2,
                }),
            ]),
            Instant::now(),
            Some(1),
            &mut streamed,
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(err, LlmError::BudgetExceeded { .. }));
        assert!(streamed);
    }

    #[tokio::test]
    async fn a_stream_without_a_finish_is_malformed() {
        let mut streamed = false;
        let err = consume(
            stream(vec![]),
            Instant::now(),
            None,
            &mut streamed,
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(err, LlmError::MalformedResponse { .. }));
        assert!(!streamed);
    }
}
