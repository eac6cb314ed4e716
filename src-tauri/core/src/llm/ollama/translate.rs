//! Pure translation between Handshake's types and Ollama's wire format: the request body, the
//! NDJSON decoder, `done_reason` normalisation, truncation detection, context sizing.
//!
//! No I/O here: everything is unit-tested on fixtures.

use serde_json::Value;

use super::wire::{ChatChunk, ChatRequest, KeepAlive, Message, Options, ShowResponse};
use crate::llm::driver::{json_error, Decoder};
use crate::llm::{redact, CompletionRequest, FinishReason, LlmError, StreamEvent, TokenUsage};

/// Largest `num_ctx` a client asks for unless configured otherwise. Ollama allocates the KV cache
/// for the whole `num_ctx`, so a 128k-context model at full size could exhaust memory.
pub const DEFAULT_NUM_CTX_CAP: u32 = 32_768;

/// The `num_ctx` a client sends with every call: the model's context length, capped. It is fixed
/// per client on purpose: Ollama reloads a model whenever `num_ctx` changes, so sizing it per
/// prompt would reload the model between calls. `None` (context length unknown) sends nothing
/// and leaves the daemon's default, whose truncation we then cannot detect.
pub(crate) fn num_ctx_for(context_length: Option<u32>, cap: u32) -> Option<u32> {
    context_length.map(|n| n.min(cap))
}

/// The context length in `/api/show`'s `model_info`: `<general.architecture>.context_length`,
/// or any `*.context_length` when the architecture key is missing.
pub(crate) fn context_length(show: &ShowResponse) -> Option<u32> {
    let as_u32 = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
    if let Some(arch) = show
        .model_info
        .get("general.architecture")
        .and_then(Value::as_str)
    {
        if let Some(n) = show
            .model_info
            .get(&format!("{arch}.context_length"))
            .and_then(as_u32)
        {
            return Some(n);
        }
    }
    show.model_info
        .iter()
        .find(|(k, _)| k.ends_with(".context_length"))
        .and_then(|(_, v)| as_u32(v))
}

/// The `/api/chat` body for a request: the prompt as one user message, the budget as
/// `num_predict`, and a fixed `num_ctx` (see [`num_ctx_for`]).
pub(crate) fn to_wire_request<'a>(
    req: &'a CompletionRequest,
    model: &'a str,
    num_ctx: Option<u32>,
    keep_alive: Option<KeepAlive>,
) -> ChatRequest<'a> {
    ChatRequest {
        model,
        messages: vec![Message {
            role: "user",
            content: &req.prompt,
        }],
        stream: true,
        options: Options {
            num_predict: req.max_tokens,
            num_ctx,
            temperature: Some(req.temperature),
            stop: &req.stop_sequences,
        },
        keep_alive,
    }
}

/// `done_reason` normalised. A missing one (older daemons) is a normal stop.
pub(crate) fn finish_reason(done_reason: Option<&str>) -> FinishReason {
    match done_reason.unwrap_or("stop") {
        "length" => FinishReason::Length,
        "load" => FinishReason::Load,
        "unload" => FinishReason::Unload,
        "stop" | "eos" => FinishReason::Stop,
        other => {
            tracing::debug!(done_reason = other, "unknown Ollama done_reason");
            FinishReason::Other
        }
    }
}

/// Ollama cuts a prompt longer than `num_ctx` down to `num_ctx` tokens (and only logs it), so a
/// prompt that evaluated to `num_ctx` tokens or more was truncated. Unknown when either is unknown.
pub(crate) fn prompt_truncated(prompt_eval_count: Option<u32>, num_ctx: Option<u32>) -> bool {
    matches!((prompt_eval_count, num_ctx), (Some(n), Some(ctx)) if n >= ctx)
}

/// Parses one NDJSON line; an `{"error": ..}` line is an error.
pub(crate) fn parse_line(line: &str) -> Result<ChatChunk, LlmError> {
    let chunk: ChatChunk =
        serde_json::from_str(line).map_err(|e| json_error("an Ollama line", &e))?;
    if let Some(error) = &chunk.error {
        return Err(stream_error(error));
    }
    Ok(chunk)
}

