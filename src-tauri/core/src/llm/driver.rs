//! What both adapters do the same way once a response is streaming: feed body lines to a
//! provider's pure decoder, check every event against the budget, and turn the events into a
//! [`CompletionStream`] or, for `completion`, into one [`CompletionResponse`].
//!
//! Non-streaming `completion` consumes the same stream, so latency, time to first token, budget
//! and error handling are measured and enforced the same way on both paths.

use std::collections::VecDeque;
use std::time::Instant;

use futures::StreamExt;

use super::budget::Budget;
use super::transport::{line_str, BodyReader};
use super::{
    CompletionResponse, CompletionStream, FinishReason, LlmError, StreamEvent, TokenUsage,
};

/// A provider's streaming wire format, decoded line by line without I/O.
pub(crate) trait Decoder: Send + 'static {
    /// Decodes one line of the body into events (possibly none).
    fn feed_line(&mut self, line: &str) -> Result<Vec<StreamEvent>, LlmError>;
    /// True once the decoder has seen the end of the answer and emitted `Finished`.
    fn is_done(&self) -> bool;
    /// The body ended (after [`Decoder::is_done`] or not): final events, or the error of a
    /// stream that ended too early.
    fn finish(&mut self) -> Result<Vec<StreamEvent>, LlmError>;
}

/// The model name a request asks for: the part of `model_id` after the first `/`, which must
/// start with this client's provider id. A client serves one model (its profile, context size and
/// tier are that model's), so another model name is refused rather than silently served.
pub(crate) fn model_name<'a>(
    model_id: &'a str,
    provider_id: &str,
    served: &str,
) -> Result<&'a str, LlmError> {
    let Some((provider, model)) = model_id.split_once('/') else {
        return Err(LlmError::InvalidRequest {
            reason: format!("model_id {model_id:?} is not <provider_id>/<model>"),
        });
    };
    if provider != provider_id {
        return Err(LlmError::InvalidRequest {
            reason: format!("model_id {model_id:?} names another provider than {provider_id:?}"),
        });
    }
    if model != served {
        return Err(LlmError::InvalidRequest {
            reason: format!("this client serves {provider_id}/{served}, not {model_id:?}"),
        });
    }
    Ok(model)
}

/// A `MalformedResponse` for JSON that did not parse. Only the category of the serde error is
/// kept: its message can quote the provider's bytes.
pub(crate) fn json_error(what: &str, e: &serde_json::Error) -> LlmError {
    let category = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "JSON of an unexpected shape",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    LlmError::MalformedResponse {
        what: format!("{what} is {category}"),
    }
}

struct DriveState<D> {
    body: BodyReader,
    decoder: D,
    budget: Budget,
    pending: VecDeque<StreamEvent>,
    ended: bool,
}

/// Turns a streaming body into a [`CompletionStream`]: events in order, the budget checked on
/// each, and the first error ending the stream. Dropping the stream drops the body, which closes
/// the connection.
pub(crate) fn drive<D: Decoder>(body: BodyReader, decoder: D, budget: Budget) -> CompletionStream {
    let state = DriveState {
        body,
        decoder,
        budget,
        pending: VecDeque::new(),
        ended: false,
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(event) = st.pending.pop_front() {
                if let Err(e) = st.budget.check(&event) {
                    st.pending.clear();
                    st.ended = true;
                    return Some((Err(e), st));
                }
                return Some((Ok(event), st));
            }
            if st.ended {
                return None;
            }
            let step = if st.decoder.is_done() {
                // The answer is complete: whatever follows is not ours to wait for, but reading
                // the body's end (if it is already there) keeps the connection reusable.
                st.ended = true;
                st.body.drain_briefly().await;
                continue;
            } else {
                match st.body.next_line().await {
                    Ok(Some(line)) => line_str(&line).and_then(|l| st.decoder.feed_line(l)),
                    Ok(None) => {
                        st.ended = true;
                        st.decoder.finish()
                    }
                    Err(e) => Err(e),
                }
            };
            match step {
                Ok(events) => st.pending.extend(events),
                Err(e) => {
                    st.ended = true;
                    return Some((Err(e), st));
                }
            }
        }
    });
    Box::pin(stream)
}

