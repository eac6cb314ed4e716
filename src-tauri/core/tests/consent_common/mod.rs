//! Shared fixtures of the consent tests: a loopback server speaking a minimal OpenAI-compatible
//! `/v1/chat/completions` that records every request (with its body) it receives, an
//! `LlmClient` that calls it over real HTTP, and a workspace (database, Flight Recorder, a
//! profile, a running job and a guard) in a temporary directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use handshake_core::consent::{CloudEscalationGuard, CloudGate, EscalationRequest, GuardConfig};
use handshake_core::db::Database;
use handshake_core::llm::{
    CompletionRequest, CompletionResponse, CompletionStream, FinishReason, LlmClient, LlmError,
    ModelProfile, StreamEvent, TokenUsage,
};
use handshake_core::profiles::{JobStore, ProfileStore, StaticCatalog, WorkProfile};
use handshake_core::recorder::{
    AnchorKey, EventQuery, EventType, FlightRecorder, KeySource, RecorderConfig,
};
use handshake_core::registry::ProviderTier;
use handshake_core::vocab::Destination;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub body: String,
}

/// A loopback HTTP/1.1 server answering every POST with a chat completion; stops when dropped.
pub struct WireServer {
    pub addr: std::net::SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WireServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WireServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let seen = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (n, v) = l.split_once(':')?;
                            n.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let mut first = head.lines().next().unwrap_or("").split(' ');
                    let request = Received {
                        method: first.next().unwrap_or("").to_owned(),
                        path: first.next().unwrap_or("").to_owned(),
                        body: String::from_utf8_lossy(&buf[head_end..]).to_string(),
                    };
                    seen.lock().unwrap().push(request);
                    let body = r#"{"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"done"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self {
            addr,
            received,
            task,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The prompts of every chat completion received, in order.
    pub fn prompts(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| {
                let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
                json["messages"][0]["content"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

/// A minimal OpenAI-compatible client over real HTTP (the adapters are built elsewhere).
pub struct HttpChatClient {
    http: reqwest::Client,
    base_url: String,
    profile: ModelProfile,
}

impl HttpChatClient {
    pub fn new(
        http: reqwest::Client,
        base_url: String,
        model_id: &str,
        tier: ProviderTier,
    ) -> Self {
        let (provider, _) = model_id.split_once('/').unwrap();
        Self {
            http,
            base_url,
            profile: ModelProfile {
                model_id: model_id.to_owned(),
                provider_id: provider.to_owned(),
                tier,
                context_window: None,
                max_output_tokens: None,
            },
        }
    }
}

#[async_trait]
impl LlmClient for HttpChatClient {
    async fn completion(&self, req: CompletionRequest) -> Result<CompletionResponse, LlmError> {
        req.validate()?;
        let started = Instant::now();
        let model = req.model_id.split_once('/').map(|(_, m)| m).unwrap_or("");
        let body = serde_json::json!({
            "model": model,
            "messages": [{"role": "user", "content": req.prompt}],
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
        });
        let response = self
            .http
            .post(format!("{}/chat/completions", self.base_url))
            .json(&body)
            .send()
            .await
            .map_err(|e| LlmError::Unreachable {
                reason: e.without_url().to_string(),
            })?;
        let json: serde_json::Value =
            response
                .json()
                .await
                .map_err(|_| LlmError::MalformedResponse {
                    what: "body".into(),
                })?;
        let text = json["choices"][0]["message"]["content"].as_str().ok_or(
            LlmError::MalformedResponse {
                what: "choices".into(),
            },
        )?;
        Ok(CompletionResponse {
            text: text.to_owned(),
            usage: TokenUsage {
                prompt_tokens: json["usage"]["prompt_tokens"].as_u64().map(|n| n as u32),
                completion_tokens: json["usage"]["completion_tokens"]
                    .as_u64()
                    .map(|n| n as u32),
            },
            finish_reason: FinishReason::Stop,
            model_id: req.model_id,
            latency_ms: started.elapsed().as_millis() as u64,
            time_to_first_token_ms: None,
            prompt_truncated: false,
        })
    }

    async fn completion_stream(
        &self,
        req: CompletionRequest,
    ) -> Result<CompletionStream, LlmError> {
        let model_id = req.model_id.clone();
        let done = self.completion(req).await?;
        let events = vec![
            Ok(StreamEvent::Started { model_id }),
            Ok(StreamEvent::Text { delta: done.text }),
            Ok(StreamEvent::Finished {
                finish_reason: done.finish_reason,
                prompt_truncated: false,
            }),
        ];
        Ok(Box::pin(futures::stream::iter(events)))
    }

    fn profile(&self) -> &ModelProfile {
        &self.profile
    }
}

pub const CLOUD_MODEL: &str = "open/gpt-4o-mini";

pub fn catalog() -> StaticCatalog {
    StaticCatalog::new()
        .with_models("oll", ProviderTier::Local, &["qwen3:8b", "gemma3:270m"])
        .with_provider("open", ProviderTier::Cloud)
}

/// A profile whose worker falls back from a local model to the cloud one.
pub fn profile(profile_id: &str, level: &str, allow_cloud: bool, cap: Option<u32>) -> WorkProfile {
    let mut governance = serde_json::json!({
        "automation_level": level,
        "allow_cloud_escalation": allow_cloud
    });
    if let Some(cap) = cap {
        governance["max_cloud_escalations_per_job"] = serde_json::json!(cap);
    }
    serde_json::from_value(serde_json::json!({
        "schema_version": "hsk.work_profile@0.5",
        "profile_id": profile_id,
        "name": "Consent test",
        "model_assignments": {
            "frontend": {"primary_model_id": "oll/gemma3:270m", "local_only": true},
            "orchestrator": {"primary_model_id": "oll/qwen3:8b", "local_only": true},
            "worker": {
                "primary_model_id": "oll/qwen3:8b",
                "fallback_model_id": CLOUD_MODEL,
                "local_only": false
            },
            "validator": {"primary_model_id": "oll/qwen3:8b", "local_only": true}
        },
        "governance": governance
    }))
    .unwrap()
}

/// A workspace in a temporary directory with one running job under `profile`.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub db: Database,
    pub recorder: FlightRecorder,
    pub jobs: JobStore,
    pub guard: CloudEscalationGuard,
    pub job_id: String,
    pub profile: WorkProfile,
}

impl Workspace {
    pub async fn new(profile: WorkProfile) -> Self {
        Self::with_config(profile, GuardConfig::default()).await
    }

    pub async fn with_config(profile: WorkProfile, config: GuardConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).await.unwrap();
        let recorder = FlightRecorder::open(
            &db,
            dir.path(),
            KeySource::Fixed(AnchorKey::from_bytes([7; 32])),
            RecorderConfig::default(),
        )
        .await
        .unwrap();
        let profiles = ProfileStore::new(&db);
        profiles.create(profile.clone(), &catalog()).await.unwrap();
        profiles.activate(&profile.profile_id).await.unwrap();
        let jobs = JobStore::new(&db);
        let job_id = jobs.start_job().await.unwrap().job_id;
        let guard = CloudEscalationGuard::new(&db, recorder.clone(), config, ledger());
        Self {
            dir,
            db,
            recorder,
            jobs,
            guard,
            job_id,
            profile,
        }
    }

    /// A cloud-tier gate over a client that talks to `server`.
    pub fn gate(&self, server: &WireServer) -> CloudGate {
        let client = HttpChatClient::new(
            reqwest::Client::new(),
            server.base_url(),
            CLOUD_MODEL,
            ProviderTier::Cloud,
        );
        CloudGate::new(Arc::new(client), self.guard.clone(), destination())
    }

    /// A request for the cloud model of this workspace's job.
    pub fn request(&self, prompt: &str) -> EscalationRequest {
        EscalationRequest {
            job_id: self.job_id.clone(),
            model_id: CLOUD_MODEL.to_owned(),
            local_only: false,
            prompt: prompt.to_owned(),
            max_tokens: Some(32),
            temperature: 0.0,
            stop_sequences: Vec::new(),
            trace_id: None,
            include_artifact_refs: vec!["artifact://notes.md".into()],
            include_fields: None,
            wp_id: None,
            mt_id: None,
            max_bytes: None,
            destination: destination(),
        }
    }

    /// The payloads of every event of `event_type`, in order.
    pub async fn events(&self, event_type: EventType) -> Vec<serde_json::Value> {
        self.recorder
            .query(&EventQuery {
                event_type: Some(event_type),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.payload)
            .collect()
    }

    /// The `reason` of every FR-EVT-CLOUD-003, in order.
    pub async fn denial_reasons(&self) -> Vec<String> {
        self.events(EventType::CloudDenied)
            .await
            .iter()
            .map(|p| p["reason"].as_str().unwrap().to_owned())
            .collect()
    }
}

pub fn person(surface: handshake_core::consent::UiSurface) -> handshake_core::consent::Approver {
    handshake_core::consent::Approver {
        user_id: "alice".into(),
        ui_surface: surface,
        notes: Some("looks fine".into()),
    }
}

/// Where the workspace's cloud model sends (as its plans bind it and its gates check it).
pub fn destination() -> Destination {
    Destination {
        provider_id: CLOUD_MODEL
            .split_once('/')
            .map(|(p, _)| p)
            .unwrap_or_default()
            .to_owned(),
        origin: "https://cloud.example:443".to_owned(),
        tier: ProviderTier::Cloud,
        revision: 1,
    }
}

/// The workspace's cloud destination, at `server`'s origin (for gates over a real adapter, which
/// checks that it sends to the approved origin).
pub fn destination_at(server: &WireServer) -> Destination {
    let url = url::Url::parse(&server.base_url()).expect("server url");
    Destination {
        origin: handshake_core::vocab::origin_of(&url),
        ..destination()
    }
}

/// A spent-receipt ledger of its own in the real keychain (a service name per workspace).
pub fn ledger() -> handshake_core::consent::ReceiptLedger {
    handshake_core::consent::ReceiptLedger::new(handshake_core::secrets::Keychain::with_service(
        format!("dev.handshake.test.ledger.{}", uuid::Uuid::new_v4()),
    ))
}
