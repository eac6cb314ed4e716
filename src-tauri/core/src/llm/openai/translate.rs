//! Pure translation between Handshake's types and the OpenAI-compatible wire: the request body,
//! the SSE decoder, finish-reason normalisation and model lists. No I/O; unit-tested on fixtures.
//!
//! Decisions, for the servers that differ:
//! - Finish reasons `eos`, `end_turn`, `stop_sequence` are `Stop`; a value we do not know is
//!   `Other`; null or a missing one mean "not finished yet"; `""` and `"null"` too, but they are
//!   remembered: a stream that reaches `[DONE]` with only those is `Other` (why it ended is not
//!   known), never a clean `Stop`. `finish_reason: "error"` is an error.
//! - A stream that reaches `[DONE]` without any finish reason finished normally (`Stop`).
//! - A stream that ends (clean end of body) with neither a finish reason nor `[DONE]` is
//!   `MalformedResponse`: the answer may be cut, and we cannot tell. (A connection that breaks
//!   mid-body is a transport error instead: `Interrupted`.)
//! - Usage: the provider's figures where it sends them (`stream_options.include_usage`, a final
//!   chunk with `choices: []`). Where it sends none (llama.cpp's server ignores include_usage),
//!   `completion_tokens` is the number of non-empty content chunks, which is approximate: servers
//!   send about one token per chunk, and never less than one. `prompt_tokens` then stays unknown.
//! - An `error` object inside a 200 stream (or an SSE `event: error`) is an error, mapped by its
//!   numeric `code` where it has one.

use serde_json::Value;

use super::options::{MaxTokensField, OpenAiCompatOptions};
use super::wire::{ChatChunk, ChatRequest, Message, ModelList, StreamOptions};
use crate::llm::driver::{json_error, Decoder};
use crate::llm::{redact, CompletionRequest, FinishReason, LlmError, StreamEvent, TokenUsage};

/// The `/chat/completions` body for a request.
pub(crate) fn to_wire_request<'a>(
    req: &'a CompletionRequest,
    model: &'a str,
    options: &OpenAiCompatOptions,
) -> ChatRequest<'a> {
    let (max_tokens, max_completion_tokens) = match options.max_tokens_field {
        MaxTokensField::MaxTokens => (req.max_tokens, None),
        MaxTokensField::MaxCompletionTokens => (None, req.max_tokens),
    };
    ChatRequest {
        model,
        messages: vec![Message {
            role: "user",
            content: &req.prompt,
        }],
        stream: true,
        max_tokens,
        max_completion_tokens,
        temperature: req.temperature,
        stop: &req.stop_sequences,
        stream_options: options.stream_include_usage.then_some(StreamOptions {
            include_usage: true,
        }),
    }
}

/// A finish reason normalised; `Ok(None)` means "not finished" (null, missing, `""`, `"null"`).
pub(crate) fn finish_reason(raw: Option<&str>) -> Result<Option<FinishReason>, LlmError> {
    let Some(raw) = raw else { return Ok(None) };
    Ok(Some(match raw {
        "" | "null" => return Ok(None),
        "stop" | "eos" | "eos_token" | "end_turn" | "stop_sequence" => FinishReason::Stop,
        "length" | "max_tokens" | "model_length" => FinishReason::Length,
        "content_filter" => FinishReason::ContentFilter,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "error" => {
            return Err(LlmError::Provider {
                status: 200,
                message: "the provider ended the stream with finish_reason \"error\"".into(),
            })
        }
        other => {
            tracing::debug!(finish_reason = other, "unknown finish_reason");
            FinishReason::Other
        }
    }))
}

/// The model ids in a `/models` answer, whatever its shape.
pub(crate) fn parse_model_list(body: &[u8]) -> Result<Vec<String>, LlmError> {
    let list: ModelList =
        serde_json::from_slice(body).map_err(|e| json_error("the model list", &e))?;
    let entries = match list {
        ModelList::Data { data } => data,
        ModelList::Models { models } => models,
        ModelList::Bare(entries) => entries,
    };
    Ok(entries
        .into_iter()
        .filter_map(|e| e.id.or(e.model).or(e.name))
        .collect())
}