/// Consumes a stream into one response. `started` is when the call began (before the request was
/// sent), so latency and time to first token include connection and model load.
pub(crate) async fn collect(
    mut stream: CompletionStream,
    started: Instant,
) -> Result<CompletionResponse, LlmError> {
    let mut text = String::new();
    let mut model_id = None;
    let mut usage = TokenUsage::default();
    let mut first_token = None;
    let mut finished: Option<(FinishReason, bool)> = None;
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Started { model_id: m } => model_id = Some(m),
            StreamEvent::Text { delta } => {
                if first_token.is_none() && !delta.is_empty() {
                    first_token = Some(elapsed_ms(started));
                }
                text.push_str(&delta);
            }
            StreamEvent::Usage { usage: u } => usage = u,
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
    Ok(CompletionResponse {
        text,
        usage,
        finish_reason,
        model_id: model_id.unwrap_or_default(),
        latency_ms: elapsed_ms(started),
        time_to_first_token_ms: first_token,
        prompt_truncated,
    })
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_name_is_after_the_first_slash_and_must_match() {
        assert_eq!(
            model_name("lan/hf.co/org/m:Q4", "lan", "hf.co/org/m:Q4").unwrap(),
            "hf.co/org/m:Q4"
        );
        assert!(matches!(
            model_name("gemma3:270m", "oll", "gemma3:270m"),
            Err(LlmError::InvalidRequest { .. })
        ));
        assert!(matches!(
            model_name("other/gemma3:270m", "oll", "gemma3:270m"),
            Err(LlmError::InvalidRequest { .. })
        ));
        assert!(matches!(
            model_name("oll/gemma3:1b", "oll", "gemma3:270m"),
            Err(LlmError::InvalidRequest { .. })
        ));
    }

    #[tokio::test]
    async fn collect_assembles_text_usage_and_timings() {
        let events = vec![
            Ok(StreamEvent::Started {
                model_id: "p/m".into(),
            }),
            Ok(StreamEvent::Text {
                delta: "Hel".into(),
            }),
            Ok(StreamEvent::Text { delta: "lo".into() }),
            Ok(StreamEvent::Usage {
                usage: TokenUsage {
                    prompt_tokens: Some(3),
                    completion_tokens: Some(2),
                },
            }),
            Ok(StreamEvent::Finished {
                finish_reason: FinishReason::Length,
                prompt_truncated: true,
            }),
        ];
        let stream: CompletionStream = Box::pin(futures::stream::iter(events));
        let r = collect(stream, Instant::now()).await.unwrap();
        assert_eq!(r.text, "Hello");
        assert_eq!(r.model_id, "p/m");
        assert_eq!(r.usage.completion_tokens, Some(2));
        assert_eq!(r.finish_reason, FinishReason::Length);
        assert!(r.prompt_truncated);
        assert!(r.time_to_first_token_ms.is_some());
    }

    #[tokio::test]
    async fn collect_passes_errors_and_requires_a_finish() {
        let err: CompletionStream = Box::pin(futures::stream::iter(vec![
            Ok(StreamEvent::Text { delta: "a".into() }),
            Err(LlmError::BudgetExceeded {
                limit: 1,
                observed: 2,
            }),
        ]));
        assert!(matches!(
            collect(err, Instant::now()).await,
            Err(LlmError::BudgetExceeded { .. })
        ));
        let unfinished: CompletionStream =
            Box::pin(futures::stream::iter(vec![Ok(StreamEvent::Text {
                delta: "a".into(),
            })]));
        assert!(matches!(
            collect(unfinished, Instant::now()).await,
            Err(LlmError::MalformedResponse { .. })
        ));
    }
}
