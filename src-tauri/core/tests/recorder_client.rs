//! `RecordingClient` records FR-EVT-LLM-INFERENCE for every completion attempt. The wrapped client
//! here is a small in-test `LlmClient` whose answers the test chooses: it is the double for the
//! wrapper's own behaviour (real adapters are wrapped the same way, through `Arc<dyn LlmClient>`).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use handshake_core::db::Database;
use handshake_core::llm::*;
use handshake_core::recorder::*;
use handshake_core::registry::ProviderTier;
use uuid::Uuid;

const CANARY_PROMPT: &str = "PROMPT-CANARY sk-live-0123456789abcdef tell me the secret plan";
const CANARY_ANSWER: &str = "ANSWER-CANARY the plan is";

#[derive(Clone)]
enum Behaviour {
    Answer {
        prompt_tokens: Option<u32>,
        completion_tokens: Option<u32>,
    },
    Fail,
    Hang,
    Stream {
        fail_midway: bool,
        finish: bool,
    },
    StreamRefused,
}

struct ScriptedClient {
    profile: ModelProfile,
    behaviour: Behaviour,
}

impl ScriptedClient {
    fn arc(tier: ProviderTier, behaviour: Behaviour) -> Arc<dyn LlmClient> {
        Arc::new(Self {
            profile: ModelProfile {
                model_id: "oll/gemma3:270m".into(),
                provider_id: "oll".into(),
                tier,
                context_window: Some(8192),
                max_output_tokens: None,
            },
            behaviour,
        })
    }
}

#[async_trait]
impl LlmClient for ScriptedClient {
    async fn completion(&self, req: CompletionRequest) -> Result<CompletionResponse, LlmError> {
        match &self.behaviour {
            Behaviour::Answer {
                prompt_tokens,
                completion_tokens,
            } => {
                tokio::time::sleep(Duration::from_millis(15)).await;
                Ok(CompletionResponse {
                    text: CANARY_ANSWER.into(),
                    usage: TokenUsage {
                        prompt_tokens: *prompt_tokens,
                        completion_tokens: *completion_tokens,
                    },
                    finish_reason: FinishReason::Length,
                    model_id: req.model_id,
                    latency_ms: 15,
                    time_to_first_token_ms: Some(7),
                    prompt_truncated: true,
                })
            }
            Behaviour::Fail => Err(LlmError::RateLimited {
                retry_after: Some(Duration::from_secs(3)),
            }),
            Behaviour::Hang => futures::future::pending().await,
            _ => Err(LlmError::InvalidRequest {
                reason: "this double only streams".into(),
            }),
        }
    }

    async fn completion_stream(
        &self,
        _req: CompletionRequest,
    ) -> Result<CompletionStream, LlmError> {
        match self.behaviour.clone() {
            Behaviour::StreamRefused => Err(LlmError::Unauthorized),
            Behaviour::Stream {
                fail_midway,
                finish,
            } => {
                let mut items: Vec<Result<StreamEvent, LlmError>> = vec![
                    Ok(StreamEvent::Started {
                        model_id: "gemma3:270m".into(),
                    }),
                    Ok(StreamEvent::Text {
                        delta: "ANSWER-".into(),
                    }),
                    Ok(StreamEvent::Text {
                        delta: "CANARY".into(),
                    }),
                ];
                if fail_midway {
                    items.push(Err(LlmError::Timeout {
                        phase: TimeoutPhase::Idle,
                    }));
                } else {
                    items.push(Ok(StreamEvent::Usage {
                        usage: TokenUsage {
                            prompt_tokens: Some(11),
                            completion_tokens: Some(2),
                        },
                    }));
                    if finish {
                        items.push(Ok(StreamEvent::Finished {
                            finish_reason: FinishReason::Stop,
                            prompt_truncated: false,
                        }));
                    }
                }
                let delayed = futures::stream::iter(items).then(|item| async move {
                    tokio::time::sleep(Duration::from_millis(3)).await;
                    item
                });
                Ok(Box::pin(delayed))
            }
            _ => Err(LlmError::InvalidRequest {
                reason: "this double does not stream".into(),
            }),
        }
    }

    fn profile(&self) -> &ModelProfile {
        &self.profile
    }
}

fn request() -> CompletionRequest {
    CompletionRequest {
        trace_id: Uuid::new_v4(),
        prompt: CANARY_PROMPT.into(),
        model_id: "oll/gemma3:270m".into(),
        max_tokens: Some(64),
        temperature: 0.0,
        stop_sequences: vec![],
    }
}

async fn setup() -> (tempfile::TempDir, Database, FlightRecorder) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    let keys = KeySource::Fixed(AnchorKey::from_bytes([3; 32]));
    let rec = FlightRecorder::open(&db, dir.path(), keys, RecorderConfig::default())
        .await
        .unwrap();
    (dir, db, rec)
}

async fn only_event(rec: &FlightRecorder) -> StoredEvent {
    rec.flush().await.unwrap();
    let mut events = rec.query(&EventQuery::default()).await.unwrap();
    assert_eq!(events.len(), 1, "exactly one event per attempt: {events:?}");
    let event = events.remove(0);
    assert_eq!(event.event_type, "FR-EVT-LLM-INFERENCE");
    event
}