/// An error object found inside a 200 stream.
fn stream_error(error: &Value, model_id: &str) -> LlmError {
    let message = redact::message_of(error)
        .map(|m| redact::scrub(&m))
        .unwrap_or_else(|| "unspecified error".into());
    let code = error.get("code").and_then(|c| {
        c.as_u64()
            .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
    });
    match code
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..600).contains(c))
    {
        Some(status) => LlmError::from_http_status(status, message, None, model_id),
        None => LlmError::Provider {
            status: 200,
            message,
        },
    }
}

/// Decodes an SSE stream of chat completion chunks into [`StreamEvent`]s.
#[derive(Debug)]
pub(crate) struct SseDecoder {
    provider_id: String,
    requested_model: String,
    /// `event:` of the event being read.
    event: Option<String>,
    /// `data:` lines of the event being read, joined by `\n` (SSE's rule).
    data: String,
    started: bool,
    finish: Option<FinishReason>,
    /// A `""` or `"null"` finish reason was seen (see the module docs).
    empty_finish_seen: bool,
    usage: Option<TokenUsage>,
    counted_chunks: u32,
    done: bool,
}

impl SseDecoder {
    pub(crate) fn new(provider_id: &str, model: &str) -> Self {
        Self {
            provider_id: provider_id.to_owned(),
            requested_model: model.to_owned(),
            event: None,
            data: String::new(),
            started: false,
            finish: None,
            empty_finish_seen: false,
            usage: None,
            counted_chunks: 0,
            done: false,
        }
    }

    fn model_id(&self) -> String {
        format!("{}/{}", self.provider_id, self.requested_model)
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

    /// One complete event's data.
    fn dispatch(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), LlmError> {
        let event = self.event.take();
        let data = data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            self.end(out);
            return Ok(());
        }
        let value: Value =
            serde_json::from_str(data).map_err(|e| json_error("an SSE data payload", &e))?;
        if event.as_deref() == Some("error") {
            return Err(stream_error(
                value.get("error").unwrap_or(&value),
                &self.model_id(),
            ));
        }
        let chunk: ChatChunk =
            serde_json::from_value(value).map_err(|e| json_error("a chat completion chunk", &e))?;
        self.apply(chunk, out)
    }