/// An error line inside a 200 stream. Its text is the provider's, scrubbed.
fn stream_error(error: &Value) -> LlmError {
    let message = redact::message_of(error)
        .map(|m| redact::scrub(&m))
        .unwrap_or_else(|| "unspecified error".into());
    LlmError::Provider {
        status: 200,
        message,
    }
}

/// Decodes an `/api/chat` NDJSON stream into [`StreamEvent`]s.
#[derive(Debug)]
pub(crate) struct OllamaDecoder {
    provider_id: String,
    requested_model: String,
    num_ctx: Option<u32>,
    started: bool,
    done: bool,
}

impl OllamaDecoder {
    pub(crate) fn new(provider_id: &str, model: &str, num_ctx: Option<u32>) -> Self {
        Self {
            provider_id: provider_id.to_owned(),
            requested_model: model.to_owned(),
            num_ctx,
            started: false,
            done: false,
        }
    }

    fn start(&mut self, model: Option<&str>, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            let model = model
                .filter(|m| !m.is_empty())
                .unwrap_or(&self.requested_model);
            out.push(StreamEvent::Started {
                model_id: format!("{}/{}", self.provider_id, model),
            });
        }
    }
}

impl Decoder for OllamaDecoder {
    fn feed_line(&mut self, line: &str) -> Result<Vec<StreamEvent>, LlmError> {
        if line.trim().is_empty() {
            return Ok(Vec::new());
        }
        if self.done {
            return Err(LlmError::MalformedResponse {
                what: "data after the final Ollama line".into(),
            });
        }
        let chunk = parse_line(line)?;
        let mut out = Vec::new();
        self.start(chunk.model.as_deref(), &mut out);
        let text = chunk
            .message
            .map(|m| m.content)
            .or(chunk.response)
            .unwrap_or_default();
        if !text.is_empty() {
            out.push(StreamEvent::Text { delta: text });
        }
        if chunk.done {
            self.done = true;
            let usage = TokenUsage {
                prompt_tokens: chunk.prompt_eval_count,
                completion_tokens: chunk.eval_count,
            };
            if usage != TokenUsage::default() {
                out.push(StreamEvent::Usage { usage });
            }
            out.push(StreamEvent::Finished {
                finish_reason: finish_reason(chunk.done_reason.as_deref()),
                prompt_truncated: prompt_truncated(chunk.prompt_eval_count, self.num_ctx),
            });
        }
        Ok(out)
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, LlmError> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(LlmError::MalformedResponse {
                what: "the Ollama stream ended before its final (done) line".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn request() -> CompletionRequest {
        CompletionRequest {
            trace_id: Uuid::new_v4(),
            prompt: "Say hi".into(),
            model_id: "oll/gemma3:270m".into(),
            max_tokens: Some(16),
            temperature: 0.2,
            stop_sequences: vec!["\n\n".into()],
        }
    }

    fn feed_all(lines: &[&str]) -> Result<Vec<StreamEvent>, LlmError> {
        let mut d = OllamaDecoder::new("oll", "gemma3:270m", Some(2048));
        let mut out = Vec::new();
        for l in lines {
            out.extend(d.feed_line(l)?);
        }
        out.extend(d.finish()?);
        Ok(out)
    }

    #[test]
    fn request_body_matches_the_wire_format() {
        let req = request();
        let body = serde_json::to_value(to_wire_request(
            &req,
            "gemma3:270m",
            Some(2048),
            Some(KeepAlive(300)),
        ))
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "model": "gemma3:270m",
                "messages": [{"role": "user", "content": "Say hi"}],
                "stream": true,
                "options": {"num_predict": 16, "num_ctx": 2048, "temperature": 0.2f32, "stop": ["\n\n"]},
                "keep_alive": 300
            })
        );
        let bare = CompletionRequest {
            max_tokens: None,
            stop_sequences: vec![],
            ..request()
        };
        let body = serde_json::to_value(to_wire_request(&bare, "m", None, None)).unwrap();
        assert_eq!(body["options"], serde_json::json!({"temperature": 0.2f32}));
        assert!(body.get("keep_alive").is_none());
    }