#[tokio::test]
async fn a_successful_completion_is_recorded_with_usage_and_timings() {
    let (_dir, _db, rec) = setup().await;
    let client = RecordingClient::wrap(
        ScriptedClient::arc(
            ProviderTier::Local,
            Behaviour::Answer {
                prompt_tokens: Some(9),
                completion_tokens: None,
            },
        ),
        rec.clone(),
    );
    assert_eq!(client.profile().provider_id, "oll");
    let req = request();
    let resp = client.completion(req.clone()).await.unwrap();
    assert_eq!(
        resp.text, CANARY_ANSWER,
        "the answer passes through unchanged"
    );
    let ev = only_event(&rec).await;
    assert_eq!(ev.trace_id, Some(req.trace_id));
    assert_eq!(ev.provider_id.as_deref(), Some("oll"));
    assert_eq!(ev.model_id.as_deref(), Some("oll/gemma3:270m"));
    let p = &ev.payload;
    assert_eq!(p["tier"], "local");
    assert_eq!(p["streamed"], false);
    assert_eq!(p["outcome"]["status"], "success");
    assert_eq!(p["prompt_tokens"], 9);
    assert!(
        p["completion_tokens"].is_null(),
        "a count the provider did not give stays null"
    );
    assert_eq!(p["finish_reason"], "length");
    assert_eq!(p["prompt_truncated"], true);
    assert_eq!(p["time_to_first_token_ms"], 7);
    assert!(p["latency_ms"].as_u64().unwrap() >= 15);
    assert_eq!(p["prompt_bytes"], CANARY_PROMPT.len());
    assert_eq!(
        p["prompt_sha256"],
        Sha256Hex::digest(CANARY_PROMPT).as_str()
    );
    assert_eq!(p["response_bytes"], CANARY_ANSWER.len());
    assert_eq!(p["max_tokens"], 64);
}

#[tokio::test]
async fn a_request_for_another_model_is_recorded_under_that_model() {
    let (_dir, _db, rec) = setup().await;
    let client = RecordingClient::wrap(
        ScriptedClient::arc(
            ProviderTier::Local,
            Behaviour::Answer {
                prompt_tokens: Some(9),
                completion_tokens: Some(3),
            },
        ),
        rec.clone(),
    );
    let mut req = request();
    req.model_id = "oll/other model".into();
    client.completion(req).await.unwrap();
    let ev = only_event(&rec).await;
    // Not the profile's model id the client caches, and made an identifier like it.
    assert_eq!(ev.model_id.as_deref(), Some("oll/other_model"));
    assert_eq!(ev.payload["model_id"], "oll/other_model");
    assert_eq!(ev.provider_id.as_deref(), Some("oll"));
}

#[tokio::test]
async fn a_failed_completion_is_recorded_with_its_error_kind() {
    let (_dir, _db, rec) = setup().await;
    let client = RecordingClient::wrap(
        ScriptedClient::arc(ProviderTier::Cloud, Behaviour::Fail),
        rec.clone(),
    );
    let err = client.completion(request()).await.unwrap_err();
    assert!(
        matches!(err, LlmError::RateLimited { .. }),
        "the error passes through unchanged"
    );
    let ev = only_event(&rec).await;
    assert_eq!(ev.payload["tier"], "cloud");
    assert_eq!(ev.payload["outcome"]["status"], "error");
    assert_eq!(ev.payload["outcome"]["kind"], "rate_limited");
    assert!(ev.payload["response_bytes"].is_null());
    assert!(ev.payload["finish_reason"].is_null());
}

#[tokio::test]
async fn a_completion_dropped_midway_is_recorded_as_cancelled() {
    let (_dir, _db, rec) = setup().await;
    let client = RecordingClient::wrap(
        ScriptedClient::arc(ProviderTier::Local, Behaviour::Hang),
        rec.clone(),
    );
    let timed_out =
        tokio::time::timeout(Duration::from_millis(30), client.completion(request())).await;
    assert!(timed_out.is_err());
    let ev = only_event(&rec).await;
    assert_eq!(ev.payload["outcome"]["status"], "cancelled");
    assert!(ev.payload["latency_ms"].as_u64().unwrap() >= 30);
}