    /// Decodes a whole payload that is not an `event: error`, straight into its wire type: one
    /// parse instead of three (a completeness check, a `Value`, then the typed chunk). `None`
    /// when it does not parse that way; the caller then takes the general path, which gives the
    /// same result and the same error as before for everything this path does not accept.
    fn try_fast(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Option<Result<(), LlmError>> {
        if self.event.is_some() || !self.data.is_empty() {
            return None;
        }
        let chunk = serde_json::from_str::<ChatChunk>(data).ok()?;
        Some(self.apply(chunk, out))
    }

    /// One decoded chunk: an error inside a 200 stream, or the start, text, finish and usage.
    fn apply(&mut self, chunk: ChatChunk, out: &mut Vec<StreamEvent>) -> Result<(), LlmError> {
        if let Some(error) = &chunk.error {
            return Err(stream_error(error, &self.model_id()));
        }
        self.start(chunk.model.as_deref(), out);
        // We ask for one choice (no `n`), so only the first one is ours.
        if let Some(choice) = chunk.choices.into_iter().next() {
            let text = choice
                .delta
                .and_then(|d| d.content)
                .or(choice.text)
                .unwrap_or_default();
            if !text.is_empty() {
                self.counted_chunks = self.counted_chunks.saturating_add(1);
                out.push(StreamEvent::Text { delta: text });
            }
            let raw = choice.finish_reason.as_deref();
            if matches!(raw, Some("" | "null")) {
                self.empty_finish_seen = true;
            }
            if let Some(reason) = finish_reason(raw)? {
                self.finish = Some(reason);
            }
        }
        if let Some(u) = chunk.usage {
            if u.prompt_tokens.is_some() || u.completion_tokens.is_some() {
                self.usage = Some(TokenUsage {
                    prompt_tokens: u.prompt_tokens,
                    completion_tokens: u.completion_tokens,
                });
            }
        }
        Ok(())
    }

    /// The answer is complete: usage (reported, or counted chunks) and `Finished`.
    fn end(&mut self, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        self.done = true;
        self.start(None, out);
        let counted = (self.counted_chunks > 0).then_some(self.counted_chunks);
        let usage = match self.usage {
            Some(u) => Some(TokenUsage {
                completion_tokens: u.completion_tokens.or(counted),
                ..u
            }),
            None => counted.map(|n| TokenUsage {
                prompt_tokens: None,
                completion_tokens: Some(n),
            }),
        };
        if let Some(usage) = usage {
            out.push(StreamEvent::Usage { usage });
        }
        out.push(StreamEvent::Finished {
            finish_reason: self.finish.unwrap_or(if self.empty_finish_seen {
                FinishReason::Other
            } else {
                FinishReason::Stop
            }),
            prompt_truncated: false,
        });
    }

    fn flush(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), LlmError> {
        let data = std::mem::take(&mut self.data);
        self.dispatch(&data, out)
    }
}

impl Decoder for SseDecoder {
    fn feed_line(&mut self, line: &str) -> Result<Vec<StreamEvent>, LlmError> {
        let mut out = Vec::new();
        if self.done {
            return Ok(out);
        }
        if line.is_empty() {
            self.flush(&mut out)?;
            return Ok(out);
        }
        if line.starts_with(':') {
            return Ok(out); // a comment: keep-alive such as ": PROCESSING"
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => {
                // The common case, a whole chunk on one data line, in one parse.
                if let Some(result) = self.try_fast(value, &mut out) {
                    result?;
                    return Ok(out);
                }
                // Some servers omit the blank line between events: a data line that is a whole
                // payload on its own is dispatched at once.
                if self.data.is_empty()
                    && (value.trim() == "[DONE]"
                        || serde_json::from_str::<serde::de::IgnoredAny>(value).is_ok())
                {
                    self.dispatch(value, &mut out)?;
                } else {
                    if !self.data.is_empty() {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                }
            }
            "event" => self.event = Some(value.trim().to_owned()),
            _ => {} // id, retry and unknown fields carry nothing we use
        }
        Ok(out)
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, LlmError> {
        let mut out = Vec::new();
        if self.done {
            return Ok(out);
        }
        self.flush(&mut out)?;
        if self.done {
            return Ok(out);
        }
        if self.finish.is_none() {
            return Err(LlmError::MalformedResponse {
                what: "the stream ended without a finish reason or [DONE]".into(),
            });
        }
        self.end(&mut out);
        Ok(out)
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
            model_id: "oai/gemma3-270m".into(),
            max_tokens: Some(8),
            temperature: 0.0,
            stop_sequences: vec![],
        }
    }

    fn decode(lines: &[&str]) -> Result<Vec<StreamEvent>, LlmError> {
        let mut d = SseDecoder::new("oai", "gemma3-270m");
        let mut out = Vec::new();
        for l in lines {
            out.extend(d.feed_line(l)?);
            if d.is_done() {
                break;
            }
        }
        out.extend(d.finish()?);
        Ok(out)
    }

    fn texts(events: &[StreamEvent]) -> String {
        events
            .iter()
            .filter_map(|e| {
                if let StreamEvent::Text { delta } = e {
                    Some(delta.as_str())
                } else {
                    None
                }
            })
            .collect()
    }

    fn last_finish(events: &[StreamEvent]) -> Option<FinishReason> {
        events.iter().rev().find_map(|e| {
            if let StreamEvent::Finished { finish_reason, .. } = e {
                Some(*finish_reason)
            } else {
                None
            }
        })
    }

    fn usage(events: &[StreamEvent]) -> Option<TokenUsage> {
        events.iter().find_map(|e| {
            if let StreamEvent::Usage { usage } = e {
                Some(*usage)
            } else {
                None
            }
        })
    }

    #[test]
    fn request_body_uses_the_configured_max_tokens_field() {
        let req = request();
        let body = serde_json::to_value(to_wire_request(
            &req,
            "gemma3-270m",
            &OpenAiCompatOptions::default(),
        ))
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "model": "gemma3-270m",
                "messages": [{"role": "user", "content": "Say hi"}],
                "stream": true,
                "max_tokens": 8,
                "temperature": 0.0,
                "stream_options": {"include_usage": true}
            })
        );
        let opts = OpenAiCompatOptions {
            max_tokens_field: MaxTokensField::MaxCompletionTokens,
            stream_include_usage: false,
        };
        let req = CompletionRequest {
            stop_sequences: vec!["END".into()],
            ..request()
        };
        let body = serde_json::to_value(to_wire_request(&req, "m", &opts)).unwrap();
        assert_eq!(body["max_completion_tokens"], 8);
        assert!(body.get("max_tokens").is_none());
        assert!(body.get("stream_options").is_none());
        assert_eq!(body["stop"], serde_json::json!(["END"]));
    }

    #[test]
    fn decodes_an_openai_stream_with_a_usage_only_final_chunk() {
        let events = decode(&[
            r#"data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            "",
            r#"data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
            "",
            r#"data: {"id":"c1","model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            "",
            r#"data: {"id":"c1","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}"#,
            "",
            "data: [DONE]",
            "",
        ])
        .unwrap();
        assert_eq!(
            events[0],
            StreamEvent::Started {
                model_id: "oai/gpt-4o-mini".into()
            }
        );
        assert_eq!(texts(&events), "Hi");
        assert_eq!(
            usage(&events),
            Some(TokenUsage {
                prompt_tokens: Some(9),
                completion_tokens: Some(1)
            })
        );
        assert_eq!(last_finish(&events), Some(FinishReason::Stop));
    }

    #[test]
    fn llama_cpp_style_stream_without_usage_counts_chunks() {
        let events = decode(&[
            ": PROCESSING",
            r#"data: {"choices":[{"delta":{"content":"a"},"finish_reason":null}]}"#,
            "",
            r#"data: {"choices":[{"delta":{"content":"b"},"finish_reason":"length"}]}"#,
            "",
            "data: [DONE]",
        ])
        .unwrap();
        assert_eq!(texts(&events), "ab");
        assert_eq!(
            usage(&events),
            Some(TokenUsage {
                prompt_tokens: None,
                completion_tokens: Some(2)
            })
        );
        assert_eq!(last_finish(&events), Some(FinishReason::Length));
        assert_eq!(
            events[0],
            StreamEvent::Started {
                model_id: "oai/gemma3-270m".into()
            }
        );
    }

    #[test]
    fn finish_reasons_are_normalised() {
        assert_eq!(
            finish_reason(Some("eos")).unwrap(),
            Some(FinishReason::Stop)
        );
        assert_eq!(
            finish_reason(Some("stop")).unwrap(),
            Some(FinishReason::Stop)
        );
        assert_eq!(
            finish_reason(Some("length")).unwrap(),
            Some(FinishReason::Length)
        );
        assert_eq!(
            finish_reason(Some("content_filter")).unwrap(),
            Some(FinishReason::ContentFilter)
        );
        assert_eq!(
            finish_reason(Some("tool_calls")).unwrap(),
            Some(FinishReason::ToolCalls)
        );
        assert_eq!(finish_reason(Some("")).unwrap(), None);
        assert_eq!(finish_reason(Some("null")).unwrap(), None);
        assert_eq!(finish_reason(None).unwrap(), None);
        assert!(finish_reason(Some("error")).is_err());
        assert_eq!(
            finish_reason(Some("interrupted-by-gremlins")).unwrap(),
            Some(FinishReason::Other)
        );
        // Only "" (or "null") then [DONE]: it ended, but why is not known.
        for empty in ["\"\"", "\"null\""] {
            let first = format!(
                r#"data: {{"choices":[{{"delta":{{"content":"x"}},"finish_reason":{empty}}}]}}"#
            );
            let events = decode(&[&first, "", "data: [DONE]", ""]).unwrap();
            assert_eq!(last_finish(&events), Some(FinishReason::Other), "{empty}");
        }
        // "" on the way, then a real reason: that reason.
        let events = decode(&[
            r#"data: {"choices":[{"delta":{"content":"x"},"finish_reason":""}]}"#,
            "",
            r#"data: {"choices":[{"delta":{"content":""},"finish_reason":"stop"}]}"#,
            "",
            "data: [DONE]",
            "",
        ])
        .unwrap();
        assert_eq!(last_finish(&events), Some(FinishReason::Stop));
        // No reason at all, then [DONE]: finished normally.
        let events = decode(&[
            r#"data: {"choices":[{"delta":{"content":"x"},"finish_reason":null}]}"#,
            "",
            "data: [DONE]",
            "",
        ])
        .unwrap();
        assert_eq!(last_finish(&events), Some(FinishReason::Stop));
    }

    #[test]
    fn an_end_without_finish_reason_or_done_is_malformed() {
        let err = decode(&[
            r#"data: {"choices":[{"delta":{"content":"x"},"finish_reason":null}]}"#,
            "",
        ])
        .unwrap_err();
        assert!(matches!(err, LlmError::MalformedResponse { .. }), "{err:?}");
        // A finish reason but no [DONE]: complete.
        let ok =
            decode(&[r#"data: {"choices":[{"delta":{"content":"x"},"finish_reason":"stop"}]}"#])
                .unwrap();
        assert_eq!(last_finish(&ok), Some(FinishReason::Stop));
    }

    #[test]
    fn errors_inside_a_200_stream_are_errors() {
        let err = decode(&[
            r#"data: {"choices":[{"delta":{"content":"x"}}]}"#,
            "",
            r#"data: {"error":{"message":"Rate limit reached","code":429}}"#,
            "",
        ])
        .unwrap_err();
        assert!(matches!(err, LlmError::RateLimited { .. }), "{err:?}");
        let err = decode(&[r#"data: {"error":{"message":"upstream died"}}"#, ""]).unwrap_err();
        assert!(
            matches!(err, LlmError::Provider { status: 200, ref message } if message == "upstream died"),
            "{err:?}"
        );
        let err = decode(&["event: error", r#"data: {"message":"overloaded"}"#, ""]).unwrap_err();
        assert!(matches!(err, LlmError::Provider { .. }), "{err:?}");
        let err = decode(&[
            r#"data: {"choices":[{"delta":{},"finish_reason":"error"}]}"#,
            "",
        ])
        .unwrap_err();
        assert!(matches!(err, LlmError::Provider { .. }), "{err:?}");
    }

    #[test]
    fn multi_line_data_and_missing_blank_lines_are_handled() {
        let events = decode(&[
            r#"data: {"choices":[{"delta":"#,
            r#"data: {"content":"split"},"finish_reason":"stop"}]}"#,
            "",
            r#"data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
            "data: [DONE]",
        ])
        .unwrap();
        assert_eq!(texts(&events), "split");
        assert_eq!(usage(&events).and_then(|u| u.prompt_tokens), Some(1));
    }

    #[test]
    fn model_lists_of_every_shape_are_accepted() {
        let expect = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            parse_model_list(
                br#"{"object":"list","data":[{"id":"a","object":"model"},{"id":"b"}]}"#
            )
            .unwrap(),
            expect
        );
        assert_eq!(
            parse_model_list(br#"[{"id":"a"},{"name":"b"}]"#).unwrap(),
            expect
        );
        assert_eq!(
            parse_model_list(br#"{"models":[{"name":"a"},{"model":"b"}]}"#).unwrap(),
            expect
        );
        assert!(parse_model_list(br#"{"nothing":true}"#).is_err());
    }
}