    #[test]
    fn decodes_a_chat_stream_fixture() {
        let events = feed_all(&[
            r#"{"model":"gemma3:270m","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"Hel"},"done":false}"#,
            r#"{"model":"gemma3:270m","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"lo"},"done":false}"#,
            r#"{"model":"gemma3:270m","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"length","total_duration":1,"prompt_eval_count":12,"eval_count":2}"#,
        ])
        .unwrap();
        assert_eq!(
            events,
            vec![
                StreamEvent::Started {
                    model_id: "oll/gemma3:270m".into()
                },
                StreamEvent::Text {
                    delta: "Hel".into()
                },
                StreamEvent::Text { delta: "lo".into() },
                StreamEvent::Usage {
                    usage: TokenUsage {
                        prompt_tokens: Some(12),
                        completion_tokens: Some(2)
                    }
                },
                StreamEvent::Finished {
                    finish_reason: FinishReason::Length,
                    prompt_truncated: false
                },
            ]
        );
    }

    #[test]
    fn missing_prompt_eval_count_is_unknown_not_zero() {
        let events = feed_all(&[r#"{"model":"m","message":{"content":"x"},"done":true,"done_reason":"stop","eval_count":1}"#]).unwrap();
        assert!(events.contains(&StreamEvent::Usage {
            usage: TokenUsage {
                prompt_tokens: None,
                completion_tokens: Some(1)
            }
        }));
    }

    #[test]
    fn a_prompt_filling_num_ctx_is_reported_truncated() {
        let events = feed_all(&[r#"{"model":"m","done":true,"done_reason":"stop","prompt_eval_count":2048,"eval_count":3}"#]).unwrap();
        assert!(matches!(
            events.last(),
            Some(StreamEvent::Finished {
                prompt_truncated: true,
                ..
            })
        ));
        assert!(!prompt_truncated(Some(2047), Some(2048)));
        assert!(!prompt_truncated(None, Some(2048)));
        assert!(!prompt_truncated(Some(5000), None));
    }

    #[test]
    fn done_reasons_are_normalised() {
        assert_eq!(finish_reason(Some("stop")), FinishReason::Stop);
        assert_eq!(finish_reason(Some("length")), FinishReason::Length);
        assert_eq!(finish_reason(Some("load")), FinishReason::Load);
        assert_eq!(finish_reason(Some("unload")), FinishReason::Unload);
        assert_eq!(finish_reason(None), FinishReason::Stop);
        assert_eq!(finish_reason(Some("eos")), FinishReason::Stop);
        // Unknown or empty: the answer ended, but not known to be a clean stop.
        for odd in ["", "null", "interrupted-by-gremlins"] {
            assert_eq!(finish_reason(Some(odd)), FinishReason::Other, "{odd:?}");
        }
    }

    #[test]
    fn error_lines_mid_stream_are_errors() {
        let err = feed_all(&[
            r#"{"model":"m","message":{"content":"a"},"done":false}"#,
            r#"{"error":"an error was encountered while running the model: CUDA out of memory"}"#,
        ])
        .unwrap_err();
        assert!(
            matches!(err, LlmError::Provider { status: 200, ref message } if message.contains("out of memory")),
            "{err:?}"
        );
    }

    #[test]
    fn a_stream_without_its_done_line_is_malformed() {
        let err =
            feed_all(&[r#"{"model":"m","message":{"content":"a"},"done":false}"#]).unwrap_err();
        assert!(matches!(err, LlmError::MalformedResponse { .. }));
        assert!(matches!(
            feed_all(&["not json"]),
            Err(LlmError::MalformedResponse { .. })
        ));
    }

    #[test]
    fn context_length_comes_from_the_architecture_key() {
        let show: ShowResponse = serde_json::from_str(
            r#"{"model_info":{"general.architecture":"gemma3","gemma3.context_length":32768,"other.context_length":5}}"#,
        )
        .unwrap();
        assert_eq!(context_length(&show), Some(32768));
        let fallback: ShowResponse =
            serde_json::from_str(r#"{"model_info":{"llama.context_length":8192}}"#).unwrap();
        assert_eq!(context_length(&fallback), Some(8192));
        assert_eq!(context_length(&ShowResponse::default()), None);
        assert_eq!(
            num_ctx_for(Some(131_072), DEFAULT_NUM_CTX_CAP),
            Some(32_768)
        );
        assert_eq!(num_ctx_for(Some(2048), DEFAULT_NUM_CTX_CAP), Some(2048));
    }
}