#[tokio::test]
async fn a_finished_stream_is_recorded_once_with_first_token_time() {
    let (_dir, _db, rec) = setup().await;
    let client = RecordingClient::wrap(
        ScriptedClient::arc(
            ProviderTier::Local,
            Behaviour::Stream {
                fail_midway: false,
                finish: true,
            },
        ),
        rec.clone(),
    );
    let mut stream = client.completion_stream(request()).await.unwrap();
    let mut text = String::new();
    let mut seen = 0;
    while let Some(item) = stream.next().await {
        if let StreamEvent::Text { delta } = item.unwrap() {
            text.push_str(&delta);
        }
        seen += 1;
    }
    assert_eq!((seen, text.as_str()), (5, "ANSWER-CANARY"));
    drop(stream);
    let ev = only_event(&rec).await;
    let p = &ev.payload;
    assert_eq!(p["streamed"], true);
    assert_eq!(p["outcome"]["status"], "success");
    assert_eq!(p["finish_reason"], "stop");
    assert_eq!(
        (p["prompt_tokens"].as_u64(), p["completion_tokens"].as_u64()),
        (Some(11), Some(2))
    );
    assert_eq!(p["response_bytes"], 13);
    let ttft = p["time_to_first_token_ms"].as_u64().unwrap();
    assert!(
        ttft >= 6 && ttft <= p["latency_ms"].as_u64().unwrap(),
        "{p}"
    );
}

#[tokio::test]
async fn a_stream_failing_midway_is_recorded_with_the_error_kind() {
    let (_dir, _db, rec) = setup().await;
    let client = RecordingClient::wrap(
        ScriptedClient::arc(
            ProviderTier::Local,
            Behaviour::Stream {
                fail_midway: true,
                finish: false,
            },
        ),
        rec.clone(),
    );
    let items: Vec<_> = client
        .completion_stream(request())
        .await
        .unwrap()
        .collect()
        .await;
    assert!(items.last().unwrap().is_err());
    let ev = only_event(&rec).await;
    assert_eq!(ev.payload["outcome"]["kind"], "timeout");
    assert_eq!(
        ev.payload["response_bytes"], 13,
        "what arrived before the failure is counted"
    );
}

#[tokio::test]
async fn a_stream_ending_without_finished_is_incomplete() {
    let (_dir, _db, rec) = setup().await;
    let client = RecordingClient::wrap(
        ScriptedClient::arc(
            ProviderTier::Local,
            Behaviour::Stream {
                fail_midway: false,
                finish: false,
            },
        ),
        rec.clone(),
    );
    let items: Vec<_> = client
        .completion_stream(request())
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 4);
    let ev = only_event(&rec).await;
    assert_eq!(ev.payload["outcome"]["status"], "incomplete");
}

#[tokio::test]
async fn a_stream_dropped_early_is_recorded_as_cancelled() {
    let (_dir, _db, rec) = setup().await;
    let client = RecordingClient::wrap(
        ScriptedClient::arc(
            ProviderTier::Cloud,
            Behaviour::Stream {
                fail_midway: false,
                finish: true,
            },
        ),
        rec.clone(),
    );
    let mut stream = client.completion_stream(request()).await.unwrap();
    stream.next().await.unwrap().unwrap();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    let ev = only_event(&rec).await;
    assert_eq!(ev.payload["outcome"]["status"], "cancelled");
    assert_eq!(ev.payload["response_bytes"], 7);
    assert_eq!(ev.payload["tier"], "cloud");
}

#[tokio::test]
async fn a_stream_that_cannot_start_is_recorded() {
    let (_dir, _db, rec) = setup().await;
    let client = RecordingClient::wrap(
        ScriptedClient::arc(ProviderTier::Cloud, Behaviour::StreamRefused),
        rec.clone(),
    );
    assert!(matches!(
        client.completion_stream(request()).await,
        Err(LlmError::Unauthorized)
    ));
    let ev = only_event(&rec).await;
    assert_eq!(ev.payload["outcome"]["kind"], "unauthorized");
    assert_eq!(ev.payload["streamed"], true);
}

#[tokio::test]
async fn no_prompt_or_answer_text_reaches_the_database_file() {
    let (dir, db, rec) = setup().await;
    let answer = RecordingClient::wrap(
        ScriptedClient::arc(
            ProviderTier::Local,
            Behaviour::Answer {
                prompt_tokens: None,
                completion_tokens: None,
            },
        ),
        rec.clone(),
    );
    let stream = RecordingClient::wrap(
        ScriptedClient::arc(
            ProviderTier::Cloud,
            Behaviour::Stream {
                fail_midway: false,
                finish: true,
            },
        ),
        rec.clone(),
    );
    answer.completion(request()).await.unwrap();
    let _: Vec<_> = stream
        .completion_stream(request())
        .await
        .unwrap()
        .collect()
        .await;
    rec.shutdown().await.unwrap();
    assert_eq!(rec.query(&EventQuery::default()).await.unwrap().len(), 2);
    db.close().await;
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // `sessions/`: empty once the database is closed.
            continue;
        }
        // A -wal or -shm file may vanish between listing and reading as SQLite closes.
        match std::fs::read(path) {
            Ok(content) => bytes.extend(content),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("{e}"),
        }
    }
    let haystack = String::from_utf8_lossy(&bytes);
    for canary in [
        "PROMPT-CANARY",
        "sk-live-0123456789abcdef",
        "ANSWER-CANARY",
        "secret plan",
    ] {
        assert!(
            !haystack.contains(canary),
            "{canary} leaked into the data directory"
        );
    }
    assert!(
        haystack.contains("FR-EVT-LLM-INFERENCE"),
        "the scan did read the database"
    );
}
